//! A robot's federated credentials: which CI jobs may trade their OIDC ID
//! token for a short-lived token of the robot (`POST /v1/oauth/token`,
//! token exchange). Admins change them; members read them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use robots_api_types::{CreateCredentialRequest, FederatedCredentialView, List, UpdateCredentialRequest};
use robots_service::{CredentialInput, CredentialPatch, ManageRobots, ReadRobots};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::ApiUser;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_credentials, create_credential))
        .routes(routes!(get_credential, update_credential, delete_credential))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials",
    tag = "federation",
    params(crate::openapi::shapes::RobotPath),
    responses((status = 200, description = "The robot's federated credentials, by name", body = List<FederatedCredentialView>), crate::openapi::shapes::Failure)
)]
async fn list_credentials(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
) -> ApiResult<Json<List<FederatedCredentialView>>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let (_, credentials) = state.service().list_federated_credentials(&at, &robot).await?;
    Ok(Json(views::all(
        credentials.into_iter().map(views::federated_credential),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials",
    tag = "federation",
    params(crate::openapi::shapes::RobotPath),
    request_body = CreateCredentialRequest,
    responses((status = 201, description = "Created", body = FederatedCredentialView), crate::openapi::shapes::Failure)
)]
async fn create_credential(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<FederatedCredentialView>)> {
    let at = state.service().authorize::<ManageRobots>(&caller, &org).await?;
    let request: CreateCredentialRequest = body.parse()?;
    let input = CredentialInput {
        name: &request.name,
        description: request.description.as_deref().unwrap_or_default(),
        issuer: &request.issuer,
        audience: &request.audience,
        subject: &request.subject,
        claims: request.claims,
    };
    let created = state.service().create_federated_credential(&at, &robot, input).await?;
    Ok((StatusCode::CREATED, Json(views::federated_credential(created))))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials/{name}",
    tag = "federation",
    params(crate::openapi::shapes::RobotPath, ("name" = String, Path, description = "The credential's name", example = "github-main")),
    responses((status = 200, description = "OK", body = FederatedCredentialView), crate::openapi::shapes::Failure)
)]
async fn get_credential(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, name)): Path<(String, String, String)>,
) -> ApiResult<Json<FederatedCredentialView>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let (_, credential) = state.service().federated_credential(&at, &robot, &name).await?;
    Ok(Json(views::federated_credential(credential)))
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials/{name}",
    tag = "federation",
    params(crate::openapi::shapes::RobotPath, ("name" = String, Path, description = "The credential's name", example = "github-main")),
    request_body = UpdateCredentialRequest,
    responses((status = 200, description = "Changed; tokens it minted before are revoked", body = FederatedCredentialView), crate::openapi::shapes::Failure)
)]
async fn update_credential(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, name)): Path<(String, String, String)>,
    body: JsonBody,
) -> ApiResult<Json<FederatedCredentialView>> {
    let at = state.service().authorize::<ManageRobots>(&caller, &org).await?;
    let request: UpdateCredentialRequest = body.parse()?;
    let updated = state
        .service()
        .update_federated_credential(
            &at,
            &robot,
            &name,
            CredentialPatch {
                name: request.name.as_deref(),
                description: request.description.as_deref(),
                issuer: request.issuer.as_deref(),
                audience: request.audience.as_deref(),
                subject: request.subject.as_deref(),
                claims: request.claims,
            },
        )
        .await?;
    Ok(Json(views::federated_credential(updated)))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/robots/{robot}/federated-credentials/{name}",
    tag = "federation",
    params(crate::openapi::shapes::RobotPath, ("name" = String, Path, description = "The credential's name", example = "github-main")),
    responses((status = 204, description = "Deleted, with the tokens it minted"), crate::openapi::shapes::Failure)
)]
async fn delete_credential(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, name)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageRobots>(&caller, &org).await?;
    state.service().delete_federated_credential(&at, &robot, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
