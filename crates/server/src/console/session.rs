//! Console sessions: the cookie, the logged-in user, CSRF-checked forms,
//! and the pages that log in, log out and set up the first administrator.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use robots_api_types::ErrorCode;

use robots_core::{SecretHash, SecretKind, SecretToken};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::{ConsoleError, ConsoleResult, ok, render};
use crate::auth::UserSession;
use crate::error::ApiError;
use crate::state::AppState;
use robots_service::{NewUserInput, ServiceError, Via};

const SESSION_COOKIE: &str = "robots_session";
const CSRF_COOKIE: &str = "robots_csrf";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(log_in))
        .route("/logout", post(log_out))
        .route("/setup", get(setup_page).post(set_up))
}

/// The value of cookie `name`, if the request has it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_seconds: u64) -> HeaderValue {
    let secure = if state.config().secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF token of a session: derived from its secret, so it needs no
/// storage and dies with the session.
fn csrf_for(session: &SecretToken) -> String {
    URL_SAFE_NO_PAD.encode(SecretHash::of(format!("console-csrf:{}", session.expose()).as_bytes()).as_bytes())
}

fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A logged-in console user; anyone else is sent to the login page.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub session: UserSession,
    pub csrf: String,
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let to_login = || {
            let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            ConsoleError::Redirect(format!("/login?next={}", url_encode(here)))
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|value| SecretToken::parse_kind(SecretKind::Session, value).ok())
        else {
            return Err(to_login());
        };
        match state
            .resolve_session(
                &token,
                state.client_info(&parts.headers, &parts.extensions),
                crate::auth::Via::Console,
            )
            .await?
        {
            Some(session) => Ok(Self {
                session,
                csrf: csrf_for(&token),
            }),
            None => Err(to_login()),
        }
    }
}

/// A submitted form of a logged-in user, its CSRF token checked.
#[derive(Debug)]
pub struct ConsoleForm<T> {
    pub user: ConsoleUser,
    pub data: T,
}

/// A form with nothing but its CSRF token (a delete button, log out).
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

fn expired_form() -> ConsoleError {
    ConsoleError::Api(ApiError::forbidden(
        "This form has expired or did not come from this console. Go back, reload the page and try again.",
    ))
}

fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConsoleError> {
    serde_urlencoded::from_bytes(bytes).map_err(|error| {
        ConsoleError::Api(ApiError::bad_request(
            ErrorCode::InvalidForm,
            format!("the form is incomplete: {error}"),
        ))
    })
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ConsoleForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = request.into_parts();
        let user = ConsoleUser::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| {
                ConsoleError::Api(ApiError::bad_request(ErrorCode::InvalidForm, rejection.body_text()))
            })?;
        let CsrfField { csrf } = parse_form(&bytes)?;
        if !same_secret(&csrf, &user.csrf) {
            tracing::warn!(username = %user.session.user.name, "console form with a wrong CSRF token");
            return Err(expired_form());
        }
        Ok(Self {
            user,
            data: parse_form(&bytes)?,
        })
    }
}

/// A form submitted before login (login, setup), checked against the
/// double-submit CSRF cookie.
#[derive(Debug)]
struct AnonymousForm<T>(T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AnonymousForm<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let expected = cookie(request.headers(), CSRF_COOKIE).map(str::to_owned);
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            ConsoleError::Api(ApiError::bad_request(ErrorCode::InvalidForm, rejection.body_text()))
        })?;
        let CsrfField { csrf } = parse_form(&bytes)?;
        match expected {
            Some(expected) if !csrf.is_empty() && same_secret(&csrf, &expected) => Ok(Self(parse_form(&bytes)?)),
            _ => Err(expired_form()),
        }
    }
}

/// The pre-login CSRF token: the one in the cookie, or a new one to set.
fn anonymous_csrf(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE) {
        Some(value)
            if value.len() >= 32
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            (value.to_owned(), false)
        }
        _ => (URL_SAFE_NO_PAD.encode(robots_core::secret::random_bytes::<32>()), true),
    }
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// Only a path on this site: one `/`, then neither `/` nor `\\` (which
/// browsers read as another host), and nothing but visible ASCII (a tab is
/// dropped by browsers, so `/\t/evil.example` is `//evil.example`; a CR or
/// LF would break the `Location` header). Anything else: the account page.
fn safe_next(next: &str) -> &str {
    let bytes = next.as_bytes();
    let on_this_site = bytes.first() == Some(&b'/')
        && bytes.get(1).is_some_and(|second| *second != b'/' && *second != b'\\')
        && bytes.iter().all(u8::is_ascii_graphic);
    if on_this_site { next } else { "/account" }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn setup_required(state: &AppState) -> Result<bool, ConsoleError> {
    Ok(state.service().setup_required().await?)
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> ConsoleResult {
    if setup_required(&state).await? {
        return Ok(Redirect::to("/setup").into_response());
    }
    if cookie(&headers, SESSION_COOKIE).is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    Ok(Redirect::to("/login").into_response())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> ConsoleResult {
    if setup_required(&state).await? {
        return Ok(Redirect::to("/setup").into_response());
    }
    let (csrf, fresh) = anonymous_csrf(&headers);
    let page = ok(&LoginPage {
        csrf: csrf.clone(),
        next: query.next.unwrap_or_default(),
        username: String::new(),
        error: None,
    });
    Ok(if fresh {
        with_cookie(page, set_cookie(&state, CSRF_COOKIE, &csrf, 86_400))
    } else {
        page
    })
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
    csrf: String,
}

async fn log_in(
    State(state): State<AppState>,
    client: robots_service::ClientInfo,
    AnonymousForm(form): AnonymousForm<LoginForm>,
) -> ConsoleResult {
    let again = |status: StatusCode, error: &str| {
        render(
            status,
            &LoginPage {
                csrf: form.csrf.clone(),
                next: form.next.clone(),
                username: form.username.clone(),
                error: Some(error.to_owned()),
            },
        )
    };
    let session = match state
        .service()
        .log_in(&form.username, form.password.clone(), &client, Via::Console)
        .await
    {
        Ok(session) => session,
        Err(error @ ServiceError::RobotForbidden(_)) => {
            let page = again(
                StatusCode::FORBIDDEN,
                "Robot accounts cannot use the console. A robot's Access ID and Token are for authenticating \
                 automation to other systems; log in with your own username and password.",
            );
            return Ok(super::with_code(page, ApiError::from(error).code()));
        }
        // A personal access token given as the password: said so, not echoed.
        Err(error @ ServiceError::Invalid { .. }) => {
            let page = again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "A personal access token does not log in to the console: it is for the API and the command line. \
                 Log in with your own password.",
            );
            return Ok(super::with_code(page, ApiError::from(error).code()));
        }
        Err(error @ ServiceError::WrongLogin) => {
            let page = again(StatusCode::UNAUTHORIZED, "Wrong username or password.");
            return Ok(super::with_code(page, ApiError::from(error).code()));
        }
        Err(error @ ServiceError::RateLimited { retry_after }) => {
            let wait = retry_after.as_secs().max(1);
            let mut page = again(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many failed logins. Try again in {wait} seconds."),
            );
            page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return Ok(super::with_code(page, ApiError::from(error).code()));
        }
        Err(error) => return Err(error.into()),
    };
    let max_age = state.config().service.session_ttl.as_secs();
    Ok(with_cookie(
        Redirect::to(safe_next(&form.next)).into_response(),
        set_cookie(&state, SESSION_COOKIE, session.token.expose(), max_age),
    ))
}

async fn log_out(State(state): State<AppState>, form: ConsoleForm<CsrfOnly>) -> ConsoleResult {
    state.service().log_out(&form.user.session).await?;
    Ok(with_cookie(
        Redirect::to("/login").into_response(),
        set_cookie(&state, SESSION_COOKIE, "", 0),
    ))
}

#[derive(Template, Default)]
#[template(path = "setup.html")]
struct SetupPage {
    csrf: String,
    code: String,
    username: String,
    email: String,
    error: Option<String>,
    code_error: Option<String>,
    username_error: Option<String>,
    email_error: Option<String>,
    password_error: Option<String>,
}

async fn setup_page(State(state): State<AppState>, headers: HeaderMap) -> ConsoleResult {
    if !setup_required(&state).await? {
        return Ok(Redirect::to("/login").into_response());
    }
    let (csrf, fresh) = anonymous_csrf(&headers);
    let page = ok(&SetupPage {
        csrf: csrf.clone(),
        ..SetupPage::default()
    });
    Ok(if fresh {
        with_cookie(page, set_cookie(&state, CSRF_COOKIE, &csrf, 86_400))
    } else {
        page
    })
}

#[derive(Deserialize)]
struct SetupForm {
    code: String,
    username: String,
    email: String,
    password: String,
    csrf: String,
}

async fn set_up(
    State(state): State<AppState>,
    client: robots_service::ClientInfo,
    AnonymousForm(form): AnonymousForm<SetupForm>,
) -> ConsoleResult {
    let mut page = SetupPage {
        csrf: form.csrf.clone(),
        code: form.code.clone(),
        username: form.username.clone(),
        email: form.email.clone(),
        ..SetupPage::default()
    };
    let input = NewUserInput {
        username: &form.username,
        email: &form.email,
        password: &form.password,
        instance_admin: true,
    };
    let user = match state.service().complete_setup(&form.code, input, &client).await {
        Ok(user) => user,
        Err(ServiceError::SetupComplete) => return Ok(Redirect::to("/login").into_response()),
        Err(error @ ServiceError::InvalidSetupCode) => {
            page.code_error = Some("That is not the setup code this server printed.".into());
            return Ok(super::refused(&error, &page));
        }
        Err(error @ ServiceError::EmailTaken) => {
            page.email_error = Some("That e-mail address is already in use.".into());
            return Ok(super::refused(&error, &page));
        }
        Err(error) => {
            let refused = super::field_error(error)?;
            let message = Some(refused.message.clone());
            match refused.field.as_str() {
                "code" => {
                    page.code_error =
                        Some("Enter the code exactly as the server printed it: four groups of four characters.".into())
                }
                "email" => page.email_error = Some("Enter an e-mail address.".into()),
                "password" => page.password_error = message,
                _ => page.username_error = message,
            }
            return Ok(refused.render(&page));
        }
    };
    let session = state
        .service()
        .log_in(user.name.as_str(), form.password, &client, Via::Console)
        .await?;
    let max_age = state.config().service.session_ttl.as_secs();
    Ok(with_cookie(
        Redirect::to("/account").into_response(),
        set_cookie(&state, SESSION_COOKIE, session.token.expose(), max_age),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/orgs/acme"), "/orgs/acme");
        assert_eq!(safe_next("//evil.example"), "/account");
        assert_eq!(safe_next("https://evil.example"), "/account");
        assert_eq!(safe_next("/\\evil.example"), "/account");
        assert_eq!(safe_next(""), "/account");
        assert_eq!(safe_next("/\t/evil.example"), "/account");
        assert_eq!(safe_next("/\n/evil.example"), "/account");
        assert_eq!(safe_next("/orgs\r\nSet-Cookie: x=1"), "/account");
        assert_eq!(safe_next("/ orgs"), "/account");
        assert_eq!(safe_next("/\u{0085}"), "/account");
        assert_eq!(safe_next("/orgs/acme?tab=tokens#top"), "/orgs/acme?tab=tokens#top");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; robots_session=rsn_x; b=2"),
        );
        assert_eq!(cookie(&headers, "robots_session"), Some("rsn_x"));
        assert_eq!(cookie(&headers, "robots"), None);
    }
}
