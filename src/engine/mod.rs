//! The engine facade: owns the librqbit `Session`, the in-memory view of every torrent
//! (record + engine handle), and the per-profile queue scheduler. All mutations go through
//! here so that redb (the source of truth) is committed first and the engine follows.

mod add;
pub mod content;
pub mod create;
pub mod creations;
mod faults;
pub mod fetch;
mod fs;
pub mod notices;
pub mod options;
pub mod profiles;
mod rate;
mod row;
mod scheduler;
pub mod share;
pub mod space;
pub mod speed;
pub mod trackers;
pub mod traffic;
pub(crate) use add::check_profile_dir;
pub use trackers::{TrackerRow, TrackerStatus};
mod storage;
pub mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use librqbit::{
    AddTorrent, AddTorrentOptions, AddTorrentResponse, ManagedTorrent, Session, SessionOptions,
    SessionPersistenceConfig,
};
use tokio::sync::{Notify, broadcast};
use tracing::{info, warn};

use crate::config::Config;
use crate::store::{ProfileRecord, Store, StoreError, TorrentRecord};
use fs::{content_root, disk_free, move_content, remove_files};

pub use add::{AddOptions, AddSource};
pub use fetch::FetchAccess;

/// Reads .torrent bytes exactly as an upload is read (size limit, `validate`, then
/// librqbit's parser) and returns the info hash. Used by the fuzz targets.
pub fn read_torrent(bytes: &[u8]) -> Result<String> {
    add::parse_torrent(bytes).map(|p| p.hash)
}

/// Reads a magnet link exactly as an add does (length limit, syntax, v1 info hash, `x.pe`
/// peer hints, display name) and returns the info hash. Used by the fuzz targets.
pub fn read_magnet(magnet: &str) -> Result<String> {
    add::parse_magnet(magnet).map(|m| m.hash)
}
pub use row::{FileRow, PeerRow, TorrentDetails, TorrentReason, TorrentRow, TorrentState};

/// Largest accepted .torrent (also the HTTP body limit for uploads).
pub const MAX_TORRENT_BYTES: usize = crate::limits::TORRENT_FILE_MAX_BYTES;

/// How long a forced re-announce keeps listening for the peers it brings.
const REANNOUNCE_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    InvalidMagnet(String),
    #[error("{0}")]
    InvalidTorrent(String),
    #[error("{0}")]
    InvalidUrl(String),
    #[error("{0}")]
    FetchFailed(String),
    #[error("profile '{0}' does not exist")]
    ProfileNotFound(String),
    #[error("torrent {0} does not exist")]
    TorrentNotFound(String),
    /// No torrent creation with this id.
    #[error("{0}")]
    CreationNotFound(String),
    /// A file index the torrent does not have.
    #[error("{0}")]
    FileNotFound(String),
    /// A shared resource (file streams) is in use; try again shortly.
    #[error("{0}")]
    Busy(String),
    #[error("torrent {hash} is already in profile '{profile}'")]
    Duplicate { hash: String, profile: String },
    #[error("{0}")]
    DownloadDirInvalid(String),
    #[error("{0}")]
    PathEscape(String),
    /// A path of the torrent passes through a symbolic link on disk.
    #[error("{0}")]
    PathEscapesProfile(String),
    /// A path of the torrent names an existing file it would shrink, or the wrong kind of entry.
    #[error("{0}")]
    FileConflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("could not move the data to {}: {source}", to.display())]
    MoveFailed {
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    ProfileNotEmpty(String),
    /// An input outside the limits of `crate::limits`.
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine (librqbit) or the disk under `DATA_DIR` failed at `what`, for `source`
    /// (shown with its own causes: librqbit says "error starting listeners" and keeps
    /// "Address already in use" as the cause).
    #[error("{what}: {}", chain(.source.as_ref()))]
    Failed {
        what: String,
        #[source]
        source: Cause,
    },
    #[error("engine error: {0}")]
    Internal(String),
}

/// The underlying error of `EngineError::Failed` (librqbit's are `anyhow` errors).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `error: its cause: its cause's cause`, for one-line messages.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        let text = c.to_string();
        // anyhow's context layers may repeat their inner message; say each once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = c.source();
    }
    out
}

impl EngineError {
    pub(crate) fn failed(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        EngineError::Failed {
            what: what.into(),
            source: source.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// A panic inside librqbit while it works on one torrent, turned into that torrent's failure
/// (the panic message, as text) so that it never unwinds through a request or a restore.
/// The future runs as its own task because librqbit's futures are not `UnwindSafe`.
pub(crate) async fn catch_engine_panic<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> std::result::Result<T, String> {
    match tokio::spawn(f).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => {
            let p = e.into_panic();
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            warn!("the torrent engine panicked: {msg}");
            Err(format!("internal engine failure: {msg}"))
        }
        Err(e) => Err(format!("internal engine failure: {e}")),
    }
}

/// Change notifications for the live feed (and anything else that wants them).
#[derive(Debug, Clone)]
pub enum EngineEvent {
    Added {
        profile: String,
        hash: String,
    },
    Removed {
        profile: String,
        hash: String,
    },
    /// A profile was created, changed or deleted.
    ProfilesChanged,
    /// The global speed settings changed (by a user or the schedule).
    SpeedChanged,
    /// A torrent creation ended (done, failed or cancelled).
    Creation(creations::CreationView),
    /// A notification was recorded (`notices.rs`).
    Notice(Box<notices::Notice>),
    /// A share limit was reached and its action taken.
    ShareLimit {
        profile: String,
        hash: String,
        name: String,
        action: share::ShareAction,
        reason: String,
    },
}

/// Static facts about a torrent's content, known once metadata is available.
#[derive(Debug)]
pub(crate) struct Meta {
    pub name: String,
    pub total: u64,
    pub piece_length: u32,
    pub files: Vec<(String, u64)>,
    /// Whether the content sits in its own folder named after the torrent.
    pub multi_file: bool,
    /// The tracker URLs of the .torrent (`announce-list` tiers in order, then `announce`).
    pub trackers: Vec<String>,
    /// The hosts of `trackers`, sorted, without repeats: worked out at the first row and
    /// kept, since every row of every list shows them (`row::tracker_hosts`).
    pub hosts: std::sync::OnceLock<Vec<String>>,
}

pub(crate) struct Entry {
    pub rec: TorrentRecord,
    /// The metadata fetched for this magnet is invalid: fetching stopped for good and the
    /// row shows `error` (with the reason in `error`) until the torrent is deleted.
    pub metadata_invalid: bool,
    pub handle: Option<Arc<ManagedTorrent>>,
    pub meta: Option<Arc<Meta>>,
    pub error: Option<String>,
    pub resolver: Option<tokio::task::AbortHandle>,
    /// Uploaded bytes of earlier engine handles in this run, so ratio survives rechecks.
    pub uploaded_base: u64,
    /// Transfer samples for speeds over a few seconds (librqbit's own window is half a
    /// second, which flickers to zero with bursty peers).
    pub rate: rate::RateWindow,
    /// The last verified progress the engine reported, shown while it reports none (paused
    /// torrents are not in the engine; failed ones report nothing).
    pub progress: Option<faults::Progress>,
    /// A fault the torrent waits out (full disk, descriptor limit) or an engine failure.
    pub fault: Option<faults::Fault>,
    /// Automatic retries so far, for the back-off.
    pub retries: u32,
    /// The verified pieces when the engine last let go of the torrent (its fast-resume
    /// bitfield, kept here too: the file is rewritten in the background).
    pub have: Option<Arc<Vec<u8>>>,
    /// Held by the disk-space guard (`space.rs`): queued with reason `disk_space`.
    pub space_hold: bool,
    /// The move on completion failed (shown in the row; the torrent seeds where it is).
    pub move_error: Option<String>,
    /// Announce state per tracker URL (`trackers.rs`).
    pub trackers: HashMap<String, trackers::TrackerState>,
}

impl Entry {
    pub(crate) fn new(rec: TorrentRecord, meta: Option<Arc<Meta>>) -> Entry {
        Entry {
            rec,
            metadata_invalid: false,
            handle: None,
            meta,
            error: None,
            resolver: None,
            uploaded_base: 0,
            rate: Default::default(),
            progress: None,
            fault: None,
            retries: 0,
            have: None,
            space_hold: false,
            move_error: None,
            trackers: HashMap::new(),
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// Boxed: a paused torrent's entry is most of its memory, and the table keeps up to
    /// twice as many slots as entries (BENCHMARKS.md, "Memory").
    pub torrents: HashMap<String, Box<Entry>>,
    pub profiles: HashMap<String, ProfileRecord>,
}

impl State {
    pub(crate) fn entry(&self, hash: &str) -> Result<&Entry> {
        self.torrents
            .get(hash)
            .ok_or_else(|| EngineError::TorrentNotFound(hash.into()))
            .map(|e| &**e)
    }

    /// A profile's entries in queue order. Sorted before rows are built from them: moving
    /// 10,000 finished rows about costs more than building them.
    fn in_queue_order(&self, profile: &str) -> Result<Vec<&Entry>> {
        if !self.profiles.contains_key(profile) {
            return Err(EngineError::ProfileNotFound(profile.into()));
        }
        let mut entries: Vec<&Entry> = self
            .torrents
            .values()
            .filter(|e| e.rec.profile == profile)
            .map(|e| &**e)
            .collect();
        entries.sort_by_key(|e| e.rec.queue_position);
        Ok(entries)
    }

    pub(crate) fn entry_mut(&mut self, hash: &str) -> Result<&mut Entry> {
        self.torrents
            .get_mut(hash)
            .ok_or_else(|| EngineError::TorrentNotFound(hash.into()))
            .map(|e| &mut **e)
    }
}

pub struct Engine {
    pub(crate) session: Arc<Session>,
    pub(crate) store: Store,
    engine_dir: PathBuf,
    state: Mutex<State>,
    /// Serializes multi-step mutations (add, delete, recheck, moves) so that the store and
    /// the engine never see interleaved halves of two operations.
    ops: tokio::sync::Mutex<()>,
    wake: Arc<Notify>,
    events: broadcast::Sender<EngineEvent>,
    fetcher: fetch::Fetcher,
    /// Slots for librqbit file streams (`content::STREAMS_MAX`).
    stream_slots: Arc<tokio::sync::Semaphore>,
    /// Torrents being made from folders (`creations.rs`).
    creations: creations::Jobs,
    /// The global share limits (`share.rs`; stored in the `settings` table).
    global_share: Mutex<share::ShareLimits>,
    /// Speed limits: the global settings and the profiles' shared limiters (`speed.rs`).
    speed: Mutex<speed::SpeedState>,
    /// Tracker announces (`trackers.rs`).
    announcer: trackers::Announcer,
    /// Engine settings as stored, and as the session runs with them (`options.rs`).
    engine_opts: Mutex<options::EngineSettings>,
    engine_running: options::EngineSettings,
    /// Traffic history sampling (`traffic.rs`).
    traffic: Mutex<traffic::Sampler>,
    announce_wake: Arc<Notify>,
    me: std::sync::Weak<Engine>,
}

impl Engine {
    /// Starts the librqbit session with its fast-resume files under `DATA_DIR/engine`, then
    /// reconciles it with redb: the engine's own torrent list is discarded and every redb
    /// record is re-added (paused; the scheduler decides what runs), so whatever the engine
    /// had when the process died, the store wins.
    pub async fn start(config: &Config, store: Store) -> Result<Arc<Engine>> {
        let engine_dir = config.data_dir.join("engine");
        std::fs::create_dir_all(&engine_dir)
            .and_then(|()| crate::private_fs::restrict_tree(&engine_dir))
            .map_err(|e| EngineError::failed(format!("creating {}", engine_dir.display()), e))?;
        match store.fold_uploads() {
            Ok(0) => {}
            Ok(n) => {
                info!("uploads of the last run added to {n} torrents (it did not stop cleanly)")
            }
            Err(e) => warn!("adding the last run's uploads to the torrents: {e}"),
        }
        let mut records = store.torrents()?;
        finish_interrupted_moves(&store, &mut records);
        // Fast-resume files of quarantined torrents stay: the record may be restored.
        let mut keep: std::collections::HashSet<String> =
            records.iter().map(|r| r.hash.clone()).collect();
        keep.extend(
            store
                .quarantined()?
                .into_iter()
                .filter(|q| q.table == "torrents")
                .map(|q| q.key),
        );
        reset_engine_dir(&engine_dir, &keep);

        // Chosen here so that the tracker announces (`trackers.rs`) use the engine's own.
        let peer_id = librqbit_core::peer_id::generate_peer_id(
            format!(
                "-PT{:02}{:02}-",
                env!("CARGO_PKG_VERSION_MAJOR").parse::<u8>().unwrap_or(0) % 100,
                env!("CARGO_PKG_VERSION_MINOR").parse::<u8>().unwrap_or(0) % 100
            )
            .as_bytes(),
        )
        .0;
        // The engine settings: stored, or the environment's at the first start.
        let mut eng = match store.get_json::<options::EngineSettings>(
            crate::store::Table::Settings,
            options::SETTINGS_KEY,
        )? {
            Some(s) => s,
            None => {
                let s = options::EngineSettings::from_config(config);
                store
                    .write(|tx| tx.put(crate::store::Table::Settings, options::SETTINGS_KEY, &s))?;
                s
            }
        };
        let stored = eng.clone();
        let session = match new_session(config, &engine_dir, &eng, peer_id).await {
            Ok(s) => s,
            Err(e) if eng.blocklist_url.is_some() => {
                // A blocklist that cannot be read must not keep the daemon from starting.
                warn!("starting without the IP blocklist, which could not be loaded: {e:#}");
                eng.blocklist_url = None;
                new_session(config, &engine_dir, &eng, peer_id)
                    .await
                    .map_err(|e| EngineError::failed("starting the torrent session", e))?
            }
            Err(e) => {
                let hint = eng.bind_interface.as_deref().map_or(String::new(), |i| {
                    format!(" (bound to the network interface {i}: bring it up, or clear it with `pytorrentd engine set --bind-interface ''`)")
                });
                return Err(EngineError::failed(
                    format!("starting the torrent session{hint}"),
                    e,
                ));
            }
        };
        session.set_pex(eng.pex);
        session.set_global_peer_limit(
            (eng.peer_limit_global > 0).then_some(eng.peer_limit_global as usize),
        );

        let announcer =
            trackers::Announcer::new(session.announce_port().unwrap_or(eng.listen_port), peer_id);
        let (events, _) = broadcast::channel(1024);
        let fetcher = fetch::Fetcher::new(config.fetch_allowed_networks.clone());
        let global_share = store
            .get_json::<share::ShareLimits>(crate::store::Table::Settings, share::SETTINGS_KEY)?
            .unwrap_or_default();
        let speed_settings = store
            .get_json::<speed::SpeedSettings>(crate::store::Table::Settings, speed::SETTINGS_KEY)?
            .unwrap_or_default();
        let engine = Arc::new_cyclic(|me| Engine {
            me: me.clone(),
            session,
            store,
            engine_dir,
            state: Mutex::new(State::default()),
            ops: tokio::sync::Mutex::new(()),
            wake: Arc::new(Notify::new()),
            events,
            fetcher,
            stream_slots: Arc::new(tokio::sync::Semaphore::new(content::STREAMS_MAX)),
            creations: Default::default(),
            global_share: Mutex::new(global_share),
            speed: Mutex::new(speed::SpeedState {
                settings: speed_settings,
                ..Default::default()
            }),
            announcer,
            announce_wake: Arc::new(Notify::new()),
            engine_opts: Mutex::new(stored),
            engine_running: eng,
            traffic: Mutex::new(Default::default()),
        });
        engine.check_schedule();
        engine.spawn_announcer();
        engine.spawn_traffic();

        {
            let mut st = engine.lock();
            for p in engine.store.profiles()? {
                st.profiles.insert(p.id.clone(), p);
            }
            for rec in &records {
                st.torrents
                    .insert(rec.hash.clone(), Box::new(Entry::new(rec.clone(), None)));
            }
        }
        // Restoring runs behind the API: with many torrents the UI is up at once and rows
        // move from `initializing` to their state as the engine takes them back, first in
        // queue order.
        records.sort_by(|a, b| (&a.profile, a.queue_position).cmp(&(&b.profile, b.queue_position)));
        let restore = engine.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            for rec in records {
                if rec.has_metadata {
                    let _g = restore.ops.lock().await;
                    if let Err(e) = restore.attach(&rec.hash).await {
                        warn!(hash = %rec.hash, "could not restore torrent: {e}");
                    }
                } else {
                    restore.spawn_resolver(&rec.hash);
                }
            }
            info!(
                torrents = restore.lock().torrents.len(),
                ms = started.elapsed().as_millis() as u64,
                "all torrents restored"
            );
        });
        scheduler::spawn(engine.clone());
        Ok(engine)
    }

    pub(crate) fn self_arc(&self) -> Option<Arc<Engine>> {
        self.me.upgrade()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, ev: EngineEvent) {
        let _ = self.events.send(ev);
    }

    pub(crate) fn wake_scheduler(&self) {
        self.wake.notify_one();
    }

    /// The fast-resume bitfield of every torrent now (for backups): the engine's own for
    /// torrents it holds (newer than its files), else the one kept when it let go, else
    /// the file.
    pub fn resume_bitfields(&self) -> Vec<(String, Vec<u8>)> {
        let mut from_files = Vec::new();
        let mut out: Vec<(String, Vec<u8>)> = {
            let st = self.lock();
            st.torrents
                .values()
                .filter_map(|e| {
                    let bits = e
                        .handle
                        .as_ref()
                        .and_then(|h| h.have_pieces_bytes())
                        .or_else(|| e.have.as_ref().map(|h| h.to_vec()));
                    if bits.is_none() {
                        from_files.push(e.rec.hash.clone());
                    }
                    Some((e.rec.hash.clone(), bits?))
                })
                .collect()
        };
        // Files are read without holding the state lock.
        out.extend(
            from_files
                .into_iter()
                .filter_map(|h| std::fs::read(self.bitv_path(&h)).ok().map(|b| (h, b))),
        );
        out
    }

    fn bitv_path(&self, hash: &str) -> PathBuf {
        self.engine_dir.join(format!("{hash}.bitv"))
    }

    /// Hands a torrent whose metadata is stored to the librqbit session (paused; the queue
    /// starts it). A torrent its user paused is not handed over at all, so no file of it
    /// stays open: its row shows the verified progress of its fast-resume bitfield until it
    /// is resumed. Nor is a torrent handed over when the process is short of descriptors
    /// (the HTTP listener must keep some): it waits with reason `fd_limit`.
    pub(crate) async fn attach(&self, hash: &str) -> Result<()> {
        self.attach_inner(hash, false).await
    }

    /// `attach`, also for a torrent its user paused (recheck, resume).
    pub(crate) async fn attach_now(&self, hash: &str) -> Result<()> {
        self.attach_inner(hash, true).await
    }

    async fn attach_inner(&self, hash: &str, even_paused: bool) -> Result<()> {
        let bytes = self
            .store
            .torrent_file(hash)?
            .ok_or_else(|| EngineError::Internal(format!("no metadata stored for {hash}")))?;
        let meta = match add::parse_torrent(&bytes) {
            Ok(p) => Arc::new(p.meta),
            Err(e) => {
                // Stored before the checks of `validate` existed: show why it cannot start.
                if let Some(en) = self.lock().torrents.get_mut(hash) {
                    en.error = Some(e.to_string());
                }
                return Err(e);
            }
        };
        let (save_dir, only_files, peers, paused) = {
            let st = self.lock();
            let e = st.entry(hash)?;
            if e.handle.is_some() {
                return Ok(());
            }
            (
                e.rec.save_dir.clone(),
                e.rec.only_files.clone(),
                e.rec.peers.clone(),
                e.rec.paused,
            )
        };
        let parked = paused && !even_paused;
        let short_of_fds = !parked && !faults::fd_headroom(meta.files.len() as u64 + 4);
        if parked || short_of_fds {
            let progress = std::fs::read(self.bitv_path(hash))
                .ok()
                .and_then(|b| faults::progress_from_bitfield(&b, &meta, only_files.as_deref()));
            let mut st = self.lock();
            if let Some(e) = st.torrents.get_mut(hash) {
                e.meta = Some(meta);
                if e.progress.is_none() {
                    e.progress = progress;
                }
                if short_of_fds {
                    let (open, limit) = faults::fd_usage();
                    faults::warn_fd_limit(open, limit);
                    e.fault = Some(faults::Fault {
                        kind: faults::FaultKind::FileLimit,
                        message: format!(
                            "not started: {open} of {limit} file descriptors in use; waiting for free ones (continues by itself; raise LimitNOFILE)"
                        ),
                        next_try: std::time::Instant::now() + faults::backoff(0),
                        since: std::time::Instant::now(),
                    });
                }
            }
            return Ok(());
        }
        let output_folder = content_root(&save_dir, &meta, true);
        // Trackers are pytorrentd's (`trackers.rs`): the engine gets the torrent without them.
        let bytes = match validate::split_trackers(&bytes) {
            Ok((stripped, _)) => stripped,
            Err(_) => bytes,
        };
        let opts = AddTorrentOptions {
            paused: true,
            overwrite: true,
            only_files,
            output_folder: Some(output_folder.to_string_lossy().into_owned()),
            initial_peers: if peers.is_empty() { None } else { Some(peers) },
            ..Default::default()
        };
        let session = self.session.clone();
        let result = catch_engine_panic(async move {
            session
                .add_torrent(AddTorrent::from_bytes(bytes), Some(opts))
                .await
        })
        .await
        .map_err(|p| anyhow::anyhow!("the torrent engine failed on this torrent ({p})"))
        .and_then(|r| r);
        let gone = !self.lock().torrents.contains_key(hash);
        if gone {
            // Deleted while the engine was adding it: do not leave an orphan behind.
            if let Ok(AddTorrentResponse::Added(id, _)) = result {
                let _ = self.session.delete(id.into(), false).await;
            }
            return Ok(());
        }
        let mut st = self.lock();
        let Some(entry) = st.torrents.get_mut(hash) else {
            return Ok(());
        };
        entry.meta = Some(meta);
        match result {
            Ok(AddTorrentResponse::Added(_, h)) | Ok(AddTorrentResponse::AlreadyManaged(_, h)) => {
                // The queue skips torrents still initializing; wake it the moment this one
                // is ready instead of at the next tick (a second before the first byte).
                let wake = self.wake.clone();
                let ready = h.clone();
                tokio::spawn(async move {
                    let _ = ready.wait_until_initialized().await;
                    wake.notify_one();
                });
                entry.handle = Some(h);
                entry.error = None;
                entry.fault = None;
            }
            Ok(AddTorrentResponse::ListOnly(_)) => {}
            Err(e) => {
                let full = format!("{e:#}");
                let (kind, msg) = faults::describe(&full, &save_dir);
                warn!(%hash, error = %full, "the engine could not take the torrent: {msg}");
                if kind == faults::FaultKind::FileLimit {
                    entry.fault = Some(faults::Fault {
                        kind,
                        message: msg,
                        next_try: std::time::Instant::now() + faults::backoff(entry.retries),
                        since: std::time::Instant::now(),
                    });
                    return Ok(());
                }
                entry.error = Some(msg.clone());
                return Err(EngineError::Internal(msg));
            }
        }
        drop(st);
        self.apply_torrent_limits(hash);
        self.wake_scheduler();
        Ok(())
    }

    /// Takes a torrent its user paused out of the engine (no open files), keeping its
    /// fast-resume bitfield and a snapshot of its progress for the row.
    pub(crate) async fn park(&self, hash: &str) -> Result<()> {
        let saved = self.detach(hash, true).await?;
        if let Some(b) = saved {
            let _ = std::fs::write(self.bitv_path(hash), b);
        }
        Ok(())
    }

    /// After `resume`/`force-start`: a torrent out of the engine (paused, or waiting for
    /// descriptors) is handed back, a failed one (full disk, I/O error) starts over with a
    /// check of the data on disk.
    async fn retry_now(&self, hash: &str) {
        let (handle, has_meta) = {
            let mut st = self.lock();
            let Some(e) = st.torrents.get_mut(hash) else {
                return;
            };
            if e.handle.is_none() {
                e.fault = None;
            }
            (e.handle.clone(), e.rec.has_metadata)
        };
        match handle {
            None if has_meta => {
                if let Err(e) = self.attach_now(hash).await {
                    warn!(%hash, "resume: {e}");
                }
            }
            Some(h) if matches!(h.stats().state, librqbit::TorrentStatsState::Error) => {
                match self.session.unpause(&h).await {
                    Ok(()) => {
                        info!(%hash, "retrying the failed torrent (resume)");
                        if let Some(e) = self.lock().torrents.get_mut(hash) {
                            e.fault = None;
                        }
                    }
                    Err(e) => warn!(%hash, "resume: retrying failed: {e:#}"),
                }
            }
            _ => {}
        }
    }

    /// Removes the torrent from the librqbit session, keeping its data and, when asked, its
    /// fast-resume bitfield (which librqbit deletes along with the torrent).
    async fn detach(&self, hash: &str, keep_resume: bool) -> Result<Option<Vec<u8>>> {
        let handle = {
            let mut st = self.lock();
            let Some(e) = st.torrents.get_mut(hash) else {
                return Ok(None);
            };
            if let Some(h) = &e.handle {
                let s = h.stats();
                e.uploaded_base += s.uploaded_bytes;
                if matches!(
                    s.state,
                    librqbit::TorrentStatsState::Live | librqbit::TorrentStatsState::Paused
                ) {
                    e.progress = Some(faults::Progress {
                        have: s.progress_bytes,
                        total: s.total_bytes,
                        finished: s.finished,
                        files: s.file_progress,
                    });
                }
            }
            // The engine's own verified pieces (vendored patch 0004) are newer than its last
            // flush of the bitfield file.
            let have = e.handle.as_ref().and_then(|h| h.have_pieces_bytes());
            e.have = have.clone().map(Arc::new);
            e.handle.take().map(|h| (h, have))
        };
        let Some((handle, have)) = handle else {
            return Ok(None);
        };
        let saved = if keep_resume {
            have.or_else(|| std::fs::read(self.bitv_path(hash)).ok())
        } else {
            None
        };
        self.session
            .delete(handle.id().into(), false)
            .await
            .map_err(|e| EngineError::failed(format!("detaching torrent {hash}"), e))?;
        Ok(saved)
    }

    // ---- queries ----

    pub fn profile(&self, id: &str) -> Result<ProfileRecord> {
        self.lock()
            .profiles
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::ProfileNotFound(id.into()))
    }

    /// Fetches an RSS/Atom document through the same guarded client as `.torrent` URLs
    /// (conditional GET with `validators`).
    pub async fn fetch_feed(
        &self,
        url: &str,
        access: FetchAccess,
        validators: &fetch::Validators,
    ) -> Result<fetch::Fetched> {
        self.fetcher.fetch_feed(url, access, validators).await
    }

    pub fn profiles(&self) -> Vec<ProfileRecord> {
        let mut v: Vec<_> = self.lock().profiles.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    pub fn list(&self, profile: &str) -> Result<Vec<TorrentRow>> {
        let st = self.lock();
        Ok(st
            .in_queue_order(profile)?
            .into_iter()
            .map(row::row)
            .collect())
    }

    /// `list` as a JSON array, written straight from the entries (`row::write_json`): the
    /// torrent list endpoint's answer, 10,000 rows in a few milliseconds.
    pub fn list_json(&self, profile: &str) -> Result<Vec<u8>> {
        /// Above this the first row's size is not trusted as a guide (a row with many labels).
        const MAX_RESERVE: usize = 64 << 20;
        let failed = |e: serde_json::Error| EngineError::Internal(format!("torrent list: {e}"));
        let st = self.lock();
        let entries = st.in_queue_order(profile)?;
        let mut out = vec![b'['];
        for (i, e) in entries.iter().enumerate() {
            let start = out.len();
            if i > 0 {
                out.push(b',');
            }
            let status = row::status(e);
            row::write_json(e, &status, &mut out).map_err(failed)?;
            if i == 0 {
                // Each row, its comma, and a little slack for rows longer than the first.
                let each = out.len() + out.len() / 8 + 1;
                out.reserve(each.saturating_mul(entries.len()).min(MAX_RESERVE));
            }
            #[cfg(debug_assertions)]
            {
                let written = &out[start + usize::from(i > 0)..];
                let expected = serde_json::to_vec(&row::row_of(e, status)).map_err(failed)?;
                debug_assert!(
                    written == expected.as_slice(),
                    "row::write_json and TorrentRow disagree:\n{}\n{}",
                    String::from_utf8_lossy(written),
                    String::from_utf8_lossy(&expected)
                );
            }
            #[cfg(not(debug_assertions))]
            let _ = start;
        }
        out.push(b']');
        Ok(out)
    }

    pub fn all_rows(&self) -> Vec<TorrentRow> {
        self.lock().torrents.values().map(|e| row::row(e)).collect()
    }

    /// The profile a torrent belongs to (for permission checks before acting on it).
    pub fn profile_of(&self, hash: &str) -> Result<String> {
        self.lock().entry(hash).map(|e| e.rec.profile.clone())
    }

    pub fn row(&self, hash: &str) -> Result<TorrentRow> {
        self.with_entry(hash, row::row)
    }

    fn with_entry<R>(&self, hash: &str, f: impl FnOnce(&Entry) -> R) -> Result<R> {
        self.lock().entry(hash).map(f)
    }

    pub fn details(&self, hash: &str) -> Result<TorrentDetails> {
        self.with_entry(hash, row::details)
    }

    pub fn files(&self, hash: &str) -> Result<Vec<FileRow>> {
        self.with_entry(hash, row::files)
    }

    pub fn peers(&self, hash: &str) -> Result<Vec<PeerRow>> {
        self.with_entry(hash, row::peers)
    }

    pub fn trackers(&self, hash: &str) -> Result<Vec<TrackerRow>> {
        self.with_entry(hash, trackers::rows)
    }

    // ---- actions ----

    fn update_record(&self, hash: &str, f: impl FnOnce(&mut TorrentRecord)) -> Result<()> {
        let mut st = self.lock();
        let e = st.entry_mut(hash)?;
        let mut rec = e.rec.clone();
        f(&mut rec);
        if rec != e.rec {
            self.store.put_torrents(&[&rec], &[])?;
            e.rec = rec;
        }
        Ok(())
    }

    fn handle(&self, hash: &str) -> Option<Arc<ManagedTorrent>> {
        self.lock()
            .torrents
            .get(hash)
            .and_then(|e| e.handle.clone())
    }

    pub async fn pause(&self, hash: &str) -> Result<TorrentRow> {
        let _g = self.ops.lock().await;
        self.update_record(hash, |r| {
            r.paused = true;
            r.force_start = false;
        })?;
        if let Some(h) = self.handle(hash)
            && !h.is_paused()
        {
            // librqbit counts uploads only while a torrent is live: bank them first, or the
            // ratio would drop to what earlier runs uploaded.
            if let Some(e) = self.lock().torrents.get_mut(hash) {
                e.uploaded_base += h.stats().uploaded_bytes;
            }
            // "already paused" races with the scheduler are harmless.
            let _ = self.session.pause(&h).await;
        }
        self.wake_scheduler();
        self.row(hash)
    }

    pub async fn resume(&self, hash: &str) -> Result<TorrentRow> {
        let _g = self.ops.lock().await;
        self.update_record(hash, |r| r.paused = false)?;
        // A torrent waiting for disk space or descriptors keeps its verified progress and
        // is simply retried; any other engine error starts over with a full check of the
        // data (what is on disk may be what caused the error), as a recheck does.
        let waits_for_resource = self
            .lock()
            .torrents
            .get(hash)
            .and_then(|e| e.fault.as_ref())
            .is_some_and(|f| f.kind != faults::FaultKind::Other);
        match self.error_dir(hash) {
            Some(dir) if !waits_for_resource => {
                self.detach(hash, false).await?;
                let _ = std::fs::remove_file(self.bitv_path(hash));
                if let Err(e) = self.attach_now(hash).await {
                    let cause = match e {
                        EngineError::Internal(m) => m,
                        EngineError::Failed { source, .. } => source.to_string(),
                        other => other.to_string(),
                    };
                    return Err(EngineError::Conflict(format!(
                        "could not start it again with the files in {}: {cause}",
                        dir.display()
                    )));
                }
            }
            _ => self.retry_now(hash).await,
        }
        self.reconcile_now().await;
        self.row(hash)
    }

    /// The save dir of a torrent the engine has in error (none when it is not in error).
    fn error_dir(&self, hash: &str) -> Option<PathBuf> {
        let st = self.lock();
        let e = st.torrents.get(hash)?;
        let failed = e.rec.has_metadata
            && match &e.handle {
                Some(h) => matches!(h.stats().state, librqbit::TorrentStatsState::Error),
                None => e.error.is_some(),
            };
        failed.then(|| e.rec.save_dir.clone())
    }

    pub async fn force_start(&self, hash: &str) -> Result<TorrentRow> {
        let _g = self.ops.lock().await;
        self.update_record(hash, |r| {
            r.paused = false;
            r.force_start = true;
        })?;
        self.retry_now(hash).await;
        self.reconcile_now().await;
        self.row(hash)
    }

    /// Sets or clears force start (clearing leaves the torrent to its queue).
    pub async fn set_force_start(&self, hash: &str, on: bool) -> Result<TorrentRow> {
        if on {
            return self.force_start(hash).await;
        }
        let _g = self.ops.lock().await;
        self.update_record(hash, |r| r.force_start = false)?;
        self.reconcile_now().await;
        self.row(hash)
    }

    /// Re-hashes all data: the torrent is re-added without its fast-resume bitfield.
    pub async fn recheck(&self, hash: &str) -> Result<TorrentRow> {
        let _g = self.ops.lock().await;
        let has_meta = {
            let st = self.lock();
            let e = st.entry(hash)?;
            e.rec.has_metadata
        };
        if !has_meta {
            return Err(EngineError::Conflict(
                "the torrent's metadata is not known yet; nothing to check".into(),
            ));
        }
        self.detach(hash, false).await?;
        let _ = std::fs::remove_file(self.bitv_path(hash));
        if let Some(e) = self.lock().torrents.get_mut(hash) {
            e.progress = None;
            e.fault = None;
        }
        // Checked even when paused; the queue parks it again once the check is done.
        self.attach_now(hash).await?;
        self.row(hash)
    }

    /// Asks the trackers (and the DHT, when it is on) for peers now instead of at the next
    /// announce interval, and connects to the new ones. Connections already open stay.
    pub async fn reannounce(&self, hash: &str) -> Result<TorrentRow> {
        let live = self.handle(hash).and_then(|h| h.live().map(|l| (h, l)));
        let Some((h, live)) = live else {
            // Not found beats "not running" so that an unknown hash stays a 404.
            self.row(hash)?;
            return Err(EngineError::Conflict(
                "the torrent is not running: start it to announce it".into(),
            ));
        };
        self.announce_now(hash);
        // The DHT too, when it is on (the trackers are pytorrentd's own: `trackers.rs`).
        if let Some(mut peers) = self.session.make_peer_rx_managed_torrent(&h, true) {
            let weak = Arc::downgrade(&live);
            drop(live);
            // The announce's answers arrive over a few seconds; the stream (and with it the
            // extra tracker conversation) ends after a minute or when the torrent stops.
            tokio::spawn(async move {
                use futures_util::StreamExt;
                let deadline = tokio::time::Instant::now() + REANNOUNCE_WINDOW;
                while let Ok(Some(addr)) = tokio::time::timeout_at(deadline, peers.next()).await {
                    let Some(live) = weak.upgrade() else { break };
                    if live.add_peer_if_not_seen(addr).is_err() {
                        break;
                    }
                }
            });
        }
        self.row(hash)
    }

    pub async fn delete(&self, hash: &str, delete_files: bool) -> Result<()> {
        let _g = self.ops.lock().await;
        let (profile, handle, resolver, name) = {
            let st = self.lock();
            let e = st.entry(hash)?;
            (
                e.rec.profile.clone(),
                e.handle.clone(),
                e.resolver.clone(),
                row::row(e).name,
            )
        };
        let parked = {
            let st = self.lock();
            st.torrents
                .get(hash)
                .and_then(|e| e.meta.clone().map(|m| (e.rec.save_dir.clone(), m)))
        };
        // The store goes first: if we die after this line the torrent is gone for good and
        // startup cleans the engine's leftovers.
        self.store.delete_torrent(hash)?;
        if let Some(gone) = self.lock().torrents.remove(hash) {
            self.announce_gone(&gone);
        }
        if let Some(r) = resolver {
            r.abort();
        }
        match handle {
            Some(h) => {
                if let Err(e) = self.session.delete(h.id().into(), delete_files).await {
                    warn!(%hash, "engine delete: {e:#}");
                }
            }
            // Not in the engine (paused, or waiting): its files are removed here.
            None => {
                if delete_files && let Some((save_dir, meta)) = parked {
                    remove_files(&save_dir, &meta);
                }
                let _ = std::fs::remove_file(self.bitv_path(hash));
            }
        }
        self.notice(
            notices::NoticeKind::Removed,
            &profile,
            Some(hash),
            &name,
            format!(
                "{name} was removed {}",
                if delete_files {
                    "with its data"
                } else {
                    "(its data kept)"
                }
            ),
        );
        self.emit(EngineEvent::Removed {
            profile,
            hash: hash.into(),
        });
        self.wake_scheduler();
        Ok(())
    }

    /// Moves a torrent within its profile's queue.
    /// Changes a torrent as one PATCH asks: label, wanted files, queue place and profile.
    /// Every part is checked before any is applied, so a part that fails changes nothing;
    /// the record changes (with the renumbered queue) commit in one transaction. A move to
    /// another profile moves the data first: if that fails, the torrent keeps working where
    /// it was, with nothing else changed.
    pub async fn apply(&self, hash: &str, patch: Patch) -> Result<TorrentRow> {
        let labels = match &patch.labels {
            Some(LabelChange::Set(l) | LabelChange::Add(l) | LabelChange::Remove(l)) => {
                Some(crate::limits::normalize_labels(l)?)
            }
            None => None,
        };
        if let Some(Some(t)) = &patch.title {
            crate::limits::check_torrent_title(t)?;
        }
        if let Some(w) = &patch.files {
            crate::limits::check_file_index_count(w.len())?;
        }
        let _g = self.ops.lock().await;
        let (rec, meta, handle, dest) = {
            let st = self.lock();
            let e = st.entry(hash)?;
            let dest = match &patch.profile {
                Some(t) if *t != e.rec.profile => Some(
                    st.profiles
                        .get(t)
                        .cloned()
                        .ok_or_else(|| EngineError::ProfileNotFound(t.clone()))?,
                ),
                _ => None,
            };
            (e.rec.clone(), e.meta.clone(), e.handle.clone(), dest)
        };
        let files = match &patch.files {
            Some(wanted) => {
                let count = meta.as_ref().map(|m| m.files.len()).ok_or_else(|| {
                    EngineError::Conflict("the torrent's file list is not known yet".into())
                })?;
                let set = add::check_file_indices(wanted, count)?;
                let mut sorted: Vec<usize> = set.iter().copied().collect();
                sorted.sort_unstable();
                Some((set, (sorted.len() != count).then_some(sorted)))
            }
            None => None,
        };
        if let Some(d) = &dest {
            add::check_dir_writable(&d.download_dir)?;
        }

        let mut new_rec = rec.clone();
        if let (Some(change), Some(given)) = (&patch.labels, labels) {
            let now = &mut new_rec.labels;
            match change {
                LabelChange::Set(_) => *now = given,
                LabelChange::Add(_) => {
                    for l in given {
                        if !now.contains(&l) {
                            now.push(l);
                        }
                    }
                }
                LabelChange::Remove(_) => now.retain(|l| !given.contains(l)),
            }
            // Adding can go past the limit the parts kept.
            crate::limits::normalize_labels(now)?;
        }
        if let Some((_, only)) = &files {
            new_rec.only_files = only.clone();
        }
        if let Some(t) = patch.title {
            new_rec.title = t;
        }
        if let Some(c) = &patch.share {
            c.apply(&mut new_rec.share)?;
        }
        if let Some(v) = patch.dl_limit {
            new_rec.dl_limit = speed::check_limit("dl_limit", v)?;
        }
        if let Some(v) = patch.ul_limit {
            new_rec.ul_limit = speed::check_limit("ul_limit", v)?;
        }
        if let Some(t) = &patch.trackers {
            new_rec.trackers = Some(trackers::check_list(t)?);
        }
        let mut saved_bitv = None;
        let mut reattach = false;
        if let Some(d) = &dest {
            new_rec.profile = d.id.clone();
            new_rec.save_dir = d.download_dir.clone();
            new_rec.queue_position = {
                let st = self.lock();
                st.torrents
                    .values()
                    .filter(|o| o.rec.profile == d.id)
                    .map(|o| o.rec.queue_position)
                    .max()
                    .unwrap_or(0)
                    + 1
            };
            if let Some(meta) = &meta {
                // The engine lets go of the files while they move; it takes them again
                // with the new record (wanted files included).
                saved_bitv = self
                    .move_data(hash, &rec.save_dir, &d.download_dir, meta)
                    .await?;
                reattach = true;
            }
        } else if let (Some((set, _)), Some(h)) = (&files, &handle) {
            self.session
                .update_only_files(h, set)
                .await
                .map_err(|e| EngineError::Conflict(format!("cannot change files now: {e:#}")))?;
        }

        let changed = if patch.queue.is_some() || dest.is_some() {
            queue_renumbered(&self.lock(), new_rec, patch.queue)
        } else if new_rec != rec {
            vec![new_rec]
        } else {
            Vec::new()
        };
        let committed = self
            .store
            .put_torrents(&changed.iter().collect::<Vec<_>>(), &[]);
        if let Err(e) = committed {
            if reattach {
                // The data has moved but the record could not say so: the torrent is
                // attached from where its data now is, and the error is reported.
                warn!(%hash, "the moved torrent's record could not be written: {e}");
            }
            if let Some(d) = dest.as_ref().filter(|_| reattach)
                && let Some(meta) = &meta
                && move_content(&d.download_dir, &rec.save_dir, meta, hash, false).is_ok()
            {
                self.restore_bitv(hash, saved_bitv.as_deref());
                self.attach(hash).await?;
            }
            return Err(e.into());
        }
        {
            let mut st = self.lock();
            for r in changed {
                if let Some(e) = st.torrents.get_mut(&r.hash) {
                    e.rec = r;
                }
            }
        }
        if reattach {
            self.restore_bitv(hash, saved_bitv.as_deref());
            self.attach(hash).await?;
        }
        if let Some(d) = &dest {
            self.emit_moved(&rec.profile, &d.id, hash);
        }
        self.apply_torrent_limits(hash);
        self.announce_wake.notify_one();
        self.wake_scheduler();
        self.row(hash)
    }

    /// Moves a torrent's data from `from` to `to` with the engine let go of it. The
    /// destination is stored in the record first (`moving_to`), so that a crash in the
    /// middle is finished at the next start (`finish_interrupted_moves`). On error the
    /// torrent is whole where it was, back in the engine, and the record as before. On
    /// success the caller writes the record with the new save dir (and no `moving_to`), then
    /// puts back the returned fast-resume bitfield and attaches the torrent.
    async fn move_data(
        &self,
        hash: &str,
        from: &Path,
        to: &Path,
        meta: &Arc<Meta>,
    ) -> Result<Option<Vec<u8>>> {
        let failed = |e: std::io::Error| EngineError::MoveFailed {
            to: to.to_path_buf(),
            source: e,
        };
        fs::check_move_target(to, meta).map_err(failed)?;
        self.update_record(hash, |r| r.moving_to = Some(to.to_path_buf()))?;
        let saved = match self.detach(hash, true).await {
            Ok(s) => s,
            Err(e) => {
                let _ = self.update_record(hash, |r| r.moving_to = None);
                return Err(e);
            }
        };
        let (f, t, m, h) = (
            from.to_path_buf(),
            to.to_path_buf(),
            meta.clone(),
            hash.to_owned(),
        );
        // Copies across filesystems take a while: not on the async workers.
        let moved = tokio::task::spawn_blocking(move || move_content(&f, &t, &m, &h, false))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        if let Err(e) = moved {
            warn!(%hash, to = %to.display(), "moving data failed: {e}");
            if let Err(e) = self.update_record(hash, |r| r.moving_to = None) {
                warn!(%hash, "clearing the record's move: {e}");
            }
            self.restore_bitv(hash, saved.as_deref());
            self.attach(hash).await?;
            return Err(failed(e));
        }
        Ok(saved)
    }

    /// Moves a completed torrent to its profile's `complete_dir` (the scheduler calls it
    /// when a download completes). It keeps seeding from there; when the move fails it
    /// keeps seeding where it was, with the error in its row.
    pub(crate) async fn move_on_completion(&self, hash: &str) {
        let _g = self.ops.lock().await;
        let (from, to, meta) = {
            let st = self.lock();
            let Some(e) = st.torrents.get(hash) else {
                return;
            };
            let to = st
                .profiles
                .get(&e.rec.profile)
                .and_then(|p| p.complete_dir.clone());
            match (to, &e.meta) {
                (Some(to), Some(m)) if to != e.rec.save_dir && e.rec.completed_at.is_some() => {
                    (e.rec.save_dir.clone(), to, m.clone())
                }
                _ => return,
            }
        };
        let r = match self.move_data(hash, &from, &to, &meta).await {
            Ok(saved) => {
                let done = self.update_record(hash, |r| {
                    r.save_dir = to.clone();
                    r.moving_to = None;
                });
                self.restore_bitv(hash, saved.as_deref());
                let attached = self.attach(hash).await;
                done.and(attached)
            }
            Err(e) => Err(e),
        };
        let mut st = self.lock();
        if let Some(e) = st.torrents.get_mut(hash) {
            match r {
                Ok(()) => {
                    info!(%hash, to = %to.display(), "completed: data moved");
                    e.move_error = None;
                }
                Err(err) => {
                    e.move_error = Some(format!(
                        "moving to {} failed, seeding where it is: {err}",
                        to.display()
                    ));
                }
            }
        }
        drop(st);
        self.wake_scheduler();
    }

    /// Puts back the fast-resume bitfield kept while the torrent was detached.
    fn restore_bitv(&self, hash: &str, bitv: Option<&[u8]>) {
        if let Some(b) = bitv {
            let _ = std::fs::write(self.bitv_path(hash), b);
        }
    }

    fn emit_moved(&self, from: &str, to: &str, hash: &str) {
        self.emit(EngineEvent::Removed {
            profile: from.into(),
            hash: hash.into(),
        });
        self.emit(EngineEvent::Added {
            profile: to.into(),
            hash: hash.into(),
        });
        self.wake_scheduler();
    }

    // ---- profiles ----

    pub fn create_profile(&self, p: ProfileRecord) -> Result<ProfileRecord> {
        let p = profiles::create(&self.store, &mut self.lock().profiles, p)?;
        self.emit(EngineEvent::ProfilesChanged);
        Ok(p)
    }

    pub fn update_profile(&self, id: &str, patch: profiles::ProfilePatch) -> Result<ProfileRecord> {
        let p = profiles::update(&self.store, &mut self.lock().profiles, id, patch)?;
        self.apply_profile_limits(id);
        self.wake_scheduler();
        self.emit(EngineEvent::ProfilesChanged);
        Ok(p)
    }

    pub fn delete_profile(&self, id: &str) -> Result<()> {
        {
            let mut st = self.lock();
            let n = st.torrents.values().filter(|e| e.rec.profile == id).count();
            profiles::delete(&self.store, &mut st.profiles, id, n)?;
        }
        self.drop_profile_limits(id);
        self.emit(EngineEvent::ProfilesChanged);
        Ok(())
    }

    /// Global and per-profile totals.
    pub fn stats(&self) -> Stats {
        let st = self.lock();
        let mut profiles: HashMap<&str, ProfileStats> = st
            .profiles
            .values()
            .map(|p| {
                (
                    p.id.as_str(),
                    ProfileStats {
                        id: p.id.clone(),
                        torrents: 0,
                        dl_speed: 0,
                        ul_speed: 0,
                        disk_free: disk_free(&p.download_dir),
                        dl_limit: p.dl_limit,
                        ul_limit: p.ul_limit,
                    },
                )
            })
            .collect();
        let mut total = Stats::default();
        for e in st.torrents.values() {
            let (dl, ul) = row::speeds(e);
            total.dl_speed += dl;
            total.ul_speed += ul;
            total.torrents += 1;
            if let Some(p) = profiles.get_mut(e.rec.profile.as_str()) {
                p.torrents += 1;
                p.dl_speed += dl;
                p.ul_speed += ul;
            }
        }
        let mut list: Vec<ProfileStats> = profiles.into_values().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        total.profiles = list;
        drop(st);
        total.limits = self.global_limits();
        total
    }

    /// Stops the engine: counters folded into the store, session stopped.
    pub async fn shutdown(&self) {
        let _g = self.ops.lock().await;
        let sampler = self.close_traffic();
        let recs: Vec<TorrentRecord> = {
            let st = self.lock();
            st.torrents
                .values()
                .map(|e| {
                    let mut r = e.rec.clone();
                    r.uploaded_before += e.uploaded_base
                        + e.handle
                            .as_ref()
                            .map(|h| h.stats().uploaded_bytes)
                            .unwrap_or(0);
                    r
                })
                .collect()
        };
        if let Err(e) = self.store.save_run(&recs.iter().collect::<Vec<_>>()) {
            warn!("saving counters at shutdown: {e}");
        }
        drop(sampler);
        self.session.stop().await;
    }

    async fn reconcile_now(&self) {
        scheduler::reconcile(self).await;
    }
}

/// Starts the librqbit session with the engine settings `eng`.
async fn new_session(
    config: &Config,
    engine_dir: &Path,
    eng: &options::EngineSettings,
    peer_id: [u8; 20],
) -> anyhow::Result<Arc<Session>> {
    let listen = librqbit::ListenerOptions {
        mode: librqbit::ListenerMode::TcpAndUtp,
        listen_addr: std::net::SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            eng.listen_port,
        ),
        enable_upnp_port_forwarding: eng.upnp,
        ..Default::default()
    };
    let opts = SessionOptions {
        dht: if eng.dht {
            Some(librqbit::DhtSessionConfig {
                persistence: Some(librqbit::dht::DhtPersistenceConfig {
                    config_filename: Some(engine_dir.join("dht.json")),
                    ..Default::default()
                }),
                ..Default::default()
            })
        } else {
            None
        },
        fastresume: true,
        persistence: Some(SessionPersistenceConfig::Json {
            folder: Some(engine_dir.to_path_buf()),
        }),
        listen: Some(listen),
        disable_local_service_discovery: !eng.lsd,
        ipv4_only: false,
        client_name_and_version: Some(format!("pytorrentd {}", env!("CARGO_PKG_VERSION"))),
        peer_id: Some(librqbit_core::hash_id::Id20::new(peer_id)),
        default_storage_factory: Some(storage::WholeWritesFactory::boxed_factory()),
        blocklist_url: eng.blocklist_url.clone(),
        bind_device_name: eng.bind_interface.clone(),
        peer_limit: Some(eng.peer_limit_torrent as usize),
        ..Default::default()
    };
    Session::new_with_opts(config.download_dir.clone(), opts).await
}

/// Finishes the data moves a crash interrupted (records with `moving_to`): forward to the
/// destination when possible, else back to where the torrent was; the record then names
/// where its data is.
fn finish_interrupted_moves(store: &Store, records: &mut [TorrentRecord]) {
    for rec in records.iter_mut() {
        let Some(to) = rec.moving_to.clone() else {
            continue;
        };
        let meta = store
            .torrent_file(&rec.hash)
            .ok()
            .flatten()
            .and_then(|b| add::parse_torrent(&b).ok())
            .map(|p| p.meta);
        let mut next = rec.clone();
        next.moving_to = None;
        if let Some(meta) = meta {
            let hash = rec.hash.clone();
            match move_content(&rec.save_dir, &to, &meta, &hash, true) {
                Ok(()) => {
                    info!(%hash, to = %to.display(), "finished a move that a stop interrupted");
                    next.save_dir = to.clone();
                }
                Err(e) => match move_content(&to, &rec.save_dir, &meta, &hash, true) {
                    Ok(()) => {
                        warn!(%hash, "a move that a stop interrupted could not finish ({e}); the data went back to {}", rec.save_dir.display())
                    }
                    Err(e2) => {
                        warn!(%hash, "a move that a stop interrupted could neither finish ({e}) nor go back ({e2}); files may be in {} and {}", rec.save_dir.display(), to.display())
                    }
                },
            }
        }
        match store.put_torrents(&[&next], &[]) {
            Ok(()) => *rec = next,
            Err(e) => warn!(hash = %rec.hash, "recording the finished move: {e}"),
        }
    }
}

/// A change of one torrent (`Engine::apply`): each part is optional.
#[derive(Debug, Default)]
pub struct Patch {
    /// A change of the labels (checked by `limits::normalize_labels`).
    pub labels: Option<LabelChange>,
    /// A name to show instead of the torrent's own (`Some(None)`: its own again).
    pub title: Option<Option<String>>,
    /// A change of the torrent's own share limits.
    pub share: Option<share::ShareChange>,
    /// The torrent's own speed limits, bytes/s (0 = unlimited).
    pub dl_limit: Option<u64>,
    pub ul_limit: Option<u64>,
    /// A new tracker list (checked by `trackers::check_list`).
    pub trackers: Option<Vec<String>>,
    /// The indices of the wanted files.
    pub files: Option<Vec<usize>>,
    pub queue: Option<QueueMove>,
    /// The profile to move the torrent (and its data) to.
    pub profile: Option<String>,
}

/// How a change sets a torrent's labels.
#[derive(Debug, Clone)]
pub enum LabelChange {
    /// Exactly these (empty: none).
    Set(Vec<String>),
    /// These besides the present ones (appended in order, present ones kept once).
    Add(Vec<String>),
    /// All but these.
    Remove(Vec<String>),
}

/// The records that change when `rec` (the torrent's new record) takes its place in its
/// profile's queue, moved by `to`: `rec` itself when it differs from the stored one, and
/// every torrent of the profile whose position changes (positions are 1..n, no gaps).
fn queue_renumbered(st: &State, rec: TorrentRecord, to: Option<QueueMove>) -> Vec<TorrentRecord> {
    let mut order: Vec<(u64, &str)> = st
        .torrents
        .values()
        .filter(|e| e.rec.profile == rec.profile && e.rec.hash != rec.hash)
        .map(|e| (e.rec.queue_position, e.rec.hash.as_str()))
        .collect();
    order.push((rec.queue_position, rec.hash.as_str()));
    order.sort();
    let mut hashes: Vec<&str> = order.into_iter().map(|(_, h)| h).collect();
    if let Some(to) = to
        && let Some(i) = hashes.iter().position(|h| *h == rec.hash)
    {
        let item = hashes.remove(i);
        let j = match to {
            QueueMove::Top => 0,
            QueueMove::Up => i.saturating_sub(1),
            QueueMove::Down => (i + 1).min(hashes.len()),
            QueueMove::Bottom => hashes.len(),
        };
        hashes.insert(j, item);
    }
    let mut changed = Vec::new();
    for (pos, h) in hashes.iter().enumerate() {
        let pos = pos as u64 + 1;
        if *h == rec.hash {
            let mut r = rec.clone();
            r.queue_position = pos;
            if st.torrents.get(*h).is_none_or(|e| e.rec != r) {
                changed.push(r);
            }
        } else if let Some(e) = st.torrents.get(*h)
            && e.rec.queue_position != pos
        {
            let mut r = e.rec.clone();
            r.queue_position = pos;
            changed.push(r);
        }
    }
    changed
}

#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueMove {
    Top,
    Up,
    Down,
    Bottom,
}

#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub dl_speed: u64,
    pub ul_speed: u64,
    pub torrents: usize,
    pub profiles: Vec<ProfileStats>,
    /// The global speed limits in force now.
    pub limits: GlobalLimits,
}

/// The global speed limits in force (the alternative pair while `alt_enabled`).
#[derive(Debug, Default, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct GlobalLimits {
    /// Bytes/s, 0 = unlimited.
    pub dl_limit: u64,
    pub ul_limit: u64,
    pub alt_enabled: bool,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProfileStats {
    pub id: String,
    pub torrents: usize,
    pub dl_speed: u64,
    pub ul_speed: u64,
    /// Free bytes on the profile's download filesystem (null if unknown).
    pub disk_free: Option<u64>,
    /// The profile's shared speed limits, bytes/s (0 = unlimited).
    pub dl_limit: u64,
    pub ul_limit: u64,
}

/// A description of the engine state kept under `DATA_DIR/engine` (the session's torrent
/// list and fast-resume bitfields), or `None` when there is none worth keeping. A data
/// directory with such state but no database must not be started from scratch.
pub fn saved_state(data_dir: &Path) -> Option<String> {
    let dir = data_dir.join("engine");
    let listed = std::fs::read(dir.join("session.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("torrents")
                .and_then(|t| t.as_object())
                .map(|t| t.len())
        })
        .unwrap_or(0);
    let resume_files = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.ends_with(".bitv") || n.ends_with(".torrent")
                })
                .count()
        })
        .unwrap_or(0);
    if listed == 0 && resume_files == 0 {
        return None;
    }
    Some(format!(
        "{}: session.json lists {listed} torrents, {resume_files} fast-resume files",
        dir.display()
    ))
}

/// Makes the engine's own persistence agree with redb before the session starts: its torrent
/// list is emptied (we re-add from redb), and fast-resume files of torrents redb does not
/// know are deleted.
fn reset_engine_dir(dir: &Path, known: &std::collections::HashSet<String>) {
    let _ = std::fs::write(dir.join("session.json"), br#"{"torrents":{}}"#);
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stem = name.split('.').next().unwrap_or("");
        let is_engine_file = name.ends_with(".bitv") || name.ends_with(".torrent");
        if is_engine_file && (name.ends_with(".torrent") || !known.contains(stem)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{EngineError, catch_engine_panic};

    #[test]
    fn errors_keep_their_cause() {
        use std::error::Error;
        let io = || std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
        let e = EngineError::failed("starting the torrent session", io());
        assert_eq!(e.to_string(), "starting the torrent session: disk full");
        assert_eq!(e.source().map(|c| c.to_string()), Some("disk full".into()));
        let listen = anyhow::Error::new(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "Address already in use (os error 98)",
        ))
        .context("error starting listeners");
        let e = EngineError::failed("starting the torrent session", listen);
        assert_eq!(
            e.to_string(),
            "starting the torrent session: error starting listeners: Address already in use (os error 98)"
        );
        let e = EngineError::MoveFailed {
            to: "/srv/b".into(),
            source: io(),
        };
        assert_eq!(
            e.to_string(),
            "could not move the data to /srv/b: disk full"
        );
        let kind = e
            .source()
            .and_then(|c| c.downcast_ref::<std::io::Error>())
            .map(|c| c.kind());
        assert_eq!(kind, Some(std::io::ErrorKind::StorageFull));
        let anyhow_cause = anyhow::anyhow!("librqbit said no");
        let e = EngineError::failed("adding", anyhow_cause);
        assert_eq!(
            e.source().map(|c| c.to_string()),
            Some("librqbit said no".into())
        );
    }

    #[tokio::test]
    async fn engine_panics_become_errors() {
        assert_eq!(catch_engine_panic(async { 7 }).await, Ok(7));
        let r = catch_engine_panic(async {
            let zero = std::hint::black_box(0u64);
            100u64.div_ceil(zero)
        })
        .await;
        let e = r.unwrap_err();
        assert!(e.contains("divide by zero"), "{e}");
        let r: Result<(), String> =
            catch_engine_panic(async { panic!("{}", String::from("owned message")) }).await;
        assert!(r.unwrap_err().contains("owned message"));
    }
}
