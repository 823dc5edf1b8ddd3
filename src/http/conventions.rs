//! The conventions every operation of the OpenAPI document shares, applied in one pass
//! after the per-handler annotations (which declare only their own success and domain
//! answers, e.g. 404 or 409):
//!
//! - security: a session cookie, a bearer API token or an `X-API-Key` token; the health
//!   check and the login are public;
//! - the answers of layers in front of every handler: 414 and 431 (request-head limits),
//!   400 and 421 (Host check), 401 and 403 (identity and permission) for non-public
//!   operations, 403 (Origin check) for unsafe methods, 413/415 for operations with a body
//!   (400 also covers malformed parameters and bodies);
//! - every 4xx and 5xx answer has the `ErrorBody` schema.
//!
//! The document is generated from the code, committed as `docs/openapi.json` (a test keeps
//! it current) and checked against the running daemon by schemathesis
//! (`tests/schemathesis/run.sh`).

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

/// Operations that need no identity.
const PUBLIC: &[&str] = &["/api/health", "/api/auth/login"];

pub struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, api: &mut OpenApi) {
        let comps = api.components.get_or_insert_with(Default::default);
        comps.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::sessions::COOKIE,
                "the session cookie set by POST /api/auth/login",
            ))),
        );
        comps.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "an API token (`pt_…`, from POST /api/tokens) as `Authorization: Bearer`",
                    ))
                    .build(),
            ),
        );
        comps.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "an API token (`pt_…`, from POST /api/tokens)",
            ))),
        );
        let none: [&str; 0] = [];
        api.security = Some(vec![
            SecurityRequirement::new("session", none),
            SecurityRequirement::new("bearer", none),
            SecurityRequirement::new("api_key", none),
        ]);

        exactly_one_source(comps);

        for (path, item) in api.paths.paths.iter_mut() {
            let public = PUBLIC.contains(&path.as_str());
            for (unsafe_method, op) in operations(item) {
                // 400: also a duplicate Host header, before any handler.
                let mut add: Vec<u16> = vec![400, 414, 421, 431];
                if public {
                    // An empty requirement: no credentials needed.
                    op.security = Some(vec![SecurityRequirement::default()]);
                } else {
                    add.extend([401, 403]);
                }
                if unsafe_method {
                    add.push(403);
                }
                if op.request_body.is_some() {
                    add.extend([413, 415]);
                }
                for code in add {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| RefOr::T(Response::new(describe(code))));
                }
                for (code, resp) in op.responses.responses.iter_mut() {
                    if let RefOr::T(r) = resp
                        && (code.starts_with('4') || code.starts_with('5'))
                    {
                        if r.description.is_empty() {
                            r.description = describe(code.parse().unwrap_or(0)).into();
                        }
                        r.content.insert(
                            "application/json".into(),
                            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                        );
                    }
                }
            }
        }
    }
}

/// The operations of a path, each with whether its method is unsafe (CSRF-checked).
fn operations(item: &mut PathItem) -> Vec<(bool, &mut Operation)> {
    [
        (false, item.get.as_mut()),
        (true, item.post.as_mut()),
        (true, item.put.as_mut()),
        (true, item.patch.as_mut()),
        (true, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(u, op)| op.map(|op| (u, op)))
    .collect()
}

fn describe(code: u16) -> &'static str {
    match code {
        400 => "invalid input, parameters or body (the message says which and why)",
        401 => "no identity: not logged in, or the API token is invalid or revoked",
        403 => {
            "not allowed: missing permission, rejected proxy header, or a cross-origin unsafe request"
        }
        404 => "not found (or not visible to the caller)",
        409 => "conflicts with the current state",
        413 => "the request body is larger than 10 MiB",
        414 => "the request target is longer than 8 KiB",
        415 => "the body is not JSON (`Content-Type: application/json` expected)",
        421 => "the Host header names no host this server answers to",
        429 => "too many failed logins from this address; retry after `Retry-After` seconds",
        431 => "the request head has more than 100 header fields or more than 64 KiB",
        _ => "error",
    }
}

/// A user's role as the API spells it (schema only; the value is `access::Role`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RoleName {
    User,
    Admin,
}

/// A per-profile access level as the API accepts it (`rw` is the same as `full`; schema
/// only, the value is `access::Level`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum LevelName {
    None,
    Ro,
    Rw,
    Full,
}

/// `UserPatch.permissions`: an optional map from profile id to a level or `null`.
pub(crate) fn grants_patch_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Null]))
        .additional_properties(Some(Schema::OneOf(
            OneOfBuilder::new()
                .item(Ref::from_schema_name("LevelName"))
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .build(),
        )))
        .description(Some("Grants to set; `null` removes one."))
        .build()
}

/// `AddJson` needs exactly one of `magnet` and `url` as a string: the derived object schema
/// is combined (`allOf`) with a `oneOf` that says so.
fn exactly_one_source(comps: &mut utoipa::openapi::Components) {
    use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    let Some(derived) = comps.schemas.remove("AddJson") else {
        return;
    };
    let one = |field: &str| {
        ObjectBuilder::new()
            .property(field, ObjectBuilder::new().schema_type(Type::String))
            .required(field)
    };
    let combined = AllOfBuilder::new()
        .item(derived)
        .item(Schema::OneOf(
            OneOfBuilder::new()
                .item(one("magnet"))
                .item(one("url"))
                .build(),
        ))
        .description(Some(
            "Exactly one of `magnet` and `url`; .torrent files are uploaded as multipart/form-data instead.",
        ))
        .build();
    comps
        .schemas
        .insert("AddJson".into(), RefOr::T(Schema::AllOf(combined)));
}
