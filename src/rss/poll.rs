//! Fetching feeds when they are due and grabbing what rules match.
//!
//! One task looks at the feeds at least every 30 s (and at once when woken: a feed added or
//! changed). A fetch that works schedules the next one after the feed's interval; one that
//! fails after 10 s, doubling with each failure up to the interval (at most 30 minutes), so
//! a feed that is down for a while is tried again soon without being hammered. Fetches and
//! grabs run one at a time under one lock, which is what makes "check the history, add,
//! record" safe against a refresh asked for through the API at the same moment.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Mutex, Notify};
use tracing::{info, warn};

use super::{
    ATTEMPTS, Compiled, Feed, FeedState, FeedView, Grab, ITEMS_MAX, Item, Result, Rule, compile,
    feed, feed_state, feed_view, feeds, grab_key, rules, state_key,
};
use crate::engine::fetch::{Fetched, GENERIC_FETCH_ERROR};
use crate::engine::notices::NoticeKind;
use crate::engine::{AddOptions, AddSource, EngineError, FetchAccess};
use crate::state::AppState;
use crate::store::Table;

/// What a non-administrator's feed shows for any refused or failed fetch (docs/security.md).
const GENERIC_FEED_ERROR: &str = "could not download a feed from this URL";
const LOOK_EVERY: Duration = Duration::from_secs(30);
const RETRY_FIRST: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(1800);
/// Grab records of items gone from their feed are dropped after this long.
const FORGET_AFTER_DAYS: i64 = 180;

/// The RSS task's handle: its lock and its wake-up.
#[derive(Default)]
pub struct Runner {
    lock: Mutex<()>,
    wake: Notify,
}

impl Runner {
    /// Makes the task look at the feeds now (a feed was added or changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Starts the RSS task (once, at start).
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        loop {
            let mut wait = LOOK_EVERY;
            match feeds(&state.store) {
                Ok(all) => {
                    for f in all.into_iter().filter(|f| f.enabled) {
                        let next = feed_state(&state.store, &f.id).ok().and_then(|s| s.next_at);
                        let now = Utc::now();
                        match next {
                            Some(t) if t > now => {
                                let left = (t - now).to_std().unwrap_or_default();
                                wait = wait.min(left);
                            }
                            _ => {
                                if let Err(e) = refresh(&state, &f.id).await {
                                    warn!(feed = %f.id, "RSS: {e}");
                                }
                            }
                        }
                    }
                }
                Err(e) => warn!("RSS: cannot read the feeds: {e}"),
            }
            let wait = wait.max(Duration::from_secs(1));
            let _ = tokio::time::timeout(wait, state.rss.wake.notified()).await;
        }
    });
}

fn retry_after(f: &Feed, failures: u32) -> Duration {
    let interval = Duration::from_secs(u64::from(f.refresh_minutes) * 60);
    let backoff = RETRY_FIRST.saturating_mul(1 << failures.saturating_sub(1).min(16));
    backoff.min(interval).min(RETRY_MAX)
}

/// Fetches a feed now, records the outcome, and applies the rules to its items.
pub async fn refresh(state: &AppState, id: &str) -> Result<FeedView> {
    let _one = state.rss.lock.lock().await;
    let f = feed(&state.store, id)?;
    let mut st = feed_state(&state.store, id)?;
    let access = if f.trusted {
        FetchAccess::Any
    } else {
        FetchAccess::Public
    };
    let now = Utc::now();
    st.last_fetch = Some(now);
    let outcome = match state
        .engine
        .fetch_feed(&f.url, access, &st.validators)
        .await
    {
        Ok(Fetched::NotModified) => Ok(()),
        Ok(Fetched::Body { bytes, validators }) => match super::parse::parse(&bytes, &f.url) {
            Ok(p) => {
                st.title = p.title;
                st.items = p.items;
                st.items.truncate(ITEMS_MAX);
                st.validators = validators;
                Ok(())
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(match e {
            // The guarded fetch's one message, worded for a feed.
            EngineError::FetchFailed(m) if m == GENERIC_FETCH_ERROR => GENERIC_FEED_ERROR.into(),
            EngineError::FetchFailed(m) | EngineError::InvalidUrl(m) => m,
            other => other.to_string(),
        }),
    };
    let next = match &outcome {
        Ok(()) => {
            st.last_ok = Some(now);
            st.error = None;
            st.failures = 0;
            Duration::from_secs(u64::from(f.refresh_minutes) * 60)
        }
        Err(e) => {
            info!(feed = %f.id, "RSS feed fetch failed: {e}");
            st.error = Some(e.clone());
            st.failures = st.failures.saturating_add(1);
            // A broken document must not be answered "not modified" next time.
            st.validators = Default::default();
            retry_after(&f, st.failures)
        }
    };
    st.next_at = chrono::Duration::from_std(next).ok().map(|d| now + d);
    // Deleted while it was being fetched: leave nothing behind.
    let f = feed(&state.store, id)?;
    state
        .store
        .write(|tx| tx.put(Table::Rss, &state_key(id), &st))?;
    if outcome.is_ok() {
        grab(state, &f, &st).await?;
    }
    feed_view(&state.store, &f)
}

/// Applies the rules to the items every feed holds now, without fetching (after a rule
/// changed).
pub async fn apply_cached(state: &AppState) -> Result<()> {
    let _one = state.rss.lock.lock().await;
    for f in feeds(&state.store)? {
        let st = feed_state(&state.store, &f.id)?;
        grab(state, &f, &st).await?;
    }
    Ok(())
}

/// The rules reading feed `f`, compiled (a rule that no longer checks is skipped).
fn rules_of(state: &AppState, f: &Feed) -> Result<Vec<Compiled>> {
    Ok(rules(&state.store)?
        .into_iter()
        .filter(|r| r.spec.enabled && r.spec.feeds.contains(&f.id))
        .filter_map(|r: Rule| {
            let id = r.id.clone();
            compile(&state.engine, &state.store, r)
                .map_err(|e| warn!(rule = %id, "RSS rule skipped: {e}"))
                .ok()
        })
        .collect())
}

/// Grabs the items of `f` that a rule matches and nothing grabbed yet.
async fn grab(state: &AppState, f: &Feed, st: &FeedState) -> Result<()> {
    let rules = rules_of(state, f)?;
    let mut history = super::grabs(&state.store)?;
    forget_old(state, f, st, &history)?;
    if rules.is_empty() {
        return Ok(());
    }
    // Oldest first: of two items of one episode, the first published is the one taken.
    for item in st.items.iter().rev() {
        let Some(link) = &item.link else { continue };
        let before = history
            .iter()
            .position(|g| g.feed == f.id && g.item == item.key);
        if before.is_some_and(|i| history[i].done()) {
            continue;
        }
        let episode = super::filter::episode_of(&item.title);
        let Some(c) = rules.iter().find(|c| {
            c.matches(item) && !(c.rule.spec.only_new && seen_episode(&history, &c.rule, episode))
        }) else {
            continue;
        };
        let g = add(
            state,
            f,
            c,
            item,
            link,
            episode,
            before.map(|i| &history[i]),
        )
        .await;
        state
            .store
            .write(|tx| tx.put(Table::Rss, &grab_key(&f.id, &item.key), &g))?;
        match before {
            Some(i) => history[i] = g,
            None => history.push(g),
        }
    }
    Ok(())
}

fn seen_episode(history: &[Grab], rule: &Rule, ep: Option<super::filter::Episode>) -> bool {
    let Some((season, Some(episode))) = ep else {
        return false;
    };
    history.iter().any(|g| {
        g.rule == rule.id
            && g.hash.is_some()
            && g.season == Some(season)
            && g.episode == Some(episode)
    })
}

/// Adds one item's torrent for rule `c` and says how it went.
async fn add(
    state: &AppState,
    f: &Feed,
    c: &Compiled,
    item: &Item,
    link: &str,
    episode: Option<super::filter::Episode>,
    before: Option<&Grab>,
) -> Grab {
    let r = &c.rule;
    let source = if link.starts_with("magnet:") {
        AddSource::Magnet(link.to_owned())
    } else {
        AddSource::Url(link.to_owned())
    };
    let opts = AddOptions {
        paused: r.spec.paused,
        labels: r.spec.labels.clone(),
        fetch: if f.trusted && r.trusted {
            FetchAccess::Any
        } else {
            FetchAccess::Public
        },
        ..Default::default()
    };
    let outcome = state.engine.add(&r.spec.profile, vec![source], opts).await;
    let (hash, error) = match outcome {
        Ok(rows) => {
            let hash = rows.first().map(|row| row.hash.clone());
            info!(feed = %f.id, rule = %r.id, title = %item.title, "RSS: grabbed");
            state.engine.notice(
                NoticeKind::RssGrabbed,
                &r.spec.profile,
                hash.as_deref(),
                &item.title,
                format!("RSS rule “{}” grabbed “{}”", r.spec.name, item.title),
            );
            let store = state.store.clone();
            let e = crate::audit::entry(
                None,
                None,
                "rss_grab",
                Some(r.spec.profile.clone()),
                Some(format!("{}: {}", r.spec.name, item.title)),
                "rss",
            );
            let _ = tokio::task::spawn_blocking(move || crate::audit::record(&store, e)).await;
            (hash, None)
        }
        // Already there (added by hand, or another feed): counts as grabbed.
        Err(EngineError::Duplicate { hash, .. }) => (Some(hash), None),
        Err(e) => {
            warn!(feed = %f.id, rule = %r.id, title = %item.title, "RSS: could not add: {e}");
            (None, Some(e.to_string()))
        }
    };
    let attempts = before.map_or(0, |g| g.attempts) + 1;
    if error.is_some() && attempts >= ATTEMPTS {
        state.engine.notice(
            NoticeKind::Error,
            &r.spec.profile,
            None,
            &item.title,
            format!(
                "RSS rule “{}” could not add “{}” ({attempts} attempts)",
                r.spec.name, item.title
            ),
        );
    }
    Grab {
        feed: f.id.clone(),
        item: item.key.clone(),
        title: item.title.clone(),
        rule: r.id.clone(),
        rule_name: r.spec.name.clone(),
        profile: r.spec.profile.clone(),
        at: Utc::now(),
        hash,
        error,
        attempts,
        season: episode.map(|e| e.0),
        episode: episode.and_then(|e| e.1),
    }
}

/// Drops grab records of `f` that are old and whose item left the feed (the feed will not
/// offer it again).
fn forget_old(state: &AppState, f: &Feed, st: &FeedState, history: &[Grab]) -> Result<()> {
    if st.items.is_empty() {
        return Ok(());
    }
    let cut = Utc::now() - chrono::Duration::days(FORGET_AFTER_DAYS);
    let old: Vec<&Grab> = history
        .iter()
        .filter(|g| g.feed == f.id && g.at < cut && !st.items.iter().any(|i| i.key == g.item))
        .collect();
    if old.is_empty() {
        return Ok(());
    }
    state.store.write(|tx| {
        for g in old {
            tx.delete(Table::Rss, &grab_key(&g.feed, &g.item))?;
        }
        Ok::<_, super::RssError>(())
    })
}
