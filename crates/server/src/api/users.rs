//! User accounts: created by instance administrators, or by anyone when
//! sign-up is open.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use robots_core::{Name, password, text};
use robots_store::NewUser;
use serde::Deserialize;

use super::views::UserView;
use crate::auth::OptionalUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::{AppState, SignupPolicy};
use robots_service::{Actor, Change};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/users", post(create_user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUserRequest {
    username: Name,
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
    let caller_is_admin = caller.as_ref().is_some_and(|session| session.user.instance_admin);
    if !caller_is_admin {
        match (&caller, state.config().signup) {
            (None, SignupPolicy::Closed) => return Err(ApiError::unauthenticated()),
            (Some(_), SignupPolicy::Closed) => {
                return Err(ApiError::forbidden("only instance administrators can create users"));
            }
            (_, SignupPolicy::Open) => {}
        }
    }
    let request: CreateUserRequest = body.parse()?;
    if request.instance_admin && !caller_is_admin {
        return Err(
            ApiError::forbidden("only instance administrators can create instance administrators")
                .with_field("instance_admin"),
        );
    }
    let email = validated_email(&request.email)?;
    let password_hash = hash_new_password(request.password).await?;
    let user = state
        .store()
        .create_user(
            &NewUser {
                name: request.username,
                email,
                password_hash,
                instance_admin: request.instance_admin,
            },
            state.now(),
        )
        .await?;
    tracing::info!(username = %user.name, by = ?caller.as_ref().map(|c| &c.user.name), "user created");
    match &caller {
        Some(admin) => {
            state
                .service()
                .audit(
                    Actor::User(admin),
                    Change::new(None, "user.created", format!("user {}", user.name))
                        .detail(serde_json::json!({"instance_admin": user.instance_admin})),
                )
                .await
        }
        None => {
            state
                .service()
                .audit(
                    Actor::Anonymous(&client),
                    Change::new(None, "user.signed_up", format!("user {}", user.name)),
                )
                .await
        }
    }
    Ok((StatusCode::CREATED, Json(user.into())))
}

pub(crate) fn validated_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    if text::is_plausible_email(email) {
        Ok(email.to_owned())
    } else {
        Err(ApiError::invalid_field("email", "is not an e-mail address"))
    }
}

/// Checks the password policy, then hashes on the blocking pool (argon2id
/// takes ~15 ms of CPU and must not stall the async workers).
pub(crate) async fn hash_new_password(password: String) -> Result<String, ApiError> {
    password::check_new_password(&password).map_err(|error| ApiError::invalid_field("password", error))?;
    tokio::task::spawn_blocking(move || password::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}
