//! Extractors: the caller's [`Identity`] and the direct peer, and JSON/path/query extractors
//! whose rejections use our JSON error body instead of axum's plain text. Also how the auth
//! layer reads HTTP headers ([`RequestHeaders`] for `HeaderMap`).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::StatusCode;
use http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ApiError, ErrorCode};
use crate::auth::{Identity, RequestHeaders, resolve};
use crate::state::AppState;

impl RequestHeaders for http::HeaderMap {
    fn values(&self, name: &str) -> Vec<&[u8]> {
        self.get_all(name).iter().map(|v| v.as_bytes()).collect()
    }

    fn names(&self) -> Vec<&str> {
        self.keys().map(|k| k.as_str()).collect()
    }
}

/// The direct peer of a request (set by the server's `ConnectInfo`).
pub fn peer_of(parts: &Parts) -> Option<std::net::SocketAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
}

/// The caller, resolved once per request (kept in the request's extensions).
impl FromRequestParts<AppState> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(id) = parts.extensions.get::<Identity>() {
            return Ok(id.clone());
        }
        let peer = peer_of(parts);
        let id = resolve(&state.config, &state.store, &parts.headers, peer)
            .map_err(|d| ApiError::denied(&d, &state.config))?;
        parts.extensions.insert(id.clone());
        Ok(id)
    }
}

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(json_rejection(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    too_large()
                } else {
                    ApiError::new(ErrorCode::InvalidJson, e.body_text())
                }
            })?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r @ JsonRejection::JsonDataError(_)) => {
                // JSON Schema counts `168.0` as the integer 168 (clients such as schemathesis
                // send it); serde does not. Whole floats are read as integers before giving up.
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|mut v| whole_floats_to_integers(&mut v).then_some(v))
                    .and_then(|v| serde_json::from_value::<T>(v).ok())
                    .map(ApiJson)
                    .ok_or_else(|| json_rejection(r))
            }
            Err(r) => Err(json_rejection(r)),
        }
    }
}

/// `Content-Type: application/json` or `application/…+json` (what axum's `Json` accepts).
fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Turns every float with no fractional part (within ±2^53) into an integer; true when
/// something changed.
fn whole_floats_to_integers(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *v = Value::from(i);
                true
            } else {
                false
            }
        }
        Value::Array(a) => a
            .iter_mut()
            .fold(false, |c, x| whole_floats_to_integers(x) | c),
        Value::Object(o) => o
            .values_mut()
            .fold(false, |c, x| whole_floats_to_integers(x) | c),
        _ => false,
    }
}

pub(crate) fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected a JSON body with 'Content-Type: application/json'",
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            ErrorCode::InvalidJson,
            format!("invalid request body: {}", e.body_text()),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            ErrorCode::InvalidJson,
            format!("malformed JSON: {}", e.body_text()),
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            too_large()
        }
        other => ApiError::new(ErrorCode::InvalidJson, other.body_text()),
    }
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        "the request body is larger than the 10 MiB limit",
    )
}

pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| ApiError::new(ErrorCode::InvalidPath, e.body_text()))
    }
}

pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::new(ErrorCode::InvalidQuery, e.body_text()))
    }
}

/// A torrent's info hash from the path: 40 hex digits, normalized to lowercase.
pub fn parse_hash(s: &str) -> Result<String, ApiError> {
    if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidHash,
            format!("'{s}' is not an info hash (40 hexadecimal characters)"),
        ))
    }
}

/// Tells "field absent" (outer None) from "field: null" (Some(None)) in PATCH bodies.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// A nested object field that must be a JSON object (serde would also take an array for a
/// struct, which the schema does not allow).
pub fn object_only<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let v = serde_json::Value::deserialize(d)?;
    if !v.is_object() {
        return Err(D::Error::custom("expected an object"));
    }
    serde_json::from_value(v).map_err(D::Error::custom)
}
