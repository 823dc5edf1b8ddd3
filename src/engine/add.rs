//! Adding torrents: parsing and validating magnets, URLs and .torrent bytes, committing the
//! records, then handing them to the engine; plus the background magnet resolver.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use librqbit::{AddTorrent, AddTorrentOptions, AddTorrentResponse};
use librqbit_core::magnet::Magnet;
use librqbit_core::torrent_metainfo::torrent_from_bytes;
use tracing::{info, warn};

use super::validate::{self, TorrentError};
use super::{Engine, EngineError, EngineEvent, Entry, MAX_TORRENT_BYTES, Meta, Result, TorrentRow};
use crate::limits;
use crate::store::TorrentRecord;

/// What to add.
#[derive(Debug, Clone)]
pub enum AddSource {
    Magnet(String),
    Url(String),
    /// Uploaded .torrent bytes with the uploaded file name (for messages).
    Bytes {
        name: String,
        bytes: Vec<u8>,
    },
}

/// A source once its URL (if any) has been fetched: what `add` parses.
enum Resolved {
    Magnet(String),
    /// .torrent bytes, uploaded or fetched, with a name for messages.
    Torrent {
        name: String,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    pub paused: bool,
    /// Labels, normalized by `add` (`limits::normalize_labels`).
    pub labels: Vec<String>,
    pub only_files: Option<Vec<usize>>,
    pub peers: Vec<SocketAddr>,
    /// Folder under the profile's download dir.
    pub subdir: Option<String>,
    /// The torrent's own speed limits, bytes/s (0 = unlimited; checked by `add`).
    pub dl_limit: u64,
    pub ul_limit: u64,
    /// Which addresses a URL source may be fetched from (the caller's rights).
    pub fetch: super::FetchAccess,
}

pub(crate) struct ParsedTorrent {
    pub hash: String,
    pub meta: Meta,
}

pub(crate) fn parse_torrent(bytes: &[u8]) -> Result<ParsedTorrent> {
    if bytes.len() > MAX_TORRENT_BYTES {
        return Err(EngineError::InvalidTorrent(
            "the .torrent file is larger than 10 MiB".into(),
        ));
    }
    validate::check_torrent_file(bytes).map_err(|e| match e {
        TorrentError::Invalid(m) => {
            EngineError::InvalidTorrent(format!("not a valid .torrent file: {m}"))
        }
        TorrentError::PathEscape(m) => {
            EngineError::PathEscape(format!("the .torrent is refused: {m}"))
        }
    })?;
    // The checks above keep every input known to break librqbit's parser away from it; if
    // another one still makes it panic, that is this request's failure, not the process's.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse_checked(bytes))).unwrap_or_else(
        |_| {
            warn!("the torrent engine panicked while reading a .torrent that passed validation");
            Err(EngineError::InvalidTorrent(
                "not a valid .torrent file: the torrent engine cannot read it".into(),
            ))
        },
    )
}

/// Reads a .torrent that passed [`validate::check_torrent_file`] with librqbit's parser.
fn parse_checked(bytes: &[u8]) -> Result<ParsedTorrent> {
    let t = torrent_from_bytes(bytes)
        .map_err(|e| EngineError::InvalidTorrent(format!("not a valid .torrent file: {e}")))?;
    let hash = t.info_hash.as_string();
    let info = t.info.data.validate().map_err(|e| match e {
        librqbit_core::Error::BadTorrentPathTraversal => {
            EngineError::PathEscape("the .torrent contains a file path escaping its folder".into())
        }
        e => EngineError::InvalidTorrent(format!("not a valid .torrent file: {e}")),
    })?;
    let mut files = Vec::new();
    for fd in info.iter_file_details() {
        let path = fd.filename.to_pathbuf();
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(EngineError::PathEscape(
                "the .torrent contains a file path escaping its folder".into(),
            ));
        }
        files.push((path.to_string_lossy().into_owned(), fd.len));
    }
    let multi_file = files.len() > 1;
    let name = info
        .name()
        .map(|n| n.into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| hash.clone());
    if multi_file && (name.contains('/') || name == ".." || name == ".") {
        return Err(EngineError::PathEscape(
            "the torrent's folder name escapes the download directory".into(),
        ));
    }
    Ok(ParsedTorrent {
        hash,
        meta: Meta {
            name,
            total: info.lengths().total_length(),
            piece_length: info.lengths().default_piece_length(),
            files,
            multi_file,
            trackers: super::validate::split_trackers(bytes)
                .map(|(_, t)| t)
                .unwrap_or_default(),
            hosts: Default::default(),
        },
    })
}

pub(crate) struct ParsedMagnet {
    pub hash: String,
    pub name: Option<String>,
    pub peers: Vec<SocketAddr>,
}

pub(crate) fn parse_magnet(s: &str) -> Result<ParsedMagnet> {
    let s = s.trim();
    limits::check_magnet(s)?;
    let bad = |why: &str| EngineError::InvalidMagnet(format!("not a valid magnet link: {why}"));
    let bare_hash = s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !s.starts_with("magnet:?") && !bare_hash {
        return Err(bad("it must start with 'magnet:?'"));
    }
    check_before_librqbit(s)?;
    // The checks above keep known bad links away from librqbit's parser; should another one
    // make it panic, that is this link's failure.
    let m = std::panic::catch_unwind(|| Magnet::parse(s))
        .map_err(|_| bad("the magnet parser cannot read it"))?
        .map_err(|e| bad(&format!("{e:#}")))?;
    let id = m
        .as_id20()
        .ok_or_else(|| bad("it has no BitTorrent v1 info hash (xt=urn:btih:…)"))?;
    let mut peers = Vec::new();
    if let Ok(url) = url::Url::parse(s) {
        for (k, v) in url.query_pairs() {
            if k == "x.pe" {
                let addr: SocketAddr = v.parse().map_err(|_| {
                    bad(&format!(
                        "peer address '{}' is not IP:port",
                        limits::quote(&v)
                    ))
                })?;
                peers.push(addr);
            }
        }
    }
    Ok(ParsedMagnet {
        hash: id.as_string(),
        name: m.name.as_deref().and_then(limits::magnet_display_name),
        peers,
    })
}

/// What librqbit's magnet parser cannot be trusted with (both found by the magnet fuzz
/// target), refused before it sees the link:
/// - it expands `so` (select-only, BEP 53) ranges into a list of every index they cover, so
///   `so=0-4000000000` would allocate gigabytes and abort the process. A torrent has at most
///   `limits::TORRENT_FILES_MAX` files, so indices at or past that, or more of them in all,
///   are refused (entries librqbit ignores, not numbers, are ignored here too);
/// - it copies a base32-decoded info hash into a fixed-size array and panics when the length
///   differs: a padded (`=`) 32-character v1 hash, or a base32 v2 (`btmh`) hash. Only 40 hex
///   or 32 unpadded base32 characters (v1) and 64 hex characters (v2) are let through.
pub(crate) fn check_before_librqbit(magnet: &str) -> Result<()> {
    let Ok(url) = url::Url::parse(magnet) else {
        return Ok(());
    };
    let bad = |why: String| EngineError::InvalidMagnet(format!("not a valid magnet link: {why}"));
    let max = limits::TORRENT_FILES_MAX;
    let mut listed = 0usize;
    for (key, value) in url.query_pairs() {
        if key == "xt" {
            if let Some(h) = value.strip_prefix("urn:btih:")
                && h.len() == 32
                && !h
                    .bytes()
                    .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
            {
                return Err(bad(format!(
                    "the base32 info hash '{}' must be 32 characters among A-Z and 2-7",
                    limits::quote(h)
                )));
            }
            if let Some(h) = value.strip_prefix("urn:btmh:")
                && !(h.len() == 68 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(bad(format!(
                    "the v2 info hash '{}' must be 1220 followed by 64 hexadecimal digits",
                    limits::quote(h)
                )));
            }
            continue;
        }
        if key != "so" {
            continue;
        }
        for entry in value.split(',').filter(|e| !e.is_empty()) {
            let (start, end) = entry.split_once('-').unwrap_or((entry, entry));
            let (Ok(start), Ok(end)) = (start.parse::<usize>(), end.parse::<usize>()) else {
                continue;
            };
            if start >= max || end >= max {
                return Err(EngineError::InvalidMagnet(format!(
                    "not a valid magnet link: its file selection (so=) names file index {} but a torrent has at most {max} files",
                    start.max(end)
                )));
            }
            listed += end.saturating_sub(start) + usize::from(end >= start);
            if listed > max {
                return Err(EngineError::InvalidMagnet(format!(
                    "not a valid magnet link: its file selection (so=) lists more than {max} files"
                )));
            }
        }
    }
    Ok(())
}

pub(crate) fn check_file_indices(idx: &[usize], count: usize) -> Result<HashSet<usize>> {
    let mut set = HashSet::new();
    for &i in idx {
        if i >= count {
            return Err(EngineError::Invalid(format!(
                "file index {i} is out of range (the torrent has {count} file(s))"
            )));
        }
        set.insert(i);
    }
    if set.is_empty() {
        return Err(EngineError::Invalid(
            "at least one file must be wanted".into(),
        ));
    }
    Ok(set)
}

pub(crate) fn check_dir_writable(dir: &Path) -> Result<()> {
    let md = std::fs::metadata(dir).map_err(|_| {
        EngineError::DownloadDirInvalid(format!(
            "download directory {} does not exist",
            dir.display()
        ))
    })?;
    if !md.is_dir() {
        return Err(EngineError::DownloadDirInvalid(format!(
            "download directory {} is not a directory",
            dir.display()
        )));
    }
    // Permission bits lie for root and ACLs: try to create a file.
    let probe = dir.join(format!(".pytorrentd-write-test-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(EngineError::DownloadDirInvalid(format!(
            "download directory {} is not writable: {e}",
            dir.display()
        ))),
    }
}

/// A profile's download dir must be absolute, free of `..`, existing and writable.
pub(crate) fn check_profile_dir(dir: &Path) -> Result<()> {
    limits::check_dir_path(dir)?;
    if !dir.is_absolute() {
        return Err(EngineError::PathEscape(format!(
            "download directory {} must be an absolute path",
            dir.display()
        )));
    }
    if dir.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(EngineError::PathEscape(format!(
            "download directory {} must not contain '..'",
            dir.display()
        )));
    }
    check_dir_writable(dir)
}

/// The size limits of an add request, checked before anything is fetched or parsed.
fn check_add_input(sources: &[AddSource], opts: &AddOptions) -> Result<()> {
    if sources.is_empty() {
        return Err(EngineError::Invalid("nothing to add".into()));
    }
    limits::check_source_count(sources.len())?;
    for s in sources {
        match s {
            AddSource::Magnet(m) => limits::check_magnet(m.trim())?,
            AddSource::Url(u) => limits::check_url(u)?,
            AddSource::Bytes { .. } => {}
        }
    }
    limits::normalize_labels(&opts.labels)?;
    super::speed::check_limit("dl_limit", opts.dl_limit)?;
    super::speed::check_limit("ul_limit", opts.ul_limit)?;
    if let Some(of) = &opts.only_files {
        limits::check_file_index_count(of.len())?;
    }
    limits::check_peer_count(opts.peers.len())?;
    Ok(())
}

/// Resolves `subdir` under `base`, refusing anything that could leave it.
fn save_dir(base: &Path, subdir: &Option<String>) -> Result<PathBuf> {
    let Some(sub) = subdir.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(base.to_path_buf());
    };
    limits::check_subdir(sub)?;
    let p = Path::new(sub);
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(EngineError::PathEscape(format!(
            "subdir '{}' must be a relative path inside the profile's download directory",
            limits::quote(sub)
        )));
    }
    Ok(base.join(p))
}

struct Prepared {
    rec: TorrentRecord,
    bytes: Option<Vec<u8>>,
    meta: Option<Meta>,
}

impl Engine {
    /// Validates every source first, commits all records in one transaction, then starts
    /// them. Any invalid source rejects the whole request, so nothing changes.
    pub async fn add(
        &self,
        profile: &str,
        sources: Vec<AddSource>,
        mut opts: AddOptions,
    ) -> Result<Vec<TorrentRow>> {
        let prof = self.profile(profile)?;
        check_add_input(&sources, &opts)?;
        opts.labels = limits::normalize_labels(&opts.labels)?;
        let save = save_dir(&prof.download_dir, &opts.subdir)?;
        check_dir_writable(&prof.download_dir)?;

        // Fetching URLs happens before taking the ops lock: it can be slow.
        let mut resolved = Vec::with_capacity(sources.len());
        for s in sources {
            resolved.push(match s {
                AddSource::Url(u) => {
                    let bytes = self.fetcher.fetch(&u, opts.fetch).await?;
                    (
                        Some(u),
                        Resolved::Torrent {
                            name: "download".into(),
                            bytes,
                        },
                    )
                }
                AddSource::Magnet(m) => (None, Resolved::Magnet(m)),
                AddSource::Bytes { name, bytes } => (None, Resolved::Torrent { name, bytes }),
            });
        }

        let _g = self.ops.lock().await;
        let now = Utc::now();
        let mut prepared: Vec<Prepared> = Vec::new();
        for (url, src) in resolved {
            let mut rec = TorrentRecord {
                hash: String::new(),
                profile: profile.to_owned(),
                name: None,
                magnet: None,
                source_url: url,
                has_metadata: false,
                queue_position: 0,
                labels: opts.labels.clone(),
                legacy_label: None,
                title: None,
                share: Default::default(),
                dl_limit: opts.dl_limit,
                ul_limit: opts.ul_limit,
                moving_to: None,
                trackers: None,
                only_files: None,
                paused: opts.paused,
                force_start: false,
                peers: opts.peers.clone(),
                save_dir: save.clone(),
                added_at: now,
                completed_at: None,
                uploaded_before: 0,
                downloaded_before: 0,
            };
            let (bytes, meta) = match src {
                Resolved::Magnet(m) => {
                    let pm = parse_magnet(&m)?;
                    rec.hash = pm.hash;
                    rec.name = pm.name;
                    rec.magnet = Some(m.trim().to_owned());
                    for p in pm.peers {
                        if !rec.peers.contains(&p) {
                            rec.peers.push(p);
                        }
                    }
                    limits::check_peer_count(rec.peers.len())?;
                    if let Some(of) = &opts.only_files {
                        if of.is_empty() {
                            return Err(EngineError::Invalid(
                                "at least one file must be wanted".into(),
                            ));
                        }
                        rec.only_files = Some(of.clone());
                    }
                    (None, None)
                }
                Resolved::Torrent { name, bytes } => {
                    let pt = parse_torrent(&bytes).map_err(|e| match e {
                        EngineError::InvalidTorrent(m) => {
                            EngineError::InvalidTorrent(format!("{}: {m}", limits::quote(&name)))
                        }
                        EngineError::PathEscape(m) => {
                            EngineError::PathEscape(format!("{}: {m}", limits::quote(&name)))
                        }
                        e => e,
                    })?;
                    super::fs::check_new_torrent_paths(&prof.download_dir, &save, &pt.meta)?;
                    rec.hash = pt.hash;
                    rec.name = Some(pt.meta.name.clone());
                    rec.has_metadata = true;
                    if let Some(of) = &opts.only_files {
                        let set = check_file_indices(of, pt.meta.files.len())?;
                        let mut v: Vec<usize> = set.into_iter().collect();
                        v.sort_unstable();
                        if v.len() < pt.meta.files.len() {
                            rec.only_files = Some(v);
                        }
                    }
                    (Some(bytes), Some(pt.meta))
                }
            };
            if prepared.iter().any(|p| p.rec.hash == rec.hash) {
                return Err(EngineError::Duplicate {
                    hash: rec.hash.clone(),
                    profile: profile.to_owned(),
                });
            }
            prepared.push(Prepared { rec, bytes, meta });
        }

        {
            let st = self.lock();
            for p in &prepared {
                if let Some(e) = st.torrents.get(&p.rec.hash) {
                    return Err(EngineError::Duplicate {
                        hash: p.rec.hash.clone(),
                        profile: e.rec.profile.clone(),
                    });
                }
            }
            let mut next = st
                .torrents
                .values()
                .filter(|e| e.rec.profile == profile)
                .map(|e| e.rec.queue_position)
                .max()
                .unwrap_or(0);
            for p in &mut prepared {
                next += 1;
                p.rec.queue_position = next;
            }
        }
        let recs: Vec<&TorrentRecord> = prepared.iter().map(|p| &p.rec).collect();
        let files: Vec<(&str, &[u8])> = prepared
            .iter()
            .filter_map(|p| p.bytes.as_deref().map(|b| (p.rec.hash.as_str(), b)))
            .collect();
        self.store.put_torrents(&recs, &files)?;

        let hashes: Vec<(String, bool)> = prepared
            .iter()
            .map(|p| (p.rec.hash.clone(), p.bytes.is_some()))
            .collect();
        {
            let mut st = self.lock();
            for p in prepared {
                st.torrents.insert(
                    p.rec.hash.clone(),
                    Box::new(Entry::new(p.rec, p.meta.map(Arc::new))),
                );
            }
        }
        for (hash, has_bytes) in &hashes {
            if *has_bytes {
                if let Err(e) = self.attach(hash).await {
                    warn!(%hash, "starting torrent: {e}");
                }
            } else {
                self.spawn_resolver(hash);
            }
            self.emit(EngineEvent::Added {
                profile: profile.to_owned(),
                hash: hash.clone(),
            });
        }
        drop(_g);
        self.reconcile_now().await;
        let rows: Result<Vec<TorrentRow>> = hashes.iter().map(|(h, _)| self.row(h)).collect();
        if let Ok(rows) = &rows {
            for r in rows {
                self.notice(
                    super::notices::NoticeKind::Added,
                    profile,
                    Some(&r.hash),
                    &r.name,
                    format!("{} was added to {profile}", r.name),
                );
            }
        }
        rows
    }

    /// Fetches a magnet's metadata from peers in the background, then stores it and starts
    /// the torrent. Retries until it succeeds or the torrent is deleted.
    pub(crate) fn spawn_resolver(self: &Engine, hash: &str) {
        let Some(engine) = self.self_arc() else {
            return;
        };
        let hash = hash.to_owned();
        let task = tokio::spawn({
            let hash = hash.clone();
            async move {
                let mut delay = Duration::from_secs(5);
                loop {
                    match engine.resolve_once(&hash).await {
                        Ok(()) => return,
                        Err(e) => {
                            warn!(%hash, "fetching metadata: {e}");
                            // Peers' metadata must match the info hash, so invalid metadata
                            // is the torrent itself: asking again would give the same.
                            let invalid = matches!(
                                e,
                                EngineError::InvalidTorrent(_)
                                    | EngineError::PathEscape(_)
                                    | EngineError::InvalidMagnet(_)
                            );
                            let mut st = engine.lock();
                            let Some(en) = st.torrents.get_mut(&hash) else {
                                return;
                            };
                            if invalid {
                                en.error = Some(format!("the torrent's metadata is invalid: {e}"));
                                en.metadata_invalid = true;
                                en.resolver = None;
                                return;
                            }
                            en.error = Some(e.to_string());
                        }
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(300));
                }
            }
        });
        if let Some(e) = self.lock().torrents.get_mut(&hash) {
            e.resolver = Some(task.abort_handle());
        }
    }

    async fn resolve_once(&self, hash: &str) -> Result<()> {
        let (magnet, peers, only_files) = {
            let st = self.lock();
            let Some(e) = st.torrents.get(hash) else {
                return Ok(());
            };
            (
                e.rec.magnet.clone().unwrap_or_else(|| hash.to_owned()),
                e.rec.peers.clone(),
                e.rec.only_files.clone(),
            )
        };
        // Stored before `check_before_librqbit` existed: librqbit must not parse a bad one.
        check_before_librqbit(&magnet)?;
        let opts = AddTorrentOptions {
            list_only: true,
            initial_peers: if peers.is_empty() { None } else { Some(peers) },
            ..Default::default()
        };
        // librqbit checks the metadata it receives with its own parser, which panics on
        // some invalid values (a piece length of 0): that panic is this torrent's failure.
        let session = self.session.clone();
        let resp = super::catch_engine_panic(async move {
            session
                .add_torrent(AddTorrent::from_url(magnet), Some(opts))
                .await
        })
        .await
        .map_err(|_| {
            EngineError::InvalidTorrent(
                "the torrent engine cannot read it (details in the server log)".into(),
            )
        })?
        .map_err(|e| EngineError::FetchFailed(format!("{e:#}")))?;
        let AddTorrentResponse::ListOnly(lo) = resp else {
            return Err(EngineError::Internal("unexpected engine answer".into()));
        };
        let bytes = lo.torrent_bytes.to_vec();
        let parsed = parse_torrent(&bytes)?;
        // The magnet's files are known only now: the same refusal as for an upload, which
        // leaves the torrent waiting (with the reason shown) until the conflict is gone.
        let (profile_dir, save_dir) = {
            let st = self.lock();
            let Some(e) = st.torrents.get(hash) else {
                return Ok(());
            };
            let dir = st
                .profiles
                .get(&e.rec.profile)
                .map(|p| p.download_dir.clone())
                .unwrap_or_else(|| e.rec.save_dir.clone());
            (dir, e.rec.save_dir.clone())
        };
        super::fs::check_new_torrent_paths(&profile_dir, &save_dir, &parsed.meta)?;
        let _g = self.ops.lock().await;
        let rec = {
            let mut st = self.lock();
            let Some(e) = st.torrents.get_mut(hash) else {
                return Ok(());
            };
            let mut rec = e.rec.clone();
            rec.has_metadata = true;
            rec.name = Some(parsed.meta.name.clone());
            if let Some(of) = &only_files
                && check_file_indices(of, parsed.meta.files.len()).is_err()
            {
                rec.only_files = None;
            }
            e.meta = Some(Arc::new(parsed.meta));
            e.error = None;
            rec
        };
        self.store.put_torrents(&[&rec], &[(hash, &bytes)])?;
        if let Some(e) = self.lock().torrents.get_mut(hash) {
            e.rec = rec;
            e.resolver = None;
        }
        info!(%hash, "metadata received");
        self.attach(hash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn magnet_file_selection_is_bounded() {
        let m = |so: &str| format!("magnet:?xt=urn:btih:{H}&so={so}");
        for ok in ["0", "0,2,4-6", "0-99999", "x-y,,7", "5-2"] {
            assert!(parse_magnet(&m(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "0-4000000000",
            "4-88888888888888882",
            "0-18446744073709551615",
            "100000",
            "0-99999,0-1",
        ] {
            let e = parse_magnet(&m(bad)).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains("so=")),
                "{bad}: {e:?}"
            );
        }
        // padded or wrong-length base32 hashes made librqbit's parser panic
        for bad in [
            "magnet:?xt=urn:btih:MFRGGZDFMZTWQ2LKNNWG23TXEBO34PY=",
            &format!("magnet:?xt=urn:btmh:1220{}", "A".repeat(56)),
            "magnet:?xt=urn:btmh:1220abcd",
        ] {
            assert!(parse_magnet(bad).is_err(), "{bad}");
        }
        assert!(parse_magnet("magnet:?xt=urn:btih:MFRGGZDFMZTWQ2LKNNWG23TXEBO34PYA").is_ok());
        // the fuzzer's find: a short link that made librqbit allocate for 8.9e16 indices
        let found = "magnet:?xaba=b32&s-32&so=-xaba=b32&so=-0,4-32&so=-0,4-4-2ab,4-88888888888888882&so=-0,4-32&so=-0,4-4-2ab,4-2\u{6}ab,92\u{6}ab,9-23&qb";
        assert!(parse_magnet(found).is_err());
    }

    #[test]
    fn subdir_stays_inside_the_profile_directory() {
        let base = Path::new("/srv/torrents");
        let sub = |s: &str| save_dir(base, &Some(s.to_owned()));
        assert_eq!(save_dir(base, &None).ok(), Some(base.to_path_buf()));
        assert_eq!(sub("").ok(), Some(base.to_path_buf()), "empty means none");
        assert_eq!(sub("tv/show").ok(), Some(base.join("tv/show")));
        for bad in ["..", "../etc", "tv/../../etc", "/etc", "./tv"] {
            assert!(
                matches!(sub(bad), Err(EngineError::PathEscape(_))),
                "{bad:?}: {:?}",
                sub(bad).err()
            );
        }
        assert!(sub(&"a".repeat(5000)).is_err(), "over the subdir limit");
    }

    #[test]
    fn file_selection_must_name_existing_files_and_want_one() {
        assert_eq!(
            check_file_indices(&[2, 0, 2], 3).ok(),
            Some([0, 2].into_iter().collect())
        );
        let e = check_file_indices(&[3], 3).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("out of range")),
            "{e:?}"
        );
        assert!(check_file_indices(&[], 3).is_err(), "nothing wanted");
    }

    #[test]
    fn add_requests_are_bounded_before_anything_is_fetched() {
        let opts = AddOptions::default();
        assert!(check_add_input(&[], &opts).is_err(), "nothing to add");
        let magnet = AddSource::Magnet(format!("magnet:?xt=urn:btih:{H}"));
        assert!(check_add_input(std::slice::from_ref(&magnet), &opts).is_ok());
        let long_magnet =
            AddSource::Magnet(format!("magnet:?xt=urn:btih:{H}&dn={}", "a".repeat(20_000)));
        assert!(check_add_input(&[long_magnet], &opts).is_err());
        let long_url = AddSource::Url(format!("http://127.0.0.1/{}", "a".repeat(10_000)));
        assert!(check_add_input(&[long_url], &opts).is_err());
        let labelled = AddOptions {
            labels: vec!["l".repeat(129)],
            ..Default::default()
        };
        assert!(check_add_input(std::slice::from_ref(&magnet), &labelled).is_err());
        let many_peers = AddOptions {
            peers: vec!["127.0.0.1:1".parse().expect("addr"); 10_000],
            ..Default::default()
        };
        assert!(check_add_input(std::slice::from_ref(&magnet), &many_peers).is_err());
    }

    #[test]
    fn profile_directories_are_absolute_existing_and_writable() {
        let tmp = std::env::temp_dir().join(format!("ptd-add-unit-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("temp dir");
        assert!(check_profile_dir(&tmp).is_ok());
        assert!(matches!(
            check_profile_dir(Path::new("relative/dir")),
            Err(EngineError::PathEscape(_))
        ));
        assert!(matches!(
            check_profile_dir(&tmp.join("../x")),
            Err(EngineError::PathEscape(_))
        ));
        assert!(matches!(
            check_profile_dir(&tmp.join("missing")),
            Err(EngineError::DownloadDirInvalid(_))
        ));
        let file = tmp.join("a-file");
        std::fs::write(&file, b"x").expect("file");
        assert!(matches!(
            check_profile_dir(&file),
            Err(EngineError::DownloadDirInvalid(_))
        ));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
