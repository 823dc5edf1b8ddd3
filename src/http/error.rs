//! The one mapping from domain errors to HTTP: status + `{"error":{"code","message"}}`.
//! Causes of 5xx are logged here and replaced by a generic message for the client.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::auth::request::OriginRejected;
use crate::auth::users::UserError;
use crate::auth::{AccessError, Denied};
use crate::config::Config;
use crate::engine::EngineError;
use crate::limits::{Field, LimitError};
use crate::store::StoreError;

/// The body of every error answer (the OpenAPI schema of all 4xx and 5xx responses).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_input`, `torrent_not_found`.
    pub code: ErrorCode,
    /// One human-readable line; it states the limit when an input is outside one.
    pub message: String,
}

/// Declares every error code once: its name in the API and its HTTP status.
macro_rules! error_codes {
    ($($variant:ident = $code:literal => $status:ident,)*) => {
        /// Stable machine-readable error codes; each has one HTTP status.
        // The API names are the variants in snake_case (a unit test checks they match the
        // names declared here); utoipa does not see `rename`s made inside a macro.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

error_codes! {
    BadRequest = "bad_request" => BAD_REQUEST,
    Busy = "busy" => SERVICE_UNAVAILABLE,
    Conflict = "conflict" => CONFLICT,
    DownloadDirInvalid = "download_dir_invalid" => BAD_REQUEST,
    DuplicateHost = "duplicate_host" => BAD_REQUEST,
    DuplicateTorrent = "duplicate_torrent" => CONFLICT,
    ExternalProvider = "external_provider" => CONFLICT,
    FetchFailed = "fetch_failed" => BAD_REQUEST,
    FileConflict = "file_conflict" => CONFLICT,
    FileNotFound = "file_not_found" => NOT_FOUND,
    Forbidden = "forbidden" => FORBIDDEN,
    HeaderRejected = "header_rejected" => FORBIDDEN,
    HeadersTooLarge = "headers_too_large" => REQUEST_HEADER_FIELDS_TOO_LARGE,
    HostRejected = "host_rejected" => MISDIRECTED_REQUEST,
    InsufficientStorage = "insufficient_storage" => INSUFFICIENT_STORAGE,
    Internal = "internal" => INTERNAL_SERVER_ERROR,
    InvalidHash = "invalid_hash" => BAD_REQUEST,
    InvalidInput = "invalid_input" => BAD_REQUEST,
    InvalidJson = "invalid_json" => BAD_REQUEST,
    InvalidMagnet = "invalid_magnet" => BAD_REQUEST,
    InvalidMultipart = "invalid_multipart" => BAD_REQUEST,
    InvalidPassword = "invalid_password" => BAD_REQUEST,
    InvalidPath = "invalid_path" => BAD_REQUEST,
    InvalidPreferences = "invalid_preferences" => BAD_REQUEST,
    InvalidQuery = "invalid_query" => BAD_REQUEST,
    InvalidSessionId = "invalid_session_id" => BAD_REQUEST,
    InvalidTorrent = "invalid_torrent" => BAD_REQUEST,
    InvalidUrl = "invalid_url" => BAD_REQUEST,
    LastAdmin = "last_admin" => CONFLICT,
    MethodNotAllowed = "method_not_allowed" => METHOD_NOT_ALLOWED,
    MoveFailed = "move_failed" => CONFLICT,
    NoAccount = "no_account" => CONFLICT,
    NoLocalPassword = "no_local_password" => CONFLICT,
    NotDownloaded = "not_downloaded" => CONFLICT,
    NotFound = "not_found" => NOT_FOUND,
    OriginRejected = "origin_rejected" => FORBIDDEN,
    PathEscape = "path_escape" => BAD_REQUEST,
    PathEscapesProfile = "path_escapes_profile" => BAD_REQUEST,
    PayloadTooLarge = "payload_too_large" => PAYLOAD_TOO_LARGE,
    PreferencesTooLarge = "preferences_too_large" => PAYLOAD_TOO_LARGE,
    RangeNotSatisfiable = "range_not_satisfiable" => RANGE_NOT_SATISFIABLE,
    ProfileNotEmpty = "profile_not_empty" => CONFLICT,
    ProfileNotFound = "profile_not_found" => NOT_FOUND,
    SessionNotFound = "session_not_found" => NOT_FOUND,
    StorageUnavailable = "storage_unavailable" => SERVICE_UNAVAILABLE,
    TokenNotFound = "token_not_found" => NOT_FOUND,
    TooManyAttempts = "too_many_attempts" => TOO_MANY_REQUESTS,
    TorrentNotFound = "torrent_not_found" => NOT_FOUND,
    Unauthorized = "unauthorized" => UNAUTHORIZED,
    UnknownAction = "unknown_action" => NOT_FOUND,
    UnknownUser = "unknown_user" => FORBIDDEN,
    UnsupportedMediaType = "unsupported_media_type" => UNSUPPORTED_MEDIA_TYPE,
    UriTooLong = "uri_too_long" => URI_TOO_LONG,
    UserExists = "user_exists" => CONFLICT,
    UserNotFound = "user_not_found" => NOT_FOUND,
    WrongPassword = "wrong_password" => FORBIDDEN,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
    /// What went wrong inside (5xx): logged once, when the answer is sent, never sent.
    cause: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// Keeps `cause` for the server log.
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string());
        self
    }

    /// Logs the cause of a server-side failure; called once per answer (HTTP or feed).
    pub fn log_cause(&self) {
        if let Some(c) = &self.cause {
            tracing::error!(code = self.code.as_str(), "{c}");
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::Internal,
            "an internal error occurred; see the server log",
        )
        .with_cause(format!("internal error: {cause}"))
    }
}

impl ApiError {
    /// A request the resolver could not attach to anyone.
    pub fn denied(d: &Denied, cfg: &Config) -> ApiError {
        let msg = d.message(cfg);
        match d {
            Denied::BadHeader(_) => ApiError::new(ErrorCode::HeaderRejected, msg),
            Denied::UnknownUser(_) => ApiError::new(ErrorCode::UnknownUser, msg),
            Denied::Internal(cause) => ApiError::internal(cause),
            _ => ApiError::unauthorized(msg),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        let msg = e.to_string();
        match e {
            // An invisible profile does not exist for the caller.
            AccessError::Invisible(_) => ApiError::new(ErrorCode::ProfileNotFound, msg),
            AccessError::ReadOnly(_) | AccessError::AdminOnly => ApiError::forbidden(msg),
        }
    }
}

impl From<OriginRejected> for ApiError {
    fn from(e: OriginRejected) -> Self {
        ApiError::new(ErrorCode::OriginRejected, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_cause();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the oversized body is not read, so this connection cannot carry
            // another request: tell the client not to reuse it.
            resp.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(s));
        }
        resp
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        use EngineError as E;
        let msg = e.to_string();
        match e {
            E::InvalidMagnet(_) => Self::new(ErrorCode::InvalidMagnet, msg),
            E::InvalidTorrent(_) => Self::new(ErrorCode::InvalidTorrent, msg),
            E::InvalidUrl(_) => Self::new(ErrorCode::InvalidUrl, msg),
            E::FetchFailed(_) => Self::new(ErrorCode::FetchFailed, msg),
            E::ProfileNotFound(_) => Self::new(ErrorCode::ProfileNotFound, msg),
            E::TorrentNotFound(_) => Self::new(ErrorCode::TorrentNotFound, msg),
            E::FileNotFound(_) => Self::new(ErrorCode::FileNotFound, msg),
            E::CreationNotFound(_) => Self::new(ErrorCode::NotFound, msg),
            E::Busy(_) => {
                let mut e = Self::new(ErrorCode::Busy, msg);
                e.retry_after = Some(2);
                e
            }
            E::Duplicate { .. } => Self::new(ErrorCode::DuplicateTorrent, msg),
            E::DownloadDirInvalid(_) => Self::new(ErrorCode::DownloadDirInvalid, msg),
            E::PathEscape(_) => Self::new(ErrorCode::PathEscape, msg),
            E::PathEscapesProfile(_) => Self::new(ErrorCode::PathEscapesProfile, msg),
            E::FileConflict(_) => Self::new(ErrorCode::FileConflict, msg),
            E::Invalid(_) => Self::new(ErrorCode::InvalidInput, msg),
            E::Limit(l) => l.into(),
            E::Conflict(_) => Self::new(ErrorCode::Conflict, msg),
            E::MoveFailed { .. } => Self::new(ErrorCode::MoveFailed, msg),
            E::ProfileNotEmpty(_) => Self::new(ErrorCode::ProfileNotEmpty, msg),
            E::Store(e) => Self::from(e),
            E::Internal(e) => Self::internal(e),
            E::Failed { .. } => Self::internal(msg),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        let msg = e.to_string();
        match e {
            UserError::Invalid(_) => ApiError::new(ErrorCode::InvalidInput, msg),
            UserError::NotFound(_) => ApiError::new(ErrorCode::UserNotFound, msg),
            UserError::TokenNotFound(_) => ApiError::new(ErrorCode::TokenNotFound, msg),
            UserError::Exists(_) => ApiError::new(ErrorCode::UserExists, msg),
            UserError::LastAdmin(_) => ApiError::new(ErrorCode::LastAdmin, msg),
            UserError::UnknownProfile(_) => ApiError::new(ErrorCode::ProfileNotFound, msg),
            UserError::Hash(cause) => ApiError::internal(format!("{msg}: {cause}")),
            UserError::Store(e) => ApiError::from(e),
        }
    }
}

impl From<LimitError> for ApiError {
    fn from(e: LimitError) -> Self {
        let code = match e.field {
            Field::Magnet => ErrorCode::InvalidMagnet,
            Field::Url => ErrorCode::InvalidUrl,
            _ => ErrorCode::InvalidInput,
        };
        Self::new(code, e.message)
    }
}

impl From<crate::webhooks::WebhookError> for ApiError {
    fn from(e: crate::webhooks::WebhookError) -> Self {
        use crate::webhooks::WebhookError as W;
        match e {
            W::Invalid(m) => Self::new(ErrorCode::InvalidInput, m),
            W::NotFound(_) => Self::new(ErrorCode::NotFound, e.to_string()),
            W::TooMany => Self::new(ErrorCode::Conflict, e.to_string()),
            W::Store(s) => s.into(),
        }
    }
}

impl From<crate::rss::RssError> for ApiError {
    fn from(e: crate::rss::RssError) -> Self {
        use crate::rss::RssError as R;
        match e {
            R::Invalid(m) => Self::new(ErrorCode::InvalidInput, m),
            R::FeedNotFound(_) | R::RuleNotFound(_) => {
                Self::new(ErrorCode::NotFound, e.to_string())
            }
            R::ProfileNotFound(_) => Self::new(ErrorCode::ProfileNotFound, e.to_string()),
            R::TooMany(..) => Self::new(ErrorCode::Conflict, e.to_string()),
            R::Store(s) => s.into(),
        }
    }
}

impl From<crate::backup::BackupError> for ApiError {
    fn from(e: crate::backup::BackupError) -> Self {
        use crate::backup::BackupError as B;
        match e {
            B::Refused(m) => Self::new(ErrorCode::InvalidInput, m),
            B::NoFolder => Self::new(ErrorCode::Conflict, e.to_string()),
            B::Store(s) => s.into(),
            io @ B::Io { .. } => Self::internal(io.to_string()),
        }
    }
}

/// Storage faults are not the caller's fault and not a bug either: a full data disk is 507
/// `insufficient_storage`, any other I/O failure of the database 503 `storage_unavailable`,
/// both with `Retry-After` because the same request succeeds once the disk recovers (the
/// store reopens itself; see docs/reliability.md). Nothing was saved in either case.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSpace(_) => ApiError {
                retry_after: Some(30),
                ..Self::new(
                    ErrorCode::InsufficientStorage,
                    "the server's data disk is full, so nothing was saved; free space on it and retry",
                )
                .with_cause(format!("database write failed: {e}"))
            },
            StoreError::Unavailable(_) | StoreError::PreviousIo => ApiError {
                retry_after: Some(5),
                ..Self::new(
                    ErrorCode::StorageUnavailable,
                    "the database failed to write after an I/O error, so nothing was saved; retry shortly (details in the server log)",
                )
                .with_cause(format!("database unavailable: {e}"))
            },
            e => Self::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_snake_case_and_serialized_as_named() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            let name = c.as_str();
            assert!(seen.insert(name), "{name} declared twice");
            assert!(
                name.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{name} is not snake_case"
            );
            assert_eq!(serde_json::to_value(c).ok(), Some(serde_json::json!(name)));
            assert!(
                c.status().is_client_error() || c.status().is_server_error(),
                "{name}: {} is not an error status",
                c.status()
            );
        }
    }

    #[test]
    fn the_openapi_schema_lists_the_codes_as_sent() {
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema())
            .expect("schema as JSON");
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .expect("an enum schema")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let sent: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, sent);
    }

    #[test]
    fn the_status_comes_from_the_code() {
        let e = ApiError::new(ErrorCode::TorrentNotFound, "x");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: ApiError = crate::limits::check_magnet(&"x".repeat(100_000))
            .expect_err("over the limit")
            .into();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidMagnet)
        );
    }
}
