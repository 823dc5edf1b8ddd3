//! Creating a torrent from a file or folder inside a profile's directory, in the background
//! (docs/files.md): the path is checked (inside the profile, no symbolic link on the way),
//! `create::create` hashes it on a blocking thread with progress and cancellation, and the
//! result is added to the profile where the data already lies, so it is verified and seeds.
//! Jobs live in memory (the torrent they make is in redb like any other); the feed reports
//! their progress to the profile's room.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::add::{AddOptions, AddSource};
use super::create::{CreateError, CreateOptions, Progress};
use super::{Engine, EngineError, EngineEvent, Result};
use crate::limits;

/// Finished jobs kept for their answers (the oldest go first).
const KEPT: usize = 50;
/// Jobs hashing at once.
pub const RUNNING_MAX: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CreationState {
    Hashing,
    Done,
    Failed,
    Cancelled,
}

/// A torrent creation as the API and the feed show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreationView {
    pub id: String,
    pub profile: String,
    /// The file or folder, relative to the profile's download directory.
    pub path: String,
    pub state: CreationState,
    pub hashed: u64,
    pub total: u64,
    /// The new torrent's info hash, once added.
    pub hash: Option<String>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
}

pub(crate) struct Job {
    view: CreationView,
    progress: Arc<Progress>,
}

impl Job {
    fn view(&self) -> CreationView {
        let mut v = self.view.clone();
        v.hashed = self.progress.hashed.load(Ordering::Relaxed);
        v.total = self.progress.total.load(Ordering::Relaxed).max(v.total);
        v
    }
}

#[derive(Default)]
pub(crate) struct Jobs {
    map: std::sync::Mutex<HashMap<String, Job>>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What to create: the path relative to the profile's directory and the torrent's fields.
#[derive(Debug, Clone, Default)]
pub struct NewCreation {
    pub path: String,
    pub options: CreateOptions,
}

/// Resolves `rel` below `base`: relative, no `..`, no symbolic link on the way, existing.
fn resolve(base: &Path, rel: &str) -> Result<PathBuf> {
    limits::check_subdir(rel)?;
    if rel.starts_with('/') {
        return Err(EngineError::PathEscape(format!(
            "'{}' must be a path inside the profile's folder, not an absolute one",
            limits::quote(rel)
        )));
    }
    let rel = Path::new(rel.trim_end_matches('/'));
    if rel.as_os_str().is_empty() {
        return Err(EngineError::Invalid(
            "give the file or folder to make a torrent of (a path inside the profile's folder)"
                .into(),
        ));
    }
    let mut cur = base.to_path_buf();
    for c in rel.components() {
        let Component::Normal(part) = c else {
            return Err(EngineError::PathEscape(format!(
                "'{}' must stay inside the profile's folder",
                rel.display()
            )));
        };
        cur.push(part);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(EngineError::PathEscapesProfile(format!(
                    "'{}' is a symbolic link; torrents are made only of what lies inside the profile's folder",
                    rel.display()
                )));
            }
            Ok(_) => {}
            Err(_) => {
                return Err(EngineError::Invalid(format!(
                    "'{}' does not exist in the profile's folder",
                    rel.display()
                )));
            }
        }
    }
    Ok(cur)
}

fn check_options(o: &CreateOptions) -> Result<()> {
    if o.trackers.len() > limits::PEERS_MAX || o.web_seeds.len() > limits::PEERS_MAX {
        return Err(EngineError::Invalid(format!(
            "at most {} trackers and {} web seeds",
            limits::PEERS_MAX,
            limits::PEERS_MAX
        )));
    }
    for u in o.trackers.iter().chain(&o.web_seeds) {
        limits::check_url(u)?;
        let ok = url::Url::parse(u).is_ok_and(|p| {
            matches!(p.scheme(), "http" | "https" | "udp") && p.host_str().is_some()
        });
        if !ok {
            return Err(EngineError::InvalidUrl(format!(
                "'{}' is not an http(s) or udp URL",
                limits::quote(u)
            )));
        }
    }
    if let Some(c) = &o.comment
        && c.chars().count() > 4096
    {
        return Err(EngineError::Invalid(
            "comment must be at most 4096 characters".into(),
        ));
    }
    Ok(())
}

impl Engine {
    /// Starts making a torrent of `new.path` in `profile`; answers at once (202), the job
    /// runs in the background.
    pub fn start_creation(&self, profile: &str, new: NewCreation) -> Result<CreationView> {
        let prof = self.profile(profile)?;
        check_options(&new.options)?;
        let root = resolve(&prof.download_dir, &new.path)?;
        let rel = root
            .strip_prefix(&prof.download_dir)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        {
            let jobs = self.creations.lock();
            let running = jobs
                .values()
                .filter(|j| j.view.state == CreationState::Hashing)
                .count();
            if running >= RUNNING_MAX {
                return Err(EngineError::Busy(format!(
                    "{running} torrents are being created; wait for one to finish"
                )));
            }
        }
        let id = hex::encode(rand::random::<[u8; 8]>());
        let progress = Arc::new(Progress::default());
        let view = CreationView {
            id: id.clone(),
            profile: profile.to_owned(),
            path: rel.clone(),
            state: CreationState::Hashing,
            hashed: 0,
            total: 0,
            hash: None,
            error: None,
            started_at: Utc::now(),
        };
        {
            let mut jobs = self.creations.lock();
            if jobs.len() >= KEPT
                && let Some(old) = jobs
                    .values()
                    .filter(|j| j.view.state != CreationState::Hashing)
                    .min_by_key(|j| j.view.started_at)
                    .map(|j| j.view.id.clone())
            {
                jobs.remove(&old);
            }
            jobs.insert(
                id.clone(),
                Job {
                    view: view.clone(),
                    progress: progress.clone(),
                },
            );
        }
        let answer = view.clone();
        let me = self.me.clone();
        let subdir = Path::new(&rel)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty());
        let opts = new.options;
        tokio::spawn(async move {
            let p = progress.clone();
            let made = tokio::task::spawn_blocking(move || super::create::create(&root, &opts, &p))
                .await
                .unwrap_or_else(|e| Err(CreateError::Invalid(format!("creation stopped: {e}"))));
            let Some(engine) = me.upgrade() else { return };
            let outcome = match made {
                Ok(c) => {
                    let added = engine
                        .add(
                            &view.profile,
                            vec![AddSource::Bytes {
                                name: format!("{}.torrent", c.name),
                                bytes: c.bytes,
                            }],
                            AddOptions {
                                subdir,
                                ..Default::default()
                            },
                        )
                        .await;
                    match added {
                        Ok(_) => Ok(c.info_hash),
                        Err(e) => Err((CreationState::Failed, e.to_string())),
                    }
                }
                Err(CreateError::Cancelled) => {
                    Err((CreationState::Cancelled, "cancelled".to_owned()))
                }
                Err(e) => Err((CreationState::Failed, e.to_string())),
            };
            engine.finish_creation(&view.id, outcome);
        });
        Ok(answer)
    }

    fn finish_creation(
        &self,
        id: &str,
        outcome: std::result::Result<String, (CreationState, String)>,
    ) {
        let view = {
            let mut jobs = self.creations.lock();
            let Some(j) = jobs.get_mut(id) else { return };
            match outcome {
                Ok(hash) => {
                    j.view.state = CreationState::Done;
                    j.view.hash = Some(hash);
                }
                Err((state, why)) => {
                    tracing::info!(id, "torrent creation ended: {why}");
                    j.view.state = state;
                    j.view.error = Some(why);
                }
            }
            j.view()
        };
        self.emit(EngineEvent::Creation(view));
    }

    pub fn creation_view(&self, id: &str) -> Option<CreationView> {
        self.creations.lock().get(id).map(Job::view)
    }

    /// Every job (the caller filters by profile).
    pub fn creations(&self) -> Vec<CreationView> {
        let mut v: Vec<CreationView> = self.creations.lock().values().map(Job::view).collect();
        v.sort_by_key(|c| c.started_at);
        v
    }

    /// Asks a running job to stop (it ends as `cancelled` within a read of 1 MiB).
    pub fn cancel_creation(&self, id: &str) -> Result<CreationView> {
        let jobs = self.creations.lock();
        let j = jobs
            .get(id)
            .ok_or_else(|| EngineError::CreationNotFound(format!("no torrent creation '{id}'")))?;
        if j.view.state != CreationState::Hashing {
            return Err(EngineError::Conflict(format!(
                "this creation has already ended ({:?})",
                j.view.state
            )));
        }
        j.progress.cancelled.store(true, Ordering::Relaxed);
        Ok(j.view())
    }
}

/// One entry of a folder listing for the "Create torrent" picker.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DirEntry {
    pub name: String,
    pub dir: bool,
    pub size: u64,
}

/// The entries of a folder inside a profile's directory (symbolic links are left out: they
/// cannot be made into torrents). At most 2,000 entries, folders first, by name.
pub fn browse(base: &Path, rel: &str) -> Result<Vec<DirEntry>> {
    let dir = if rel.trim_matches('/').is_empty() {
        base.to_path_buf()
    } else {
        resolve(base, rel)?
    };
    let rd = std::fs::read_dir(&dir).map_err(|e| {
        EngineError::Invalid(format!("'{}' cannot be listed: {e}", limits::quote(rel)))
    })?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() || !(ft.is_dir() || ft.is_file()) {
            continue;
        }
        let Some(name) = e.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let size = if ft.is_file() {
            e.metadata().map(|m| m.len()).unwrap_or(0)
        } else {
            0
        };
        out.push(DirEntry {
            name,
            dir: ft.is_dir(),
            size,
        });
        if out.len() >= 2000 {
            break;
        }
    }
    out.sort_by(|a, b| b.dir.cmp(&a.dir).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}
