//! Every request's id, `X-Request-Id`: the one a trusted proxy sent (so one
//! id follows a request through nginx and here), else a new one. It is
//! echoed in the answer, carried by the request's log lines (the `request`
//! span) and written into the audit events the request causes.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

use crate::client::{IpRange, is_trusted};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Drops an `X-Request-Id` that did not come from a trusted proxy, or that
/// is not a plain token (at most 128 of `A-Z a-z 0-9 . _ : -`): a client
/// must not choose what the logs and the audit log say.
pub fn keep_only_trusted<B>(request: &mut Request<B>, trusted: &[IpRange]) {
    let Some(value) = request.headers().get(&HEADER) else {
        return;
    };
    let from_proxy = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|peer| is_trusted(peer.0.ip(), trusted));
    if !(from_proxy && acceptable(value.as_bytes())) {
        request.headers_mut().remove(&HEADER);
    }
}

fn acceptable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 128 && id.iter().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(b))
}

/// New ids: 128 random bits, in hex.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let bytes: [u8; 16] = robots_core::secret::random_bytes();
        HeaderValue::try_from(robots_core::secret::hex(&bytes))
            .ok()
            .map(RequestId::new)
    }
}

/// The span a request's log lines carry: its id, and nothing else. The
/// span is made for every request at the default level, and each field
/// costs a formatting pass; method and path are in the `--log debug` lines.
/// Never a header or the query, which may hold credentials.
pub fn span<B>(request: &Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_kept() {
        assert!(acceptable(b"9f8e7d6c-5b4a"));
        assert!(acceptable(b"req:42.a_b"));
        for refused in [&b""[..], b"two words", b"new\nline", b"quote\"", &[b'a'; 129][..]] {
            assert!(!acceptable(refused), "{refused:?}");
        }
        let made = NewRequestId.make_request_id(&Request::new(())).unwrap();
        let made = made.header_value().to_str().unwrap();
        assert_eq!(made.len(), 32);
        assert!(acceptable(made.as_bytes()));
    }
}
