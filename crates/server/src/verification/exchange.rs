//! OAuth 2.0 token exchange (RFC 8693) for keyless robots: a CI job trades
//! its OIDC ID token for a short-lived token of the robot it names, if one of
//! the robot's federated credentials trusts the token. The answer is an
//! ordinary robot token (`rbt_…`, with its Access ID), so it works wherever
//! a robot token works, and it expires on its own.
//!
//! Every refusal answers the same `invalid_grant`; the reason (which check or
//! condition failed) goes to the organization's audit log, so an admin can
//! debug a policy without the endpoint becoming an oracle.

use axum::Json;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use robots_api_types::ExchangeAnswer;
use robots_service::{ExchangeRefused, Rejection};

use super::protocol::oauth_error;
use crate::metrics::{Outcome, Verifier};
use crate::state::AppState;
use robots_service::limits::address_key;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The parameters of an exchange, from the token endpoint's form.
#[derive(Debug)]
pub struct ExchangeRequest<'a> {
    pub subject_token: Option<&'a str>,
    pub subject_token_type: Option<&'a str>,
    pub requested_token_type: Option<&'a str>,
    /// `org/robot`.
    pub robot: Option<&'a str>,
}

fn not_accepted() -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "the subject token was not accepted for that robot",
    )
}

pub async fn exchange(state: &AppState, request: &Parts, form: ExchangeRequest<'_>) -> Response {
    let (Some(subject_token), Some(subject_token_type), Some(robot)) =
        (form.subject_token, form.subject_token_type, form.robot)
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a token exchange needs subject_token, subject_token_type and robot (org/name)",
        );
    };
    if subject_token_type != ID_TOKEN_TYPE && subject_token_type != JWT_TYPE {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token_type must be urn:ietf:params:oauth:token-type:id_token",
        );
    }
    if form
        .requested_token_type
        .is_some_and(|wanted| wanted != ACCESS_TOKEN_TYPE)
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "requested_token_type can only be urn:ietf:params:oauth:token-type:access_token",
        );
    }
    let client = state.client_info(&request.headers, &request.extensions);
    let address = client.ip.map(address_key);
    let limits = state.service().limits();
    if let Some(address) = address
        && let Err(wait) = limits.robot_address.check(&address, state.now_ms())
    {
        state.metrics().authenticated(Verifier::Exchange, Outcome::RateLimited);
        let mut response = oauth_error(StatusCode::TOO_MANY_REQUESTS, "slow_down", "too many failed attempts");
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    match state
        .service()
        .exchange(robot, subject_token, state.issuers(), &client)
        .await
    {
        Ok(exchanged) => {
            state.metrics().authenticated(Verifier::Exchange, Outcome::Ok);
            let mut response = Json(ExchangeAnswer {
                access_token: exchanged.token.secret.expose().to_owned(),
                issued_token_type: ACCESS_TOKEN_TYPE.to_owned(),
                token_type: "Bearer".to_owned(),
                expires_in: exchanged.lifetime.as_secs(),
                access_id: exchanged.token.access_id,
                robot: exchanged.robot,
            })
            .into_response();
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(refused) => {
            if !matches!(refused, ExchangeRefused::Internal(_))
                && let Some(address) = address
            {
                limits.robot_address.fail(address, state.now_ms());
            }
            match refused {
                ExchangeRefused::NotAccepted(kind) => {
                    let outcome = match kind {
                        Rejection::Unknown => Outcome::Unknown,
                        Rejection::BadSignature => Outcome::WrongSecret,
                        Rejection::Expired => Outcome::Expired,
                        Rejection::Disabled => Outcome::Disabled,
                        Rejection::Conditions => Outcome::Forbidden,
                    };
                    state.metrics().authenticated(Verifier::Exchange, outcome);
                    not_accepted()
                }
                // Not the job's fault: say so, without saying more.
                ExchangeRefused::IssuerUnreachable => oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the issuer's keys could not be fetched; try again",
                ),
                ExchangeRefused::Internal(_) => {
                    oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "try again later")
                }
            }
        }
    }
}
