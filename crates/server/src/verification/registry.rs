//! The Docker registry v2 token service.
//!
//! A registry configured with `auth: token:` sends clients here; they
//! present a robot's Access ID and Token with HTTP Basic (`docker login`,
//! `skopeo login`) and ask for scopes such as `repository:acme/web:pull,push`.
//! The answer is an ES256 JWT granting the intersection of what was asked
//! and what the robot may do. A partial or empty grant is not an error: the
//! registry itself answers `insufficient_scope`.

use axum::Json;
use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use robots_core::access::RegistryScope;
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::{epoch_seconds, robot_from_headers};
use crate::error::ApiError;
use crate::state::{AppState, ClientInfo};

pub fn router(path: &str) -> Router<AppState> {
    Router::new().route(path, get(token))
}

#[derive(Deserialize)]
struct TokenQuery {
    service: Option<String>,
}

/// A 401 in the shape registry clients expect, with a Basic challenge so
/// `docker login` asks for the Access ID and Token.
fn unauthorized(state: &AppState) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required: use a robot's Access ID and Token"}]})),
    )
        .into_response();
    let challenge = format!(r#"Basic realm="{}""#, state.config().issuer);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
    RawQuery(raw): RawQuery,
    client: ClientInfo,
) -> Response {
    let owner = match robot_from_headers(&state, &headers, &client).await {
        Ok(owner) => owner,
        Err(_) => return unauthorized(&state),
    };
    let config = state.config();
    let service = match query.service {
        Some(service) if config.registry_services.contains(&service) => service,
        Some(service) => {
            return ApiError::bad_request(
                "unknown_service",
                format!("this server issues no tokens for the service {service:?}"),
            )
            .into_response();
        }
        None => config.registry_services.first().cloned().unwrap_or_default(),
    };
    // `scope` repeats; serde's Query keeps only one, so read them all.
    let scopes: Vec<RegistryScope> = raw
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| *key == "scope")
        .filter_map(|(_, value)| percent_decode(value))
        .flat_map(|value| value.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|scope| RegistryScope::parse(&scope))
        .collect();
    let access: Vec<Value> = if scopes.is_empty() {
        Vec::new()
    } else {
        let snapshot = match state.robot_access(owner.robot_id).await {
            Ok(snapshot) => snapshot,
            Err(error) => return error.into_response(),
        };
        scopes
            .iter()
            .filter_map(|scope| {
                let granted = scope.grant(&snapshot, &owner.org_name, owner.org_id);
                (!granted.is_empty()).then(|| {
                    json!({
                        "type": scope.resource_type,
                        "name": scope.name,
                        "actions": granted.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                    })
                })
            })
            .collect()
    };
    let now = state.now();
    let ttl = config.registry_token_ttl;
    let claims = json!({
        "iss": config.issuer,
        "sub": format!("{}/{}", owner.org_name, owner.robot_name),
        "aud": service,
        "exp": epoch_seconds(now + ttl),
        "nbf": epoch_seconds(now),
        "iat": epoch_seconds(now),
        "jti": uuid::Uuid::new_v4().to_string(),
        "access": access,
    });
    let signed = state.keys().with_signer(now, |key| key.sign_jwt(&claims, true));
    let Some(Ok(jwt)) = signed else {
        return ApiError::internal("no signing key is active").into_response();
    };
    tracing::info!(
        robot = %owner.robot_name, org = %owner.org_name, access_id = %owner.access_id, service = %service,
        granted = access.len(), requested = scopes.len(), "registry token issued"
    );
    Json(json!({
        "token": jwt,
        "access_token": jwt,
        "expires_in": ttl.as_secs(),
        "issued_at": now.format(&Rfc3339).unwrap_or_default(),
    }))
    .into_response()
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(index + 1..index + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_decoding() {
        assert_eq!(
            super::percent_decode("repository%3Aacme%2Fweb%3Apull%2Cpush").as_deref(),
            Some("repository:acme/web:pull,push")
        );
        assert_eq!(super::percent_decode("a+b").as_deref(), Some("a b"));
        assert_eq!(super::percent_decode("bad%2"), None);
        assert_eq!(super::percent_decode("bad%zz"), None);
    }
}
