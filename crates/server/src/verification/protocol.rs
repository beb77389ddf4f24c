//! What the verification endpoints share: reading a robot's credentials
//! and forms without copying the request, and writing their answers (JSON,
//! and OAuth's own error shape).

use std::borrow::Cow;

use axum::body::{Bytes, HttpBody};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::auth::{Presented, log_malformed, presented_credentials};
use crate::error::ApiError;
use crate::state::RequestClient;
use crate::verify::RobotCredential;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use robots_api_types::OAuthError;

/// An OAuth 2.0 error (RFC 6749 §5.2): `{"error", "error_description"}`.
pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = OAuthError {
        error: error.to_owned(),
        error_description: Some(description.to_owned()),
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Basic realm="robots""#),
        );
    }
    response
}

/// A server-side failure (the database out of reach) in OAuth's shape:
/// `temporarily_unavailable`, with the status and `Retry-After` of `error`.
pub(super) fn oauth_unavailable(error: ApiError) -> Response {
    let mut response = oauth_error(error.status(), "temporarily_unavailable", "try again shortly");
    if let Some(wait) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
    }
    error.log_cause();
    response
}

/// The robot credential in the request's `Authorization` header (Basic or
/// Bearer), or why there is none (`None`: no credentials at all), for
/// [`AppState::verify_robot`].
pub(super) fn robot_credential(
    headers: &HeaderMap,
    client: RequestClient<'_>,
) -> Result<RobotCredential, Option<ApiError>> {
    match presented_credentials(headers) {
        Ok(None) => Err(None),
        Ok(Some(Presented::Robot(credential))) => Ok(credential),
        Err(reason) => {
            log_malformed(reason, client.ip);
            Err(Some(ApiError::unauthenticated()))
        }
        Ok(Some(Presented::Session(_))) => {
            tracing::info!("verification endpoint called with a user's session instead of robot credentials");
            Err(Some(ApiError::unauthenticated()))
        }
        Ok(Some(Presented::PersonalToken(_))) => {
            tracing::info!("verification endpoint called with a personal access token instead of robot credentials");
            Err(Some(ApiError::unauthenticated()))
        }
    }
}

/// Reads an `application/x-www-form-urlencoded` body. Taking the request
/// whole, rather than extracting headers and form separately, spares the
/// verification endpoints a copy of every header. The error is a message
/// for the client.
pub(super) async fn read_form<T: DeserializeOwned>(request: Request, limit: usize) -> (Parts, Result<T, String>) {
    let (parts, body) = read_form_body(request, limit).await;
    let form = body.and_then(|body| {
        serde_urlencoded::from_bytes(&body).map_err(|error| format!("the form could not be read: {error}"))
    });
    (parts, form)
}

/// The body of an `application/x-www-form-urlencoded` request, not yet
/// read into fields (see [`read_fields`]).
pub(super) async fn read_form_body(request: Request, limit: usize) -> (Parts, Result<Bytes, String>) {
    let (parts, body) = request.into_parts();
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return (
            parts,
            Err("send the request as application/x-www-form-urlencoded".to_owned()),
        );
    }
    // A declared length over the limit is refused before reading any of it.
    let body = if body.size_hint().lower() > limit as u64 {
        Err(())
    } else {
        axum::body::to_bytes(body, limit).await.map_err(drop)
    };
    let body = body.map_err(|()| format!("the form is larger than {limit} bytes"));
    (parts, body)
}

/// The key-value pairs of a form or query, decoded as HTML forms are
/// (`form_urlencoded::parse`: `+` is a space, a malformed escape is kept as
/// sent, text that is not UTF-8 is read lossily). Text with nothing to
/// decode (no `%`, no `+`: a well-formed token or repository name never has
/// one) is split in place, without the decoder or a copy, because the
/// endpoints every protected request passes through read their query or
/// form this way.
pub fn form_pairs(text: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    // Without an early exit the scan compiles to vector compares: short
    // texts are read whole faster than byte by byte.
    let nothing_to_decode = !text
        .iter()
        .fold(false, |found, &byte| found | (byte == b'%') | (byte == b'+'));
    match std::str::from_utf8(text) {
        Ok(text) if nothing_to_decode => FormPairs::InPlace(text.split('&')),
        _ => FormPairs::Decoded(form_urlencoded::parse(text)),
    }
}

/// The pairs of a form or query (see [`form_pairs`]).
enum FormPairs<'a> {
    InPlace(std::str::Split<'a, char>),
    Decoded(form_urlencoded::Parse<'a>),
}

impl<'a> Iterator for FormPairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::InPlace(pairs) => pairs.find(|pair| !pair.is_empty()).map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (Cow::Borrowed(key), Cow::Borrowed(value))
            }),
            Self::Decoded(pairs) => pairs.next(),
        }
    }
}

/// The fields `names` of a form or query, as `serde_urlencoded` reads them
/// into `Option<String>`s: others ignored, one given twice an error.
pub fn read_fields<'a, const N: usize>(text: &'a [u8], names: [&str; N]) -> Result<[Option<Cow<'a, str>>; N], String> {
    let mut fields: [Option<Cow<'a, str>>; N] = std::array::from_fn(|_| None);
    for (key, value) in form_pairs(text) {
        if let Some(index) = names.iter().position(|name| key == *name)
            && fields[index].replace(value).is_some()
        {
            return Err(format!("duplicate field `{key}`"));
        }
    }
    Ok(fields)
}

/// A JSON answer built ahead (and kept) as bytes.
pub(super) fn json_body(body: axum::body::Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Seconds since the epoch, as JWT claims want them (integers).
pub(super) fn epoch_seconds(at: time::OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::{form_pairs, read_fields};

    /// Forms and queries of every shape: fields once, twice, empty, without
    /// `=`, percent-encoded (keys too), malformed and not UTF-8.
    const TEXTS: [&[u8]; 20] = [
        b"",
        b"repository=acme/web",
        b"repository=acme/web&action=push",
        b"action=delete&repository=acme/apps/web",
        b"repository=acme/a&repository=acme/b",
        b"action=pull&repository=acme/web&action=push",
        b"repository",
        b"repository=",
        b"&&repository=acme/web&",
        b"other=1&repository=acme/web&=x&y",
        b"repository=acme/web=x",
        b"Repository=acme/web&ACTION=push",
        b"other=1&other=2&action=pull",
        // Decoded: percent escapes and `+`, in keys too.
        b"repository=acme%2Fweb&action=pu%6Cl",
        b"repository=a+b&action=+",
        b"repos%69tory=acme/a&repository=acme/b",
        b"repository=%FF%FE",
        b"repository=%zz&action=%",
        // Not UTF-8 as sent.
        b"repository=acme/\xff",
        b"\xc3&repository=acme/web",
    ];

    /// Split in place or decoded, the pairs are the general decoder's.
    #[test]
    fn pairs_are_the_decoders() {
        for text in TEXTS {
            let read: Vec<_> = form_pairs(text).collect();
            let decoded: Vec<_> = form_urlencoded::parse(text).collect();
            assert_eq!(read, decoded, "{}", String::from_utf8_lossy(text));
        }
    }

    /// Fields are read as the general decoder reads them into a struct of
    /// optional strings, errors included.
    #[test]
    fn fields_are_read_as_the_decoder_reads_them() {
        #[derive(serde::Deserialize)]
        struct Decoded {
            repository: Option<String>,
            action: Option<String>,
        }
        for text in TEXTS {
            let shown = String::from_utf8_lossy(text);
            let decoded: Result<Decoded, String> = serde_urlencoded::from_bytes(text).map_err(|e| e.to_string());
            let decoded = decoded.map(|d| [d.repository, d.action]);
            let read = read_fields(text, ["repository", "action"]).map(|fields| fields.map(|f| f.map(String::from)));
            assert_eq!(decoded, read, "{shown}");
        }
    }
}
