//! RFC 7662 token introspection: `POST /v1/introspect` with `token=…`.
//!
//! Who may ask: an authenticated caller, either a robot (a resource server
//! is itself a machine, so it gets a robot account of its own) or a logged-in
//! user. A caller learns about tokens of its own organization(s) only:
//! anything else is `{"active": false}`, exactly like an unknown, deleted or
//! expired token. So introspection cannot be used by outsiders to test
//! stolen tokens, and one organization's resource servers learn nothing about
//! another's robots.
//!
//! It accepts robot tokens (`rbt_…`) and the access tokens this server signs
//! at `/v1/oauth/token`. An access token is active only while the robot
//! token it was issued for still stands (not deleted, expired or rotated
//! out; its robot neither disabled nor deleted): what verifies offline
//! lives until its expiry, but introspection tells the truth at once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use robots_api_types::ErrorCode;
use robots_core::access::resolve;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::protocol::{epoch_seconds, json_body, read_fields, read_form_body};
use crate::auth::{Presented, presented_credentials};
use crate::cache::VerifiedToken;
use crate::error::ApiError;
use crate::state::{AppState, RequestClient};
use crate::verify::RobotCredential;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(introspect))
}

// Described for the API document; the handler reads `token` with `read_fields`.
/// An introspection request (RFC 7662 §2.1).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct IntrospectForm {
    #[schema(value_type = String, min_length = 1)]
    token: Option<String>,
    /// Ignored: every kind of token is looked for (RFC 7662 §2.1 allows it).
    token_type_hint: Option<String>,
}

/// The answer about a robot token (RFC 7662 §2.2 members, plus who the
/// robot is).
#[derive(Serialize)]
struct RobotTokenAnswer<'a> {
    active: bool,
    token_type: &'static str,
    client_id: Uuid,
    username: String,
    sub: Uuid,
    org: &'a str,
    robot: &'a str,
    scope: String,
    iat: i64,
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
}

/// What introspection answers (RFC 7662 §2.2): `{"active": false}` alone for
/// anything not a valid token the caller may ask about.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct Introspection {
    active: bool,
    #[schema(nullable = false)]
    token_type: Option<String>,
    /// The Access ID.
    #[schema(nullable = false)]
    client_id: Option<Uuid>,
    #[schema(nullable = false)]
    username: Option<String>,
    /// The robot's id.
    #[schema(nullable = false)]
    sub: Option<Uuid>,
    #[schema(nullable = false)]
    org: Option<String>,
    #[schema(nullable = false)]
    robot: Option<String>,
    #[schema(nullable = false)]
    scope: Option<String>,
    #[schema(nullable = false)]
    iat: Option<i64>,
    #[schema(nullable = false)]
    iss: Option<String>,
    #[schema(nullable = false)]
    exp: Option<i64>,
}

fn inactive() -> Response {
    Json(json!({"active": false})).into_response()
}

/// Who asks, and about which organizations' tokens they may.
struct Caller {
    /// `org/robot` or a username, as a use by introspection records it.
    label: String,
    orgs: CallerOrgs,
}

/// The organizations whose tokens the caller may introspect.
enum CallerOrgs {
    /// A robot: its own organization.
    One(Uuid),
    /// A user: every organization they belong to.
    Many(HashSet<Uuid>),
}

impl CallerOrgs {
    fn contains(&self, org: Uuid) -> bool {
        match self {
            Self::One(own) => *own == org,
            Self::Many(orgs) => orgs.contains(&org),
        }
    }
}

async fn caller(state: &AppState, headers: &HeaderMap, client: RequestClient<'_>) -> Result<Caller, ApiError> {
    match presented_credentials(headers) {
        Ok(Some(Presented::Robot(credential))) => {
            let owner = state
                .verify_robot(&credential, client, credential.api_verifier())
                .await?;
            Ok(Caller {
                label: format!("{}/{}", owner.org_name, owner.robot_name),
                orgs: CallerOrgs::One(owner.org_id),
            })
        }
        Ok(Some(Presented::Session(token))) => {
            let session = state
                .resolve_session(&token, client.to_client_info(), crate::auth::Via::Api)
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            let orgs = state.store().list_orgs_of_user(session.user.id, None, 1000).await?;
            Ok(Caller {
                label: session.user.name.to_string(),
                orgs: CallerOrgs::Many(orgs.items.into_iter().map(|membership| membership.org.id).collect()),
            })
        }
        // A personal access token manages robots; it is no resource server.
        Ok(Some(Presented::PersonalToken(_)) | None) | Err(_) => Err(ApiError::unauthenticated()),
    }
}

/// The answer about a live robot token, built once per verified token
/// (it changes only when the token, its robot or their grants do, and any
/// such change replaces the cached [`VerifiedToken`]).
async fn robot_token_answer(state: &AppState, owner: &VerifiedToken) -> Result<Bytes, ApiError> {
    if let Some(answer) = owner.introspection.get() {
        return Ok(answer.clone());
    }
    let snapshot = state.robot_access(owner.robot_id).await?;
    let scope = resolve(&snapshot)
        .iter()
        .map(|effective| {
            let actions: Vec<&str> = effective.permission.actions().iter().map(|a| a.as_str()).collect();
            format!(
                "repository:{}/{}:{}",
                owner.org_name,
                effective.repository,
                actions.join(",")
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let answer = RobotTokenAnswer {
        active: true,
        token_type: "robot_token",
        client_id: owner.access_id,
        username: format!("{}/{}", owner.org_name, owner.robot_name),
        sub: owner.robot_id,
        org: owner.org_name.as_str(),
        robot: owner.robot_name.as_str(),
        scope,
        iat: epoch_seconds(owner.created_at),
        iss: &state.config().issuer,
        exp: owner.expires_at.map(epoch_seconds),
    };
    let answer = Bytes::from(serde_json::to_vec(&answer).map_err(|error| ApiError::internal(error.to_string()))?);
    Ok(owner.introspection.get_or_init(|| answer).clone())
}

#[utoipa::path(
    post,
    path = "/v1/introspect",
    tag = "verification",
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    security(("robot" = []), ("robot_bearer" = []), ("session" = [])),
    responses((status = 200, description = "RFC 7662: `{\"active\": false}` for anything not valid, else who the token belongs to", body = Introspection), (status = 400, description = "A malformed request", body = robots_api_types::ErrorBody), (status = 401, description = "The caller did not authenticate", body = robots_api_types::ErrorBody), (status = 429, description = "Too many failures", body = robots_api_types::ErrorBody), (status = 503, description = "The database is out of reach just now; see Retry-After", body = robots_api_types::ErrorBody))
)]
async fn introspect(State(state): State<AppState>, request: Request) -> Response {
    let (request, body) = read_form_body(request, state.config().max_body_bytes).await;
    let client = state.request_client(&request.headers, &request.extensions);
    let caller = match caller(&state, &request.headers, client).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let orgs = &caller.orgs;
    // RFC 7662 §2.1: `token` is required; an empty one is as good as none.
    // Not a form, or `token` twice: as good as no token.
    let body = body.unwrap_or_default();
    let token = read_fields(&body, ["token"]).ok().and_then(|[token]| token);
    let Some(token) = token.filter(|token| !token.is_empty()) else {
        return ApiError::bad_request(
            ErrorCode::InvalidRequest,
            "send token=… as application/x-www-form-urlencoded",
        )
        .into_response();
    };
    if let Ok(credential) = RobotCredential::from_token(token.trim()) {
        let owner = match state.verify_introspected(&credential, client, &caller.label).await {
            Ok(owner) => owner,
            Err(unavailable) if unavailable.status().is_server_error() => return unavailable.into_response(),
            Err(_) => return inactive(),
        };
        if !orgs.contains(owner.org_id) {
            return inactive();
        }
        return match robot_token_answer(&state, &owner).await {
            Ok(answer) => json_body(answer),
            Err(error) => error.into_response(),
        };
    }
    let now = state.now();
    if let Some(claims) = state.keys().verify_jwt(token.trim(), now) {
        let live = claims["exp"].as_i64().is_some_and(|exp| exp > epoch_seconds(now));
        let our_access_token = claims["token_use"] == "access" && claims["iss"] == state.config().issuer.as_str();
        let org_id = claims["org_id"].as_str().and_then(|id| Uuid::try_parse(id).ok());
        if live && our_access_token && org_id.is_some_and(|id| orgs.contains(id)) {
            // Signed moments ago, maybe, but on the strength of a robot token
            // that may since have been deleted, expired or rotated out, or
            // whose robot was disabled or deleted: introspection tells now.
            let source = claims["client_id"].as_str().and_then(|id| Uuid::try_parse(id).ok());
            let robot = claims["sub"].as_str().and_then(|id| Uuid::try_parse(id).ok());
            let standing = match source {
                Some(access_id) => match state.store().token_standing(access_id).await {
                    Ok(standing) => standing,
                    Err(error) => return ApiError::from(error).into_response(),
                },
                None => None,
            };
            if !standing.is_some_and(|standing| Some(standing.robot_id) == robot && standing.stands_at(now)) {
                return inactive();
            }
            let mut answer: Value = json!({"active": true, "token_type": "access_token"});
            for key in [
                "sub",
                "client_id",
                "scope",
                "exp",
                "iat",
                "nbf",
                "iss",
                "aud",
                "jti",
                "org",
                "robot",
            ] {
                if !claims[key].is_null() {
                    answer[key] = claims[key].clone();
                }
            }
            answer["username"] = json!(format!(
                "{}/{}",
                claims["org"].as_str().unwrap_or(""),
                claims["robot"].as_str().unwrap_or("")
            ));
            return Json(answer).into_response();
        }
    }
    inactive()
}
