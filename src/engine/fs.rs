//! The torrents' files on disk: where a torrent's content lives, moving and removing it,
//! free space, and the checks of what a new torrent would write before the engine opens
//! anything.
//!
//! librqbit opens every file of a torrent with `create` and sets each wanted file's length to
//! the torrent's, even for a paused torrent. Handing it a torrent whose paths name existing
//! files would therefore shrink them (and a later "delete with data" would remove them), and a
//! symlink on the way would carry all of that outside the profile's directory. So an add is
//! refused when (docs/security.md, "Files on disk"):
//! - any component below the profile's directory (subdir, torrent folder, file path) is a
//!   symlink: `path_escapes_profile`;
//! - a file exists with a larger size than the torrent's, or a path exists with the wrong kind
//!   (a folder where a file goes, a file where a folder goes): `file_conflict`.
//!
//! Existing files of the same or a smaller size are kept: they are verified by the engine and
//! used, so seeding pre-placed data and resuming another client's partial download work.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tracing::warn;

use super::{EngineError, Meta, Result};

/// What exists at one path.
enum Found {
    Nothing,
    Dir,
    File(u64),
}

fn inspect(path: &Path, shown: &Path) -> Result<Found> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => Err(EngineError::PathEscapesProfile(format!(
            "'{}' is a symbolic link; torrents may not write through links out of the profile's folder",
            shown.display()
        ))),
        Ok(md) if md.is_dir() => Ok(Found::Dir),
        Ok(md) if md.is_file() => Ok(Found::File(md.len())),
        Ok(_) => Err(EngineError::FileConflict(format!(
            "'{}' exists and is not a regular file",
            shown.display()
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Found::Nothing),
        Err(e) => Err(EngineError::FileConflict(format!(
            "'{}' cannot be inspected: {e}",
            shown.display()
        ))),
    }
}

/// Walks `rel` below `base`, refusing links and non-folders on the way. Returns whether the
/// whole folder chain exists (so the caller knows whether to look further).
fn check_dirs(base: &Path, rel: &Path, seen: &mut HashSet<PathBuf>) -> Result<bool> {
    let mut cur = base.to_path_buf();
    let mut shown = PathBuf::new();
    for c in rel.components() {
        cur.push(c);
        shown.push(c);
        if seen.contains(&cur) {
            continue;
        }
        match inspect(&cur, &shown)? {
            Found::Nothing => return Ok(false),
            Found::Dir => {
                seen.insert(cur.clone());
            }
            Found::File(_) => {
                return Err(EngineError::FileConflict(format!(
                    "'{}' exists as a file where the torrent needs a folder",
                    shown.display()
                )));
            }
        }
    }
    Ok(true)
}

/// Refuses a torrent whose files would clobber or escape (see the module header). `profile_dir`
/// is the profile's download directory, `save_dir` the folder under it chosen for this torrent.
pub(crate) fn check_new_torrent_paths(
    profile_dir: &Path,
    save_dir: &Path,
    meta: &Meta,
) -> Result<()> {
    let mut seen = HashSet::new();
    let rel_save = save_dir.strip_prefix(profile_dir).unwrap_or(Path::new(""));
    if !check_dirs(profile_dir, rel_save, &mut seen)? {
        return Ok(());
    }
    let root = content_root(save_dir, meta, true);
    let root_rel = root.strip_prefix(profile_dir).unwrap_or(Path::new(""));
    if !check_dirs(profile_dir, root_rel, &mut seen)? {
        return Ok(());
    }
    for (path, len) in &meta.files {
        let rel = Path::new(path);
        let parent = rel.parent().unwrap_or(Path::new(""));
        if !check_dirs(&root, parent, &mut seen)? {
            continue;
        }
        let shown = root_rel.join(rel);
        match inspect(&root.join(rel), &shown)? {
            Found::Nothing => {}
            Found::Dir => {
                return Err(EngineError::FileConflict(format!(
                    "'{}' exists as a folder where the torrent has a file",
                    shown.display()
                )));
            }
            Found::File(size) if size > *len => {
                return Err(EngineError::FileConflict(format!(
                    "'{}' already exists with {size} bytes, more than the torrent's {len}; adding the torrent would shrink it. Move the file away or add the torrent into another folder (subdir)",
                    shown.display()
                )));
            }
            Found::File(_) => {}
        }
    }
    Ok(())
}

pub(crate) fn disk_free(path: &Path) -> Option<u64> {
    rustix::fs::statvfs(path)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// Where a torrent's content lives: the torrent's folder for multi-file torrents (when
/// `for_engine`, the folder librqbit writes into), else the save dir itself.
pub(crate) fn content_root(save_dir: &Path, meta: &Meta, for_engine: bool) -> PathBuf {
    if meta.multi_file && for_engine {
        save_dir.join(&meta.name)
    } else {
        save_dir.to_path_buf()
    }
}

/// The top-level items of a torrent in its save dir: its folder, or its one file.
fn top_items(meta: &Meta) -> Vec<PathBuf> {
    if meta.multi_file {
        vec![PathBuf::from(&meta.name)]
    } else {
        meta.files.iter().map(|(p, _)| PathBuf::from(p)).collect()
    }
}

/// Where a move across filesystems copies an item before it takes its final name with a
/// rename on the destination's filesystem: a final name therefore only ever holds a whole
/// copy.
fn staging_dir(to: &Path, hash: &str) -> PathBuf {
    to.join(format!(".pytorrentd-moving-{hash}"))
}

/// Refuses a move whose destination already holds a file or folder of the torrent's names.
pub(crate) fn check_move_target(to: &Path, meta: &Meta) -> std::io::Result<()> {
    for item in top_items(meta) {
        if to.join(&item).symlink_metadata().is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", to.join(item).display()),
            ));
        }
    }
    Ok(())
}

/// Moves a torrent's files from one save dir to another: each item is renamed, or copied
/// (to a staging folder, synced, then renamed into place) when the folders are on different
/// filesystems; sources of copies are deleted only once every item has arrived. On error
/// nothing is left at the destination and the source is whole.
///
/// `resume` finishes a move a crash interrupted (the torrent's record names the
/// destination, `TorrentRecord::moving_to`): an item at the destination is complete (it got
/// its name by a rename), so its leftover source is deleted; the others move.
pub(crate) fn move_content(
    from: &Path,
    to: &Path,
    meta: &Meta,
    hash: &str,
    resume: bool,
) -> std::io::Result<()> {
    let items = top_items(meta);
    let stage = staging_dir(to, hash);
    if stage.exists() {
        remove_tree(&stage)?;
    }
    if !resume {
        check_move_target(to, meta)?;
    }
    // (item, copied): copied items still have their source.
    let mut done: Vec<(&PathBuf, bool)> = Vec::new();
    let mut result = Ok(());
    for item in &items {
        let (src, dst) = (from.join(item), to.join(item));
        if resume && dst.symlink_metadata().is_ok() {
            done.push((item, src.symlink_metadata().is_ok()));
            continue;
        }
        if src.symlink_metadata().is_err() {
            continue;
        }
        let r = match std::fs::rename(&src, &dst) {
            Ok(()) => Ok(false),
            Err(_) => {
                let staged = stage.join(item);
                copy_tree(&src, &staged)
                    .and_then(|()| std::fs::rename(&staged, &dst))
                    .map(|()| true)
            }
        };
        match r {
            Ok(copied) => done.push((item, copied)),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let _ = remove_tree(&stage);
    if let Err(e) = result {
        // Undo: renamed items go back, copies are dropped (their sources are still there).
        for (item, copied) in done {
            if copied {
                let _ = remove_tree(&to.join(item));
            } else {
                let _ = std::fs::rename(to.join(item), from.join(item));
            }
        }
        return Err(e);
    }
    for (item, copied) in done {
        if copied && let Err(e) = remove_tree(&from.join(item)) {
            warn!(path = %from.join(item).display(), "deleting the moved data's old copy: {e}");
        }
    }
    Ok(())
}

/// Deletes a torrent's files (and the folders they leave empty), as the engine does for a
/// torrent it holds; other files in those folders stay.
pub(crate) fn remove_files(save_dir: &Path, meta: &Meta) {
    let root = content_root(save_dir, meta, true);
    for (rel, _) in &meta.files {
        let p = root.join(rel);
        if let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!(path = %p.display(), "deleting a file of the torrent: {e}");
        }
        let mut dir = p.parent();
        while let Some(d) = dir {
            if !d.starts_with(&root) || d == save_dir || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    if src.is_dir() {
        std::fs::create_dir_all(dst)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(src, dst)?;
        // On disk before the rename that gives the copy its final name.
        std::fs::File::open(dst)?.sync_all()
    }
}

fn remove_tree(p: &Path) -> std::io::Result<()> {
    if p.is_dir() && !p.is_symlink() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, files: &[(&str, u64)], multi: bool) -> Meta {
        Meta {
            name: name.into(),
            total: files.iter().map(|f| f.1).sum(),
            piece_length: 16384,
            files: files.iter().map(|(p, l)| (p.to_string(), *l)).collect(),
            multi_file: multi,
            trackers: Vec::new(),
            hosts: Default::default(),
        }
    }

    fn code(r: Result<()>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(EngineError::FileConflict(_)) => "file_conflict",
            Err(EngineError::PathEscapesProfile(_)) => "path_escapes_profile",
            Err(_) => "other",
        }
    }

    #[test]
    fn existing_files_links_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("victim.txt"), vec![7u8; 1000]).unwrap();
        std::fs::write(p.join("same.bin"), vec![7u8; 10]).unwrap();
        std::fs::create_dir(p.join("folder")).unwrap();
        std::fs::create_dir(p.join("outside")).unwrap();
        std::os::unix::fs::symlink(p.join("outside"), p.join("link")).unwrap();
        std::os::unix::fs::symlink(p.join("outside/secret.txt"), p.join("filelink")).unwrap();
        let single = |name: &str, len| meta(name, &[(name, len)], false);

        for (name, len, expected) in [
            ("victim.txt", 1, "file_conflict"),
            ("victim.txt", 1000, "ok"),
            ("victim.txt", 5000, "ok"),
            ("new.bin", 5, "ok"),
            ("folder", 5, "file_conflict"),
            ("filelink", 5, "path_escapes_profile"),
        ] {
            let got = code(check_new_torrent_paths(p, p, &single(name, len)));
            assert_eq!(got, expected, "{name} of {len} bytes");
        }
        // Through a linked subdir, a linked torrent folder, a file where a folder goes.
        assert_eq!(
            code(check_new_torrent_paths(p, &p.join("link"), &single("x", 5))),
            "path_escapes_profile"
        );
        assert_eq!(
            code(check_new_torrent_paths(
                p,
                &p.join("link/deeper"),
                &single("x", 5)
            )),
            "path_escapes_profile"
        );
        let multi = meta("link", &[("a/secret.txt", 1), ("b", 2)], true);
        assert_eq!(
            code(check_new_torrent_paths(p, p, &multi)),
            "path_escapes_profile"
        );
        let multi = meta("victim.txt", &[("a", 1), ("b", 2)], true);
        assert_eq!(code(check_new_torrent_paths(p, p, &multi)), "file_conflict");
        let multi = meta("folder", &[("sub/a", 1), ("b", 2)], true);
        assert_eq!(code(check_new_torrent_paths(p, p, &multi)), "ok");
        std::fs::write(p.join("folder/b"), vec![0u8; 3]).unwrap();
        assert_eq!(code(check_new_torrent_paths(p, p, &multi)), "file_conflict");
    }

    fn tree(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(base: &Path, p: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(p).unwrap() {
                let e = e.unwrap();
                let path = e.path();
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if path.is_dir() {
                    out.push(format!("{rel}/"));
                    walk(base, &path, out);
                } else {
                    out.push(format!("{rel}={}", std::fs::read(&path).unwrap().len()));
                }
            }
        }
        walk(root, root, &mut out);
        out.sort();
        out
    }

    #[test]
    fn moves_refuse_a_taken_destination_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::create_dir_all(from.join("show/s1")).unwrap();
        std::fs::create_dir_all(&to).unwrap();
        std::fs::write(from.join("show/s1/e1.mkv"), [1u8; 10]).unwrap();
        std::fs::write(from.join("show/e2.mkv"), [2u8; 20]).unwrap();
        let m = meta("show", &[("s1/e1.mkv", 10), ("e2.mkv", 20)], true);
        std::fs::create_dir(to.join("show")).unwrap();
        let before = (tree(&from), tree(&to));
        let e = move_content(&from, &to, &m, "h", false).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!((tree(&from), tree(&to)), before);
        std::fs::remove_dir(to.join("show")).unwrap();
        move_content(&from, &to, &m, "h", false).unwrap();
        assert!(tree(&from).is_empty(), "{:?}", tree(&from));
        assert_eq!(
            tree(&to),
            ["show/", "show/e2.mkv=20", "show/s1/", "show/s1/e1.mkv=10"]
        );
    }

    #[test]
    fn an_interrupted_move_is_finished() {
        // Single-file items: a.bin arrived and its source was deleted, b.bin arrived by a copy
        // whose source is still there, c.bin did not move yet, and a partial copy of it is in
        // the staging folder.
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::create_dir_all(&from).unwrap();
        std::fs::create_dir_all(staging_dir(&to, "h")).unwrap();
        std::fs::write(to.join("a.bin"), [1u8; 5]).unwrap();
        std::fs::write(to.join("b.bin"), [2u8; 6]).unwrap();
        std::fs::write(from.join("b.bin"), [2u8; 6]).unwrap();
        std::fs::write(from.join("c.bin"), [3u8; 7]).unwrap();
        std::fs::write(staging_dir(&to, "h").join("c.bin"), [3u8; 2]).unwrap();
        std::fs::write(from.join("unrelated.txt"), [0u8; 1]).unwrap();
        let m = Meta {
            multi_file: false,
            ..meta("x", &[("a.bin", 5), ("b.bin", 6), ("c.bin", 7)], false)
        };
        move_content(&from, &to, &m, "h", true).unwrap();
        assert_eq!(tree(&from), ["unrelated.txt=1"]);
        assert_eq!(tree(&to), ["a.bin=5", "b.bin=6", "c.bin=7"]);
        // Going back the same way works too (the path taken when going forward fails).
        move_content(&to, &from, &m, "h", true).unwrap();
        assert_eq!(
            tree(&from),
            ["a.bin=5", "b.bin=6", "c.bin=7", "unrelated.txt=1"]
        );
        assert!(tree(&to).is_empty());
    }
}
