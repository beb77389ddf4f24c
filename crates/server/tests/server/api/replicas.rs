//! Several replicas on one PostgreSQL database: what one does, the others
//! see at once, even with their verification caches warm.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Credentials, TestApp};

async fn primary() -> Option<TestApp> {
    TestApp::spawn(robots_store::Backend::Postgres).await
}

/// Polls `other` until `credentials` are refused; returns how long it took.
async fn refused_within(other: &TestApp, credentials: &Credentials, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if other.get("/v1/whoami", &credentials.basic()).await.status == 401 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "the other replica still accepts the token after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn warm(app: &TestApp, credentials: &Credentials) {
    for _ in 0..3 {
        assert_eq!(app.get("/v1/whoami", &credentials.basic()).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_takes_effect_on_the_other_within_a_second() {
    let Some(a) = primary().await else { return };
    let b = a.replica().await;
    let root = a.setup_admin().await;
    let alice = a.user(&root, "alice").await;
    a.org(&alice, "acme").await;
    a.robot(&alice, "acme", "deployer").await;

    // Created on one, works on the other at once.
    let token = a.token(&alice, "acme", "deployer", "ci").await;
    warm(&b, &token).await;
    warm(&a, &token).await;

    // Deleted on A: refused on A at once, on B within a second.
    let path = format!("/v1/orgs/acme/robots/deployer/tokens/{}", token.access_id);
    assert_eq!(a.delete(&path, &alice).await.status, 204);
    assert_eq!(a.get("/v1/whoami", &token.basic()).await.status, 401);
    let took = refused_within(&b, &token, Duration::from_secs(1)).await;
    eprintln!("deletion reached the other replica in {took:?}");

    // Disabled on B (a session from A works there too): refused on A within a second.
    let second = a.token(&alice, "acme", "deployer", "second").await;
    warm(&a, &second).await;
    assert_eq!(
        b.post("/v1/orgs/acme/robots/deployer/disable", &alice, json!({}))
            .await
            .status,
        200
    );
    refused_within(&a, &second, Duration::from_secs(1)).await;
    assert_eq!(
        b.post("/v1/orgs/acme/robots/deployer/enable", &alice, json!({}))
            .await
            .status,
        200
    );
    let started = Instant::now();
    while a.get("/v1/whoami", &second.basic()).await.status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "enabling did not reach the other replica"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Permissions too: a grant revoked on A stops /v1/auth on B.
    let dave = a.user(&root, "dave").await;
    a.add_member(&alice, "acme", "dave", "member").await;
    a.access_fixture(&alice, "acme").await;
    let query = "/v1/auth?repository=acme/apps/web&action=push";
    assert_eq!(b.get(query, &second.basic()).await.status, 200);
    assert_eq!(
        a.delete("/v1/orgs/acme/teams/ops/grants/apps/web", &alice).await.status,
        204
    );
    let started = Instant::now();
    while b.get(query, &second.basic()).await.status != 403 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a revoked grant still works on the other replica"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Memberships too: removed on A, dave's view of acme ends on B.
    for replica in [&b, &b, &a] {
        assert_eq!(replica.get("/v1/orgs/acme/robots", &dave).await.status, 200);
    }
    assert_eq!(a.delete("/v1/orgs/acme/members/dave", &alice).await.status, 204);
    let started = Instant::now();
    let refused = loop {
        let status = b.get("/v1/orgs/acme/robots", &dave).await.status;
        if status != 200 {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a removed member still sees the organization on the other replica"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(refused, a.get("/v1/orgs/acme/robots", &dave).await.status);
    assert!(matches!(refused, 403 | 404), "{refused}");

    // Sessions are cached too: logged out on B, refused on A within a second.
    let session = a.login("alice").await;
    for replica in [&a, &b, &a] {
        assert_eq!(replica.get("/v1/whoami", &session).await.status, 200);
    }
    assert_eq!(b.delete("/v1/sessions/current", &session).await.status, 204);
    assert_eq!(b.get("/v1/whoami", &session).await.status, 401);
    let started = Instant::now();
    while a.get("/v1/whoami", &session).await.status != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a logged-out session still works on the other replica"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        a.get("/v1/whoami", &alice).await.status,
        200,
        "her other session lives on"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_on_two_replicas_give_one_201_and_one_409() {
    let Some(a) = primary().await else { return };
    let b = a.replica().await;
    let root = a.setup_admin().await;
    let alice = a.user(&root, "alice").await;
    a.org(&alice, "acme").await;
    for round in 0..10 {
        let name = format!("racer-{round}");
        let (left, right) = tokio::join!(
            a.post("/v1/orgs/acme/robots", &alice, json!({"name": name})),
            b.post("/v1/orgs/acme/robots", &alice, json!({"name": name})),
        );
        let mut statuses = [left.status, right.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}: {} / {}", left.text, right.text);
    }
}
