//! The error of account changes (users, sessions, tokens): its own module so that
//! `users` and `sessions` share it without importing each other.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("user '{0}' does not exist")]
    NotFound(String),
    #[error("token {0} does not exist")]
    TokenNotFound(String),
    #[error("user '{0}' already exists")]
    Exists(String),
    #[error("{0}")]
    LastAdmin(String),
    #[error("profile '{0}' does not exist")]
    UnknownProfile(String),
    /// Argon2 failed: not the caller's fault (an internal error).
    #[error("hashing the password failed")]
    Hash(#[source] argon2::password_hash::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, UserError>;
