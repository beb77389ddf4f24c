//! Repositories: what teams are granted rights on, by path.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use robots_api_types::{CreateRepositoryRequest, List, RepositoryView};
use robots_service::{ManageAccess, Read};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::ApiUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, ListParams};
use crate::openapi::shapes::routed_at;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/repositories",
    tag = "access",
    params(crate::openapi::shapes::OrgPath, crate::openapi::shapes::ListQuery),
    responses((status = 200, description = "OK", body = List<RepositoryView>), crate::openapi::shapes::Failure)
)]
async fn list_repositories(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    params: ListParams,
) -> ApiResult<Json<List<RepositoryView>>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let page = state
        .service()
        .list_repositories(&at, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(views::page(
        page,
        |r| r.name.to_string(),
        |r| views::repository(at.org().name.as_str(), r),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/repositories",
    tag = "access",
    params(crate::openapi::shapes::OrgPath),
    request_body = CreateRepositoryRequest,
    responses((status = 201, description = "Created", body = RepositoryView), crate::openapi::shapes::Failure)
)]
async fn create_repository(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<RepositoryView>)> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    let request: CreateRepositoryRequest = body.parse()?;
    let repository = state.service().create_repository(&at, &request.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(views::repository(at.org().name.as_str(), repository)),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/repositories/{repository}",
    tag = "access",
    params(crate::openapi::shapes::RepositoryPath),
    responses((status = 200, description = "The repository, its grants and everyone who reaches it", body = RepositoryView), crate::openapi::shapes::Failure)
)]
async fn get_repository(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, repository)): Path<(String, String)>,
) -> ApiResult<Json<RepositoryView>> {
    let at = state.service().authorize::<Read>(&caller, &org).await?;
    let (repository, grants, access) = state.service().repository_detail(&at, &repository).await?;
    let org = at.org().name.as_str();
    let mut view = views::repository(org, repository);
    view.grants = Some(grants.into_iter().map(|g| views::grant(org, g)).collect());
    view.access = Some(access.into_iter().map(views::access).collect());
    Ok(Json(view))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/repositories/{repository}",
    tag = "access",
    params(crate::openapi::shapes::RepositoryPath),
    responses((status = 204, description = "Deleted, with its grants"), crate::openapi::shapes::Failure)
)]
async fn delete_repository(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, repository)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageAccess>(&caller, &org).await?;
    state.service().delete_repository(&at, &repository).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::default().routes(routes!(list_repositories, create_repository));
    // Repository paths contain `/`: a wildcard, which OpenAPI cannot write.
    routed_at(
        router,
        "/v1/orgs/{org}/repositories/{*repository}",
        routes!(get_repository, delete_repository),
    )
}
