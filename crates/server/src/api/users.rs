//! User accounts: created by instance administrators, or by anyone when
//! sign-up is open.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use robots_core::Name;
use robots_service::NewUserInput;
use serde::Deserialize;

use super::views::UserView;
use crate::auth::OptionalUser;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/users", post(create_user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUserRequest {
    /// Checked by the service after who may create users, so an outsider
    /// learns nothing from it.
    #[schema(value_type = Name)]
    username: String,
    #[schema(
        pattern = "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+@[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+$",
        max_length = 254,
        example = "ada@example.com"
    )]
    email: String,
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    #[serde(default)]
    instance_admin: bool,
}

#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "setup",
    request_body = CreateUserRequest,
    security((), ("session" = [])),
    responses((status = 201, description = "The new user", body = crate::api::views::UserView), crate::api::openapi::Failure)
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
    Ok((StatusCode::CREATED, Json(user.into())))
}
