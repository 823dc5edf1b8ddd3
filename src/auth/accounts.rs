//! The accounts service: every change of a user account goes through here, whoever asks
//! (the HTTP API, the control socket of a running daemon, the offline CLI). A change is
//! validated whole, committed in one redb transaction, and then announced with an
//! [`AuthEvent`] so that the sessions and live-feed sockets of that user follow at once
//! (no events offline: no daemon runs, nobody holds a session).

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::error::{Result, UserError};
use super::users::{self, UserRecord};
use super::{AuthEvent, AuthState, password, sessions};
use crate::access::{Level, Role};
use crate::store::{Store, Table};

/// What an account change may set; each part is optional.
#[derive(Debug, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    /// A new password (the user's sessions end, except `keep` of [`Accounts::update`]).
    pub password: Option<String>,
    /// Grants: `Some(level)` sets one, `None` removes one.
    pub permissions: Option<BTreeMap<String, Option<Level>>>,
}

/// Which sessions a new password ends.
#[derive(Debug, Clone)]
pub enum SignOut {
    /// All of them, and every live-feed socket of the user (an administrator or the CLI
    /// set the password).
    Everywhere,
    /// All but the session whose digest is given (the owner changed their own password
    /// from it); only the sockets of the ended sessions close.
    AllBut(Option<String>),
}

/// Which profiles a grant may name (besides `*`).
pub type ProfileExists = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Cheap to clone: it moves into blocking tasks (password hashing) as a whole.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    events: Option<broadcast::Sender<AuthEvent>>,
    profile_exists: ProfileExists,
}

impl Accounts {
    /// `auth`: the running daemon's auth state, whose channel carries the events (None
    /// offline).
    pub fn new(store: Store, auth: Option<&AuthState>, profile_exists: ProfileExists) -> Self {
        Accounts {
            store,
            events: auth.map(|a| a.events.clone()),
            profile_exists,
        }
    }

    fn emit(&self, ev: AuthEvent) {
        if let Some(tx) = &self.events {
            let _ = tx.send(ev);
        }
    }

    /// Grants may name `*` or an existing profile; removing a grant is always possible (its
    /// profile may be gone).
    fn check_grants<'k>(&self, granted: impl IntoIterator<Item = &'k String>) -> Result<()> {
        for p in granted {
            if p != "*" && !(self.profile_exists)(p) {
                return Err(UserError::UnknownProfile(p.clone()));
            }
        }
        Ok(())
    }

    /// Every user, by name.
    pub fn list(&self) -> Result<Vec<UserRecord>> {
        let mut v = users::list(&self.store)?;
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    pub fn create(
        &self,
        name: &str,
        password: Option<&str>,
        role: Role,
        permissions: BTreeMap<String, Level>,
    ) -> Result<UserRecord> {
        self.check_grants(permissions.keys())?;
        users::create(&self.store, name, password, role, permissions)
    }

    /// Applies `change` to user `name` in one transaction, after checking all of it. A new
    /// password ends the user's sessions as `sign_out` says. Returns the user and the number
    /// of sessions ended.
    pub fn update(
        &self,
        name: &str,
        change: UserChange,
        sign_out: SignOut,
    ) -> Result<(UserRecord, usize)> {
        let keep = match &sign_out {
            SignOut::Everywhere => None,
            SignOut::AllBut(k) => k.as_deref(),
        };
        if let Some(perms) = &change.permissions {
            self.check_grants(perms.iter().filter(|(_, l)| l.is_some()).map(|(p, _)| p))?;
        }
        // Hashing is slow and cannot fail on the caller's input once checked: before the
        // transaction, so the write lock is held for the write only.
        let hash = match &change.password {
            Some(pw) => {
                password::check_new(pw).map_err(UserError::Invalid)?;
                Some(password::hash(pw).map_err(UserError::Hash)?)
            }
            None => None,
        };
        let (user, revoked) = self.store.write(|tx| {
            let mut u = users::load(tx, name)?;
            if let Some(role) = change.role {
                if u.role == Role::Admin && role != Role::Admin && users::admins(tx)? <= 1 {
                    return Err(UserError::LastAdmin(
                        "the last administrator cannot be demoted".into(),
                    ));
                }
                u.role = role;
            }
            if let Some(perms) = &change.permissions {
                for (p, l) in perms {
                    match l {
                        Some(l) => u.permissions.insert(p.clone(), *l),
                        None => u.permissions.remove(p),
                    };
                }
            }
            let mut revoked = None;
            if let Some(h) = &hash {
                u.password_hash = Some(h.clone());
                u.generated_password = false;
                revoked = Some(sessions::revoke_all_except_in(tx, name, keep)?);
            }
            tx.put(Table::Users, name, &u)?;
            Ok((u, revoked))
        })?;
        if change.role.is_some() || change.permissions.is_some() {
            self.emit(AuthEvent::UserChanged {
                username: name.to_owned(),
            });
        }
        let ended = revoked.as_ref().map_or(0, Vec::len);
        match (revoked, sign_out) {
            (Some(_), SignOut::Everywhere) => self.emit(AuthEvent::UserSessionsRevoked {
                username: name.to_owned(),
            }),
            (Some(list), SignOut::AllBut(_)) => {
                for credential in list {
                    self.emit(AuthEvent::CredentialRevoked { credential });
                }
            }
            (None, _) => {}
        }
        Ok((user, ended))
    }

    /// Deletes a user with their sessions and tokens.
    pub fn delete(&self, name: &str) -> Result<()> {
        users::delete(&self.store, name)?;
        self.emit(AuthEvent::UserSessionsRevoked {
            username: name.to_owned(),
        });
        Ok(())
    }

    /// Revokes one API token of `username`.
    pub fn revoke_token(&self, username: &str, id: &str) -> Result<()> {
        let credential = sessions::revoke_token(&self.store, username, id)?;
        self.emit(AuthEvent::CredentialRevoked { credential });
        Ok(())
    }

    /// Ends one session of `username` (by its digest); whether there was one.
    pub fn end_session(&self, username: &str, digest: &str) -> Result<bool> {
        let ended = sessions::revoke_own_session(&self.store, username, digest)?;
        if ended {
            self.emit(AuthEvent::CredentialRevoked {
                credential: digest.to_owned(),
            });
        }
        Ok(ended)
    }

    /// Ends every session of `username` but `keep`; how many ended.
    pub fn end_other_sessions(&self, username: &str, keep: Option<&str>) -> Result<usize> {
        let revoked = sessions::revoke_other_sessions(&self.store, username, keep)?;
        let n = revoked.len();
        for credential in revoked {
            self.emit(AuthEvent::CredentialRevoked { credential });
        }
        Ok(n)
    }

    /// Ends the session whose cookie value is `token`; the user it belonged to, if any.
    pub fn logout(&self, token: &str) -> Result<Option<String>> {
        let user = sessions::revoke_session(&self.store, token)?;
        if user.is_some() {
            self.emit(AuthEvent::CredentialRevoked {
                credential: sessions::digest(token),
            });
        }
        Ok(user)
    }
}
