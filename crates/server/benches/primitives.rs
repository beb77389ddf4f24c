//! Micro-benchmarks of the per-request primitives, so regressions show in
//! review: `cargo bench -p robots-server --bench primitives`.
//!
//! A plain harness (no framework): each case runs for about half a second
//! after a warm-up and reports nanoseconds per operation, with a no-op case
//! as the floor measured in the same run.

// A benchmark that cannot set up should stop loudly, like a test.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use robots_core::{SecretHash, SecretKind, SecretToken};
use robots_server::keys::SigningAlgorithm;
use serde_json::json;

fn measure(name: &str, mut operation: impl FnMut()) -> f64 {
    for _ in 0..1_000 {
        operation();
    }
    let mut iterations: u64 = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(500) {
        for _ in 0..100 {
            operation();
        }
        iterations += 100;
    }
    let per_op = started.elapsed().as_nanos() as f64 / iterations as f64;
    println!("{name:<48} {per_op:>10.1} ns/op");
    per_op
}

/// Runs `measured` while another thread repeats `other`.
fn while_another_thread_runs(other: impl Fn() + Send + 'static, measured: impl FnOnce()) {
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                other();
            }
        })
    };
    measured();
    stop.store(true, Ordering::Relaxed);
    running.join().expect("the other thread");
}

fn main() {
    let token = SecretToken::generate(SecretKind::RobotToken);
    let text = token.expose().to_owned();
    let hash = token.hash();
    let other = SecretToken::generate(SecretKind::RobotToken).hash();
    let basic = format!("{}:{text}", uuid::Uuid::new_v4());

    measure("floor (black_box only)", || {
        black_box(&text);
    });
    measure("token: shape + CRC32 check + SHA-256 (hash_of)", || {
        black_box(SecretToken::hash_of(black_box(&text)).ok());
    });
    measure("token: SHA-256 alone", || {
        black_box(SecretHash::of(black_box(text.as_bytes())));
    });
    measure("token: constant-time compare of two hashes", || {
        black_box(black_box(&hash) == black_box(&other));
    });
    measure("Basic credentials: parse access id + token", || {
        let (user, password) = black_box(&basic).split_once(':').unwrap_or_default();
        black_box(robots_server::verify::RobotCredential::from_basic(user.as_bytes(), password.as_bytes()).ok());
    });
    let mut headers = axum::http::HeaderMap::new();
    let header = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &basic)
    );
    headers.insert(
        axum::http::header::AUTHORIZATION,
        header.parse().expect("a header value"),
    );
    measure("Authorization: Basic header to credential", || {
        black_box(robots_server::auth::presented_credentials(black_box(&headers)).ok());
    });
    measure("query: repository + action, nothing to decode", || {
        let query = black_box(b"repository=acme/apps/web&action=push".as_slice());
        black_box(robots_server::verification::read_fields(query, ["repository", "action"]).ok());
    });
    measure("query: repository + action, percent-encoded", || {
        let query = black_box(b"repository=acme%2Fapps%2Fweb&action=push".as_slice());
        black_box(robots_server::verification::read_fields(query, ["repository", "action"]).ok());
    });
    let form = format!("token={text}");
    measure("form: the token asked about (introspection)", || {
        black_box(robots_server::verification::read_fields(black_box(form.as_bytes()), ["token"]).ok());
    });
    let cache = robots_store::GenerationCache::new(100_000);
    for _ in 0..10_000 {
        let hash = SecretToken::generate(SecretKind::RobotToken).hash();
        cache.put(hash.as_bytes()[0], *hash.as_bytes(), Arc::new(()), 1);
    }
    cache.put(hash.as_bytes()[0], *hash.as_bytes(), Arc::new(()), 1);
    measure("verification cache: a hit among 10,000", || {
        black_box(cache.get(hash.as_bytes()[0], black_box(hash.as_bytes()), 1));
    });
    // One token behind every request (one CI credential behind every pull):
    // both cores lock the same shard and count references to the same
    // value.
    let cache = Arc::new(cache);
    let key = *hash.as_bytes();
    while_another_thread_runs(
        {
            let cache = cache.clone();
            move || drop(black_box(cache.get(key[0], black_box(&key), 1)))
        },
        || {
            measure("verification cache: the same hit on two threads", || {
                black_box(cache.get(key[0], black_box(&key), 1));
            });
        },
    );
    let clock = robots_core::clock::SystemClock;
    measure("clock: read, as Unix milliseconds", || {
        black_box(robots_core::clock::to_millis(robots_core::Clock::now(black_box(
            &clock,
        ))));
    });
    measure("token generation (OS RNG, base62, CRC32)", || {
        black_box(SecretToken::generate(SecretKind::RobotToken));
    });

    let now = time::OffsetDateTime::now_utc();
    let generate = |algorithm| robots_server::keys::generate(algorithm, now, now).expect("a key");
    let records = [generate(SigningAlgorithm::Es256), generate(SigningAlgorithm::Rs256)];
    let ring = robots_server::keys::KeyRing::from_records(&records, Duration::from_secs(900)).expect("a ring");
    let claims = json!({
        "iss": "https://robots.example.com", "sub": "acme/ci", "aud": "registry", "exp": 1, "nbf": 0, "iat": 0,
        "jti": "5f0c1e9a-3c1b-4f7e-9d61-2b7d7c1f0a42",
        "access": [{"type": "repository", "name": "acme/apps/web", "actions": ["pull", "push"]}],
    });
    measure("JWT: ES256 sign with x5c header (registry)", || {
        black_box(ring.with_signer(now, SigningAlgorithm::Es256, |key| {
            key.sign_jwt(black_box(&claims), true)
        }));
    });
    measure("JWT: ES256 sign (OAuth2 access token)", || {
        black_box(ring.with_signer(now, SigningAlgorithm::Es256, |key| {
            key.sign_jwt(black_box(&claims), false)
        }));
    });
    measure(
        "JWT: RS256 sign, 3072-bit key (OAuth2 access token, signing_alg=RS256)",
        || {
            black_box(ring.with_signer(now, SigningAlgorithm::Rs256, |key| {
                key.sign_jwt(black_box(&claims), false)
            }));
        },
    );
    let signed = ring
        .with_signer(now, SigningAlgorithm::Es256, |key| key.sign_jwt(&claims, false))
        .and_then(Result::ok)
        .unwrap_or_default();
    measure("JWT: ES256 verify (introspection of an access token)", || {
        black_box(ring.verify_jwt(black_box(&signed), now));
    });
}
