//! The REST API from the command line's side: one client, one error type,
//! and the exit codes scripts can branch on.

use reqwest::{Method, StatusCode};
use serde_json::Value;

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
    /// The API answered with an error.
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
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
            Self::Api { code, .. } if code == "invalid_grant" || code == "invalid_client" => exit::AUTH,
            Self::Api { status, .. } => match status.as_u16() {
                401 | 403 => exit::AUTH,
                404 => exit::NOT_FOUND,
                409 => exit::CONFLICT,
                400..=499 => exit::USAGE,
                _ => exit::SERVER,
            },
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
        }
    }
}

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

    /// The API's error from a non-2xx answer's body: the API's own
    /// `{"error": {"code", "message"}}`, or OAuth's `{"error", "error_description"}`.
    fn api_error(status: StatusCode, text: &str) -> CliError {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let (code, message) = match &value["error"] {
            Value::String(code) => (Some(code.as_str()), value["error_description"].as_str()),
            error => (error["code"].as_str(), error["message"].as_str()),
        };
        CliError::Api {
            status,
            code: code.unwrap_or("http_error").to_owned(),
            message: message.map(str::to_owned).unwrap_or_else(|| format!("HTTP {status}")),
        }
    }

    /// Sends a request; a 2xx answer's JSON body (or `null`), else the
    /// API's error.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request).await
    }

    /// POSTs a form (the OAuth endpoints take no JSON); as [`Self::send`].
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, CliError> {
        self.answer(self.request(Method::POST, path).form(form)).await
    }

    /// A 2xx answer's JSON body (or `null`), else the API's error.
    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, CliError> {
        let response = self.dispatch(request).await?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| CliError::Network(format!("the server's answer was cut off: {error}")))?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|_| {
                CliError::Network(format!(
                    "{} did not answer like a robots server (HTTP {status}); check --server",
                    self.server
                ))
            })?
        };
        if status.is_success() {
            return Ok(value);
        }
        Err(Self::api_error(status, &text))
    }

    /// A GET whose 2xx body is handed to `sink` piece by piece as it
    /// arrives (an export), else the API's error.
    pub async fn stream(&self, path: &str, mut sink: impl FnMut(&[u8])) -> Result<(), CliError> {
        let mut response = self.dispatch(self.request(Method::GET, path)).await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(Self::api_error(status, &text));
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
            Err(CliError::Api {
                status,
                code: "http_error".into(),
                message: format!("HTTP {status} for {path}"),
            })
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None).await
    }

    /// Every item of a paginated list.
    pub async fn get_all(&self, path: &str) -> Result<Vec<Value>, CliError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let page = match &cursor {
                None => self.get(&format!("{path}{separator}limit=200")).await?,
                Some(cursor) => self.get(&format!("{path}{separator}limit=200&cursor={cursor}")).await?,
            };
            if let Some(page_items) = page["items"].as_array() {
                items.extend(page_items.iter().cloned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
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
