//! Magnet links as an add reads them: length limit, librqbit's magnet parser, the v1 info
//! hash, `x.pe` peer hints and the display name.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = pytorrentd::engine::read_magnet(s);
        let _ = pytorrentd::limits::magnet_display_name(s);
    }
});
