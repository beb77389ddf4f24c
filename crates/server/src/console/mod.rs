//! The Admin Console: server-rendered pages over the same store and rules
//! as the REST API.
//!
//! - Sessions are the API's sessions, carried in an `HttpOnly`,
//!   `SameSite=Strict` cookie (`Secure` when served over HTTPS).
//! - Every form carries a CSRF token: for logged-in users it is derived
//!   from the session secret (nothing to store); before login it is a
//!   double-submit cookie.
//! - Pages are askama templates (escaped automatically); the only script is
//!   `static/console.js`, loaded from our origin under a strict CSP, and
//!   every flow but "copy" works without it.
//! - Every change and every page's data goes through the service
//!   (`robots_service`), which authorizes, validates and records exactly as
//!   it does for the API; its refusals are rendered next to the form field
//!   at fault ([`field_error`]) or as the error page ([`ConsoleError`]).

mod account;
pub mod assets;
mod audit;
mod chrome;
mod federation;
mod instance;
mod members;
mod orgs;
mod personal_tokens;
mod repositories;
mod robots;
mod session;
mod settings;
mod teams;
mod tokens;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use robots_api_types::ErrorCode;
use robots_service::ServiceError;

use crate::error::ApiError;
use crate::state::AppState;

pub use session::{ConsoleForm, ConsoleUser};

pub fn router() -> Router<AppState> {
    let pages = Router::new()
        .merge(session::router())
        .merge(account::router())
        .merge(instance::router())
        .merge(personal_tokens::router())
        .merge(orgs::router())
        .merge(members::router())
        .merge(robots::router())
        .merge(tokens::router())
        .merge(federation::router())
        .merge(teams::router())
        .merge(repositories::router())
        .merge(audit::router())
        .merge(settings::router())
        .merge(webhooks::router())
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    Router::new().merge(pages).merge(assets::router()).layer(
        // HTML, CSS and JS compress to a fifth or less. Safe from BREACH-style
        // guessing: the session cookie is SameSite=Strict, so no other site
        // can make a browser fetch a page that holds a secret.
        CompressionLayer::new().gzip(true).br(true),
    )
}

/// A request no route answers: the console's error page for a browser
/// (it asks for HTML), with `for_people` as its message; the API's JSON
/// error for everyone else.
pub fn error_for(headers: &HeaderMap, error: ApiError, for_people: &str) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return error.into_response();
    }
    ConsoleError::Api(ApiError::new(error.status(), error.code(), for_people)).into_response()
}

/// Renders a page with a status.
fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(error) => ApiError::internal(format!("template: {error}")).into_response(),
    }
}

/// A form's text field as the service takes an optional value: a blank
/// field is an absent one (no maximum, say).
pub(crate) fn non_blank(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|text| !text.is_empty())
}

fn ok(page: &impl Template) -> Response {
    render(StatusCode::OK, page)
}

/// Why a console request did not produce its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// Go elsewhere (303 See Other), e.g. to log in.
    Redirect(String),
    /// An error page.
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<robots_store::StoreError> for ConsoleError {
    fn from(error: robots_store::StoreError) -> Self {
        Self::Api(error.into())
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(error: ServiceError) -> Self {
        Self::Api(error.into())
    }
}

/// A refusal that belongs next to one field of a form.
#[derive(Debug)]
pub(crate) struct FieldError {
    /// The service's name for the field (`name`, `expires_at`, …).
    pub field: String,
    /// What to show beside it, as a sentence.
    pub message: String,
    pub status: StatusCode,
    /// The API's error code for the same refusal.
    pub code: ErrorCode,
}

impl FieldError {
    /// A form's own field the console could not read (a line of a text
    /// area that is not `key = value`, say): refused as the service
    /// refuses a bad value.
    pub(crate) fn invalid(field: &str, message: String) -> Self {
        Self {
            field: field.to_owned(),
            message,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: ErrorCode::InvalidField,
        }
    }

    /// The form's page again, with this refusal's status and code.
    pub(crate) fn render(&self, page: &impl Template) -> Response {
        with_code(render(self.status, page), self.code)
    }
}

/// A page re-rendered because the service refused what it was asked: with
/// the status the API would answer, and the API's error code in
/// `X-Robots-Error`, so a script (or a test) driving the console can tell
/// one refusal from another as it can with the API.
pub(crate) fn refused(error: &ServiceError, page: &impl Template) -> Response {
    let api = ApiError::from(error.clone());
    with_code(render(api.status(), page), api.code())
}

pub(crate) fn with_code(mut response: Response, code: ErrorCode) -> Response {
    response
        .headers_mut()
        .insert(ERROR_CODE, HeaderValue::from_static(code.as_str()));
    response
}

/// The header that names the rule behind a refused console request.
pub(crate) const ERROR_CODE: &str = "x-robots-error";

/// Splits the service's refusals: a bad or taken value goes back to the
/// form beside its field; anything else is the error page.
pub(crate) fn field_error(error: ServiceError) -> Result<FieldError, ConsoleError> {
    let api = ApiError::from(error.clone());
    let (status, code) = (api.status(), api.code());
    match error {
        ServiceError::Invalid { field, message } => Ok(FieldError {
            field,
            message: sentence(&message),
            status,
            code,
        }),
        ServiceError::NameTaken { field, message } => Ok(FieldError {
            field: field.to_owned(),
            message: sentence(&message),
            status,
            code,
        }),
        other => Err(other.into()),
    }
}

/// "must be …" as it reads beside a field: "Must be ….".
pub(crate) fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    personal_account: bool,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            Self::Redirect(to) => Redirect::to(&to).into_response(),
            Self::Api(error) => {
                let status = error.status();
                // The page says no more than the API would; the cause goes to the log.
                error.log_cause();
                let title = match status {
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::METHOD_NOT_ALLOWED => "Not a page",
                    StatusCode::FORBIDDEN => "Permission needed",
                    StatusCode::UNPROCESSABLE_ENTITY if error.code() == ErrorCode::PersonalAccount => {
                        "Personal account"
                    }
                    status if status.is_server_error() => "Something went wrong",
                    _ => "That did not work",
                };
                let page = render(
                    status,
                    &ErrorPage {
                        title,
                        // The API's message, written as a sentence: it names
                        // the permission ("only admins of acme can …").
                        message: &sentence(error.message()),
                        personal_account: error.code() == ErrorCode::PersonalAccount,
                    },
                );
                with_code(page, error.code())
            }
        }
    }
}

pub type ConsoleResult<T = Response> = Result<T, ConsoleError>;
