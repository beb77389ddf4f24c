//! The verification endpoints' HTTP exchanges with nothing verified: the
//! service's own listener and layers, requests and answers of the same
//! bytes, no work in between. `bench/run.py` measures them beside the real
//! endpoints, which tells the cost of verification from the cost of the
//! exchange itself (a larger request, more answer headers, a body).
//!
//! `cargo run --release -p robots-server --example exchange_shapes -- 127.0.0.1:8080`

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use robots_server::ServerConfig;

/// As long as a real introspection answer about a benchmark token.
const INTROSPECTION: &str = r#"{"active":true,"token_type":"robot_token","client_id":"00000000-0000-4000-8000-000000000000","username":"bench/bot","sub":"00000000-0000-7000-8000-000000000000","org":"bench","robot":"bot","scope":"repository:bench/app:pull,push","iat":1795839090,"iss":"http://127.0.0.1:18080"}"#;

/// `GET /v1/auth`'s answer: 200 and who the robot is, in four headers.
async fn auth_shape() -> Response {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-robot-id", "00000000-0000-7000-8000-000000000000"),
        ("x-robot-name", "bot"),
        ("x-robot-org", "bench"),
        ("x-access-id", "00000000-0000-4000-8000-000000000000"),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    response
}

/// `POST /v1/introspect`'s exchange: the form read whole, a JSON answer.
async fn introspection_shape(request: Request) -> Response {
    match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(_) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            Bytes::from_static(INTROSPECTION.as_bytes()),
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .ok_or("usage: exchange_shapes ADDRESS:PORT")?
        .parse()?;
    let config = ServerConfig::new(listen);
    let routes = Router::new()
        .route("/v1/auth", get(auth_shape))
        .route("/v1/introspect", post(introspection_shape));
    let app = robots_server::with_common_layers(
        robots_server::with_common_routes(routes),
        config.max_body_bytes,
        config.request_timeout,
        config.trusted_proxies.clone(),
        None,
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    robots_server::listener::serve_connections(app, listener, &config, std::future::pending()).await?;
    Ok(())
}
