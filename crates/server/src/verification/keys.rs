//! The signing keys from outside: their certificates (public, for a
//! registry's `rootcertbundle`), and listing and rotating them (instance
//! administrators).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use robots_core::duration::parse_duration;
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys/certificates.pem", get(certificates))
        .route("/v1/keys", get(list))
        .route("/v1/keys/rotate", post(rotate))
}

async fn certificates(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.keys().certificates_pem(state.now()),
    )
        .into_response()
}

fn require_instance_admin(caller: &crate::auth::UserSession) -> Result<(), ApiError> {
    if caller.user.instance_admin {
        Ok(())
    } else {
        Err(ApiError::forbidden("only instance administrators manage signing keys"))
    }
}

async fn list(State(state): State<AppState>, CurrentUser(caller): CurrentUser) -> ApiResult<Json<Value>> {
    require_instance_admin(&caller)?;
    let now = state.now();
    let items: Vec<Value> = state
        .keys()
        .describe(now)
        .into_iter()
        .map(|(kid, not_before, retired_at, signing)| {
            json!({
                "kid": kid,
                "not_before": not_before.format(&Rfc3339).unwrap_or_default(),
                "retired_at": retired_at.and_then(|at| at.format(&Rfc3339).ok()),
                "signing": signing,
            })
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    /// How long until the new key starts signing, e.g. `24h` (default: now).
    #[serde(default)]
    after: Option<String>,
}

async fn rotate(
    State(state): State<AppState>,
    CurrentUser(caller): CurrentUser,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_instance_admin(&caller)?;
    // The body is optional: no body rotates now.
    let request: RotateRequest = if body.is_empty() {
        RotateRequest::default()
    } else {
        JsonBody::from_bytes(body).parse()?
    };
    let delay = match request.after.as_deref() {
        None | Some("") => std::time::Duration::ZERO,
        Some(text) => parse_duration(text).map_err(|error| ApiError::invalid_field("after", error))?,
    };
    let now = state.now();
    let not_before = now + delay;
    let kid = state
        .keys()
        .rotate(state.store(), now, not_before)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(%kid, by = %caller.user.name, "signing key rotated");
    state
        .audit(
            crate::audit::Actor::User(&caller),
            crate::audit::Change::new(None, "key.rotated", format!("key {kid}"))
                .detail(json!({"not_before": not_before.format(&Rfc3339).unwrap_or_default()})),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(json!({"kid": kid, "not_before": not_before.format(&Rfc3339).unwrap_or_default()})),
    ))
}
