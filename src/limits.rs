//! The limits of every text and list input, in one place, with the validators that enforce
//! them. The engine (adds, labels, profiles), the HTTP layer (JSON and multipart bodies,
//! request heads), the control socket and the CLI (which go through the engine's profile
//! functions) and the auth layer (usernames, passwords, token names) all check against these
//! constants, so a value refused on one path is refused on every path, with a message that
//! states the limit. `docs/limits.md` lists them for users.
//!
//! This module is a leaf: it depends on nothing else in the crate.

use std::path::{Component, Path};

/// Labels: characters (not bytes), printable.
pub const LABEL_MAX_CHARS: usize = 128;
/// Labels one torrent may carry.
pub const LABELS_MAX: usize = 32;
/// Profile ids: `a-z 0-9 - _`, 1–64 bytes.
pub const PROFILE_ID_MAX_BYTES: usize = 64;
/// Profile display names: characters, printable.
pub const PROFILE_NAME_MAX_CHARS: usize = 128;
/// A name given to a torrent (shown instead of its own, qBittorrent's `rename`).
pub const TORRENT_TITLE_MAX_CHARS: usize = 255;
/// Largest `max_active_downloads` of a profile (0 means unlimited).
pub const MAX_ACTIVE_DOWNLOADS_MAX: u32 = 1000;
/// A profile's download directory (Linux `PATH_MAX`).
pub const DIR_PATH_MAX_BYTES: usize = 4096;
/// The `subdir` of an add, relative to the profile's download directory.
pub const SUBDIR_MAX_BYTES: usize = 1024;
/// One file or folder name (Linux `NAME_MAX`): subdir components and names in a .torrent.
pub const PATH_COMPONENT_MAX_BYTES: usize = 255;
/// A file's path inside a torrent (torrent name and all components), in bytes.
pub const TORRENT_PATH_MAX_BYTES: usize = 4096;
/// Files in one torrent; also the longest file-index list (`only_files`, PATCH `files`).
pub const TORRENT_FILES_MAX: usize = 100_000;
/// Largest .torrent file accepted (also bounds metadata fetched for a magnet).
pub const TORRENT_FILE_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Extra peers given with one add (`peers` plus the magnet's `x.pe` hints).
pub const PEERS_MAX: usize = 100;
/// One magnet link, in bytes.
pub const MAGNET_MAX_BYTES: usize = 16 * 1024;
/// The display name a magnet carries (`dn`): longer ones are shortened, not refused.
pub const MAGNET_NAME_MAX_BYTES: usize = 255;
/// One http(s) URL of a .torrent, in bytes.
pub const URL_MAX_BYTES: usize = 8 * 1024;
/// Torrents (files, magnets and URLs together) in one add request.
pub const SOURCES_MAX: usize = 100;
/// Parts of one multipart add request (files and text fields together).
pub const MULTIPART_PARTS_MAX: usize = 128;
/// One text field of a multipart add request, in bytes.
pub const MULTIPART_TEXT_MAX_BYTES: usize = 2 * 1024 * 1024;
/// Usernames, in bytes.
pub const USERNAME_MAX_BYTES: usize = 128;
/// Passwords: at least this many characters when set...
pub const PASSWORD_MIN_CHARS: usize = 8;
/// ...and at most this many bytes (bounds the hashing work).
pub const PASSWORD_MAX_BYTES: usize = 1024;
/// API token names, in characters.
pub const TOKEN_NAME_MAX_CHARS: usize = 64;
/// The request target (path and query) of one HTTP request, in bytes.
pub const HTTP_URI_MAX_BYTES: usize = 8 * 1024;
/// Header fields in one HTTP request.
pub const HTTP_HEADERS_MAX: usize = 100;
/// One HTTP request head (request line and all header fields), in bytes.
pub const HTTP_HEAD_MAX_BYTES: usize = 64 * 1024;

/// Which input a [`LimitError`] is about (the HTTP layer picks its error code from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Label,
    TorrentTitle,
    ProfileId,
    ProfileName,
    MaxActiveDownloads,
    DownloadDir,
    Subdir,
    Peers,
    Magnet,
    Url,
    Sources,
    FileIndices,
}

/// An input outside its limit. The message names the input and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitError {
    pub field: Field,
    pub message: String,
}

impl LimitError {
    fn new(field: Field, message: impl Into<String>) -> Self {
        LimitError {
            field,
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, LimitError>;

/// At most the first 60 characters of `s`, escaped, for quoting user input in messages (a
/// 1 MB value must not come back in full in the error, nor control characters in a log).
pub fn quote(s: &str) -> String {
    const SHOWN: usize = 60;
    let mut out: String = s.chars().take(SHOWN).flat_map(char::escape_debug).collect();
    if s.chars().nth(SHOWN).is_some() {
        out.push('…');
    }
    out
}

/// Control characters, plus the Unicode line and paragraph separators that break a line
/// just as well (a label or name is shown on one line in lists, logs and terminals).
fn breaks_text(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// A torrent label: at most [`LABEL_MAX_CHARS`] characters, no control characters.
/// (An empty label means "no label" and is accepted.)
pub fn check_label(label: &str) -> Result<()> {
    let n = label.chars().count();
    if n > LABEL_MAX_CHARS {
        return Err(LimitError::new(
            Field::Label,
            format!("label must be at most {LABEL_MAX_CHARS} characters (got {n})"),
        ));
    }
    if label.chars().any(breaks_text) {
        return Err(LimitError::new(
            Field::Label,
            "label must not contain control characters (NUL, tab, newline, …)",
        ));
    }
    Ok(())
}

/// A torrent's labels, as given: each one trimmed, checked by [`check_label`], without
/// commas (clients of the qBittorrent API join tags with commas, docs/qbittorrent.md);
/// empty ones dropped, repeats kept once in their first place, at most [`LABELS_MAX`].
pub fn normalize_labels<S: AsRef<str>>(labels: &[S]) -> Result<Vec<String>> {
    if labels.len() > LABELS_MAX * 4 {
        return Err(LimitError::new(
            Field::Label,
            format!("a torrent carries at most {LABELS_MAX} labels"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let l = l.as_ref().trim();
        check_label(l)?;
        if l.contains(',') {
            return Err(LimitError::new(
                Field::Label,
                format!("label '{}' must not contain a comma", quote(l)),
            ));
        }
        if !l.is_empty() && !out.iter().any(|o| o == l) {
            out.push(l.to_owned());
        }
    }
    if out.len() > LABELS_MAX {
        return Err(LimitError::new(
            Field::Label,
            format!(
                "a torrent carries at most {LABELS_MAX} labels (got {})",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// A profile id: 1–[`PROFILE_ID_MAX_BYTES`] bytes among `a-z 0-9 - _`.
pub fn check_profile_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= PROFILE_ID_MAX_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(LimitError::new(
            Field::ProfileId,
            format!(
                "profile id '{}' is invalid: use 1-{PROFILE_ID_MAX_BYTES} characters among a-z, 0-9, '-' and '_'",
                quote(id)
            ),
        ))
    }
}

/// A profile's display name: 1–[`PROFILE_NAME_MAX_CHARS`] characters, not only spaces, no
/// control characters.
pub fn check_profile_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > PROFILE_NAME_MAX_CHARS || name.chars().any(breaks_text) {
        return Err(LimitError::new(
            Field::ProfileName,
            format!(
                "profile name must be 1-{PROFILE_NAME_MAX_CHARS} printable characters (got {n} characters)"
            ),
        ));
    }
    Ok(())
}

/// A name given to a torrent: 1–[`TORRENT_TITLE_MAX_CHARS`] characters, not only spaces, no
/// control characters.
pub fn check_torrent_title(name: &str) -> Result<()> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > TORRENT_TITLE_MAX_CHARS || name.chars().any(breaks_text) {
        return Err(LimitError::new(
            Field::TorrentTitle,
            format!(
                "a torrent's name must be 1-{TORRENT_TITLE_MAX_CHARS} printable characters (got {n} characters)"
            ),
        ));
    }
    Ok(())
}

/// A profile's `max_active_downloads`: 0 (unlimited) to [`MAX_ACTIVE_DOWNLOADS_MAX`].
pub fn check_max_active_downloads(n: u32) -> Result<()> {
    if n > MAX_ACTIVE_DOWNLOADS_MAX {
        return Err(LimitError::new(
            Field::MaxActiveDownloads,
            format!(
                "max_active_downloads must be 0 (unlimited) to {MAX_ACTIVE_DOWNLOADS_MAX} (got {n})"
            ),
        ));
    }
    Ok(())
}

/// A profile's download directory: at most [`DIR_PATH_MAX_BYTES`] bytes, no NUL (whether it
/// is absolute, existing and writable is the engine's business).
pub fn check_dir_path(dir: &Path) -> Result<()> {
    let bytes = dir.as_os_str().as_encoded_bytes();
    if bytes.len() > DIR_PATH_MAX_BYTES {
        return Err(LimitError::new(
            Field::DownloadDir,
            format!(
                "download directory must be at most {DIR_PATH_MAX_BYTES} bytes (got {})",
                bytes.len()
            ),
        ));
    }
    if bytes.contains(&0) {
        return Err(LimitError::new(
            Field::DownloadDir,
            "download directory must not contain a NUL byte",
        ));
    }
    Ok(())
}

/// The `subdir` of an add: at most [`SUBDIR_MAX_BYTES`] bytes, each folder name at most
/// [`PATH_COMPONENT_MAX_BYTES`] bytes, no control characters. (Whether it stays inside the
/// profile's directory is checked by the engine.)
pub fn check_subdir(sub: &str) -> Result<()> {
    if sub.len() > SUBDIR_MAX_BYTES {
        return Err(LimitError::new(
            Field::Subdir,
            format!(
                "subdir must be at most {SUBDIR_MAX_BYTES} bytes (got {})",
                sub.len()
            ),
        ));
    }
    if sub.chars().any(breaks_text) {
        return Err(LimitError::new(
            Field::Subdir,
            "subdir must not contain control characters (NUL, tab, newline, …)",
        ));
    }
    for c in Path::new(sub).components() {
        if let Component::Normal(part) = c
            && part.len() > PATH_COMPONENT_MAX_BYTES
        {
            return Err(LimitError::new(
                Field::Subdir,
                format!(
                    "each folder name in subdir must be at most {PATH_COMPONENT_MAX_BYTES} bytes (got one of {})",
                    part.len()
                ),
            ));
        }
    }
    Ok(())
}

/// How many extra peers one add may name.
pub fn check_peer_count(n: usize) -> Result<()> {
    if n > PEERS_MAX {
        return Err(LimitError::new(
            Field::Peers,
            format!("at most {PEERS_MAX} peers may be given (got {n})"),
        ));
    }
    Ok(())
}

/// One magnet link's length.
pub fn check_magnet(m: &str) -> Result<()> {
    if m.len() > MAGNET_MAX_BYTES {
        return Err(LimitError::new(
            Field::Magnet,
            format!(
                "a magnet link must be at most {MAGNET_MAX_BYTES} bytes (got {})",
                m.len()
            ),
        ));
    }
    Ok(())
}

/// One URL's length.
pub fn check_url(u: &str) -> Result<()> {
    if u.len() > URL_MAX_BYTES {
        return Err(LimitError::new(
            Field::Url,
            format!(
                "a URL must be at most {URL_MAX_BYTES} bytes (got {})",
                u.len()
            ),
        ));
    }
    Ok(())
}

/// How many torrents one add request may carry.
pub fn check_source_count(n: usize) -> Result<()> {
    if n > SOURCES_MAX {
        return Err(LimitError::new(
            Field::Sources,
            format!("at most {SOURCES_MAX} torrents may be added in one request (got {n})"),
        ));
    }
    Ok(())
}

/// How long a list of file indices may be.
pub fn check_file_index_count(n: usize) -> Result<()> {
    if n > TORRENT_FILES_MAX {
        return Err(LimitError::new(
            Field::FileIndices,
            format!("a file index list must have at most {TORRENT_FILES_MAX} entries (got {n})"),
        ));
    }
    Ok(())
}

/// The name a magnet link suggests (`dn`) is only a placeholder until the torrent's metadata
/// arrives with the real name, so an unusable one is repaired rather than refused: control
/// characters are dropped and it is cut to [`MAGNET_NAME_MAX_BYTES`] bytes (ending in `…`).
/// `None` when nothing printable is left.
pub fn magnet_display_name(dn: &str) -> Option<String> {
    let clean: String = dn.chars().filter(|c| !breaks_text(*c)).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        return None;
    }
    if clean.len() <= MAGNET_NAME_MAX_BYTES {
        return Some(clean.to_owned());
    }
    let budget = MAGNET_NAME_MAX_BYTES - '…'.len_utf8();
    let mut cut = budget;
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(format!("{}…", &clean[..cut]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_lists() {
        assert_eq!(
            normalize_labels(&[" tv ", "", "hd", "tv"]).unwrap(),
            vec!["tv".to_owned(), "hd".to_owned()]
        );
        assert!(normalize_labels(&["a,b"]).is_err());
        assert!(normalize_labels(&["ba\nd"]).is_err());
        let many: Vec<String> = (0..=LABELS_MAX).map(|i| format!("l{i}")).collect();
        assert!(normalize_labels(&many).is_err());
        assert!(normalize_labels(&many[..LABELS_MAX]).is_ok());
    }

    #[test]
    fn labels() {
        assert!(check_label("").is_ok());
        assert!(check_label("tv/shows — 4K ✓").is_ok());
        assert!(
            check_label(&"é".repeat(LABEL_MAX_CHARS)).is_ok(),
            "chars, not bytes"
        );
        let e = check_label(&"a".repeat(LABEL_MAX_CHARS + 1)).unwrap_err();
        assert_eq!(e.field, Field::Label);
        assert!(
            e.message.contains("128") && e.message.contains("129"),
            "{e}"
        );
        let e = check_label(&"x".repeat(1 << 20)).unwrap_err();
        assert!(e.message.contains("1048576"), "{e}");
        for bad in [
            "a\0b",
            "a\nb",
            "tab\there",
            "\u{7f}",
            "bell\u{7}",
            "line\u{2028}sep",
        ] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn profile_ids_and_names() {
        assert!(check_profile_id("tv-4k_2").is_ok());
        assert!(check_profile_id(&"a".repeat(64)).is_ok());
        for bad in ["", "TV", "a b", "a/b", "*", "é", &"a".repeat(65)] {
            assert!(check_profile_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_profile_name("Séries TV").is_ok());
        assert!(check_profile_name(&"ü".repeat(128)).is_ok());
        for bad in ["", "   ", "a\0", "a\r\nb", &"a".repeat(129)] {
            let e = check_profile_name(bad).unwrap_err();
            assert!(e.message.contains("1-128"), "{e}");
        }
        assert!(check_max_active_downloads(0).is_ok());
        assert!(check_max_active_downloads(MAX_ACTIVE_DOWNLOADS_MAX).is_ok());
        let e = check_max_active_downloads(1 << 31).unwrap_err();
        assert!(
            e.message.contains("1000") && e.message.contains("2147483648"),
            "{e}"
        );
    }

    #[test]
    fn dirs_and_subdirs() {
        assert!(check_dir_path(Path::new("/srv/torrents")).is_ok());
        assert!(check_dir_path(Path::new(&"/a".repeat(2048))).is_ok());
        assert!(check_dir_path(Path::new(&"/a".repeat(2049))).is_err());
        assert!(check_dir_path(Path::new("/srv/a\0b")).is_err());
        assert!(check_subdir("").is_ok());
        assert!(check_subdir("tv/2024 shows/é").is_ok());
        let e = check_subdir(&"a".repeat(1_000_000)).unwrap_err();
        assert_eq!(e.field, Field::Subdir);
        assert!(
            e.message.contains("1024") && e.message.contains("1000000"),
            "{e}"
        );
        assert!(check_subdir(&format!("ok/{}", "b".repeat(256))).is_err());
        assert!(check_subdir(&format!("ok/{}", "b".repeat(255))).is_ok());
        assert!(check_subdir("a\0b").is_err());
        assert!(check_subdir("a\nb").is_err());
    }

    #[test]
    fn counts_and_lengths() {
        assert!(check_peer_count(PEERS_MAX).is_ok());
        let e = check_peer_count(100_000).unwrap_err();
        assert!(
            e.message.contains("100000") && e.message.contains("100 "),
            "{e}"
        );
        assert!(check_magnet(&"m".repeat(MAGNET_MAX_BYTES)).is_ok());
        assert_eq!(
            check_magnet(&"m".repeat(MAGNET_MAX_BYTES + 1))
                .unwrap_err()
                .field,
            Field::Magnet
        );
        assert!(check_url(&"u".repeat(URL_MAX_BYTES)).is_ok());
        assert_eq!(
            check_url(&"u".repeat(URL_MAX_BYTES + 1)).unwrap_err().field,
            Field::Url
        );
        assert!(check_source_count(SOURCES_MAX).is_ok());
        assert!(check_source_count(SOURCES_MAX + 1).is_err());
        assert!(check_file_index_count(TORRENT_FILES_MAX).is_ok());
        assert!(check_file_index_count(TORRENT_FILES_MAX + 1).is_err());
    }

    #[test]
    fn magnet_names_are_repaired() {
        assert_eq!(
            magnet_display_name("Ubuntu 24.04").as_deref(),
            Some("Ubuntu 24.04")
        );
        assert_eq!(magnet_display_name("a\0b\nc").as_deref(), Some("abc"));
        assert_eq!(magnet_display_name(" \n\t "), None);
        let long = magnet_display_name(&"é".repeat(1 << 19)).unwrap();
        assert!(long.len() <= MAGNET_NAME_MAX_BYTES, "{}", long.len());
        assert!(long.ends_with('…'));
        assert!(long.starts_with("éé"));
        let exact = "a".repeat(MAGNET_NAME_MAX_BYTES);
        assert_eq!(magnet_display_name(&exact).as_deref(), Some(exact.as_str()));
    }

    #[test]
    fn quoting_is_short_and_escaped() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a\nb"), "a\\nb");
        let q = quote(&"x".repeat(1 << 20));
        assert_eq!(q.chars().count(), 61);
        assert!(q.ends_with('…'));
    }
}
