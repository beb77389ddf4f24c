//! User accounts: created by instance administrators, or by anyone when
//! sign-up is open.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use robots_api_types::{CreateUserRequest, Name, UserView};
use robots_service::NewUserInput;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::{CurrentUser, OptionalUser};
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create_user))
        .routes(routes!(delete_user))
}

#[utoipa::path(
    delete,
    path = "/v1/users/{username}",
    tag = "setup",
    params(("username" = Name, Path, description = "The user")),
    responses((status = 204, description = "Deleted: the user's sessions ended, their memberships gone"), crate::openapi::shapes::Failure)
)]
async fn delete_user(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    let admin = state.service().instance_admin(&caller, "delete users")?;
    state.service().delete_user(&admin, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "setup",
    request_body = CreateUserRequest,
    security((), ("session" = [])),
    responses((status = 201, description = "The new user", body = UserView), crate::openapi::shapes::Failure)
)]
async fn create_user(
    State(state): State<AppState>,
    OptionalUser(caller): OptionalUser,
    client: robots_service::ClientInfo,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let request: CreateUserRequest = body.parse()?;
    let input = NewUserInput {
        username: &request.username,
        email: &request.email,
        password: &request.password,
        instance_admin: request.instance_admin,
    };
    let user = state.service().create_user(caller.as_ref(), input, &client).await?;
    Ok((StatusCode::CREATED, Json(views::user(user))))
}
