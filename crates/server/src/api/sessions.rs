//! Logging in and out, and asking who one is.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use robots_service::{ClientInfo, Via};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use robots_api_types::{ChangePasswordRequest, LoginRequest, SessionView, WhoAmI};

use super::views;
use crate::auth::{Caller, CurrentUser, OptionalUser};
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(log_in, end_other_sessions))
        .routes(routes!(log_out))
        .routes(routes!(change_password))
        .routes(routes!(whoami))
}

#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    request_body = LoginRequest,
    security(()),
    responses((status = 201, description = "A new session; its token is shown this once", body = SessionView), crate::openapi::shapes::Failure)
)]
async fn log_in(
    State(state): State<AppState>,
    _anyone: OptionalUser,
    client: ClientInfo,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let request: LoginRequest = body.parse()?;
    let via = Via::of_api_request(&client);
    let session = state
        .service()
        .log_in(&request.username, request.password, &client, via)
        .await?;
    Ok((StatusCode::CREATED, Json(views::session(session))))
}

#[utoipa::path(
    delete,
    path = "/v1/sessions",
    tag = "sessions",
    responses((status = 204, description = "Every other session of the caller ended; this one goes on"), crate::openapi::shapes::Failure)
)]
async fn end_other_sessions(State(state): State<AppState>, CurrentUser(caller): CurrentUser) -> ApiResult<StatusCode> {
    state.service().end_other_sessions(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/v1/me/password",
    tag = "sessions",
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed; every other session of the caller ended"), crate::openapi::shapes::Failure)
)]
async fn change_password(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: JsonBody,
) -> ApiResult<StatusCode> {
    let request: ChangePasswordRequest = body.parse()?;
    state
        .service()
        .change_password(&caller, &request.current_password, &request.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/v1/sessions/current",
    tag = "sessions",
    responses((status = 204, description = "Logged out"), crate::openapi::shapes::Failure)
)]
async fn log_out(State(state): State<AppState>, CurrentUser(caller): CurrentUser) -> ApiResult<StatusCode> {
    state.service().log_out(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/whoami",
    tag = "sessions",
    security(("robot" = []), ("robot_bearer" = []), ("session" = [])),
    responses((status = 200, description = "The user or robot behind the credentials", body = WhoAmI), crate::openapi::shapes::Failure)
)]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(match caller {
        Caller::User(session) => views::whoami_user(*session),
        Caller::Robot(token) => views::whoami_robot(&token.owner),
    })
}
