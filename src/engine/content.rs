//! Reading a torrent's files for the browser (docs/files.md): which bytes exist, where they
//! are on disk, and a reader that waits for the pieces still missing.
//!
//! A complete file, or a verified part of one, is read straight from disk. A part that is
//! not there yet is read through librqbit's file stream, which moves the pieces under the
//! reader to the front of the download and wakes the reader as they are verified; that needs
//! the torrent running. A torrent that is not running (paused, queued, in error) answers only
//! what its saved piece bitfield says it has.
//!
//! Every open checks the path again: below the profile's directory, no symbolic link on the
//! way, a regular file, the length the torrent says (a file replaced behind our back is not
//! served).

use std::io::SeekFrom;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use librqbit::ManagedTorrent;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use super::fs::content_root;
use super::{Engine, EngineError, Meta, Result};

/// librqbit holds one of its blocking-work permits for each open stream, and uploads need
/// those permits too; this many streams at once leave most of them for the swarm.
pub const STREAMS_MAX: usize = 2;
/// How long a request waits for a stream slot before answering "busy".
const STREAM_SLOT_WAIT: Duration = Duration::from_secs(10);

/// One file of a torrent, as a request sees it.
pub struct FileContent {
    /// Path inside the torrent, `/`-separated (the torrent's folder first for multi-file).
    pub name: String,
    pub len: u64,
    /// All of it is verified.
    pub complete: bool,
    /// Modification time on disk (for `Last-Modified` and the `ETag` of complete files).
    pub modified: Option<SystemTime>,
    index: usize,
    path: PathBuf,
    profile_dir: PathBuf,
    source: Source,
}

enum Source {
    /// Read from disk only: complete (`None`), or a stopped torrent with these pieces.
    Disk { have: Option<Have> },
    /// Running and incomplete: verified parts from disk, missing ones through librqbit's
    /// stream.
    Engine {
        handle: Arc<ManagedTorrent>,
        have: Have,
    },
}

/// A stopped torrent's verified pieces, from its saved bitfield.
struct Have {
    bits: Vec<u8>,
    piece_length: u64,
    /// The file's offset in the torrent.
    offset: u64,
}

impl Have {
    fn covers(&self, start: u64, end: u64) -> bool {
        if end <= start {
            return true;
        }
        let first = (self.offset + start) / self.piece_length;
        let last = (self.offset + end - 1) / self.piece_length;
        (first..=last).all(|p| {
            let (byte, bit) = ((p / 8) as usize, 7 - (p % 8) as u32);
            self.bits.get(byte).is_some_and(|b| b >> bit & 1 == 1)
        })
    }
}

/// A reader over part of a file, with what keeps its resources (a stream slot) alive.
pub struct RangeReader {
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    /// Keep it as long as the reader: it frees the stream slot when dropped.
    pub slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl FileContent {
    /// The whole file from disk (checked as [`open_checked`] says).
    pub fn open_disk(&self) -> Result<tokio::fs::File> {
        open_checked(&self.profile_dir, &self.path, self.len).map(tokio::fs::File::from_std)
    }

    /// Whether `start..end` can be answered now or by waiting for the engine: the engine is
    /// running the torrent, or the bytes are on disk.
    pub fn available(&self, start: u64, end: u64) -> bool {
        match &self.source {
            Source::Engine { .. } => true,
            Source::Disk { have: None } => true,
            Source::Disk { have: Some(h) } => h.covers(start, end),
        }
    }

    /// Opens `start..end` (end exclusive). Complete data comes from disk; missing data waits
    /// for the engine (which fetches it first).
    pub async fn open(&self, engine: &Engine, start: u64, end: u64) -> Result<RangeReader> {
        let len = end.saturating_sub(start);
        match &self.source {
            Source::Engine { handle, have } if !have.covers(start, end) => {
                let slot = tokio::time::timeout(
                    STREAM_SLOT_WAIT,
                    engine.stream_slots.clone().acquire_owned(),
                )
                .await
                .map_err(|_| EngineError::Busy("too many files are streaming right now".into()))?
                .map_err(|e| EngineError::Internal(e.to_string()))?;
                let mut s = handle
                    .clone()
                    .stream(self.index)
                    .await
                    .map_err(|e| EngineError::failed("opening a file stream", e))?;
                s.seek(SeekFrom::Start(start))
                    .await
                    .map_err(|e| EngineError::failed("seeking in a file stream", e))?;
                Ok(RangeReader {
                    reader: Box::new(s.take(len)),
                    slot: Some(slot),
                })
            }
            Source::Engine { .. } | Source::Disk { .. } => {
                let mut f = self.open_disk()?;
                f.seek(SeekFrom::Start(start))
                    .await
                    .map_err(|e| EngineError::failed("reading a file", e))?;
                Ok(RangeReader {
                    reader: Box::new(f.take(len)),
                    slot: None,
                })
            }
        }
    }
}

/// Opens a file below `profile_dir` that must still be what the torrent wrote: no symbolic
/// link on the way, a regular file of at least `len` bytes. (A few metadata calls: cheap
/// enough to run on an async worker.)
pub(crate) fn open_checked(profile_dir: &Path, path: &Path, len: u64) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let gone = || {
        EngineError::Conflict(
            "the file is not on disk (moved or deleted outside pytorrentd)".into(),
        )
    };
    let rel = path.strip_prefix(profile_dir).map_err(|_| {
        EngineError::PathEscapesProfile("the file is outside its profile's folder".into())
    })?;
    let mut cur = profile_dir.to_path_buf();
    for c in rel.components() {
        let Component::Normal(part) = c else {
            return Err(EngineError::PathEscapesProfile(
                "the file's path leaves its profile's folder".into(),
            ));
        };
        cur.push(part);
        let md = std::fs::symlink_metadata(&cur).map_err(|_| gone())?;
        if md.file_type().is_symlink() {
            return Err(EngineError::PathEscapesProfile(format!(
                "'{}' is a symbolic link; files are served only from inside the profile's folder",
                rel.display()
            )));
        }
    }
    // The last component may not be a link even if it became one since the check above.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&cur)
        .map_err(|_| gone())?;
    let md = f.metadata().map_err(|_| gone())?;
    if !md.is_file() || md.len() < len {
        return Err(gone());
    }
    Ok(f)
}

impl Engine {
    /// The wanted files of a torrent that are complete, in torrent order (for an archive):
    /// one look at the torrent for all of them.
    pub fn complete_files(&self, hash: &str) -> Result<Vec<FileContent>> {
        // No metadata yet: no file, so none complete.
        if self.lock().entry(hash)?.meta.is_none() {
            return Ok(Vec::new());
        }
        let snap = self.snapshot(hash)?;
        let wanted = |i: usize| snap.only_files.as_ref().is_none_or(|o| o.contains(&i));
        (0..snap.meta.files.len())
            .filter(|&i| wanted(i) && snap.finished(i))
            .map(|i| snap.content(self, hash, i))
            .collect()
    }

    /// The torrent's `.torrent` file as stored (409 while a magnet's metadata is unknown).
    pub fn torrent_file(&self, hash: &str) -> Result<Vec<u8>> {
        self.lock().entry(hash)?;
        self.store
            .torrent_file(hash)?
            .ok_or_else(|| EngineError::Conflict("the torrent's metadata is not known yet".into()))
    }

    /// File `index` of a torrent, for reading: where it is, how much of it exists, and how
    /// missing parts would be fetched.
    pub fn file_content(&self, hash: &str, index: usize) -> Result<FileContent> {
        self.snapshot(hash)?.content(self, hash, index)
    }

    fn snapshot(&self, hash: &str) -> Result<Snapshot> {
        let st = self.lock();
        let e = st.entry(hash)?;
        let meta: Arc<Meta> = e.meta.clone().ok_or_else(|| {
            EngineError::Conflict("the torrent's metadata is not known yet".into())
        })?;
        let profile_dir = st
            .profiles
            .get(&e.rec.profile)
            .map(|p| p.download_dir.clone())
            .ok_or_else(|| EngineError::ProfileNotFound(e.rec.profile.clone()))?;
        Ok(Snapshot {
            meta,
            save_dir: e.rec.save_dir.clone(),
            profile_dir,
            handle: e.handle.clone(),
            per_file: super::row::file_progress(e),
            kept: e.have.clone(),
            only_files: e.rec.only_files.clone(),
        })
    }
}

/// What reading a torrent's files needs from the engine's view, taken once under its lock.
struct Snapshot {
    meta: Arc<Meta>,
    save_dir: PathBuf,
    profile_dir: PathBuf,
    handle: Option<Arc<ManagedTorrent>>,
    /// Verified bytes per file.
    per_file: Vec<u64>,
    /// The bitfield kept when the engine let go of the torrent.
    kept: Option<Arc<Vec<u8>>>,
    only_files: Option<Vec<usize>>,
}

impl Snapshot {
    fn finished(&self, index: usize) -> bool {
        let len = self.meta.files.get(index).map_or(0, |f| f.1);
        self.per_file.get(index).is_some_and(|d| *d >= len)
    }

    fn content(&self, engine: &Engine, hash: &str, index: usize) -> Result<FileContent> {
        let meta = &self.meta;
        let (name, len) =
            meta.files.get(index).cloned().ok_or_else(|| {
                EngineError::FileNotFound(format!("the torrent has no file {index}"))
            })?;
        let complete = self.finished(index);
        let path = content_root(&self.save_dir, meta, true).join(&name);
        let shown = if meta.multi_file {
            format!("{}/{}", meta.name, name)
        } else {
            name.clone()
        };
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let have = |bits: Vec<u8>| Have {
            bits,
            piece_length: u64::from(meta.piece_length.max(1)),
            offset: meta.files[..index].iter().map(|(_, l)| *l).sum(),
        };
        let source = match &self.handle {
            _ if complete => Source::Disk { have: None },
            // In the engine: its own idea of the verified pieces (vendored patch 0004).
            Some(h) => {
                let bits = have(h.have_pieces_bytes().unwrap_or_default());
                // Still checking its data counts as running: the stream waits for it.
                let running = matches!(
                    h.stats().state,
                    librqbit::TorrentStatsState::Live
                        | librqbit::TorrentStatsState::Initializing { .. }
                );
                if running {
                    Source::Engine {
                        handle: h.clone(),
                        have: bits,
                    }
                } else {
                    Source::Disk { have: Some(bits) }
                }
            }
            // Out of the engine: the bitfield it had when it let go of the torrent (kept in
            // memory; after a restart, its file).
            None => Source::Disk {
                have: Some(have(match &self.kept {
                    Some(b) => b.to_vec(),
                    None => std::fs::read(engine.bitv_path(hash)).unwrap_or_default(),
                })),
            },
        };
        Ok(FileContent {
            name: shown,
            len,
            complete,
            modified,
            index,
            path,
            profile_dir: self.profile_dir.clone(),
            source,
        })
    }
}
