//! The one mapping from domain errors to HTTP: status + `{"error":{"code","message"}}`.
//! Causes of 5xx are logged here and replaced by a generic message for the client.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::auth::request::OriginRejected;
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
    pub code: String,
    /// One human-readable line; it states the limit when an input is outside one.
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; see the server log",
        )
    }
}

impl ApiError {
    /// A request the resolver could not attach to anyone.
    pub fn denied(d: &Denied, cfg: &Config) -> ApiError {
        let msg = d.message(cfg);
        match d {
            Denied::BadHeader(_) => ApiError::new(StatusCode::FORBIDDEN, "header_rejected", msg),
            Denied::UnknownUser(_) => ApiError::new(StatusCode::FORBIDDEN, "unknown_user", msg),
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
            AccessError::Invisible(_) => ApiError::not_found("profile_not_found", msg),
            AccessError::ReadOnly(_) | AccessError::AdminOnly => ApiError::forbidden(msg),
        }
    }
}

impl From<OriginRejected> for ApiError {
    fn from(e: OriginRejected) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "origin_rejected", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
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
            E::InvalidMagnet(_) => Self::bad_request("invalid_magnet", msg),
            E::InvalidTorrent(_) => Self::bad_request("invalid_torrent", msg),
            E::InvalidUrl(_) => Self::bad_request("invalid_url", msg),
            E::FetchFailed(_) => Self::bad_request("fetch_failed", msg),
            E::ProfileNotFound(_) => Self::not_found("profile_not_found", msg),
            E::TorrentNotFound(_) => Self::not_found("torrent_not_found", msg),
            E::Duplicate { .. } => Self::new(StatusCode::CONFLICT, "duplicate_torrent", msg),
            E::DownloadDirInvalid(_) => Self::bad_request("download_dir_invalid", msg),
            E::PathEscape(_) => Self::bad_request("path_escape", msg),
            E::PathEscapesProfile(_) => Self::bad_request("path_escapes_profile", msg),
            E::FileConflict(_) => Self::new(StatusCode::CONFLICT, "file_conflict", msg),
            E::Invalid(_) => Self::bad_request("invalid_input", msg),
            E::Limit(l) => l.into(),
            E::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", msg),
            E::MoveFailed(_) => Self::new(StatusCode::CONFLICT, "move_failed", msg),
            E::ProfileNotEmpty(_) => Self::new(StatusCode::CONFLICT, "profile_not_empty", msg),
            E::Store(e) => Self::from(e),
            E::Internal(e) => Self::internal(e),
        }
    }
}

impl From<LimitError> for ApiError {
    fn from(e: LimitError) -> Self {
        let code = match e.field {
            Field::Magnet => "invalid_magnet",
            Field::Url => "invalid_url",
            _ => "invalid_input",
        };
        Self::bad_request(code, e.message)
    }
}

/// Storage faults are not the caller's fault and not a bug either: a full data disk is 507
/// `insufficient_storage`, any other I/O failure of the database 503 `storage_unavailable`,
/// both with `Retry-After` because the same request succeeds once the disk recovers (the
/// store reopens itself; see docs/reliability.md). Nothing was saved in either case.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSpace(_) => {
                tracing::error!("database write failed: {e}");
                ApiError {
                    retry_after: Some(30),
                    ..Self::new(
                        StatusCode::INSUFFICIENT_STORAGE,
                        "insufficient_storage",
                        "the server's data disk is full, so nothing was saved; free space on it and retry",
                    )
                }
            }
            StoreError::Unavailable(_) | StoreError::PreviousIo => {
                tracing::error!("database unavailable: {e}");
                ApiError {
                    retry_after: Some(5),
                    ..Self::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage_unavailable",
                        "the database failed to write after an I/O error, so nothing was saved; retry shortly (details in the server log)",
                    )
                }
            }
            e => Self::internal(e),
        }
    }
}
