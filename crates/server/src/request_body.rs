//! What becomes of the part of a request body that no handler read.
//!
//! On an HTTP/1.1 connection the next request can only follow once this
//! one's body is off the wire. Handlers often answer without reading it: a
//! body over the size limit (413), a refused credential or media type, a
//! timeout. hyper then discards what has already arrived and otherwise
//! closes the connection after the answer — without saying so in it. A
//! client may then send its next request on a connection that is about to
//! close, or still be writing the body when the server closes, and read a
//! broken pipe instead of the answer that explains what was wrong.
//!
//! So, as Go's `net/http` does, the rest of an unread body is read and
//! discarded before the answer goes out, up to [`DRAIN_LIMIT_BYTES`] and
//! [`DRAIN_TIME`]: the connection then stays usable. A body larger or
//! slower than that, one the client holds back until it hears
//! `100 Continue`, or one that already ran out of time (408) gets its answer
//! with `Connection: close`, which tells the client not to send anything
//! more on the connection.
//!
//! A client still sending more than that when the answer goes out may see
//! the connection reset before it reads the answer, as with any server that
//! stops reading; a client that sends large bodies should ask with
//! `Expect: 100-continue`, and a refusal then comes before it sends a byte.
//!
//! Requests without a body (every verification but introspection and the
//! OAuth2 token endpoint) pass through untouched; a body read to its end
//! costs two reference counts on its connection's slot.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::{Frame, Incoming, SizeHint};

/// The most of an unread body read and discarded to keep a connection.
pub const DRAIN_LIMIT_BYTES: u64 = 256 * 1024;

/// The longest an answer waits for the rest of an unread body.
pub const DRAIN_TIME: Duration = Duration::from_secs(1);

/// A request body that, when dropped before its end, hands the rest back
/// to be drained (see the module documentation).
#[derive(Debug)]
pub struct WatchedBody {
    inner: Option<Incoming>,
    finished: bool,
    /// Where the unread rest goes on drop; `None` for a body that was
    /// empty from the start.
    unread: Option<Slot>,
}

/// Where a connection's handlers leave the rest of a body. One per
/// connection: HTTP/1.1 serves a connection's requests one at a time, and
/// each answer takes the rest of its own request's body before the next
/// request is read.
type Slot = Arc<Mutex<Option<Incoming>>>;

/// The watch over one connection's request bodies.
#[derive(Debug, Default)]
pub struct Watch {
    slot: Slot,
}

/// The rest of a request's body, if its handler leaves any.
#[derive(Debug)]
pub struct Unread {
    slot: Slot,
    expects_continue: bool,
}

impl Watch {
    /// Wraps `request`'s body; the [`Unread`] is `None` when there is no body.
    pub fn watch(&self, request: Request<Incoming>) -> (Request<WatchedBody>, Option<Unread>) {
        if request.body().is_end_stream() {
            let request = request.map(|body| WatchedBody {
                inner: Some(body),
                finished: true,
                unread: None,
            });
            return (request, None);
        }
        let expects_continue = request
            .headers()
            .get(header::EXPECT)
            .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let request = request.map(|body| WatchedBody {
            inner: Some(body),
            finished: false,
            unread: Some(self.slot.clone()),
        });
        let unread = Unread {
            slot: self.slot.clone(),
            expects_continue,
        };
        (request, Some(unread))
    }
}

impl Unread {
    /// Drains what the handler left of the body, or marks `response` as
    /// the connection's last. Call it once the handler has answered.
    pub async fn settle<B>(self, response: &mut Response<B>) {
        let rest = self.slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(rest) = rest else {
            // Read to its end, or still held somewhere: hyper knows either way.
            return;
        };
        // A client waiting for `100 Continue` has not sent the body, and
        // reading it would ask for the bytes only to throw them away; one
        // that ran out of time (408) would not send the rest in time either.
        let hopeless = self.expects_continue || response.status() == StatusCode::REQUEST_TIMEOUT;
        if hopeless || !drain(rest).await {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

/// Reads `body` to its end and discards it; false if that would take more
/// than [`DRAIN_LIMIT_BYTES`] or [`DRAIN_TIME`], or the body fails.
async fn drain(mut body: Incoming) -> bool {
    if body.size_hint().lower() > DRAIN_LIMIT_BYTES {
        return false;
    }
    let read_to_end = async {
        let mut drained = 0u64;
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                None => return true,
                Some(Err(_)) => return false,
                Some(Ok(frame)) => {
                    drained += frame.data_ref().map_or(0, |data| data.len() as u64);
                    if drained > DRAIN_LIMIT_BYTES {
                        return false;
                    }
                }
            }
        }
    };
    tokio::time::timeout(DRAIN_TIME, read_to_end).await.unwrap_or(false)
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        // A body that failed (the client went away) has nothing left to drain.
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.finished = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        let (Some(unread), Some(inner)) = (&self.unread, self.inner.take()) else {
            return;
        };
        if !self.finished && !inner.is_end_stream() {
            *unread.lock().unwrap_or_else(PoisonError::into_inner) = Some(inner);
        }
    }
}
