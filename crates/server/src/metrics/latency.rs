//! Request latency by route template: a histogram per route, method and
//! status class.
//!
//! The route is the template the router matched (`/v1/orgs/{org}`), never
//! the path a client sent. It is known only inside the router, so
//! [`CarryRoute`] (a route layer) puts it on the response, and
//! [`TimeRequests`] (the outermost layer) reads it there: that layer sees
//! every request, including those no route matched, counted under
//! `route="unmatched"` — as are requests the timeout cut short, whose
//! answer never left the router.

use std::collections::HashMap;
use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, Response, StatusCode};
use tower::{Layer, Service};

/// Upper bounds of the buckets, in microseconds: a verification answers in
/// tens of microseconds, a password check in tens of milliseconds, and the
/// slowest requests end at the timeout, seconds later.
const BOUNDS_MICROS: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// Methods as labels: the ones the routes take, and one for the rest, so a
/// client inventing methods cannot add series.
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"];

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

const UNMATCHED: &str = "unmatched";

#[derive(Debug, Default)]
struct Histogram {
    /// Per bucket, not cumulative; the last one is above every bound.
    buckets: [AtomicU64; BOUNDS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, micros: u64) {
        let bucket = BOUNDS_MICROS.partition_point(|&bound| bound < micros);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct RouteTimes([[Histogram; CLASSES.len()]; METHODS.len()]);

/// The histograms of one server process. Routes are added on first use,
/// from the router's templates and [`UNMATCHED`] only: a bounded set.
#[derive(Debug, Default)]
pub struct RequestTimes {
    routes: RwLock<HashMap<Box<str>, Box<RouteTimes>, foldhash::fast::RandomState>>,
}

impl RequestTimes {
    pub fn observe(&self, route: Option<&str>, method: &Method, status: StatusCode, started: Instant) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let route = route.unwrap_or(UNMATCHED);
        let method = method_label(method);
        // 1xx to 5xx: a status is three digits from 100 to 999, and hyper
        // answers nothing above 599.
        let class = usize::from(status.as_u16() / 100).clamp(1, CLASSES.len()) - 1;
        {
            let routes = self.routes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(times) = routes.get(route) {
                times.0[method][class].observe(micros);
                return;
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        routes.entry(route.into()).or_default().0[method][class].observe(micros);
    }

    /// The histograms with anything in them, routes in order.
    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP robots_http_request_duration_seconds Time from a request's arrival to its answer, by route template, method and status class.\n\
             # TYPE robots_http_request_duration_seconds histogram\n",
        );
        let routes = self.routes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names: Vec<&str> = routes.keys().map(AsRef::as_ref).collect();
        names.sort_unstable();
        for route in names {
            let route_label = escape_label(route);
            for (method, by_class) in METHODS.iter().zip(&routes[route].0) {
                for (class, histogram) in CLASSES.iter().zip(by_class) {
                    // One reading of the buckets, and the count their total:
                    // consistent even while requests are being counted.
                    let buckets = histogram
                        .buckets
                        .each_ref()
                        .map(|bucket| bucket.load(Ordering::Relaxed));
                    if buckets.iter().all(|&count| count == 0) {
                        continue;
                    }
                    let labels = format!("route=\"{route_label}\",method=\"{method}\",status=\"{class}\"");
                    let mut cumulative = 0;
                    for (count, bound) in buckets.iter().zip(BOUNDS_MICROS.iter().map(Some).chain([None])) {
                        cumulative += count;
                        let le = bound.map_or_else(|| "+Inf".to_owned(), |&micros| seconds(micros));
                        let _ = writeln!(
                            out,
                            "robots_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                        );
                    }
                    let sum = seconds(histogram.sum_micros.load(Ordering::Relaxed));
                    let _ = write!(
                        out,
                        "robots_http_request_duration_seconds_sum{{{labels}}} {sum}\n\
                         robots_http_request_duration_seconds_count{{{labels}}} {cumulative}\n"
                    );
                }
            }
        }
    }
}

fn method_label(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

/// Microseconds as a decimal number of seconds, exactly.
fn seconds(micros: u64) -> String {
    let fraction = format!("{:06}", micros % 1_000_000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        (micros / 1_000_000).to_string()
    } else {
        format!("{}.{fraction}", micros / 1_000_000)
    }
}

/// Route templates are ours, but the exposition format's escapes cost
/// nothing to apply.
fn escape_label(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// A route layer: puts the template the router matched on the response.
#[derive(Debug, Clone, Copy)]
pub struct CarryRoute;

impl<S> Layer<S> for CarryRoute {
    type Service = CarryRouteService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CarryRouteService(inner)
    }
}

#[derive(Debug, Clone)]
pub struct CarryRouteService<S>(S);

impl<S, B, R> Service<Request<B>> for CarryRouteService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = WithRoute<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        WithRoute {
            inner: self.0.call(request),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer of a route, with its template.
    #[derive(Debug)]
    pub struct WithRoute<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, R, E> Future for WithRoute<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}

/// The outermost layer: times each request into [`RequestTimes`].
#[derive(Debug, Clone)]
pub struct TimeRequests(pub(super) Arc<RequestTimes>);

impl<S> Layer<S> for TimeRequests {
    type Service = Timed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timed {
            inner,
            times: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Timed<S> {
    inner: S,
    times: Arc<RequestTimes>,
}

impl<S, B, R> Service<Request<B>> for Timed<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Timing<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        Timing {
            method: request.method().clone(),
            started: Instant::now(),
            inner: self.inner.call(request),
            times: self.times.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request on its way, and when it arrived.
    #[derive(Debug)]
    pub struct Timing<F> {
        #[pin]
        inner: F,
        method: Method,
        started: Instant,
        times: Arc<RequestTimes>,
    }
}

impl<F, R, E> Future for Timing<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.inner.poll(cx));
        if let Ok(response) = &answer {
            let route = response.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
            this.times.observe(route, this.method, response.status(), *this.started);
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_into_the_first_bucket_its_time_fits() {
        let times = RequestTimes::default();
        let now = Instant::now();
        times.observe(Some("/v1/auth"), &Method::GET, StatusCode::OK, now);
        times.observe(None, &Method::from_bytes(b"BREW").unwrap(), StatusCode::NOT_FOUND, now);
        let mut out = String::new();
        times.render(&mut out);
        assert!(
            out.contains(r#"_count{route="/v1/auth",method="GET",status="2xx"} 1"#),
            "{out}"
        );
        assert!(out.contains(r#"_bucket{route="/v1/auth",method="GET",status="2xx",le="+Inf"} 1"#));
        assert!(out.contains(r#"_count{route="unmatched",method="other",status="4xx"} 1"#));
        // Only what happened is exposed.
        assert!(!out.contains(r#"method="POST""#));
        assert_eq!(out.matches("_count{").count(), 2);
    }

    #[test]
    fn bounds_are_written_as_exact_seconds() {
        assert_eq!(seconds(100), "0.0001");
        assert_eq!(seconds(2_500), "0.0025");
        assert_eq!(seconds(1_000_000), "1");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(0), "0");
    }

    #[test]
    fn upper_bounds_are_inclusive() {
        let histogram = Histogram::default();
        histogram.observe(100);
        histogram.observe(101);
        histogram.observe(u64::MAX / 2);
        assert_eq!(histogram.buckets[0].load(Ordering::Relaxed), 1);
        assert_eq!(histogram.buckets[1].load(Ordering::Relaxed), 1);
        assert_eq!(histogram.buckets[BOUNDS_MICROS.len()].load(Ordering::Relaxed), 1);
    }
}
