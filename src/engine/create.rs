//! Making a `.torrent` from a file or folder on disk, with progress and cancellation.
//!
//! librqbit's `create_torrent` has no progress, no cancellation and no `private`, `comment` or
//! web-seed fields, so this writes the metainfo itself: files are read in path order, hashed
//! piece by piece (with the same SHA-1 backend as the engine), and the dictionary is bencoded
//! with sorted keys, as the format requires for a stable info hash.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use librqbit_sha1_wrapper::ISha1;

/// What to put in the torrent besides the files.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Each URL becomes its own tier; the first is also `announce`.
    pub trackers: Vec<String>,
    /// A power of two from 16 KiB to 64 MiB; `None` chooses one for ~1,500 pieces.
    pub piece_length: Option<u32>,
    pub private: bool,
    pub comment: Option<String>,
    pub web_seeds: Vec<String>,
}

/// Progress shared with whoever watches a creation.
#[derive(Debug, Default)]
pub struct Progress {
    pub hashed: AtomicU64,
    pub total: AtomicU64,
    pub cancelled: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Invalid(String),
    #[error("cancelled")]
    Cancelled,
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The created torrent.
#[derive(Debug, Clone)]
pub struct Created {
    pub bytes: Vec<u8>,
    pub info_hash: String,
    pub name: String,
    pub total: u64,
    pub files: usize,
}

const MIN_PIECE: u32 = 16 * 1024;
const MAX_PIECE: u32 = 64 * 1024 * 1024;

/// Lists the regular files of `root` (itself when it is a file) in torrent order, as paths
/// relative to `root` and lengths. A symbolic link anywhere in the tree is refused: the
/// torrent must describe what really lies under the folder, and links may point elsewhere.
pub fn list_files(root: &Path) -> Result<Vec<(PathBuf, u64)>, CreateError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| CreateError::Io { path, source }
    };
    let md = std::fs::symlink_metadata(root).map_err(io(root))?;
    if md.file_type().is_symlink() {
        return Err(CreateError::Invalid(format!(
            "{} is a symbolic link",
            root.display()
        )));
    }
    if md.is_file() {
        return Ok(vec![(PathBuf::new(), md.len())]);
    }
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for e in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            let ft = e.file_type().map_err(io(&e.path()))?;
            let child = rel.join(e.file_name());
            if ft.is_symlink() {
                return Err(CreateError::Invalid(format!(
                    "{} is a symbolic link",
                    root.join(&child).display()
                )));
            } else if ft.is_dir() {
                stack.push(child);
            } else if ft.is_file() {
                let len = e.metadata().map_err(io(&e.path()))?.len();
                out.push((child, len));
            }
        }
    }
    // Byte order of the UTF-8 paths, what other clients do, so the same folder gives the same
    // torrent everywhere.
    out.sort_by(|a, b| {
        a.0.as_os_str()
            .as_encoded_bytes()
            .cmp(b.0.as_os_str().as_encoded_bytes())
    });
    if out.is_empty() {
        return Err(CreateError::Invalid(format!(
            "{} contains no files",
            root.display()
        )));
    }
    Ok(out)
}

/// A piece length for `total` bytes: a power of two giving about 1,500 pieces, within
/// 16 KiB–16 MiB.
pub fn choose_piece_length(total: u64) -> u32 {
    let target = (total / 1500).max(u64::from(MIN_PIECE));
    let p = target.next_power_of_two().min(16 * 1024 * 1024);
    p as u32
}

/// Hashes `root` and builds the torrent. Blocking: run it on a blocking thread.
pub fn create(
    root: &Path,
    opts: &CreateOptions,
    progress: &Arc<Progress>,
) -> Result<Created, CreateError> {
    let name = root
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            CreateError::Invalid(format!("{} has no usable (UTF-8) name", root.display()))
        })?
        .to_owned();
    let files = list_files(root)?;
    let total: u64 = files.iter().map(|f| f.1).sum();
    progress.total.store(total, Ordering::Relaxed);
    let piece = match opts.piece_length {
        Some(p) if p.is_power_of_two() && (MIN_PIECE..=MAX_PIECE).contains(&p) => p,
        Some(p) => {
            return Err(CreateError::Invalid(format!(
                "piece_length {p} must be a power of two from 16 KiB to 64 MiB"
            )));
        }
        None => choose_piece_length(total),
    };
    let single = files.len() == 1 && files[0].0.as_os_str().is_empty();
    let mut pieces = Vec::with_capacity(20 * (total / u64::from(piece) + 1) as usize);
    let mut hasher = librqbit_sha1_wrapper::Sha1::new();
    let mut in_piece: u32 = 0;
    let mut buf = vec![0u8; 1024 * 1024];
    for (rel, len) in &files {
        let path = if single {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let io = |source| CreateError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut f = std::fs::File::open(&path).map_err(io)?;
        let mut left = *len;
        while left > 0 {
            if progress.cancelled.load(Ordering::Relaxed) {
                return Err(CreateError::Cancelled);
            }
            let want = (piece - in_piece) as usize;
            let want = want
                .min(buf.len())
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = f.read(&mut buf[..want]).map_err(io)?;
            if n == 0 {
                return Err(CreateError::Invalid(format!(
                    "{} changed while it was being hashed",
                    path.display()
                )));
            }
            hasher.update(&buf[..n]);
            in_piece += n as u32;
            left -= n as u64;
            progress.hashed.fetch_add(n as u64, Ordering::Relaxed);
            if in_piece == piece {
                pieces.extend_from_slice(&hasher.finish());
                hasher = librqbit_sha1_wrapper::Sha1::new();
                in_piece = 0;
            }
        }
    }
    if in_piece > 0 {
        pieces.extend_from_slice(&hasher.finish());
    }

    let mut info = BTreeMap::new();
    info.insert("name", B::str(&name));
    info.insert("piece length", B::Int(i64::from(piece)));
    info.insert("pieces", B::Bytes(pieces));
    if single {
        info.insert("length", B::Int(total as i64));
    } else {
        let list = files
            .iter()
            .map(|(rel, len)| {
                let mut d = BTreeMap::new();
                d.insert("length", B::Int(*len as i64));
                d.insert(
                    "path",
                    B::List(
                        rel.components()
                            .map(|c| B::Bytes(c.as_os_str().as_encoded_bytes().to_vec()))
                            .collect(),
                    ),
                );
                B::Dict(d)
            })
            .collect();
        info.insert("files", B::List(list));
    }
    if opts.private {
        info.insert("private", B::Int(1));
    }
    let info = B::Dict(info);
    let info_bytes = info.encode();
    let mut h = librqbit_sha1_wrapper::Sha1::new();
    h.update(&info_bytes);
    let info_hash = hex::encode(h.finish());

    let mut top = BTreeMap::new();
    if let Some(first) = opts.trackers.first() {
        top.insert("announce", B::str(first));
        top.insert(
            "announce-list",
            B::List(
                opts.trackers
                    .iter()
                    .map(|t| B::List(vec![B::str(t)]))
                    .collect(),
            ),
        );
    }
    if let Some(c) = opts.comment.as_deref().filter(|c| !c.is_empty()) {
        top.insert("comment", B::str(c));
    }
    top.insert(
        "created by",
        B::str(&format!("pytorrentd {}", env!("CARGO_PKG_VERSION"))),
    );
    top.insert("creation date", B::Int(chrono::Utc::now().timestamp()));
    if !opts.web_seeds.is_empty() {
        top.insert(
            "url-list",
            B::List(opts.web_seeds.iter().map(|u| B::str(u)).collect()),
        );
    }
    top.insert("info", info);
    Ok(Created {
        bytes: B::Dict(top).encode(),
        info_hash,
        name,
        total,
        files: files.len(),
    })
}

/// A bencode value; dictionaries keep their keys sorted, as the format requires.
enum B {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<B>),
    Dict(BTreeMap<&'static str, B>),
}

impl B {
    fn str(s: &str) -> B {
        B::Bytes(s.as_bytes().to_vec())
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            B::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            B::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            B::List(l) => {
                out.push(b'l');
                for v in l {
                    v.write(out);
                }
                out.push(b'e');
            }
            B::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    B::str(k).write(out);
                    v.write(out);
                }
                out.push(b'e');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path, files: &[(&str, usize)]) {
        for (p, n) in files {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, (0..*n).map(|i| (i % 253) as u8).collect::<Vec<_>>()).unwrap();
        }
    }

    #[test]
    fn a_folder_becomes_a_torrent_librqbit_reads_with_the_same_hash() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Album");
        tree(
            &root,
            &[
                ("b/2.flac", 70_000),
                ("a.txt", 5),
                ("b/1.flac", 32_768),
                ("c/empty", 0),
            ],
        );
        let progress = Arc::new(Progress::default());
        let opts = CreateOptions {
            trackers: vec![
                "http://t1.example/announce".into(),
                "udp://t2.example:80".into(),
            ],
            piece_length: Some(16 * 1024),
            private: true,
            comment: Some("family photos".into()),
            web_seeds: vec!["https://seed.example/files/".into()],
        };
        let c = create(&root, &opts, &progress).unwrap();
        assert_eq!(progress.hashed.load(Ordering::Relaxed), 102_773);
        assert_eq!((c.total, c.files, c.name.as_str()), (102_773, 4, "Album"));
        let t = librqbit_core::torrent_metainfo::torrent_from_bytes(&c.bytes).unwrap();
        assert_eq!(t.info_hash.as_string(), c.info_hash);
        assert_eq!(
            t.info.data.pieces.as_ref().len(),
            20 * 102_773usize.div_ceil(16 * 1024)
        );
        assert!(t.info.data.private);
        let names: Vec<String> = t
            .info
            .data
            .validate()
            .unwrap()
            .iter_file_details()
            .map(|f| f.filename.to_pathbuf().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.txt", "b/1.flac", "b/2.flac", "c/empty"]);
        let text = String::from_utf8_lossy(&c.bytes);
        for want in ["family photos", "url-list", "t2.example", "announce-list"] {
            assert!(text.contains(want), "{want}");
        }
    }

    #[test]
    fn single_files_links_empties_and_cancellation() {
        let dir = tempfile::tempdir().unwrap();
        tree(dir.path(), &[("one.iso", 40_000), ("outside/secret", 10)]);
        let p = Arc::new(Progress::default());
        let c = create(&dir.path().join("one.iso"), &CreateOptions::default(), &p).unwrap();
        let t = librqbit_core::torrent_metainfo::torrent_from_bytes(&c.bytes).unwrap();
        assert_eq!(t.info.data.length, Some(40_000));
        assert_eq!(t.info.data.piece_length, 16 * 1024);

        std::fs::create_dir(dir.path().join("withlink")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), dir.path().join("withlink/l"))
            .unwrap();
        let e = create(&dir.path().join("withlink"), &CreateOptions::default(), &p).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        std::fs::create_dir(dir.path().join("nothing")).unwrap();
        assert!(create(&dir.path().join("nothing"), &CreateOptions::default(), &p).is_err());
        let bad = CreateOptions {
            piece_length: Some(20_000),
            ..Default::default()
        };
        assert!(create(&dir.path().join("one.iso"), &bad, &p).is_err());

        let cancelled = Arc::new(Progress::default());
        cancelled.cancelled.store(true, Ordering::Relaxed);
        assert!(matches!(
            create(
                &dir.path().join("one.iso"),
                &CreateOptions::default(),
                &cancelled
            ),
            Err(CreateError::Cancelled)
        ));
    }

    #[test]
    fn piece_lengths_scale_with_size() {
        assert_eq!(choose_piece_length(1), 16 * 1024);
        assert_eq!(choose_piece_length(700 * 1024 * 1024), 512 * 1024);
        assert_eq!(
            choose_piece_length(50 * 1024 * 1024 * 1024),
            16 * 1024 * 1024
        );
    }
}
