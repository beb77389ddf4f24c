//! The signing keys from outside: their certificates (public, for a
//! registry's `rootcertbundle`), and listing and rotating them (instance
//! administrators).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use robots_api_types::{KeyRotateRequest, KeyView, List, RotatedKeyView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::{JsonBody, RawBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(certificates))
        .routes(routes!(list))
        .routes(routes!(rotate))
}

#[utoipa::path(
    get,
    path = "/v1/keys/certificates.pem",
    tag = "verification",
    security(()),
    responses((status = 200, description = "The signing keys' certificates, for the registry's `rootcertbundle`", body = String, content_type = "application/x-pem-file"))
)]
async fn certificates(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.keys().certificates_pem(state.now()),
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "verification",
    responses((status = 200, description = "Signing keys: instance administrators only", body = List<KeyView>), crate::openapi::shapes::Failure)
)]
async fn list(State(state): State<AppState>, CurrentUser(caller): CurrentUser) -> ApiResult<Json<List<KeyView>>> {
    state.service().instance_admin(&caller, "manage signing keys")?;
    let now = state.now();
    let keys = state.keys().describe(now).into_iter();
    Ok(Json(List {
        items: keys
            .map(|key| KeyView {
                kid: key.kid,
                algorithm: key.algorithm.as_str().to_owned(),
                not_before: key.not_before,
                retired_at: key.retired_at,
                signing: key.signing,
            })
            .collect(),
        next_cursor: None,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/keys/rotate",
    tag = "verification",
    request_body(content = Option<KeyRotateRequest>, description = "Optional"),
    responses((status = 201, description = "The next signing key", body = RotatedKeyView), crate::openapi::shapes::Failure)
)]
async fn rotate(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<RotatedKeyView>)> {
    let admin = state.service().instance_admin(&caller, "manage signing keys")?;
    // The body is optional: no body rotates now.
    let request: KeyRotateRequest = JsonBody::parse_optional(body)?;
    let (kid, not_before) = state
        .service()
        .rotate_signing_key(&admin, request.after.as_deref(), state.keys())
        .await?;
    Ok((StatusCode::CREATED, Json(RotatedKeyView { kid, not_before })))
}
