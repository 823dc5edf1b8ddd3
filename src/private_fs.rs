//! Keeping what pytorrentd writes under `DATA_DIR` private.
//!
//! The database holds password hashes, token and session digests and the source URLs of
//! torrents; the engine directory holds what every torrent is. They must not be readable by
//! other local users whatever the process umask or the mode of a `DATA_DIR` that already
//! existed (an operator's 0755 directory, a packaging default). Download directories are not
//! touched: their modes are the operator's choice (shares, media servers).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Sets `path`'s permission bits to `mode` unless they already are; a missing path is fine.
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => Ok(()),
        Ok(md) if md.permissions().mode() & 0o777 != mode => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A private directory (0700) whose files are private too (0600), recursively. Files the
/// engine creates later inherit no protection from their own mode, but sit inside this
/// directory, which nobody else can enter.
pub fn restrict_tree(dir: &Path) -> std::io::Result<()> {
    restrict(dir, 0o700)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            restrict_tree(&entry.path())?;
        } else if ft.is_file() {
            restrict(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}
