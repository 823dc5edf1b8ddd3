//! RSS endpoints (`src/rss/`): feeds and rules of the profiles a caller can see. Reading
//! needs `ro` on the profile, changing `full`; a feed or rule of an invisible profile does
//! not exist for the caller (404).

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::access::Level;
use crate::auth::{Identity, Need};
use crate::rss::{
    self, FeedInput, FeedView, Grab, NewFeed, PreviewItem, RssError, RuleInput, RuleSpec, RuleView,
};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RssPath {
    /// The feed's or rule's id.
    #[param(max_length = 64)]
    pub id: String,
}

fn sees(id: &Identity, profile: &str) -> bool {
    id.level(profile) != Level::None
}

/// The feed, if `id` may do `need` with it.
fn feed_for(st: &AppState, id: &Identity, feed: &str, need: Need) -> Result<rss::Feed, ApiError> {
    let f = rss::feed(&st.store, feed)?;
    if !sees(id, &f.profile) {
        return Err(RssError::FeedNotFound(feed.into()).into());
    }
    id.require(&f.profile, need)?;
    Ok(f)
}

fn rule_for(st: &AppState, id: &Identity, rule: &str, need: Need) -> Result<rss::Rule, ApiError> {
    let r = rss::rule(&st.store, rule)?;
    if !sees(id, &r.spec.profile) {
        return Err(RssError::RuleNotFound(rule.into()).into());
    }
    id.require(&r.spec.profile, need)?;
    Ok(r)
}

/// A rule may only read feeds its author sees, and write into a profile they may change.
fn check_spec(st: &AppState, id: &Identity, spec: &RuleSpec) -> Result<(), ApiError> {
    id.require(&spec.profile, Need::Write)?;
    for f in &spec.feeds {
        feed_for(st, id, f, Need::Read)?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/rss/feeds", tag = "rss", operation_id = "list_rss_feeds",
    responses((status = 200, body = Vec<FeedView>)))]
pub async fn list_feeds(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Vec<FeedView>>, ApiError> {
    let mut out = Vec::new();
    for f in rss::feeds(&st.store)? {
        if sees(&id, &f.profile) {
            out.push(rss::feed_view(&st.store, &f)?);
        }
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/rss/feeds", tag = "rss", operation_id = "create_rss_feed",
    request_body = NewFeed,
    responses((status = 201, body = FeedView, description = "created; fetched in the background"), (status = 400, description = "a bad value"), (status = 404, description = "no such profile"), (status = 409, description = "100 feeds exist already")))]
pub async fn create_feed(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(input): ApiJson<NewFeed>,
) -> Result<(StatusCode, Json<FeedView>), ApiError> {
    id.require(&input.profile, Need::Write)?;
    let f = rss::create_feed(&st.engine, &st.store, input.into(), id.is_admin())?;
    st.rss.wake();
    Ok((StatusCode::CREATED, Json(rss::feed_view(&st.store, &f)?)))
}

#[utoipa::path(patch, path = "/api/rss/feeds/{id}", tag = "rss", operation_id = "update_rss_feed",
    params(RssPath), request_body = FeedInput,
    responses((status = 200, body = FeedView), (status = 400, description = "a bad value"), (status = 404, description = "no such feed")))]
pub async fn update_feed(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(feed): ApiPath<String>,
    ApiJson(input): ApiJson<FeedInput>,
) -> Result<Json<FeedView>, ApiError> {
    feed_for(&st, &id, &feed, Need::Write)?;
    if let Some(p) = &input.profile {
        id.require(p, Need::Write)?;
    }
    let f = rss::update_feed(&st.engine, &st.store, &feed, input, id.is_admin())?;
    st.rss.wake();
    Ok(Json(rss::feed_view(&st.store, &f)?))
}

#[utoipa::path(delete, path = "/api/rss/feeds/{id}", tag = "rss", operation_id = "delete_rss_feed",
    params(RssPath),
    responses((status = 204, description = "deleted, with its history; rules left without a feed are disabled"), (status = 404, description = "no such feed")))]
pub async fn delete_feed(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(feed): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    feed_for(&st, &id, &feed, Need::Write)?;
    rss::delete_feed(&st.store, &feed)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/rss/feeds/{id}/refresh", tag = "rss", operation_id = "refresh_rss_feed",
    params(RssPath),
    responses((status = 200, body = FeedView, description = "fetched now (a failed fetch shows in `error`), and the rules applied"), (status = 404, description = "no such feed")))]
pub async fn refresh_feed(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(feed): ApiPath<String>,
) -> Result<Json<FeedView>, ApiError> {
    feed_for(&st, &id, &feed, Need::Write)?;
    Ok(Json(rss::refresh(&st, &feed).await?))
}

/// An item of a feed, and the rule that grabbed it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedItem {
    #[serde(flatten)]
    pub item: rss::Item,
    pub grab: Option<Grab>,
}

#[utoipa::path(get, path = "/api/rss/feeds/{id}/items", tag = "rss", operation_id = "list_rss_items",
    params(RssPath),
    responses((status = 200, body = Vec<FeedItem>, description = "the items of the last fetch, newest first"), (status = 404, description = "no such feed")))]
pub async fn feed_items(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(feed): ApiPath<String>,
) -> Result<Json<Vec<FeedItem>>, ApiError> {
    feed_for(&st, &id, &feed, Need::Read)?;
    let grabs = rss::grabs(&st.store)?;
    let items = rss::feed_state(&st.store, &feed)?
        .items
        .into_iter()
        .map(|item| FeedItem {
            grab: grabs
                .iter()
                .find(|g| g.feed == feed && g.item == item.key)
                .cloned(),
            item,
        })
        .collect();
    Ok(Json(items))
}

#[utoipa::path(get, path = "/api/rss/rules", tag = "rss", operation_id = "list_rss_rules",
    responses((status = 200, body = Vec<RuleView>)))]
pub async fn list_rules(
    State(st): State<AppState>,
    id: Identity,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    let mine = rss::rules(&st.store)?
        .into_iter()
        .filter(|r| sees(&id, &r.spec.profile))
        .collect();
    Ok(Json(rss::rule_views(&st.store, mine)?))
}

fn one_view(st: &AppState, r: rss::Rule) -> Result<RuleView, ApiError> {
    rss::rule_views(&st.store, vec![r])?
        .pop()
        .ok_or_else(|| ApiError::internal("a rule's view is missing"))
}

/// Applies the rules to the items the feeds hold, in the background.
fn apply_soon(st: &AppState) {
    let st = st.clone();
    tokio::spawn(async move {
        if let Err(e) = rss::apply_cached(&st).await {
            tracing::warn!("RSS: applying rules: {e}");
        }
    });
}

#[utoipa::path(post, path = "/api/rss/rules", tag = "rss", operation_id = "create_rss_rule",
    request_body = RuleSpec,
    responses((status = 201, body = RuleView, description = "created; applied to the feeds' items at once"), (status = 400, description = "a bad value"), (status = 404, description = "no such profile or feed"), (status = 409, description = "200 rules exist already")))]
pub async fn create_rule(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    check_spec(&st, &id, &spec)?;
    let r = rss::create_rule(&st.engine, &st.store, spec, id.is_admin())?;
    apply_soon(&st);
    Ok((StatusCode::CREATED, Json(one_view(&st, r)?)))
}

#[utoipa::path(patch, path = "/api/rss/rules/{id}", tag = "rss", operation_id = "update_rss_rule",
    params(RssPath), request_body = RuleInput,
    responses((status = 200, body = RuleView), (status = 400, description = "a bad value"), (status = 404, description = "no such rule")))]
pub async fn update_rule(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(rule): ApiPath<String>,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<Json<RuleView>, ApiError> {
    rule_for(&st, &id, &rule, Need::Write)?;
    if let Some(p) = &input.profile {
        id.require(p, Need::Write)?;
    }
    for f in input.feeds.iter().flatten() {
        feed_for(&st, &id, f, Need::Read)?;
    }
    let r = rss::update_rule(&st.engine, &st.store, &rule, input, id.is_admin())?;
    apply_soon(&st);
    Ok(Json(one_view(&st, r)?))
}

#[utoipa::path(delete, path = "/api/rss/rules/{id}", tag = "rss", operation_id = "delete_rss_rule",
    params(RssPath),
    responses((status = 204, description = "deleted (what it grabbed stays in the history)"), (status = 404, description = "no such rule")))]
pub async fn delete_rule(
    State(st): State<AppState>,
    id: Identity,
    ApiPath(rule): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    rule_for(&st, &id, &rule, Need::Write)?;
    rss::delete_rule(&st.store, &rule)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/rss/preview", tag = "rss", operation_id = "preview_rss_rule",
    request_body = RuleSpec,
    responses((status = 200, body = Vec<PreviewItem>, description = "what the rule (not saved) matches among the feeds' items now"), (status = 400, description = "a bad value"), (status = 404, description = "no such profile or feed")))]
pub async fn preview(
    State(st): State<AppState>,
    id: Identity,
    ApiJson(spec): ApiJson<RuleSpec>,
) -> Result<Json<Vec<PreviewItem>>, ApiError> {
    for f in &spec.feeds {
        feed_for(&st, &id, f, Need::Read)?;
    }
    id.require(&spec.profile, Need::Read)?;
    Ok(Json(rss::preview(&st.engine, &st.store, spec)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only this rule's grabs.
    #[param(max_length = 64)]
    pub rule: Option<String>,
    /// Only this feed's.
    #[param(max_length = 64)]
    pub feed: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/rss/history", tag = "rss", operation_id = "rss_history",
    params(HistoryQuery),
    responses((status = 200, body = Vec<Grab>, description = "grabbed (or tried) items, newest first")))]
pub async fn history(
    State(st): State<AppState>,
    id: Identity,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<Grab>>, ApiError> {
    for v in [&q.rule, &q.feed].into_iter().flatten() {
        if v.len() > 64 {
            return Err(
                RssError::Invalid("rule and feed are ids of at most 64 characters".into()).into(),
            );
        }
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(RssError::Invalid("limit must be 1 to 1000".into()).into());
    }
    let mut out: Vec<Grab> = rss::grabs(&st.store)?
        .into_iter()
        .filter(|g| sees(&id, &g.profile))
        .filter(|g| q.rule.as_ref().is_none_or(|r| &g.rule == r))
        .filter(|g| q.feed.as_ref().is_none_or(|f| &g.feed == f))
        .collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.at));
    out.truncate(limit);
    Ok(Json(out))
}
