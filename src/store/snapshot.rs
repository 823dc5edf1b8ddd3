//! A copy-on-write view of a database file for redb: reads come from the file, writes stay in
//! memory. redb repairs and rewrites a file while opening it (after a crash, or when asked to
//! verify every page), so checking a file we do not yet trust, or reading it for a report,
//! goes through this view: whatever redb decides to write, the file's bytes never change.
//! Locks are taken on the real file, so a running daemon still excludes this view.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

const BLOCK: u64 = 4096;

#[derive(Debug)]
pub(super) struct Snapshot {
    file: File,
    /// Length of the file when the view was made (nobody writes it while we hold its lock).
    file_len: u64,
    /// The real file, for locking only; `None` when it can only be opened read-only (then
    /// there is no writer to exclude on that file system either).
    locks: Option<FileBackend>,
    state: Mutex<Overlay>,
}

#[derive(Debug)]
struct Overlay {
    len: u64,
    /// Bytes of the file below this offset are still visible (a shrink hides the rest).
    visible: u64,
    blocks: HashMap<u64, Box<[u8]>>,
}

impl Snapshot {
    pub(super) fn open(path: &Path) -> io::Result<Snapshot> {
        // A read-write descriptor only so that redb's exclusive lock can be taken on it
        // (fcntl write locks need one); nothing is ever written through it.
        let (file, locks) = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => {
                let lock_fd = f.try_clone()?;
                let backend = FileBackend::new(lock_fd).map_err(io::Error::other)?;
                (f, Some(backend))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                (File::open(path)?, None)
            }
            Err(e) => return Err(e),
        };
        let file_len = file.metadata()?.len();
        Ok(Snapshot {
            file,
            file_len,
            locks,
            state: Mutex::new(Overlay {
                len: file_len,
                visible: file_len,
                blocks: HashMap::new(),
            }),
        })
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, Overlay> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current content of block `b` (overlay, else file, else zeros).
    fn block(&self, st: &Overlay, b: u64) -> io::Result<Box<[u8]>> {
        if let Some(data) = st.blocks.get(&b) {
            return Ok(data.clone());
        }
        let mut data = vec![0u8; BLOCK as usize].into_boxed_slice();
        let start = b * BLOCK;
        let end = ((b + 1) * BLOCK).min(st.visible).min(self.file_len);
        if end > start {
            self.file
                .read_exact_at(&mut data[..(end - start) as usize], start)?;
        }
        Ok(data)
    }

    fn locks(&self) -> Result<&FileBackend, BackendError> {
        self.locks.as_ref().ok_or(BackendError::Unsupported)
    }
}

impl StorageBackend for Snapshot {
    fn len(&self) -> io::Result<u64> {
        Ok(self.lock_state().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let st = self.lock_state();
        let end = offset.saturating_add(out.len() as u64);
        if end > st.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "read of bytes {offset}..{end} past the end of the file ({} bytes): the file is truncated",
                    st.len
                ),
            ));
        }
        for (b, within, n, done) in spans(offset, out.len()) {
            let pos = offset + done as u64;
            if let Some(data) = st.blocks.get(&b) {
                out[done..done + n].copy_from_slice(&data[within..within + n]);
            } else {
                // Straight from the file where it is visible, zeros past that.
                let file_end = st.visible.min(self.file_len);
                let real = file_end.saturating_sub(pos).min(n as u64) as usize;
                if real > 0 {
                    self.file.read_exact_at(&mut out[done..done + real], pos)?;
                }
                out[done + real..done + n].fill(0);
            }
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.lock_state();
        if len < st.len {
            st.visible = st.visible.min(len);
            let first_gone = len.div_ceil(BLOCK);
            st.blocks.retain(|b, _| *b < first_gone);
            if !len.is_multiple_of(BLOCK)
                && let Some(data) = st.blocks.get_mut(&(len / BLOCK))
            {
                data[(len % BLOCK) as usize..].fill(0);
            }
        }
        st.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.lock_state();
        for (b, within, n, done) in spans(offset, data.len()) {
            let mut block = self.block(&st, b)?;
            block[within..within + n].copy_from_slice(&data[done..done + n]);
            st.blocks.insert(b, block);
        }
        st.len = st.len.max(offset + data.len() as u64);
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        match &self.locks {
            Some(l) => l.close(),
            None => Ok(()),
        }
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.locks()?.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.locks()?.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.locks()?.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.locks()?.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.locks()?.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.locks()?.query_lock_range(start, end)
    }
}

/// `len` bytes from `offset`, block by block: (block, offset within it, bytes in it, offset
/// within the caller's buffer).
fn spans(offset: u64, len: usize) -> impl Iterator<Item = (u64, usize, usize, usize)> {
    let mut pos = offset;
    let mut done = 0usize;
    std::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let within = (pos % BLOCK) as usize;
        let n = (BLOCK as usize - within).min(len - done);
        let item = (pos / BLOCK, within, n, done);
        pos += n as u64;
        done += n;
        Some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_stay_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let original: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &original).unwrap();
        let s = Snapshot::open(&p).unwrap();
        s.write(4090, &[1; 20]).unwrap();
        let mut out = vec![0u8; 30];
        s.read(4085, &mut out).unwrap();
        assert_eq!(&out[..5], &original[4085..4090]);
        assert_eq!(&out[5..25], &[1; 20]);
        assert_eq!(&out[25..], &original[4110..4115]);
        // Shrink then grow: the hidden tail reads as zeros.
        s.set_len(5000).unwrap();
        s.set_len(9000).unwrap();
        let mut tail = vec![7u8; 100];
        s.read(5000, &mut tail).unwrap();
        assert!(tail.iter().all(|b| *b == 0));
        let mut head = [0u8; 10];
        s.read(4995, &mut head[..5]).unwrap();
        assert_eq!(&head[..5], &original[4995..5000]);
        assert!(s.read(8999, &mut [0u8; 2]).is_err());
        drop(s);
        assert_eq!(std::fs::read(&p).unwrap(), original);
    }
}
