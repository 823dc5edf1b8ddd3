//! Login sessions and API tokens. Secrets are random 256-bit values handed to the client
//! once; redb only ever holds their SHA-256, so a copy of the database opens no doors.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{Result, UserError};
use crate::store::{Store, StoreError, Table, Tx};

pub const COOKIE: &str = "pytorrent_session";
/// The session cookie's name for clients of the qBittorrent API, which look for it.
pub const QBIT_COOKIE: &str = "SID";
pub const SESSION_DAYS: i64 = 30;
pub const TOKEN_PREFIX: &str = "pt_";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub username: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub username: String,
    pub hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Creates a session and returns the cookie value.
pub fn create_session(store: &Store, username: &str) -> std::result::Result<String, StoreError> {
    let token = random_hex(32);
    let now = Utc::now();
    let rec = SessionRecord {
        username: username.into(),
        created_at: now,
        expires_at: now + Duration::days(SESSION_DAYS),
    };
    store.write(|tx| tx.put(Table::Sessions, &digest(&token), &rec))?;
    Ok(token)
}

/// The live session for a cookie value, if any.
pub fn lookup_session(
    store: &Store,
    token: &str,
) -> std::result::Result<Option<SessionRecord>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let key = digest(token);
    match store.get_json::<SessionRecord>(Table::Sessions, &key)? {
        Some(s) if s.expires_at > Utc::now() => Ok(Some(s)),
        Some(_) => {
            store.write(|tx| tx.delete(Table::Sessions, &key).map(|_| ()))?;
            Ok(None)
        }
        None => Ok(None),
    }
}

pub fn revoke_session(
    store: &Store,
    token: &str,
) -> std::result::Result<Option<String>, StoreError> {
    let key = digest(token);
    store.write(|tx| {
        let s: Option<SessionRecord> = tx.get(Table::Sessions, &key)?;
        tx.delete(Table::Sessions, &key)?;
        Ok(s.map(|s| s.username))
    })
}

pub(crate) fn revoke_all_in(tx: &mut Tx, username: &str) -> std::result::Result<(), StoreError> {
    revoke_all_except_in(tx, username, None).map(|_| ())
}

/// Revokes `username`'s sessions except the one whose digest is `keep`; returns the digests
/// of the revoked ones (so their open sockets can be closed).
pub(crate) fn revoke_all_except_in(
    tx: &mut Tx,
    username: &str,
    keep: Option<&str>,
) -> std::result::Result<Vec<String>, StoreError> {
    let mut revoked = Vec::new();
    for (k, s) in tx.list::<SessionRecord>(Table::Sessions)? {
        if s.username == username && keep != Some(k.as_str()) {
            tx.delete(Table::Sessions, &k)?;
            revoked.push(k);
        }
    }
    Ok(revoked)
}

/// The live sessions of `username` as (digest, record), oldest first.
pub fn sessions_of(
    store: &Store,
    username: &str,
) -> std::result::Result<Vec<(String, SessionRecord)>, StoreError> {
    let now = Utc::now();
    let mut v: Vec<(String, SessionRecord)> = store
        .list_json::<SessionRecord>(Table::Sessions)?
        .into_iter()
        .filter(|(_, s)| s.username == username && s.expires_at > now)
        .collect();
    v.sort_by_key(|(_, s)| s.created_at);
    Ok(v)
}

/// Revokes one of `username`'s sessions by digest; someone else's session is not found.
pub fn revoke_own_session(
    store: &Store,
    username: &str,
    digest: &str,
) -> std::result::Result<bool, StoreError> {
    store.write(
        |tx| match tx.get::<SessionRecord>(Table::Sessions, digest)? {
            Some(s) if s.username == username => tx.delete(Table::Sessions, digest),
            _ => Ok(false),
        },
    )
}

/// Revokes every session of `username` but `keep`; returns the revoked digests.
pub fn revoke_other_sessions(
    store: &Store,
    username: &str,
    keep: Option<&str>,
) -> std::result::Result<Vec<String>, StoreError> {
    store.write(|tx| revoke_all_except_in(tx, username, keep))
}

pub(crate) fn delete_tokens_in(tx: &mut Tx, username: &str) -> std::result::Result<(), StoreError> {
    for (k, t) in tx.list::<TokenRecord>(Table::Tokens)? {
        if t.username == username {
            tx.delete(Table::Tokens, &k)?;
            tx.delete_token_hash(&t.hash)?;
        }
    }
    Ok(())
}

/// Drops expired sessions (at startup).
pub fn purge_expired(store: &Store) -> std::result::Result<usize, StoreError> {
    let now = Utc::now();
    store.write(|tx| {
        let mut n = 0;
        for (k, s) in tx.list::<SessionRecord>(Table::Sessions)? {
            if s.expires_at <= now {
                tx.delete(Table::Sessions, &k)?;
                n += 1;
            }
        }
        Ok(n)
    })
}

/// Creates an API token; returns its record and the secret (shown once).
pub fn create_token(store: &Store, username: &str, name: &str) -> Result<(TokenRecord, String)> {
    let name = name.trim();
    let max = crate::limits::TOKEN_NAME_MAX_CHARS;
    if name.is_empty() || name.chars().count() > max || name.chars().any(|c| c.is_control()) {
        return Err(UserError::Invalid(format!(
            "token name must be 1-{max} printable characters"
        )));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_hex(32));
    let rec = TokenRecord {
        id: random_hex(8),
        name: name.into(),
        username: username.into(),
        hash: digest(&secret),
        created_at: Utc::now(),
    };
    store.write(|tx| {
        tx.put(Table::Tokens, &rec.id, &rec)?;
        tx.put_token_hash(&rec.hash, &rec.id)?;
        Ok::<_, UserError>(())
    })?;
    Ok((rec, secret))
}

pub fn tokens_of(store: &Store, username: &str) -> Result<Vec<TokenView>> {
    let mut v: Vec<TokenView> = store
        .list_json::<TokenRecord>(Table::Tokens)?
        .into_iter()
        .filter(|(_, t)| t.username == username)
        .map(|(_, t)| TokenView {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
        })
        .collect();
    v.sort_by_key(|t| t.created_at);
    Ok(v)
}

/// Revokes one of `username`'s tokens and returns its digest. Someone else's token is
/// reported as missing.
pub fn revoke_token(store: &Store, username: &str, id: &str) -> Result<String> {
    store.write(|tx| match tx.get::<TokenRecord>(Table::Tokens, id)? {
        Some(t) if t.username == username => {
            tx.delete(Table::Tokens, id)?;
            tx.delete_token_hash(&t.hash)?;
            Ok(t.hash)
        }
        _ => Err(UserError::TokenNotFound(id.into())),
    })
}

/// Whether a token digest still belongs to a live token.
pub fn token_live(store: &Store, digest: &str) -> std::result::Result<bool, StoreError> {
    Ok(store.token_id_by_hash(digest)?.is_some())
}

/// The owner of a presented token secret.
pub fn token_owner(store: &Store, secret: &str) -> std::result::Result<Option<String>, StoreError> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
        return Ok(None);
    }
    let Some(id) = store.token_id_by_hash(&digest(secret))? else {
        return Ok(None);
    };
    Ok(store
        .get_json::<TokenRecord>(Table::Tokens, &id)?
        .map(|t| t.username))
}
