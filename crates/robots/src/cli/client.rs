//! The REST API from the command line's side: one client speaking the
//! API's own wire types (`robots-api-types`), one error type, and the exit
//! codes scripts can branch on.

use reqwest::{Method, StatusCode};
use robots_api_types::{ErrorBody, ErrorCode, List, OAuthError};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

/// Exit codes, documented in `docs/cli.md`.
pub mod exit {
    /// A server or network error (5xx, cannot connect).
    pub const SERVER: u8 = 1;
    /// A usage error: bad arguments, or input the API refused (400, 415, 422).
    pub const USAGE: u8 = 2;
    /// Not logged in, bad credentials, or not allowed (401, 403).
    pub const AUTH: u8 = 3;
    /// What was named does not exist, or is not visible to you (404).
    pub const NOT_FOUND: u8 = 4;
    /// A conflict: a name already taken, the last admin, a token rotated already (409).
    pub const CONFLICT: u8 = 5;
}

#[derive(Debug)]
pub enum CliError {
    /// Wrong use of the command line, found before any request.
    Usage(String),
    /// Not logged in, found before any request.
    NotLoggedIn(String),
    /// The API answered with one of its errors.
    Api {
        status: StatusCode,
        code: ErrorCode,
        message: String,
    },
    /// The OAuth token endpoint refused, in OAuth's own terms (RFC 6749
    /// §5.2): `invalid_grant`, `invalid_client`, … are not the API's codes.
    OAuth {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// An error status without an error body of ours (a proxy's answer, a
    /// plain-text resource).
    Http { status: StatusCode, message: String },
    /// The server could not be reached, or answered nonsense.
    Network(String),
    /// A local file or terminal problem.
    Local(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::NotLoggedIn(_) => exit::AUTH,
            // OAuth answers a refused credential (an exchange's ID token) with 400
            // `invalid_grant` (RFC 6749 §5.2): bad credentials all the same.
            Self::OAuth { code, .. } if code == "invalid_grant" || code == "invalid_client" => exit::AUTH,
            Self::Api { status, .. } | Self::OAuth { status, .. } | Self::Http { status, .. } => {
                match status.as_u16() {
                    401 | 403 => exit::AUTH,
                    404 => exit::NOT_FOUND,
                    409 => exit::CONFLICT,
                    400..=499 => exit::USAGE,
                    _ => exit::SERVER,
                }
            }
            Self::Network(_) | Self::Local(_) => exit::SERVER,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Usage(message) | Self::NotLoggedIn(message) | Self::Network(message) | Self::Local(message) => {
                f.write_str(message)
            }
            Self::Api { code, message, .. } => write!(f, "{message} ({code})"),
            Self::OAuth { code, message, .. } => write!(f, "{message} ({code})"),
            Self::Http { message, .. } => write!(f, "{message} (http_error)"),
        }
    }
}

/// A refusal in the command line's terms: the API names the request's
/// field at fault (`expires_in: …`), the command line its flag.
pub fn with_flags(error: CliError, flags: &[(&str, &str)]) -> CliError {
    match error {
        CliError::Api { status, code, message } => {
            let message = flags
                .iter()
                .find_map(|(field, flag)| {
                    message
                        .strip_prefix(field)
                        .and_then(|rest| rest.strip_prefix(": "))
                        .map(|rest| format!("{flag}: {rest}"))
                })
                .unwrap_or(message);
            CliError::Api { status, code, message }
        }
        other => other,
    }
}

/// The bodies a non-2xx answer of ours can carry.
#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorAnswer {
    /// The API's own `{"error": {"code", "message"}}`.
    Api(ErrorBody),
    /// OAuth's `{"error", "error_description"}`, from `/v1/oauth/token`.
    OAuth(OAuthError),
}

/// The body of a request that sends none: `client.send(method, path, NO_BODY)`.
pub const NO_BODY: Option<&()> = None;

/// How requests authenticate.
#[derive(Clone)]
pub enum Credential {
    None,
    /// A session token (from `robots login`) or a robot token.
    Bearer(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    pub server: String,
    credential: Credential,
}

impl Client {
    pub fn new(server: &str, credential: Credential) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("robots-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| CliError::Local(format!("cannot set up HTTP: {error}")))?;
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_owned(),
            credential,
        })
    }

    pub fn with_credential(&self, credential: Credential) -> Self {
        Self {
            credential,
            ..self.clone()
        }
    }

    /// A request to `path`, with the credential if there is one.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.server));
        match &self.credential {
            Credential::Bearer(token) => request.bearer_auth(token),
            Credential::None => request,
        }
    }

    async fn dispatch(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CliError> {
        request.send().await.map_err(|error| {
            CliError::Network(format!(
                "cannot reach the server at {}: {}",
                self.server,
                root_cause(&error)
            ))
        })
    }

    /// The error a non-2xx answer's body carries: the API's, OAuth's, or
    /// (from something else that speaks HTTP) just the status.
    fn refusal(&self, status: StatusCode, text: &str) -> CliError {
        match serde_json::from_str::<ErrorAnswer>(text) {
            Ok(ErrorAnswer::Api(body)) => CliError::Api {
                status,
                code: body.error.code,
                message: body.error.message,
            },
            Ok(ErrorAnswer::OAuth(OAuthError {
                error,
                error_description,
            })) => CliError::OAuth {
                status,
                code: error,
                message: error_description.unwrap_or_else(|| format!("HTTP {status}")),
            },
            // Some other JSON, or none: an HTTP error all the same.
            Err(_) if text.is_empty() || serde_json::from_str::<IgnoredAny>(text).is_ok() => CliError::Http {
                status,
                message: format!("HTTP {status}"),
            },
            // A web page, most likely: --server names something else.
            Err(_) => self.not_a_robots_server(status),
        }
    }

    fn not_a_robots_server(&self, status: StatusCode) -> CliError {
        CliError::Network(format!(
            "{} did not answer like a robots server (HTTP {status}); check --server",
            self.server
        ))
    }

    /// Sends a request with an optional JSON body; a 2xx answer's body as
    /// `T`, else the API's error.
    pub async fn send<B, T>(&self, method: Method, path: &str, body: Option<&B>) -> Result<T, CliError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request).await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(Method::GET, path, NO_BODY).await
    }

    /// A request without a body whose answer carries nothing to read (a
    /// deletion's 204, adding a team member): only its error matters.
    pub async fn perform(&self, method: Method, path: &str) -> Result<(), CliError> {
        let _: IgnoredAny = self.send(method, path, NO_BODY).await?;
        Ok(())
    }

    /// POSTs a form (the OAuth endpoints take no JSON); as [`Self::send`].
    pub async fn post_form<T: DeserializeOwned>(&self, path: &str, form: &[(&str, &str)]) -> Result<T, CliError> {
        self.answer(self.request(Method::POST, path).form(form)).await
    }

    /// A 2xx answer's body as `T` (an empty body reads as `null`), else the
    /// error the answer carries.
    async fn answer<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, CliError> {
        let response = self.dispatch(request).await?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| CliError::Network(format!("the server's answer was cut off: {error}")))?;
        if !status.is_success() {
            return Err(self.refusal(status, &text));
        }
        let json = if text.is_empty() { "null" } else { text.as_str() };
        serde_json::from_str(json).map_err(|error| {
            if error.is_data() {
                // JSON, but not the answer this command line reads.
                CliError::Network(format!(
                    "{} answered in a shape this command line does not read ({error}); check --server, \
                     or use the command line of the server's version",
                    self.server
                ))
            } else {
                self.not_a_robots_server(status)
            }
        })
    }

    /// A GET whose 2xx body is handed to `sink` piece by piece as it
    /// arrives (an export), else the API's error.
    pub async fn stream(&self, path: &str, mut sink: impl FnMut(&[u8])) -> Result<(), CliError> {
        let mut response = self.dispatch(self.request(Method::GET, path)).await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(self.refusal(status, &text));
        }
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| CliError::Network(format!("the server's answer was cut off: {error}")))?
        {
            sink(&chunk);
        }
        Ok(())
    }

    /// A plain-text resource (no authentication needed or sent).
    pub async fn get_text(&self, path: &str) -> Result<String, CliError> {
        let response = self
            .http
            .get(format!("{}{path}", self.server))
            .send()
            .await
            .map_err(|error| {
                CliError::Network(format!(
                    "cannot reach the server at {}: {}",
                    self.server,
                    root_cause(&error)
                ))
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| CliError::Network(error.to_string()))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(CliError::Http {
                status,
                message: format!("HTTP {status} for {path}"),
            })
        }
    }

    /// Every item of a paginated list.
    pub async fn get_all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, CliError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page: List<T> = match &cursor {
                None => self.get(&format!("{path}{separator}limit=200")).await?,
                Some(cursor) => self.get(&format!("{path}{separator}limit=200&cursor={cursor}")).await?,
            };
            items.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// A path segment, percent-encoded where needed (names never need it, but
/// what a user typed might).
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A query string (`?a=1&b=x`) of the pairs that have a value, each
/// percent-encoded; empty when none has.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|value| format!("{key}={}", segment(value))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}
