//! .torrent bytes through the upload path: `validate::check_torrent_file`, then (for what it
//! accepts) librqbit's own parser *without* the panic guard, so that any input that passes
//! validation and still makes librqbit panic is a crash here. Also the full read path
//! (`engine::read_torrent`) and the metadata-only check (`validate::check_info`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use librqbit_core::torrent_metainfo::torrent_from_bytes;
use pytorrentd::engine::validate::{check_info, check_torrent_file};

fuzz_target!(|data: &[u8]| {
    if let Ok(checked) = check_torrent_file(data)
        && let Ok(t) = torrent_from_bytes(data)
        && let Ok(info) = t.info.data.validate()
    {
        // What we established must be what librqbit reads.
        assert_eq!(info.lengths().total_length(), checked.total);
        assert_eq!(info.lengths().default_piece_length(), checked.piece_length);
        assert_eq!(info.iter_file_details().count(), checked.files);
        for fd in info.iter_file_details_ext() {
            let _ = fd.details.filename.to_pathbuf();
            let _ = fd.pieces;
        }
        let _ = info.lengths().total_chunks();
    }
    let _ = pytorrentd::engine::read_torrent(data);
    let _ = check_info(data);
});
