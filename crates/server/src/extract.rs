//! Request extractors whose failures use the API's error shape.

use axum::body::{Bytes, HttpBody};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use robots_api_types::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body, read but not yet parsed. Handlers parse it with
/// [`JsonBody::parse`] after authorization, so that someone who may not
/// act learns nothing from validation errors.
#[derive(Debug)]
pub struct JsonBody(Bytes);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "send the request body as JSON with Content-Type: application/json",
            ));
        }
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        Ok(Self(bytes))
    }
}

/// A request body read whole, whatever its type. One over the server's
/// limit is refused (413) in the API's error shape — at once when its
/// declared length already says so, rather than after reading the limit's
/// worth of it.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config().max_body_bytes;
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than the {limit} bytes this server accepts"),
            )
        };
        if request.body().size_hint().lower() > limit as u64 {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| match rejection {
                BytesRejection::FailedToBufferBody(failure) if failure.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    too_large()
                }
                other => ApiError::bad_request(ErrorCode::InvalidBody, other.body_text()),
            })?;
        Ok(Self(bytes))
    }
}

impl JsonBody {
    /// An optional body: none at all, or JSON `null`, means the defaults.
    pub fn parse_optional<T: DeserializeOwned + Default>(bytes: Bytes) -> Result<T, ApiError> {
        if bytes.trim_ascii().is_empty() {
            return Ok(T::default());
        }
        let body: Option<T> = Self(bytes).parse()?;
        Ok(body.unwrap_or_default())
    }

    /// Parses the body; malformed JSON is a 400, a well-formed body with a
    /// wrong, missing or unknown field a 422 naming that field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let mut deserializer = serde_json::Deserializer::from_slice(&self.0);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return invalid_json(&inner);
            }
            let message = strip_position(&inner.to_string());
            if let Some(field) = unknown_field(&message) {
                // The path already ends at the unknown key.
                let field = if path.is_empty() || path == "." {
                    field.to_owned()
                } else {
                    path
                };
                return ApiError::invalid_field(&field, "is not a known field");
            }
            if let Some(field) = missing_field(&message) {
                return ApiError::invalid_field(&join_path(&path, field), "is required");
            }
            if path == "." || path.is_empty() {
                return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidBody, message);
            }
            ApiError::invalid_field(&path, message)
        })?;
        // Trailing garbage after the object is malformed JSON too.
        deserializer.end().map_err(|error| invalid_json(&error))?;
        Ok(value)
    }
}

fn invalid_json(error: &serde_json::Error) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidJson, format!("the body is not valid JSON: {error}"))
}

/// serde_json appends " at line 1 column 17"; people need the field, not that.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

fn unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn join_path(parent: &str, field: &str) -> String {
    if parent.is_empty() || parent == "." {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// A query string read into `T`; a malformed one is a 400 in the API's
/// error shape (axum's own rejection would be plain text).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(ErrorCode::InvalidQuery, rejection.body_text()))?;
        Ok(Self(value))
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub limit: u32,
    /// The key of the last item of the previous page.
    pub after: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        #[derive(serde::Deserialize)]
        struct Raw {
            limit: Option<String>,
            cursor: Option<String>,
        }
        let ApiQuery(raw) = ApiQuery::<Raw>::from_request_parts(parts, state).await?;
        let limit = match raw.limit {
            None => DEFAULT_PAGE_SIZE,
            Some(text) => text
                .parse()
                .ok()
                .filter(|limit| (1..=MAX_PAGE_SIZE).contains(limit))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        ErrorCode::InvalidQuery,
                        format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                    )
                    .with_field("limit")
                })?,
        };
        let after = match raw.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(decode_cursor(cursor)?),
        };
        Ok(ListParams { limit, after })
    }
}

/// Cursors are opaque to clients; inside, the last key of the page.
pub fn encode_cursor(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key)
}

/// A cursor is only ever a position: any well-formed one is accepted and
/// lists from there, whether or not this server handed it out.
fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT
        .decode(cursor)
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .ok_or_else(|| {
            ApiError::bad_request(ErrorCode::InvalidCursor, "cursor is not one this server handed out")
                .with_field("cursor")
        })
}
