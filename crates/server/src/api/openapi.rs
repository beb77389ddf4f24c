//! The OpenAPI document of the REST API and the verification endpoints,
//! generated from the handlers' annotations and the views' types, served at
//! `/v1/openapi.json`. A copy is committed as `docs/openapi.json`; a test
//! fails when it is stale.

use std::sync::OnceLock;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::state::AppState;

// The shapes below describe what handlers read and write by other means
// (the error type, extractors, hand-read queries); they exist for the
// document only, so their fields are never read.

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(serve))
}

/// The document as JSON, pretty-printed (it is committed and read in review).
pub fn document_json() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

async fn serve() -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| Bytes::from(document_json())).clone();
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// Any answer but the documented successes: the API's one error shape.
#[allow(dead_code)]
#[derive(Debug, utoipa::IntoResponses)]
#[response(status = "default", description = "An error, in the API's one error shape")]
pub struct Failure(#[to_schema] robots_api_types::ErrorBody);

/// An OAuth 2.0 error (RFC 6749 §5.2), as the token and introspection endpoints answer.
#[allow(dead_code)]
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    error: String,
    #[schema(nullable = false)]
    error_description: Option<String>,
}

/// `?limit=&cursor=` of every paged list.
#[allow(dead_code)]
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^([A-Za-z0-9_-]{4})*([A-Za-z0-9_-]{2,3})?$")]
    cursor: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgPath {
    /// The organization's name.
    #[param(example = "acme")]
    org: String,
}

#[allow(dead_code)]
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RobotPath {
    /// The organization's name.
    #[param(example = "acme")]
    org: String,
    /// The robot account's name.
    #[param(example = "deployer")]
    robot: String,
}

#[allow(dead_code)]
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// The organization's name.
    #[param(example = "acme")]
    org: String,
    /// The robot account's name.
    #[param(example = "deployer")]
    robot: String,
    /// The token's Access ID.
    access_id: uuid::Uuid,
}

#[allow(dead_code)]
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TeamPath {
    /// The organization's name.
    #[param(example = "acme")]
    org: String,
    /// The team's name.
    #[param(example = "ops")]
    team: String,
}

#[allow(dead_code)]
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RepositoryPath {
    /// The organization's name.
    #[param(example = "acme")]
    org: String,
    /// The repository's path inside the organization (may contain `/`).
    #[param(example = "apps/web")]
    repository: String,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user's session token (`rsn_…`) from `POST /v1/sessions`. Robots are refused on \
                         every route but `/v1/whoami` and the verification endpoints.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "robot",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("A robot token: the Access ID as username, the Token as password."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "robot_bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A robot's Token (`rbt_…`) alone."))
                    .build(),
            ),
        );
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Robot Accounts",
        description = "Robot accounts for organizations: identities for automation, with tokens shown once. \
                       Every error answers `{\"error\": {\"code\", \"message\", \"field\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Security),
    security(("session" = [])),
    tags(
        (name = "setup", description = "First run and user accounts"),
        (name = "sessions", description = "Logging in and out"),
        (name = "orgs", description = "Organizations and their members"),
        (name = "robots", description = "Robot accounts"),
        (name = "tokens", description = "Robot tokens: created (shown once), rotated, deleted"),
        (name = "access", description = "Teams, repositories and grants"),
        (name = "federation", description = "Federated credentials: CI jobs trading OIDC ID tokens for short-lived robot tokens"),
        (name = "audit", description = "Audit log, leaked-token reports and webhooks"),
        (name = "verification", description = "Endpoints other systems use to check robot credentials"),
    ),
    paths(
        super::setup::complete_setup,
        super::users::create_user,
        super::sessions::log_in,
        super::sessions::log_out,
        super::sessions::whoami,
        super::orgs::list_orgs,
        super::orgs::create_org,
        super::orgs::get_org,
        super::lifecycle::update_org,
        super::orgs::delete_org,
        super::members::list_members,
        super::members::set_member,
        super::members::remove_member,
        super::robots::list_robots,
        super::robots::create_robot,
        super::robots::get_robot,
        super::robots::update_robot,
        super::robots::delete_robot,
        super::lifecycle::disable_robot,
        super::lifecycle::enable_robot,
        super::access::robot_permissions,
        super::federation::list_credentials,
        super::federation::create_credential,
        super::federation::get_credential,
        super::federation::update_credential,
        super::federation::delete_credential,
        super::tokens::list_expiring,
        super::tokens::list_tokens,
        super::tokens::create_token,
        super::tokens::get_token,
        super::tokens::delete_token,
        super::tokens::rotate_token,
        super::access::list_teams,
        super::access::create_team,
        super::access::get_team,
        super::access::update_team,
        super::access::delete_team,
        super::access::add_user,
        super::access::remove_user,
        super::access::add_robot,
        super::access::remove_robot,
        super::access::set_grant,
        super::access::revoke_grant,
        super::access::list_repositories,
        super::access::create_repository,
        super::access::get_repository,
        super::access::delete_repository,
        super::lifecycle::org_audit,
        super::lifecycle::instance_audit,
        super::lifecycle::revoke_leaked,
        super::lifecycle::list_webhooks,
        super::lifecycle::create_webhook,
        super::lifecycle::delete_webhook,
        super::lifecycle::list_deliveries,
        crate::verification::auth_request::check,
        crate::verification::introspect::introspect,
        crate::verification::oauth::token,
        crate::verification::oauth::jwks,
        crate::verification::oauth::discovery,
        crate::verification::registry::token,
        crate::verification::keys::certificates,
        crate::verification::keys::list,
        crate::verification::keys::rotate,
    ),
    components(schemas(robots_api_types::ErrorBody, robots_api_types::ErrorDetail, robots_api_types::ErrorCode, OAuthError))
)]
pub struct ApiDoc;
