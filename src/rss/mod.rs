//! RSS (README "RSS"): feeds that pytorrentd reads on a schedule, and rules that pick items
//! from them and add their torrents to a profile.
//!
//! A **feed** (URL, refresh interval, profile, enabled) is fetched as a conditional GET (the
//! ETag and Last-Modified of the last answer go back), parsed (`parse.rs`) and its items kept
//! with its state (last fetch, error, next fetch). A **rule** (title patterns, an episode
//! filter, a size range, labels, paused, target profile; `filter.rs`) is applied to the items
//! of its feeds after every fetch and after every change of a rule. Each grabbed item is
//! recorded per feed (`grab/FEED/ITEM` in the `rss` table) before anything else looks at it
//! again, so nothing is grabbed twice, across restarts too; "only new episodes" also skips an
//! episode that rule grabbed before (another quality, a repack).
//!
//! Who may do what: a feed and a rule belong to a profile; reading needs `ro` on it, changing
//! needs `full`, and a rule may only read feeds its author can see. Feeds and `.torrent`
//! links are fetched under the fetch rule of docs/security.md: only what an administrator set
//! up may reach private addresses (`trusted`, recorded when the URL or rule is saved).

pub mod filter;
pub mod parse;
mod poll;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::engine::fetch::Validators;
use crate::store::{Store, Table};
pub use parse::Item;
pub use poll::{Runner, apply_cached, refresh, spawn};

/// Feeds at most.
pub const FEEDS_MAX: usize = 100;
/// Rules at most.
pub const RULES_MAX: usize = 200;
/// Items kept per feed (the newest).
pub const ITEMS_MAX: usize = 500;
/// Refresh interval bounds, minutes.
pub const REFRESH_MIN: u32 = 1;
pub const REFRESH_MAX: u32 = 1440;
const REFRESH_DEFAULT: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum RssError {
    #[error("{0}")]
    Invalid(String),
    #[error("no RSS feed {0}")]
    FeedNotFound(String),
    #[error("no RSS rule {0}")]
    RuleNotFound(String),
    #[error("no profile {0}")]
    ProfileNotFound(String),
    #[error("at most {0} {1}; delete one first")]
    TooMany(usize, &'static str),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

type Result<T> = std::result::Result<T, RssError>;

/// A feed as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feed {
    pub id: String,
    pub url: String,
    /// The user's name for it (empty: the feed's own title).
    pub name: String,
    pub profile: String,
    pub refresh_minutes: u32,
    pub enabled: bool,
    /// The URL was set by an administrator: it may reach private addresses.
    pub trusted: bool,
}

/// What the last fetches of a feed found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FeedState {
    pub title: Option<String>,
    pub validators: Validators,
    pub last_fetch: Option<DateTime<Utc>>,
    pub last_ok: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub failures: u32,
    pub next_at: Option<DateTime<Utc>>,
    pub items: Vec<Item>,
}

/// A feed as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedView {
    pub id: String,
    pub url: String,
    pub name: String,
    /// The title the feed gives itself.
    pub title: Option<String>,
    pub profile: String,
    pub refresh_minutes: u32,
    pub enabled: bool,
    pub last_fetch: Option<DateTime<Utc>>,
    /// The last fetch that worked (a 304 counts).
    pub last_ok: Option<DateTime<Utc>>,
    /// Why the last fetch failed (`null`: it worked).
    pub error: Option<String>,
    pub next_fetch: Option<DateTime<Utc>>,
    pub items: usize,
}

/// A new feed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeed {
    #[schema(max_length = 2048, pattern = "^https?://[^/?#\\s]+")]
    pub url: String,
    /// The profile grabbed items go to by default, and whose users see the feed.
    #[schema(max_length = 64)]
    pub profile: String,
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// Minutes between fetches (1–1440, default 30).
    #[schema(minimum = 1, maximum = 1440)]
    pub refresh_minutes: Option<u32>,
    pub enabled: Option<bool>,
}

/// A change of a feed (absent fields stay).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedInput {
    #[schema(max_length = 2048, pattern = "^https?://[^/?#\\s]+")]
    pub url: Option<String>,
    #[schema(max_length = 64)]
    pub profile: Option<String>,
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[schema(minimum = 1, maximum = 1440)]
    pub refresh_minutes: Option<u32>,
    pub enabled: Option<bool>,
}

impl From<NewFeed> for FeedInput {
    fn from(n: NewFeed) -> Self {
        FeedInput {
            url: Some(n.url),
            profile: Some(n.profile),
            name: n.name,
            refresh_minutes: n.refresh_minutes,
            enabled: n.enabled,
        }
    }
}

/// What a rule matches and what it does with a match.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where grabbed torrents go.
    #[schema(max_length = 64)]
    pub profile: String,
    /// The feeds it reads (ids).
    #[schema(min_items = 1, max_items = 50)]
    pub feeds: Vec<String>,
    /// A regular expression the title must contain (case-insensitive; empty: every title).
    #[serde(default)]
    #[schema(max_length = 512)]
    pub include: String,
    /// A regular expression the title must not contain.
    #[serde(default)]
    #[schema(max_length = 512)]
    pub exclude: String,
    /// `S01`, `S01E05`, `S01E01-S01E10`, `S02E05-`, separated by `,` or `;` (empty: all).
    #[serde(default)]
    #[schema(max_length = 256)]
    pub episodes: String,
    /// Skip an episode this rule grabbed before.
    #[serde(default)]
    pub only_new: bool,
    /// Bytes; an item whose size is unknown does not pass a size range.
    #[serde(default)]
    pub min_size: Option<u64>,
    #[serde(default)]
    pub max_size: Option<u64>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Add grabbed torrents paused.
    #[serde(default)]
    pub paused: bool,
}

fn yes() -> bool {
    true
}

/// A rule as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Saved by an administrator: its `.torrent` links may reach private addresses (when
    /// the feed is trusted too).
    pub trusted: bool,
}

/// A rule as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleView {
    pub id: String,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Items it grabbed (kept in the history).
    pub grabbed: usize,
    pub last_grab: Option<DateTime<Utc>>,
}

/// A change of a rule (absent fields stay; `min_size`/`max_size` null removes them).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    pub enabled: Option<bool>,
    #[schema(max_length = 64)]
    pub profile: Option<String>,
    #[schema(min_items = 1, max_items = 50)]
    pub feeds: Option<Vec<String>>,
    #[schema(max_length = 512)]
    pub include: Option<String>,
    #[schema(max_length = 512)]
    pub exclude: Option<String>,
    #[schema(max_length = 256)]
    pub episodes: Option<String>,
    pub only_new: Option<bool>,
    #[serde(default, deserialize_with = "crate::engine::share::double_option")]
    #[schema(value_type = Option<u64>)]
    pub min_size: Option<Option<u64>>,
    #[serde(default, deserialize_with = "crate::engine::share::double_option")]
    #[schema(value_type = Option<u64>)]
    pub max_size: Option<Option<u64>>,
    pub labels: Option<Vec<String>>,
    pub paused: Option<bool>,
}

impl RuleInput {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.enabled.is_none()
            && self.profile.is_none()
            && self.feeds.is_none()
            && self.include.is_none()
            && self.exclude.is_none()
            && self.episodes.is_none()
            && self.only_new.is_none()
            && self.min_size.is_none()
            && self.max_size.is_none()
            && self.labels.is_none()
            && self.paused.is_none()
    }

    fn apply(self, s: &mut RuleSpec) {
        if let Some(v) = self.name {
            s.name = v;
        }
        if let Some(v) = self.enabled {
            s.enabled = v;
        }
        if let Some(v) = self.profile {
            s.profile = v;
        }
        if let Some(v) = self.feeds {
            s.feeds = v;
        }
        if let Some(v) = self.include {
            s.include = v;
        }
        if let Some(v) = self.exclude {
            s.exclude = v;
        }
        if let Some(v) = self.episodes {
            s.episodes = v;
        }
        if let Some(v) = self.only_new {
            s.only_new = v;
        }
        if let Some(v) = self.min_size {
            s.min_size = v;
        }
        if let Some(v) = self.max_size {
            s.max_size = v;
        }
        if let Some(v) = self.labels {
            s.labels = v;
        }
        if let Some(v) = self.paused {
            s.paused = v;
        }
    }
}

/// One grabbed (or tried) item.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Grab {
    pub feed: String,
    /// The item's key within the feed.
    pub item: String,
    pub title: String,
    pub rule: String,
    pub rule_name: String,
    pub profile: String,
    pub at: DateTime<Utc>,
    /// The torrent it became (`null` when the add failed).
    pub hash: Option<String>,
    /// Why the add failed; it is tried again at the next fetches, three times in all.
    pub error: Option<String>,
    pub attempts: u32,
    pub season: Option<u32>,
    pub episode: Option<u32>,
}

/// Attempts before an item whose add keeps failing is given up.
const ATTEMPTS: u32 = 3;

impl Grab {
    /// Whether the item is settled: added, or given up.
    pub fn done(&self) -> bool {
        self.error.is_none() || self.attempts >= ATTEMPTS
    }
}

/// A rule checked and compiled.
pub struct Compiled {
    pub rule: Rule,
    include: Option<regex::Regex>,
    exclude: Option<regex::Regex>,
    episodes: filter::Episodes,
}

impl Compiled {
    /// Whether the rule takes `item` (history aside).
    pub fn matches(&self, item: &Item) -> bool {
        let s = &self.rule.spec;
        if self
            .include
            .as_ref()
            .is_some_and(|r| !r.is_match(&item.title))
            || self
                .exclude
                .as_ref()
                .is_some_and(|r| r.is_match(&item.title))
        {
            return false;
        }
        if (s.min_size.is_some() || s.max_size.is_some())
            && !item.size.is_some_and(|z| {
                s.min_size.is_none_or(|m| z >= m) && s.max_size.is_none_or(|m| z <= m)
            })
        {
            return false;
        }
        self.episodes.accepts(filter::episode_of(&item.title))
    }
}

/// Checks a rule (profile, feeds, patterns, filter, sizes, labels) and compiles it.
pub fn compile(engine: &Engine, store: &Store, mut rule: Rule) -> Result<Compiled> {
    let s = &mut rule.spec;
    s.name = s.name.trim().to_owned();
    if s.name.is_empty() || s.name.chars().count() > 100 {
        return Err(RssError::Invalid("name must be 1 to 100 characters".into()));
    }
    engine
        .profile(&s.profile)
        .map_err(|_| RssError::ProfileNotFound(crate::limits::quote(&s.profile)))?;
    s.feeds.sort();
    s.feeds.dedup();
    if s.feeds.is_empty() || s.feeds.len() > 50 {
        return Err(RssError::Invalid("feeds must name 1 to 50 feeds".into()));
    }
    for f in &s.feeds {
        feed(store, f).map_err(|_| RssError::FeedNotFound(crate::limits::quote(f)))?;
    }
    let include = filter::pattern("include", &s.include).map_err(RssError::Invalid)?;
    let exclude = filter::pattern("exclude", &s.exclude).map_err(RssError::Invalid)?;
    let episodes = filter::Episodes::parse(&s.episodes).map_err(RssError::Invalid)?;
    if let (Some(a), Some(b)) = (s.min_size, s.max_size)
        && a > b
    {
        return Err(RssError::Invalid(
            "min_size must not be larger than max_size".into(),
        ));
    }
    s.labels =
        crate::limits::normalize_labels(&s.labels).map_err(|e| RssError::Invalid(e.to_string()))?;
    Ok(Compiled {
        rule,
        include,
        exclude,
        episodes,
    })
}

fn feed_key(id: &str) -> String {
    format!("feed/{id}")
}
fn state_key(id: &str) -> String {
    format!("state/{id}")
}
fn rule_key(id: &str) -> String {
    format!("rule/{id}")
}
fn grab_key(feed: &str, item: &str) -> String {
    format!("grab/{feed}/{item}")
}

/// All entries of the `rss` table under `prefix/`.
fn under<T: serde::de::DeserializeOwned>(store: &Store, prefix: &str) -> Result<Vec<T>> {
    // '0' follows '/' in ASCII: the range holds exactly the keys starting with "prefix/".
    Ok(store
        .range_json(Table::Rss, &format!("{prefix}/"), &format!("{prefix}0"))?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// Every feed, by name (or URL).
pub fn feeds(store: &Store) -> Result<Vec<Feed>> {
    let mut all: Vec<Feed> = under(store, "feed")?;
    all.sort_by_cached_key(|f| {
        let n = if f.name.is_empty() { &f.url } else { &f.name };
        (n.to_lowercase(), f.id.clone())
    });
    Ok(all)
}

pub fn feed(store: &Store, id: &str) -> Result<Feed> {
    store
        .get_json(Table::Rss, &feed_key(id))?
        .ok_or_else(|| RssError::FeedNotFound(id.into()))
}

pub fn feed_state(store: &Store, id: &str) -> Result<FeedState> {
    Ok(store
        .get_json(Table::Rss, &state_key(id))?
        .unwrap_or_default())
}

/// Every rule, by name.
pub fn rules(store: &Store) -> Result<Vec<Rule>> {
    let mut all: Vec<Rule> = under(store, "rule")?;
    all.sort_by_cached_key(|r| (r.spec.name.to_lowercase(), r.id.clone()));
    Ok(all)
}

pub fn rule(store: &Store, id: &str) -> Result<Rule> {
    store
        .get_json(Table::Rss, &rule_key(id))?
        .ok_or_else(|| RssError::RuleNotFound(id.into()))
}

/// Every grab record, of all feeds.
pub fn grabs(store: &Store) -> Result<Vec<Grab>> {
    under(store, "grab")
}

pub fn feed_view(store: &Store, f: &Feed) -> Result<FeedView> {
    let st = feed_state(store, &f.id)?;
    Ok(FeedView {
        id: f.id.clone(),
        url: f.url.clone(),
        name: f.name.clone(),
        title: st.title,
        profile: f.profile.clone(),
        refresh_minutes: f.refresh_minutes,
        enabled: f.enabled,
        last_fetch: st.last_fetch,
        last_ok: st.last_ok,
        error: st.error,
        next_fetch: st.next_at.filter(|_| f.enabled),
        items: st.items.len(),
    })
}

pub fn rule_views(store: &Store, rules: Vec<Rule>) -> Result<Vec<RuleView>> {
    let grabs = grabs(store)?;
    Ok(rules
        .into_iter()
        .map(|r| {
            let mine = grabs.iter().filter(|g| g.rule == r.id && g.hash.is_some());
            RuleView {
                grabbed: mine.clone().count(),
                last_grab: mine.map(|g| g.at).max(),
                id: r.id,
                spec: r.spec,
            }
        })
        .collect())
}

fn new_id() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

fn check_url(u: &str) -> Result<String> {
    let u = u.trim();
    let ok = u.len() <= 2048
        && url::Url::parse(u)
            .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
    if ok {
        Ok(u.to_owned())
    } else {
        Err(RssError::Invalid(format!(
            "url must be an http:// or https:// URL (got {})",
            crate::limits::quote(u)
        )))
    }
}

impl FeedInput {
    fn apply(self, engine: &Engine, f: &mut Feed, admin: bool) -> Result<()> {
        if let Some(u) = self.url {
            let u = check_url(&u)?;
            // Who set the URL decides where it may be fetched from (an unchanged URL keeps
            // it: a user toggling an administrator's feed does not take its trust away).
            if u != f.url {
                f.trusted = admin;
            }
            f.url = u;
        }
        if let Some(p) = self.profile {
            engine
                .profile(&p)
                .map_err(|_| RssError::ProfileNotFound(crate::limits::quote(&p)))?;
            f.profile = p;
        }
        if let Some(n) = self.name {
            let n = n.trim();
            if n.chars().count() > 100 {
                return Err(RssError::Invalid("name is at most 100 characters".into()));
            }
            f.name = n.to_owned();
        }
        if let Some(m) = self.refresh_minutes {
            if !(REFRESH_MIN..=REFRESH_MAX).contains(&m) {
                return Err(RssError::Invalid(format!(
                    "refresh_minutes must be {REFRESH_MIN} to {REFRESH_MAX}"
                )));
            }
            f.refresh_minutes = m;
        }
        if let Some(e) = self.enabled {
            f.enabled = e;
        }
        if f.url.is_empty() {
            return Err(RssError::Invalid("url is required".into()));
        }
        Ok(())
    }
}

/// Adds a feed (`admin`: the caller is an administrator). It is fetched at once.
pub fn create_feed(engine: &Engine, store: &Store, input: FeedInput, admin: bool) -> Result<Feed> {
    if feeds(store)?.len() >= FEEDS_MAX {
        return Err(RssError::TooMany(FEEDS_MAX, "RSS feeds"));
    }
    let mut f = Feed {
        id: new_id(),
        url: String::new(),
        name: String::new(),
        profile: String::new(),
        refresh_minutes: REFRESH_DEFAULT,
        enabled: true,
        trusted: admin,
    };
    input.apply(engine, &mut f, admin)?;
    store.write(|tx| tx.put(Table::Rss, &feed_key(&f.id), &f))?;
    Ok(f)
}

/// Changes a feed. A new URL starts afresh (no validators, no items, fetched at once).
pub fn update_feed(
    engine: &Engine,
    store: &Store,
    id: &str,
    input: FeedInput,
    admin: bool,
) -> Result<Feed> {
    let mut f = feed(store, id)?;
    let old_url = f.url.clone();
    input.apply(engine, &mut f, admin)?;
    let fresh = f.url != old_url;
    store.write(|tx| {
        tx.put(Table::Rss, &feed_key(id), &f)?;
        if fresh {
            tx.delete(Table::Rss, &state_key(id))?;
        }
        Ok::<_, RssError>(())
    })?;
    Ok(f)
}

/// Deletes a feed, its state and its history; rules left without a feed are disabled.
pub fn delete_feed(store: &Store, id: &str) -> Result<()> {
    feed(store, id)?;
    let history: Vec<Grab> = under(store, &format!("grab/{id}"))?;
    let rules = rules(store)?;
    store.write(|tx| {
        tx.delete(Table::Rss, &feed_key(id))?;
        tx.delete(Table::Rss, &state_key(id))?;
        for g in &history {
            tx.delete(Table::Rss, &grab_key(&g.feed, &g.item))?;
        }
        for mut r in rules
            .into_iter()
            .filter(|r| r.spec.feeds.iter().any(|f| f == id))
        {
            r.spec.feeds.retain(|f| f != id);
            if r.spec.feeds.is_empty() {
                r.spec.enabled = false;
            }
            tx.put(Table::Rss, &rule_key(&r.id), &r)?;
        }
        Ok::<_, RssError>(())
    })
}

pub fn create_rule(engine: &Engine, store: &Store, spec: RuleSpec, admin: bool) -> Result<Rule> {
    if rules(store)?.len() >= RULES_MAX {
        return Err(RssError::TooMany(RULES_MAX, "RSS rules"));
    }
    let c = compile(
        engine,
        store,
        Rule {
            id: new_id(),
            spec,
            trusted: admin,
        },
    )?;
    store.write(|tx| tx.put(Table::Rss, &rule_key(&c.rule.id), &c.rule))?;
    Ok(c.rule)
}

pub fn update_rule(
    engine: &Engine,
    store: &Store,
    id: &str,
    input: RuleInput,
    admin: bool,
) -> Result<Rule> {
    let mut r = rule(store, id)?;
    // A rule fetches for whoever last shaped it: an administrator's change makes it trusted,
    // another user's untrusted — except switching it on or off, which changes what it fetches
    // from nowhere.
    let only_switch = RuleInput {
        enabled: None,
        ..input.clone()
    }
    .is_empty();
    input.apply(&mut r.spec);
    if admin {
        r.trusted = true;
    } else if !only_switch {
        r.trusted = false;
    }
    let c = compile(engine, store, r)?;
    store.write(|tx| tx.put(Table::Rss, &rule_key(id), &c.rule))?;
    Ok(c.rule)
}

/// Deletes a rule; what it grabbed stays in the history (so it is not grabbed again by
/// another rule).
pub fn delete_rule(store: &Store, id: &str) -> Result<()> {
    rule(store, id)?;
    store.write(|tx| tx.delete(Table::Rss, &rule_key(id)).map(|_| ()))?;
    Ok(())
}

/// One item a rule would match now, and whether it was grabbed already.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewItem {
    pub feed: String,
    #[serde(flatten)]
    pub item: Item,
    /// When it was grabbed (by any rule); `null`: not yet.
    pub grabbed: Option<DateTime<Utc>>,
    /// With "only new episodes": another item of the same episode comes first (an earlier
    /// release, or one grabbed already), so this one would be skipped.
    pub skipped: bool,
}

/// What `rule` (checked, not saved) matches among the items its feeds hold now.
pub fn preview(engine: &Engine, store: &Store, mut spec: RuleSpec) -> Result<Vec<PreviewItem>> {
    // A rule being written may have no name yet.
    if spec.name.trim().is_empty() {
        spec.name = "preview".into();
    }
    let c = compile(
        engine,
        store,
        Rule {
            id: String::new(),
            spec,
            trusted: false,
        },
    )?;
    let grabs = grabs(store)?;
    let mut out = Vec::new();
    for fid in &c.rule.spec.feeds {
        // Oldest first, the order grabs happen in, for "only new episodes".
        for item in feed_state(store, fid)?.items.into_iter().rev() {
            if !c.matches(&item) {
                continue;
            }
            let grabbed = grabs
                .iter()
                .find(|g| &g.feed == fid && g.item == item.key && g.hash.is_some())
                .map(|g| g.at);
            out.push(PreviewItem {
                feed: fid.clone(),
                item,
                grabbed,
                skipped: false,
            });
        }
    }
    if c.rule.spec.only_new {
        // An episode is taken by its first item (grabbed ones count first).
        let mut seen = std::collections::HashSet::new();
        for p in out.iter().filter(|p| p.grabbed.is_some()) {
            if let Some((s, Some(e))) = filter::episode_of(&p.item.title) {
                seen.insert((s, e));
            }
        }
        for p in out.iter_mut().filter(|p| p.grabbed.is_none()) {
            if let Some((s, Some(e))) = filter::episode_of(&p.item.title) {
                p.skipped = !seen.insert((s, e));
            }
        }
    }
    out.reverse();
    Ok(out)
}
