//! Identity and access: one resolver turns a request into an `Identity`, and every handler
//! checks its permission through `Identity::require`. Today only the auth-disabled mode is
//! implemented (every request is the bypass user, an admin); providers plug in here.

use std::collections::HashMap;
use std::net::SocketAddr;

use http::request::Parts;

use crate::config::{AuthProvider, Level, Role};
use crate::http::ApiError;
use crate::state::AppState;

/// Who is asking, resolved once per request or socket event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub username: String,
    pub role: Role,
    pub provider: AuthProvider,
    pub bypass: bool,
    /// Per-profile grants (`*` = every profile) for role `user`.
    pub permissions: HashMap<String, Level>,
}

/// What an operation needs on a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
}

impl Identity {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin || self.bypass
    }

    /// The caller's level on a profile (`admin` rights map to `Full`).
    pub fn level(&self, profile: &str) -> Level {
        if self.is_admin() {
            return Level::Full;
        }
        self.permissions
            .get(profile)
            .or_else(|| self.permissions.get("*"))
            .copied()
            .unwrap_or(Level::None)
    }

    /// Profiles without access answer 404 (they do not exist for this caller); read-only
    /// ones refuse writes with 403.
    pub fn require(&self, profile: &str, need: Need) -> Result<(), ApiError> {
        match (self.level(profile), need) {
            (Level::None, _) => Err(ApiError::not_found(
                "profile_not_found",
                format!("profile '{profile}' does not exist"),
            )),
            (Level::Ro, Need::Write) => Err(ApiError::forbidden(format!(
                "you have read-only access to profile '{profile}'"
            ))),
            _ => Ok(()),
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this action requires an administrator".to_string(),
            ))
        }
    }
}

/// The resolver (SPEC §3 order). Providers other than "disabled" arrive with the auth issue.
pub fn resolve(
    state: &AppState,
    _parts: &Parts,
    _peer: Option<SocketAddr>,
) -> Result<Identity, ApiError> {
    let cfg = &state.config;
    if !cfg.auth_enable {
        return Ok(Identity {
            username: cfg.bypass_user.clone(),
            role: Role::Admin,
            provider: cfg.auth_provider,
            bypass: true,
            permissions: HashMap::new(),
        });
    }
    Err(ApiError::unauthorized(
        "authentication is required (login is not available in this build yet; set PYTORRENT_AUTH_ENABLE=false on a trusted network)",
    ))
}

impl axum::extract::FromRequestParts<AppState> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        resolve(state, parts, peer)
    }
}
