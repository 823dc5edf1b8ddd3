//! The access model: who may do what. A user has a [`Role`] (administrators manage users
//! and profiles) and, per profile, a [`Level`] of access; an [`AuthProvider`] says where
//! identities come from. Plain values with no dependencies: the configuration parses them,
//! the auth layer decides with them (docs/security.md).

/// Which external identity source is trusted (README "Authentication", docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthProvider {
    Local,
    Tinyauth,
    Proxy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

/// Per-profile access level. `rw` parses as `Full`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Ro,
    #[serde(alias = "rw")]
    Full,
}

impl AuthProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthProvider::Local => "local",
            AuthProvider::Tinyauth => "tinyauth",
            AuthProvider::Proxy => "proxy",
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Ro => "ro",
            Level::Full => "full",
        }
    }
}
