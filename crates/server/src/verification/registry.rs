//! The Docker registry v2 token service.
//!
//! A registry configured with `auth: token:` sends clients here; they
//! present a robot's Access ID and Token with HTTP Basic (`docker login`,
//! `skopeo login`) and ask for scopes such as `repository:acme/web:pull,push`.
//! The answer is an ES256 JWT granting the intersection of what was asked
//! and what the robot may do. A partial or empty grant is not an error: the
//! registry itself answers `insufficient_scope`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robots_api_types::ErrorCode;
use robots_core::access::RegistryScope;
use serde::Serialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::protocol::{epoch_seconds, form_pairs, json_body, robot_credential};
use crate::error::ApiError;
use crate::keys::{KeyError, SigningAlgorithm, new_jwt_id};
use crate::metrics::Verifier;
use crate::state::AppState;

/// Routed where the operator said (`--registry-token-path`), documented at
/// the default.
pub fn router(path: &str) -> OpenApiRouter<AppState> {
    crate::openapi::shapes::routed_at(OpenApiRouter::default(), path, routes!(token))
}

/// The claims of a registry token, as the registry's token auth reads them.
#[derive(Serialize)]
struct RegistryClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: Uuid,
    access: &'a [GrantedAccess<'a>],
}

#[derive(Serialize)]
struct GrantedAccess<'a> {
    #[serde(rename = "type")]
    resource_type: &'a str,
    name: &'a str,
    actions: Vec<&'static str>,
}

/// `token` for current clients, `access_token` for OAuth-minded ones.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RegistryTokenAnswer)]
struct TokenAnswer<'a> {
    token: &'a str,
    access_token: &'a str,
    expires_in: u64,
    issued_at: String,
}

/// The query of a token request, as registry clients send it (documentation only:
/// the handler reads the repeated `scope` itself).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct RegistryQuery {
    /// The registry's `service` name.
    service: Option<String>,
    /// `repository:{org}/{path}:pull,push`; may repeat.
    scope: Option<Vec<String>>,
    /// The Access ID, as `docker login` sends it.
    account: Option<String>,
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

#[utoipa::path(
    get,
    path = "/v2/token",
    operation_id = "registry_token",
    tag = "verification",
    params(RegistryQuery),
    security(("robot" = []), ("robot_bearer" = [])),
    responses((status = 200, description = "A registry token for the scopes the robot may have (Docker token authentication)", body = TokenAnswer), (status = 401, description = "No valid robot credentials", body = Object), (status = 400, description = "A malformed request", body = robots_api_types::ErrorBody), (status = 429, description = "Too many failures", body = robots_api_types::ErrorBody), (status = 503, description = "The database is out of reach just now; see Retry-After", body = robots_api_types::ErrorBody))
)]
async fn token(State(state): State<AppState>, request: Request) -> Response {
    let (request, _) = request.into_parts();
    let client = state.request_client(&request.headers, &request.extensions);
    let Ok(credential) = robot_credential(&request.headers, client) else {
        return unauthorized(&state);
    };
    let uri = request.uri;
    let owner = match state.verify_robot(&credential, client, Verifier::Registry).await {
        Ok(owner) => owner,
        Err(unavailable) if unavailable.status().is_server_error() => return unavailable.into_response(),
        Err(_) => return unauthorized(&state),
    };
    // `scope` repeats (serde's query parsing would keep one), so read the
    // pairs as they come.
    let query = uri.query().unwrap_or("").as_bytes();
    let config = state.config();
    let service = match form_pairs(query).find(|(key, _)| key == "service") {
        None => config.registry_services.first().cloned().unwrap_or_default(),
        Some((_, service)) if config.registry_services.iter().any(|known| *known == service) => service.into_owned(),
        Some((_, service)) => {
            return ApiError::bad_request(
                ErrorCode::UnknownService,
                format!("this server issues no tokens for the service {service:?}"),
            )
            .into_response();
        }
    };
    // Docker clients send one scope a parameter; others join them with spaces.
    let scopes: Vec<RegistryScope> = form_pairs(query)
        .filter(|(key, _)| key == "scope")
        .flat_map(|(_, value)| value.split(' ').filter_map(RegistryScope::parse).collect::<Vec<_>>())
        .collect();
    let snapshot = if scopes.is_empty() {
        None
    } else {
        match state.robot_access(owner.robot_id).await {
            Ok(snapshot) => Some(snapshot),
            Err(error) => return error.into_response(),
        }
    };
    let access: Vec<GrantedAccess> = match &snapshot {
        None => Vec::new(),
        Some(snapshot) => scopes
            .iter()
            .filter_map(|scope| {
                let granted = scope.grant(snapshot, &owner.org_name, owner.org_id);
                (!granted.is_empty()).then(|| GrantedAccess {
                    resource_type: &scope.resource_type,
                    name: &scope.name,
                    actions: granted.iter().map(|a| a.as_str()).collect(),
                })
            })
            .collect(),
    };
    let granted = access.len();
    let ttl = config.registry_token_ttl;
    let sub = format!("{}/{}", owner.org_name, owner.robot_name);
    // Everything the token says but its times and id: what may be reused.
    let grant = match serde_json::to_string(&("registry", &service, &sub, &access)) {
        Ok(grant) => grant,
        Err(error) => return ApiError::internal(format!("the grant could not be encoded: {error}")).into_response(),
    };
    let issued = state.signed_answer(owner.access_id, grant, ttl, SigningAlgorithm::Es256, |key, now| {
        let claims = RegistryClaims {
            iss: &config.issuer,
            sub: &sub,
            aud: &service,
            exp: epoch_seconds(now + ttl),
            nbf: epoch_seconds(now),
            iat: epoch_seconds(now),
            jti: new_jwt_id(),
            access: &access,
        };
        let jwt = key.sign_jwt(&claims, true)?;
        // Docker clients take expiry as issued_at + expires_in, so a reused
        // answer is right as it stands.
        let answer = serde_json::to_vec(&TokenAnswer {
            token: &jwt,
            access_token: &jwt,
            expires_in: ttl.as_secs(),
            issued_at: now.format(&Rfc3339).unwrap_or_default(),
        })
        .map_err(|error| KeyError::Claims(error.to_string()))?;
        Ok(Bytes::from(answer))
    });
    let Some(Ok(issued)) = issued else {
        return ApiError::internal("no signing key is active").into_response();
    };
    tracing::info!(
        robot = %owner.robot_name, org = %owner.org_name, access_id = %owner.access_id, service = %service,
        granted, requested = scopes.len(), reused = issued.reused, "registry token issued"
    );
    json_body(issued.answer)
}
