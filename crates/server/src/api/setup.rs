//! First run: the setup code printed at start-up makes the first user, an
//! instance administrator. Once any user exists this does nothing.

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
    Router::new().route("/v1/setup", post(complete_setup))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SetupRequest {
    /// The one-time code the server printed on its first start.
    #[schema(
        pattern = "^[0-9A-TV-Za-tv-z]{4}-[0-9A-TV-Za-tv-z]{4}-[0-9A-TV-Za-tv-z]{4}-[0-9A-TV-Za-tv-z]{4}$",
        example = "1QHH-JEGC-GVCV-SQWY"
    )]
    code: String,
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
}

#[utoipa::path(
    post,
    path = "/v1/setup",
    tag = "setup",
    request_body = SetupRequest,
    security(()),
    responses((status = 201, description = "The first administrator", body = crate::api::views::UserView), crate::api::openapi::Failure)
)]
async fn complete_setup(
    State(state): State<AppState>,
    _anyone: OptionalUser,
    client: robots_service::ClientInfo,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let request: SetupRequest = body.parse()?;
    let input = NewUserInput {
        username: &request.username,
        email: &request.email,
        password: &request.password,
        instance_admin: true,
    };
    let user = state.service().complete_setup(&request.code, input, &client).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}
