//! User accounts: records in redb and the rules around them (names, roles, grants, the
//! last administrator). Used by the API, the CLI (online and offline) and header auto-create.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{password, sessions};
use crate::access::{Level, Role};
use crate::store::{Store, Table, Tx};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRecord {
    pub username: String,
    /// Argon2id PHC string; `None` for external (header-authenticated) users.
    #[serde(default)]
    pub password_hash: Option<String>,
    pub role: Role,
    /// Grants by profile id or `*`.
    #[serde(default)]
    pub permissions: BTreeMap<String, Level>,
    pub created_at: DateTime<Utc>,
    /// The password is still the one generated at first start (printed in the log): the UI
    /// asks to change it. Cleared by every password change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generated_password: bool,
}

impl UserRecord {
    pub fn is_external(&self) -> bool {
        self.password_hash.is_none()
    }
}

/// What the API and CLI show of a user (never the hash).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub username: String,
    pub role: String,
    /// No local password: authenticated by the reverse proxy.
    pub external: bool,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    pub permissions: BTreeMap<String, Level>,
    pub created_at: DateTime<Utc>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            username: u.username.clone(),
            role: u.role.as_str().into(),
            external: u.is_external(),
            permissions: u.permissions.clone(),
            created_at: u.created_at,
        }
    }
}

pub use super::error::{Result, UserError};

/// Characters that render as nothing or reorder text: they would let `ad\u{200B}min` pass
/// for `admin` (Unicode general category Cf, plus unusual spaces).
fn invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
        || (c.is_whitespace() && c != ' ')
}

/// Usernames: 1–128 bytes, printable (no control or invisible characters), no surrounding
/// spaces, no commas (a comma would look like several header values joined).
pub fn check_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= crate::limits::USERNAME_MAX_BYTES
        && name.trim() == name
        && !name.contains(',')
        && !name.chars().any(|c| c.is_control() || invisible(c));
    if ok {
        Ok(())
    } else {
        Err(UserError::Invalid(format!(
            "username '{}' is invalid: use 1-128 printable characters without commas or surrounding spaces",
            name.escape_default()
        )))
    }
}

pub fn get(store: &Store, name: &str) -> Result<Option<UserRecord>> {
    Ok(store.get_json(Table::Users, name)?)
}

pub fn list(store: &Store) -> Result<Vec<UserRecord>> {
    Ok(store
        .list_json::<UserRecord>(Table::Users)?
        .into_iter()
        .map(|(_, u)| u)
        .collect())
}

pub(super) fn load(tx: &Tx, name: &str) -> Result<UserRecord> {
    tx.get(Table::Users, name)?
        .ok_or_else(|| UserError::NotFound(name.into()))
}

pub(super) fn admins(tx: &Tx) -> Result<usize> {
    Ok(tx
        .list::<UserRecord>(Table::Users)?
        .iter()
        .filter(|(_, u)| u.role == Role::Admin)
        .count())
}

pub fn create(
    store: &Store,
    name: &str,
    password: Option<&str>,
    role: Role,
    permissions: BTreeMap<String, Level>,
) -> Result<UserRecord> {
    check_username(name)?;
    let password_hash = match password {
        Some(p) => {
            password::check_new(p).map_err(UserError::Invalid)?;
            Some(password::hash(p).map_err(UserError::Hash)?)
        }
        None => None,
    };
    store.write(|tx| {
        if tx.get::<UserRecord>(Table::Users, name)?.is_some() {
            return Err(UserError::Exists(name.into()));
        }
        let u = UserRecord {
            username: name.into(),
            password_hash,
            role,
            permissions,
            created_at: Utc::now(),
            generated_password: false,
        };
        tx.put(Table::Users, name, &u)?;
        Ok(u)
    })
}

/// Deletes a user with its sessions and tokens; the last admin is kept.
pub fn delete(store: &Store, name: &str) -> Result<()> {
    store.write(|tx| {
        let u = load(tx, name)?;
        if u.role == Role::Admin && admins(tx)? <= 1 {
            return Err(UserError::LastAdmin(
                "the last administrator cannot be deleted".into(),
            ));
        }
        tx.delete(Table::Users, name)?;
        tx.delete(Table::Preferences, name)?;
        tx.delete(Table::Labels, name)?;
        sessions::revoke_all_in(tx, name)?;
        sessions::delete_tokens_in(tx, name)?;
        Ok(())
    })
}

/// Grants that auto-created (and re-synchronized) external users get.
pub fn auto_permissions(role: Role, level: Level) -> BTreeMap<String, Level> {
    let mut m = BTreeMap::new();
    if role == Role::User && level != Level::None {
        m.insert("*".to_string(), level);
    }
    m
}

/// Brings a passwordless external user in line with the auto-create variables. Writes only
/// when something changed.
pub fn sync_external(
    store: &Store,
    u: &UserRecord,
    role: Role,
    level: Level,
) -> Result<UserRecord> {
    let perms = auto_permissions(role, level);
    if u.role == role && u.permissions == perms {
        return Ok(u.clone());
    }
    store.write(|tx| {
        let mut cur = load(tx, &u.username)?;
        if !cur.is_external() {
            return Ok(cur);
        }
        if cur.role == Role::Admin && role != Role::Admin && admins(tx)? <= 1 {
            // Never lock the box out by demoting its only admin through a header.
            return Ok(cur);
        }
        cur.role = role;
        cur.permissions = perms;
        tx.put(Table::Users, &cur.username, &cur)?;
        Ok(cur)
    })
}

/// First start: an `admin` with a random password, returned so it can be printed once.
pub fn ensure_initial_admin(store: &Store) -> Result<Option<String>> {
    if !list(store)?.is_empty() {
        return Ok(None);
    }
    let pw = password::generate();
    let mut u = create(store, "admin", Some(&pw), Role::Admin, BTreeMap::new())?;
    u.generated_password = true;
    store.write(|tx| tx.put(Table::Users, "admin", &u))?;
    Ok(Some(pw))
}
