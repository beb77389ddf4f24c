//! OAuth 2.0 client credentials (RFC 6749 §4.4): a robot trades its Access
//! ID (`client_id`) and Token (`client_secret`) for a short-lived ES256 JWT
//! that downstream services verify offline against `/.well-known/jwks.json`.
//! Errors use OAuth's own shape (`{"error": "invalid_client"}`, §5.2).
//! The same endpoint serves token exchange for keyless robots (`exchange`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use robots_core::access::{RegistryScope, resolve};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::protocol::{epoch_seconds, json_body, oauth_error, oauth_unavailable, read_form};
use crate::auth::{Presented, presented_credentials};
use crate::keys::{KeyError, SigningAlgorithm, new_jwt_id};
use crate::metrics::Verifier;
use crate::state::AppState;
use crate::verify::RobotCredential;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(token))
        .routes(routes!(jwks))
        .routes(routes!(discovery))
        // RFC 8414's name for the same document.
        .route("/.well-known/oauth-authorization-server", get(discovery))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TokenForm {
    #[schema(value_type = GrantType)]
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    audience: Option<String>,
    /// Token exchange: the CI job's OIDC ID token.
    subject_token: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:id_token`.
    subject_token_type: Option<String>,
    /// Token exchange: `urn:ietf:params:oauth:token-type:access_token` (the default).
    requested_token_type: Option<String>,
    /// Token exchange: the robot to act as, `org/name`.
    robot: Option<String>,
    /// Client credentials: the JWS algorithm to sign the access token with,
    /// `ES256` (the default) or `RS256`, for relying parties that accept
    /// nothing else.
    #[schema(value_type = Option<SigningAlg>)]
    signing_alg: Option<String>,
}

/// The algorithms the token endpoint signs with (documentation of `signing_alg`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
enum SigningAlg {
    ES256,
    RS256,
}

/// The grant types the token endpoint serves (documentation of `grant_type`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum GrantType {
    ClientCredentials,
    #[schema(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

/// The claims of an access token (RFC 9068's profile, plus who the robot is
/// and what it may do).
#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: Uuid,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: Uuid,
    token_use: &'static str,
    client_id: Uuid,
    org: &'a str,
    org_id: Uuid,
    robot: &'a str,
    scope: &'a str,
    permissions: &'a [PermissionClaim<'a>],
}

#[derive(Serialize)]
struct PermissionClaim<'a> {
    repository: &'a str,
    actions: &'a [&'static str],
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AccessTokenAnswer)]
struct TokenAnswer<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    scope: &'a str,
}

/// The answer but for `expires_in` (see `token`).
#[derive(Serialize)]
struct AnswerHead<'a> {
    access_token: &'a str,
    token_type: &'static str,
    scope: &'a str,
}

/// What the token endpoint answers, by grant type (documentation only).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum TokenEndpointAnswer {
    ClientCredentials(TokenAnswer<'static>),
    Exchange(robots_api_types::ExchangeAnswer),
}

#[utoipa::path(
    post,
    path = "/v1/oauth/token",
    operation_id = "oauth_token",
    tag = "verification",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("robot" = [])),
    responses((status = 200, description = "Client credentials: a signed access token (RFC 9068 profile). Token exchange (RFC 8693): a short-lived robot token", body = TokenEndpointAnswer), (status = 400, description = "A malformed request", body = robots_api_types::OAuthError), (status = 401, description = "No valid credentials", body = robots_api_types::OAuthError), (status = 429, description = "Too many failures", body = robots_api_types::OAuthError), (status = 503, description = "The database is out of reach just now; see Retry-After", body = robots_api_types::OAuthError))
)]
async fn token(State(state): State<AppState>, request: Request) -> Response {
    let (request, form) = read_form::<TokenForm>(request, state.config().max_body_bytes).await;
    let form = match form {
        Ok(form) => form,
        Err(message) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &message),
    };
    let algorithm = match form.signing_alg.as_deref() {
        None => SigningAlgorithm::Es256,
        Some(name) => match SigningAlgorithm::parse(name) {
            Some(algorithm) => algorithm,
            None => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("signing_alg {name:?} is not one this server signs with: ES256 or RS256"),
                );
            }
        },
    };
    if form.grant_type.as_deref() == Some(super::exchange::GRANT_TYPE) {
        if form.signing_alg.is_some() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "signing_alg applies to client_credentials: a token exchange answers a robot token, not a JWT",
            );
        }
        let exchange = super::exchange::ExchangeRequest {
            subject_token: form.subject_token.as_deref(),
            subject_token_type: form.subject_token_type.as_deref(),
            requested_token_type: form.requested_token_type.as_deref(),
            robot: form.robot.as_deref(),
        };
        // Boxed: an exchange fetches issuers' keys, a future many times the
        // size of everything else here, which client credentials need not carry.
        return Box::pin(super::exchange::exchange(&state, &request, exchange)).await;
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:token-exchange",
        );
    }
    let client = state.request_client(&request.headers, &request.extensions);
    let credential = match (
        presented_credentials(&request.headers),
        &form.client_id,
        &form.client_secret,
    ) {
        (Ok(Some(Presented::Robot(credential))), None, None) if credential.access_id.is_some() => Ok(credential),
        (Ok(None), Some(id), Some(secret)) => {
            RobotCredential::from_basic(id.as_bytes(), secret.as_bytes()).map_err(|_| ())
        }
        (Ok(Some(_)), Some(_), _) | (Ok(Some(_)), _, Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "authenticate the client one way: Basic or form, not both",
            );
        }
        _ => Err(()),
    };
    let owner = match credential {
        Ok(credential) => match state.verify_robot(&credential, client, Verifier::OAuth).await {
            Ok(owner) => owner,
            Err(unavailable) if unavailable.status().is_server_error() => {
                return oauth_unavailable(unavailable);
            }
            Err(_) => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "unknown client or wrong secret",
                );
            }
        },
        Err(()) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong secret",
            );
        }
    };
    let config = state.config();
    let audience = match form.audience {
        None => config.default_audience().to_owned(),
        Some(audience) if audience == config.default_audience() || config.oauth_audiences.contains(&audience) => {
            audience
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "this server issues no tokens for that audience",
            );
        }
    };
    let snapshot = match state.robot_access(owner.robot_id).await {
        Ok(snapshot) => snapshot,
        Err(error) => {
            error.log_cause();
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "try again later");
        }
    };
    // Everything the robot may do, or the intersection with what was asked.
    let permissions: Vec<(String, Vec<&'static str>)> =
        match form.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => resolve(&snapshot)
                .into_iter()
                .map(|e| {
                    (
                        format!("{}/{}", owner.org_name, e.repository),
                        e.permission.actions().iter().map(|a| a.as_str()).collect(),
                    )
                })
                .collect(),
            Some(requested) => {
                let mut granted = Vec::new();
                for text in requested.split(' ').filter(|s| !s.is_empty()) {
                    let Some(scope) = RegistryScope::parse(text) else {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_scope",
                            "scopes look like repository:org/path:pull,push",
                        );
                    };
                    let actions = scope.grant(&snapshot, &owner.org_name, owner.org_id);
                    if !actions.is_empty() {
                        granted.push((scope.name, actions.iter().map(|a| a.as_str()).collect()));
                    }
                }
                if granted.is_empty() {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        "the robot holds none of the requested scopes",
                    );
                }
                granted
            }
        };
    let scope = permissions
        .iter()
        .map(|(repository, actions)| format!("repository:{repository}:{}", actions.join(",")))
        .collect::<Vec<_>>()
        .join(" ");
    let ttl = config.access_token_ttl;
    let permissions: Vec<PermissionClaim> = permissions
        .iter()
        .map(|(repository, actions)| PermissionClaim { repository, actions })
        .collect();
    // Everything the token says but its times and id (the robot's names and
    // ids follow from the Access ID): what may be reused.
    let grant = format!("oauth\n{audience}\n{scope}");
    if let Err(error) = state.keys().ensure_signer(state.store(), state.now(), algorithm).await {
        tracing::error!(%error, algorithm = algorithm.as_str(), "no signing key could be made");
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no signing key is active",
        );
    }
    let issued = state.signed_answer(owner.access_id, grant, ttl, algorithm, |key, now| {
        let claims = AccessClaims {
            iss: &config.issuer,
            sub: owner.robot_id,
            aud: &audience,
            exp: epoch_seconds(now + ttl),
            nbf: epoch_seconds(now),
            iat: epoch_seconds(now),
            jti: new_jwt_id(),
            token_use: "access",
            client_id: owner.access_id,
            org: owner.org_name.as_str(),
            org_id: owner.org_id,
            robot: owner.robot_name.as_str(),
            scope: &scope,
            permissions: &permissions,
        };
        let jwt = key.sign_jwt(&claims, false)?;
        // All of the answer but `expires_in`, which counts down when the
        // token is given again: `{…,"expires_in":` then the seconds and `}`.
        let mut head = serde_json::to_vec(&AnswerHead {
            access_token: &jwt,
            token_type: "Bearer",
            scope: &scope,
        })
        .map_err(|error| KeyError::Claims(error.to_string()))?;
        head.pop();
        head.extend_from_slice(b",\"expires_in\":");
        Ok(Bytes::from(head))
    });
    let Some(Ok(issued)) = issued else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no signing key is active",
        );
    };
    tracing::info!(robot = %owner.robot_name, org = %owner.org_name, access_id = %owner.access_id, reused = issued.reused, "access token issued");
    let expires_in = (issued.issued_at + ttl - state.now()).whole_seconds().max(0);
    let mut answer = Vec::with_capacity(issued.answer.len() + 24);
    answer.extend_from_slice(&issued.answer);
    answer.extend_from_slice(expires_in.to_string().as_bytes());
    answer.push(b'}');
    let mut response = json_body(Bytes::from(answer));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "verification",
    security(()),
    responses((status = 200, description = "The public keys that sign access and registry tokens (RFC 7517)", body = Object))
)]
async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.keys().jwks(state.now())).into_response();
    // Verifiers cache it briefly; a rotation publishes the next key ahead of use.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "verification",
    security(()),
    responses((status = 200, description = "Provider metadata (OpenID Connect Discovery; the same document is RFC 8414's, at /.well-known/oauth-authorization-server)", body = Object))
)]
async fn discovery(State(state): State<AppState>) -> Json<Value> {
    let config = state.config();
    let base = config.public_url.as_str();
    // Only what this server does. It has no authorization endpoint: its JWTs
    // come from the token endpoint, and they carry what an ID token must
    // (`iss`, `sub`, `aud`, `exp`, `iat`), which is how relying parties that
    // federate with a JWT issuer (clouds' workload identity) read them. So,
    // like other issuers of machine JWTs, it names `id_token` as its one
    // response type. RS256 is signed on request (`signing_alg`); Discovery
    // requires every provider to offer it.
    let algorithms: Vec<&str> = SigningAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
    Json(json!({
        "issuer": config.issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint": format!("{base}/v1/oauth/token"),
        "introspection_endpoint": format!("{base}/v1/introspect"),
        "grant_types_supported": ["client_credentials", super::exchange::GRANT_TYPE],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "Bearer"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "token_use", "client_id", "org", "org_id", "robot", "scope", "permissions"
        ],
    }))
}
