//! First run: the setup code printed at start-up makes the first user, an
//! instance administrator. Once any user exists this does nothing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use robots_api_types::{SetupRequest, UserView};
use robots_service::NewUserInput;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::OptionalUser;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(complete_setup))
}

#[utoipa::path(
    post,
    path = "/v1/setup",
    tag = "setup",
    request_body = SetupRequest,
    security(()),
    responses((status = 201, description = "The first administrator", body = UserView), crate::openapi::shapes::Failure)
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
    Ok((StatusCode::CREATED, Json(views::user(user))))
}
