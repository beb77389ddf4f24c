//! Personal access tokens, managed by their owner, logged in:
//! `/v1/me/tokens`. The secret is in the creating answer alone.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use robots_api_types::{CreatePersonalTokenRequest, CreatedPersonalTokenView, List, PersonalTokenView};
use robots_service::{Expiry, PersonalTokenInput};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tokens::secret_response;
use super::views;
use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_personal_tokens, create_personal_token))
        .routes(routes!(revoke_personal_token))
}

#[utoipa::path(
    get,
    path = "/v1/me/tokens",
    tag = "personal tokens",
    responses((status = 200, description = "The caller's personal access tokens, expired ones too", body = List<PersonalTokenView>), crate::openapi::shapes::Failure)
)]
async fn list_personal_tokens(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
) -> ApiResult<Json<List<PersonalTokenView>>> {
    let now = state.now();
    let tokens = state.service().personal_tokens(&caller).await?;
    Ok(Json(views::all(
        tokens.into_iter().map(|token| views::personal_token(token, now)),
    )))
}

#[utoipa::path(
    post,
    path = "/v1/me/tokens",
    tag = "personal tokens",
    request_body = CreatePersonalTokenRequest,
    responses((status = 201, description = "The token, shown this once", body = CreatedPersonalTokenView), crate::openapi::shapes::Failure)
)]
async fn create_personal_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: JsonBody,
) -> ApiResult<Response> {
    let request: CreatePersonalTokenRequest = body.parse()?;
    let input = PersonalTokenInput {
        name: &request.name,
        scopes: &request.scopes,
        orgs: request.orgs.as_deref(),
        expiry: Expiry {
            at: request.expires_at,
            within: request.expires_in.as_deref(),
        },
    };
    let created = state.service().create_personal_token(&caller, input).await?;
    Ok(secret_response(CreatedPersonalTokenView {
        token: created.token,
        info: views::personal_token(created.info, state.now()),
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/me/tokens/{id}",
    tag = "personal tokens",
    params(("id" = String, Path, description = "The token's id, or its name (never its secret)")),
    responses((status = 204, description = "Revoked: it stops working at once"), crate::openapi::shapes::Failure)
)]
async fn revoke_personal_token(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service().revoke_personal_token(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
