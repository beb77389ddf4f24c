//! Logging in and out, and asking who one is.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use robots_core::{Name, SecretKind, SecretToken, password};
use serde::Deserialize;

use super::views::{SessionView, WhoAmI};
use crate::auth::{Caller, CurrentUser, OptionalUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::limits::{AuthLimits, address_key};
use robots_service::ClientInfo;
use robots_service::{Actor, Change};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(log_in))
        .route("/v1/sessions/current", delete(log_out))
        .route("/v1/whoami", get(whoami))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

/// What a robot's credentials look like: an Access ID (a UUID) or a token.
/// Judged by shape alone, so the answer reveals nothing about validity.
pub fn looks_like_robot_credentials(username: &str, password: &str) -> bool {
    uuid::Uuid::try_parse(username.trim()).is_ok() || password.trim().starts_with(SecretKind::RobotToken.prefix())
}

#[utoipa::path(
    post,
    path = "/v1/sessions",
    tag = "sessions",
    request_body = LoginRequest,
    security(()),
    responses((status = 201, description = "A new session; its token is shown this once", body = crate::api::views::SessionView), crate::api::openapi::Failure)
)]
async fn log_in(
    State(state): State<AppState>,
    _anyone: OptionalUser,
    client: ClientInfo,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let request: LoginRequest = body.parse()?;
    if looks_like_robot_credentials(&request.username, &request.password) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "robot_forbidden",
            "robot accounts cannot log in: send the Access ID and Token with each request instead \
             (HTTP Basic, or the Token as a Bearer token)",
        ));
    }
    let session = state
        .log_in(
            &request.username,
            request.password,
            &client,
            crate::auth::Via::of_api_request(&client),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

impl AppState {
    /// Checks a username and password and opens a session. Unknown users
    /// take as long as wrong passwords, and both get the same answer.
    pub async fn log_in(
        &self,
        username: &str,
        password: String,
        client: &ClientInfo,
        via: crate::auth::Via,
    ) -> Result<SessionView, ApiError> {
        let limits = self.limits();
        let address = client.ip.map(address_key);
        let user_key = AuthLimits::user_key(username);
        let known_address = address.is_some_and(|address| limits.is_known_login(&user_key, address));
        let now_ms = self.now_ms();
        let limited = [
            address.and_then(|address| limits.login_address.check(&address, now_ms).err()),
            (!known_address)
                .then(|| limits.login_user.check(&user_key, now_ms).err())
                .flatten(),
        ];
        if let Some(wait) = limited.into_iter().flatten().max() {
            tracing::info!(username, client = ?client.ip, "login refused: rate-limited");
            return Err(ApiError::rate_limited(wait));
        }
        let found = match Name::parse(username.trim()) {
            Ok(name) => self.store().find_user_for_login(&name).await?,
            Err(_) => None,
        };
        let (user, stored_hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let valid = tokio::task::spawn_blocking(move || password::verify_password(&password, stored_hash.as_deref()))
            .await
            .map_err(ApiError::internal)?;
        let Some(user) = user.filter(|_| valid) else {
            tracing::info!(username, "login failed");
            let now_ms = self.now_ms();
            let failures = [
                address.map(|address| limits.login_address.fail(address, now_ms)),
                Some(limits.login_user.fail(user_key, now_ms)),
            ];
            let retry_after = failures.iter().flatten().filter_map(|f| f.retry_after()).max();
            let attempted: String = username.chars().take(64).collect();
            self.service().audit_later(
                Actor::Anonymous(client),
                Change::new(None, "auth.login_failed", format!("user {attempted}")).detail(serde_json::json!({
                    "via": via.as_str(),
                    "retry_after_seconds": retry_after.map(|wait| wait.as_secs()),
                })),
            );
            return Err(match retry_after {
                Some(wait) => ApiError::rate_limited(wait),
                None => ApiError::new(StatusCode::UNAUTHORIZED, "invalid_login", "wrong username or password"),
            });
        };
        if let Some(address) = address {
            limits.remember_login(&user_key, address);
        }
        let token = SecretToken::generate(SecretKind::Session);
        let now = self.now();
        let expires_at = now + self.config().session_ttl;
        self.store()
            .create_session(&token.hash(), user.id, now, expires_at)
            .await?;
        tracing::info!(username = %user.name, "logged in");
        let session = crate::auth::UserSession {
            user: user.clone(),
            session: token.hash(),
            expires_at,
            client: client.clone(),
            via,
        };
        self.service()
            .audit(
                Actor::User(&session),
                Change::new(None, "session.created", format!("user {}", user.name)),
            )
            .await;
        Ok(SessionView {
            token,
            expires_at,
            user: user.into(),
        })
    }
}

#[utoipa::path(
    delete,
    path = "/v1/sessions/current",
    tag = "sessions",
    responses((status = 204, description = "Logged out"), crate::api::openapi::Failure)
)]
async fn log_out(State(state): State<AppState>, CurrentUser(caller): CurrentUser) -> ApiResult<StatusCode> {
    state.store().delete_session(&caller.session).await?;
    state
        .service()
        .audit(
            Actor::User(&caller),
            Change::new(None, "session.deleted", format!("user {}", caller.user.name)),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/whoami",
    tag = "sessions",
    security(("robot" = []), ("robot_bearer" = []), ("session" = [])),
    responses((status = 200, description = "The user or robot behind the credentials", body = crate::api::views::WhoAmI), crate::api::openapi::Failure)
)]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(match caller {
        Caller::User(session) => WhoAmI::User {
            user: session.user.into(),
            session_expires_at: session.expires_at,
        },
        Caller::Robot(token) => WhoAmI::from(&token.owner),
    })
}
