//! Robot tokens: created (the only time the secret is shown), listed,
//! rotated without downtime, deleted. Deleting one stops it at once; the
//! organization's policy bounds how long they may live.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robots_api_types::ErrorCode;
use robots_api_types::{
    CreateTokenRequest, CreatedTokenView, CredentialView, ExpiringTokenView, List, RotateRequest, RotatedView,
    TokenView,
};
use robots_core::credentials::{CredentialFormat, CredentialTarget};
use robots_core::duration::parse_duration;
use robots_service::{
    ClientInfo, CredentialRequest, EXPIRING_SOON, Expiry, ManageTokens, ReadRobots, Rotated, ServiceError,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views;
use crate::auth::{ApiUser, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, JsonBody, ListParams, RawBody};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_expiring))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(get_token, delete_token))
        .routes(routes!(rotate_token))
        .routes(routes!(rotate_own_token))
        .routes(routes!(disable_token))
        .routes(routes!(enable_token))
}

/// Disables a token: refused until enabled again; nothing is deleted.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}/disable",
    tag = "tokens",
    params(crate::openapi::shapes::TokenPath),
    responses((status = 200, description = "The token, disabled", body = TokenView), crate::openapi::shapes::Failure)
)]
async fn disable_token(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<Json<TokenView>> {
    set_token_disabled(&state, &caller, &org, &robot, &access_id, true).await
}

/// Enables a disabled token: it works again.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}/enable",
    tag = "tokens",
    params(crate::openapi::shapes::TokenPath),
    responses((status = 200, description = "The token, enabled", body = TokenView), crate::openapi::shapes::Failure)
)]
async fn enable_token(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<Json<TokenView>> {
    set_token_disabled(&state, &caller, &org, &robot, &access_id, false).await
}

async fn set_token_disabled(
    state: &AppState,
    caller: &crate::auth::UserSession,
    org: &str,
    robot: &str,
    access_id: &str,
    disable: bool,
) -> ApiResult<Json<TokenView>> {
    let at = state.service().authorize::<ManageTokens>(caller, org).await?;
    let token = state
        .service()
        .set_token_disabled(&at, robot, access_id, disable)
        .await?;
    Ok(Json(views::token(token, state.now())))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
struct ExpiringQuery {
    /// Only tokens expiring within this long (e.g. `7d`).
    expiring_within: Option<String>,
}

fn expiring_before(query: &ExpiringQuery, now: OffsetDateTime) -> Result<Option<OffsetDateTime>, ApiError> {
    query
        .expiring_within
        .as_deref()
        .map(|text| {
            parse_duration(text).map(|within| now + within).map_err(|error| {
                ApiError::bad_request(ErrorCode::InvalidQuery, error.to_string()).with_field("expiring_within")
            })
        })
        .transpose()
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/tokens",
    tag = "tokens",
    params(crate::openapi::shapes::RobotPath, ExpiringQuery, crate::openapi::shapes::ListQuery),
    responses((status = 200, description = "OK", body = List<TokenView>), crate::openapi::shapes::Failure)
)]
async fn list_tokens(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ExpiringQuery>,
    params: ListParams,
) -> ApiResult<Json<List<TokenView>>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let now = state.now();
    let before = expiring_before(&query, now)?;
    let (_, page) = state
        .service()
        .list_tokens(&at, &robot, before, params.after.as_deref(), params.limit)
        .await?;
    Ok(Json(views::page(page, |t| t.page_key(), |t| views::token(t, now))))
}

/// Tokens of the whole organization expiring within `expiring_within`
/// (default 7 days), soonest first: what needs attention.
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/tokens",
    tag = "tokens",
    params(crate::openapi::shapes::OrgPath, ExpiringQuery),
    responses((status = 200, description = "Tokens of every robot expiring within `expiring_within`, soonest first", body = List<ExpiringTokenView>), crate::openapi::shapes::Failure)
)]
async fn list_expiring(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path(org): Path<String>,
    ApiQuery(query): ApiQuery<ExpiringQuery>,
) -> ApiResult<Json<List<ExpiringTokenView>>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let now = state.now();
    let before = expiring_before(&query, now)?.unwrap_or(now + EXPIRING_SOON);
    let tokens = state.service().expiring_tokens(&at, before).await?;
    Ok(Json(views::all(tokens.into_iter().map(|(robot, token)| {
        ExpiringTokenView {
            robot: robot.into(),
            token: views::token(token, now),
        }
    }))))
}

/// A `201` with the one body that carries a secret, never cached.
pub(super) fn secret_response<T: Serialize>(body: T) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/tokens",
    tag = "tokens",
    params(crate::openapi::shapes::RobotPath),
    request_body = CreateTokenRequest,
    responses((status = 201, description = "The token, shown this once", body = CreatedTokenView), crate::openapi::shapes::Failure)
)]
async fn create_token(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Response> {
    let at = state.service().authorize::<ManageTokens>(&caller, &org).await?;
    let request: CreateTokenRequest = body.parse()?;
    let expiry = Expiry {
        at: request.expires_at,
        within: request.expires_in.as_deref(),
    };
    let shape = credential_target(&state, &robot, &request)?;
    let created = state.service().create_token(&at, &robot, &request.name, expiry).await?;
    let credential = rendered(&shape, created.access_id, &created.secret);
    Ok(secret_response(CreatedTokenView {
        access_id: created.access_id,
        name: created.name.into(),
        token: created.secret,
        created_at: created.created_at,
        expires_at: created.expires_at,
        credential,
    }))
}

type Shape = Option<(CredentialFormat, CredentialTarget)>;

/// A request that may ask for its token in a credential format.
trait AsksCredential {
    fn credential_request(&self) -> CredentialRequest<'_>;
}

macro_rules! asks_credential {
    ($($request:ty),*) => {$(
        impl AsksCredential for $request {
            fn credential_request(&self) -> CredentialRequest<'_> {
                CredentialRequest {
                    format: self.format.as_deref(),
                    registry: self.registry.as_deref(),
                    secret_name: self.secret_name.as_deref(),
                    namespace: self.namespace.as_deref(),
                }
            }
        }
    )*};
}
asks_credential!(CreateTokenRequest, RotateRequest);

/// The credential format a request asks for, checked before a token is made.
fn credential_target(state: &AppState, robot: &str, request: &impl AsksCredential) -> ApiResult<Shape> {
    Ok(state
        .service()
        .credential_target(robot, &request.credential_request())?)
}

fn rendered(shape: &Shape, access_id: uuid::Uuid, secret: &robots_core::SecretToken) -> Option<CredentialView> {
    let (format, target) = shape.as_ref()?;
    let credential = target.render(*format, access_id, secret)?;
    Some(CredentialView {
        format: format.as_str().to_owned(),
        file_name: credential.file_name.clone(),
        content: credential.expose().to_owned(),
    })
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}",
    tag = "tokens",
    params(crate::openapi::shapes::TokenPath),
    responses((status = 200, description = "OK", body = TokenView), crate::openapi::shapes::Failure)
)]
async fn get_token(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<Json<TokenView>> {
    let at = state.service().authorize::<ReadRobots>(&caller, &org).await?;
    let (_, token) = state.service().token(&at, &robot, &access_id).await?;
    Ok(Json(views::token(token, state.now())))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}",
    tag = "tokens",
    params(crate::openapi::shapes::TokenPath),
    responses((status = 204, description = "Deleted: refused from the next request on"), crate::openapi::shapes::Failure)
)]
async fn delete_token(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let at = state.service().authorize::<ManageTokens>(&caller, &org).await?;
    state.service().delete_token(&at, &robot, &access_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotates a token without downtime: a successor (shown once) takes its
/// name, and the old token keeps working for the grace period, then stops
/// by itself.
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/robots/{robot}/tokens/{access_id}/rotate",
    tag = "tokens",
    params(crate::openapi::shapes::TokenPath),
    request_body(content = Option<RotateRequest>, description = "Optional: no body rotates with the defaults"),
    responses((status = 201, description = "The successor, shown this once, and the token rotating out", body = RotatedView), crate::openapi::shapes::Failure)
)]
async fn rotate_token(
    State(state): State<AppState>,
    ApiUser(caller): ApiUser,
    Path((org, robot, access_id)): Path<(String, String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let at = state.service().authorize::<ManageTokens>(&caller, &org).await?;
    let request: RotateRequest = JsonBody::parse_optional(body)?;
    let expiry = Expiry {
        at: request.expires_at,
        within: request.expires_in.as_deref(),
    };
    let shape = credential_target(&state, &robot, &request)?;
    let rotated = state
        .service()
        .rotate_token(&at, &robot, &access_id, request.grace_period.as_deref(), expiry)
        .await?;
    Ok(rotated_response(rotated, &shape, state.now()))
}

/// A robot allowed to (`self_rotate`) rotates the token it authenticates
/// with: the same rotation as an admin's, asked by the robot itself.
#[utoipa::path(
    post,
    path = "/v1/robot/tokens/current/rotate",
    tag = "tokens",
    security(("robot" = []), ("robot_bearer" = [])),
    request_body(content = Option<RotateRequest>, description = "Optional: no body rotates with the defaults"),
    responses((status = 201, description = "The successor, shown this once, and the token rotating out", body = RotatedView), crate::openapi::shapes::Failure)
)]
async fn rotate_own_token(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let Caller::Robot(token) = caller else {
        return Err(ApiError::from(ServiceError::forbidden(
            "only a robot rotates its own token here: people rotate tokens at \
             /v1/orgs/{org}/robots/{robot}/tokens/{access_id}/rotate",
        )));
    };
    let request: RotateRequest = JsonBody::parse_optional(body)?;
    let expiry = Expiry {
        at: request.expires_at,
        within: request.expires_in.as_deref(),
    };
    let shape = credential_target(&state, token.owner.robot_name.as_str(), &request)?;
    let rotated = state
        .service()
        .rotate_own_token(&token.owner, &client, request.grace_period.as_deref(), expiry)
        .await?;
    Ok(rotated_response(rotated, &shape, state.now()))
}

fn rotated_response(rotated: Rotated, shape: &Shape, now: OffsetDateTime) -> Response {
    let (new, secret, rotating_out) = (rotated.successor, rotated.secret, rotated.rotating_out);
    let credential = rendered(shape, new.access_id, &secret);
    secret_response(RotatedView {
        successor: CreatedTokenView {
            access_id: new.access_id,
            name: new.name.clone().into(),
            token: secret,
            created_at: new.created_at,
            expires_at: new.expires_at,
            credential,
        },
        rotating_out: views::token(rotating_out, now),
    })
}
