//! Shapes the OpenAPI document describes for handlers that read or write
//! them by other means (the error answers, path and list parameters, OAuth's
//! errors), and routing a documented handler at a path other than its
//! annotation's. Handlers of every surface name these in their
//! `#[utoipa::path]` annotations; nothing here reads a request.

use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

// The shapes below describe what handlers read and write by other means
// (the error type, extractors, hand-read queries); they exist for the
// document only, so their fields are never read.

/// Any answer but the documented successes: the API's one error shape.
#[allow(dead_code)]
#[derive(Debug, utoipa::IntoResponses)]
#[response(status = "default", description = "An error, in the API's one error shape")]
pub struct Failure(#[to_schema] robots_api_types::ErrorBody);

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

/// Adds `handlers` routed at `path` and documented where their annotations
/// say: for what OpenAPI cannot write (a wildcard, `{*repository}`, whose
/// value contains `/`) or the operator moves (the registry's token path).
pub fn routed_at<S: Clone + Send + Sync + 'static>(
    router: OpenApiRouter<S>,
    path: &str,
    (schemas, paths, handlers): UtoipaMethodRouter<S>,
) -> OpenApiRouter<S> {
    let mut router = router.route(path, handlers);
    let document = router.get_openapi_mut();
    for (documented, item) in paths.paths {
        document.paths.paths.insert(documented, item);
    }
    document
        .components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
    router
}
