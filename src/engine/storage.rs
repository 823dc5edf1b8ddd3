//! The engine's file storage: librqbit's own, with whole writes. A positioned write that
//! meets a filling disk may write part of its bytes and report success (`pwritev` returns a
//! short count); librqbit 9.1 takes that count as done (and asserts on it in debug builds).
//! Here the rest is written too, so the next write fails with ENOSPC and the torrent stops
//! with a disk-full error (then waits for space: `faults`) instead of losing bytes silently.

use std::any::TypeId;
use std::io::IoSlice;
use std::path::Path;

use librqbit::storage::filesystem::{FilesystemStorage, FilesystemStorageFactory};
use librqbit::storage::{BoxStorageFactory, StorageFactory, StorageFactoryExt, TorrentStorage};
use librqbit::{ManagedTorrentShared, TorrentMetadata};
use librqbit_core::lengths::ValidPieceIndex;

#[derive(Clone, Copy, Default)]
pub(crate) struct WholeWritesFactory;

impl WholeWritesFactory {
    pub(crate) fn boxed_factory() -> BoxStorageFactory {
        WholeWritesFactory.boxed()
    }
}

impl StorageFactory for WholeWritesFactory {
    type Storage = WholeWrites<FilesystemStorage>;

    fn create(
        &self,
        shared: &ManagedTorrentShared,
        metadata: &TorrentMetadata,
    ) -> anyhow::Result<Self::Storage> {
        Ok(WholeWrites(
            FilesystemStorageFactory::default().create(shared, metadata)?,
        ))
    }

    // librqbit's session persistence asks whether torrents are stored in plain files.
    fn is_type_id(&self, type_id: TypeId) -> bool {
        type_id == TypeId::of::<FilesystemStorageFactory>() || type_id == TypeId::of::<Self>()
    }

    fn clone_box(&self) -> BoxStorageFactory {
        self.boxed()
    }
}

pub(crate) struct WholeWrites<S>(S);

impl<S: TorrentStorage> TorrentStorage for WholeWrites<S> {
    fn init(
        &mut self,
        shared: &ManagedTorrentShared,
        metadata: &TorrentMetadata,
    ) -> anyhow::Result<()> {
        self.0.init(shared, metadata)
    }

    fn pread_exact(&self, file_id: usize, offset: u64, buf: &mut [u8]) -> anyhow::Result<()> {
        self.0.pread_exact(file_id, offset, buf)
    }

    fn pwrite_all(&self, file_id: usize, offset: u64, buf: &[u8]) -> anyhow::Result<()> {
        self.0.pwrite_all(file_id, offset, buf)
    }

    fn pwrite_all_vectored(
        &self,
        file_id: usize,
        offset: u64,
        bufs: [IoSlice<'_>; 2],
    ) -> anyhow::Result<usize> {
        let total = bufs[0].len() + bufs[1].len();
        let written = self.0.pwrite_all_vectored(
            file_id,
            offset,
            [IoSlice::new(&bufs[0]), IoSlice::new(&bufs[1])],
        )?;
        if written < total {
            // The rest, with writes that loop and report the error that stopped them.
            let mut skip = written;
            let mut at = offset + written as u64;
            for b in &bufs {
                if skip >= b.len() {
                    skip -= b.len();
                    continue;
                }
                let rest = &b[skip..];
                skip = 0;
                self.0.pwrite_all(file_id, at, rest)?;
                at += rest.len() as u64;
            }
        }
        Ok(total)
    }

    fn remove_file(&self, file_id: usize, filename: &Path) -> anyhow::Result<()> {
        self.0.remove_file(file_id, filename)
    }

    fn remove_directory_if_empty(&self, path: &Path) -> anyhow::Result<()> {
        self.0.remove_directory_if_empty(path)
    }

    fn ensure_file_length(&self, file_id: usize, length: u64) -> anyhow::Result<()> {
        self.0.ensure_file_length(file_id, length)
    }

    fn take(&self) -> anyhow::Result<Box<dyn TorrentStorage>> {
        Ok(Box::new(WholeWrites(self.0.take()?)))
    }

    fn on_piece_completed(&self, piece_index: ValidPieceIndex) -> anyhow::Result<()> {
        self.0.on_piece_completed(piece_index)
    }
}
