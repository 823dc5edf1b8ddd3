//! Notifications (README "Notifications"): what happened to torrents that a user wants to
//! know without watching — `added`, `completed`, `error`, `removed`, `disk_space`,
//! `rss_grabbed`. Each is stored in redb (`notices` table, the last 500), sent to the feed
//! (`notification`, to the torrent's profile room) and to webhooks (`webhooks.rs`) as
//! `EngineEvent::Notice`. Users see the notices of the profiles they may read; what they
//! have read is a marker per user.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Engine, EngineEvent};
use crate::store::Table;

/// Notices kept.
pub const KEEP: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Added,
    Completed,
    Error,
    Removed,
    DiskSpace,
    RssGrabbed,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 6] = [
        NoticeKind::Added,
        NoticeKind::Completed,
        NoticeKind::Error,
        NoticeKind::Removed,
        NoticeKind::DiskSpace,
        NoticeKind::RssGrabbed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Added => "added",
            NoticeKind::Completed => "completed",
            NoticeKind::Error => "error",
            NoticeKind::Removed => "removed",
            NoticeKind::DiskSpace => "disk_space",
            NoticeKind::RssGrabbed => "rss_grabbed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    /// Sorts by time; `read` markers compare against it.
    pub id: String,
    pub at: DateTime<Utc>,
    pub event: NoticeKind,
    pub profile: String,
    pub hash: Option<String>,
    /// The torrent's name (or the feed item's title).
    pub name: String,
    /// One line for people.
    pub message: String,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn read_key(user: &str) -> String {
    format!("notices_read/{user}")
}

impl Engine {
    /// Records a notice and announces it (feed, webhooks). Best effort: a storage failure
    /// is logged, the notice still goes out.
    pub fn notice(
        &self,
        event: NoticeKind,
        profile: &str,
        hash: Option<&str>,
        name: &str,
        message: String,
    ) {
        let at = Utc::now();
        let n = Notice {
            id: format!(
                "{:016x}-{:08x}",
                at.timestamp_micros().max(0),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ),
            at,
            event,
            profile: profile.to_owned(),
            hash: hash.map(str::to_owned),
            name: name.to_owned(),
            message,
        };
        let stored = self.store.write(|tx| tx.put(Table::Notices, &n.id, &n));
        if let Err(e) = stored {
            tracing::warn!(
                event = event.as_str(),
                "could not store a notification: {e}"
            );
        } else if let Ok((_, Some(cut))) =
            self.store.page_back(Table::Notices, None, KEEP, |_| true)
            && let Err(e) = self.store.delete_before(Table::Notices, &cut)
        {
            tracing::warn!("could not drop old notifications: {e}");
        }
        self.emit(EngineEvent::Notice(Box::new(n)));
    }

    /// The newest notices of the profiles `visible` accepts (at most `limit`), and how many
    /// of all such are newer than what `user` has read.
    pub fn notices(
        &self,
        user: &str,
        visible: impl Fn(&str) -> bool,
        limit: usize,
    ) -> crate::store::Result<(Vec<Notice>, usize)> {
        let read: Option<String> = self.store.get_json(Table::Settings, &read_key(user))?;
        let (rows, _) = self.store.page_back(Table::Notices, None, KEEP, |_| true)?;
        let mine: Vec<Notice> = rows
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice::<Notice>(&v).ok())
            .filter(|n| visible(&n.profile))
            .collect();
        let unread = mine
            .iter()
            .filter(|n| read.as_deref().is_none_or(|r| n.id.as_str() > r))
            .count();
        Ok((mine.into_iter().take(limit).collect(), unread))
    }

    /// Marks everything up to `id` (the newest when `None`) as read for `user`.
    pub fn mark_notices_read(&self, user: &str, id: Option<String>) -> crate::store::Result<()> {
        let up_to = match id {
            Some(i) => i,
            None => match self
                .store
                .page_back(Table::Notices, None, 1, |_| true)?
                .0
                .pop()
            {
                Some((k, _)) => k,
                None => return Ok(()),
            },
        };
        self.store
            .write(|tx| tx.put(Table::Settings, &read_key(user), &up_to))
    }
}
