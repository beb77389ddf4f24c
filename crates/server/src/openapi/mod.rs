//! The OpenAPI document of the REST API and the verification endpoints.
//! Routes are registered through `utoipa_axum`'s `OpenApiRouter`: each
//! handler brings its `#[utoipa::path]` annotation and the schemas of the
//! wire types it names (`robots_api_types`), so the document is made from
//! the router itself. It is served at `/v1/openapi.json`; a copy is
//! committed as `docs/openapi.json`, and a test fails when it is stale.

pub mod shapes;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The routes, and `GET /v1/openapi.json` answering the document they
/// make: each handler's annotation and the schemas of the types it names.
/// What is routed and what is documented come from the same list, so they
/// cannot drift apart.
pub fn with_document(routes: OpenApiRouter<AppState>) -> Router<AppState> {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes)
        .split_for_parts();
    let body = Bytes::from(pretty(&document));
    router.route(
        "/v1/openapi.json",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
        }),
    )
}

/// The document of a server with the default configuration, as committed
/// in `docs/openapi.json`.
pub fn document_json() -> String {
    let defaults = crate::ServerConfig::new(([127, 0, 0, 1], 0).into());
    let routes = crate::api::router().merge(crate::verification::router_for(&defaults.registry_token_path));
    pretty(
        &OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(routes)
            .into_openapi(),
    )
}

/// Pretty-printed (it is committed and read in review), with a final new line.
fn pretty(document: &utoipa::openapi::OpenApi) -> String {
    let mut text = document
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
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
            "personal_token",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user's personal access token (`rpat_…`) from `POST /v1/me/tokens`, for automation: \
                         taken on the organization routes (`/v1/orgs…`) only, within its scopes and its owner's role.",
                    ))
                    .build(),
            ),
        );
        // The organization routes take `ApiUser` (a session or a personal
        // access token); the API's tests hold each route to this.
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/orgs") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.security.is_none() {
                    operation.security = Some(vec![
                        SecurityRequirement::new::<_, [&str; 0], &str>("session", []),
                        SecurityRequirement::new::<_, [&str; 0], &str>("personal_token", []),
                    ]);
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
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
    components(schemas(robots_api_types::ErrorBody, robots_api_types::ErrorDetail, robots_api_types::ErrorCode, robots_api_types::OAuthError))
)]
pub struct ApiDoc;
