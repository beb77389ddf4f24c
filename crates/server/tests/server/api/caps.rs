//! The operator's caps hold when many requests race for the last places:
//! the count and the insert are one step per organization (or robot) on
//! both databases.

use robots_store::Backend;
use serde_json::json;

use crate::support::{Auth, TestApp};

const CAP: u32 = 10;
const RACERS: usize = 50;

async fn capped(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |config| {
        config.service.max_robots_per_org = CAP;
        config.service.max_tokens_per_robot = CAP;
        config.service.max_federated_credentials_per_robot = CAP;
        config.service.max_webhooks_per_org = CAP;
    })
    .await
}

/// Sends `RACERS` creations at once, each on a task of its own; the
/// statuses, sorted.
async fn race(app: &TestApp, auth: &Auth, path: &str, body: impl Fn(usize) -> serde_json::Value) -> Vec<u16> {
    let Auth::Bearer(session) = auth else {
        panic!("a race is run by a user")
    };
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let request = app
            .client
            .post(format!("{}{path}", app.base))
            .bearer_auth(session)
            .json(&body(i));
        racers.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let mut statuses = racers.join_all().await;
    statuses.sort_unstable();
    statuses
}

fn expected() -> Vec<u16> {
    let mut statuses = vec![201; CAP as usize];
    statuses.extend(std::iter::repeat_n(409, RACERS - CAP as usize));
    statuses
}

async fn fifty_concurrent_creations_against_a_cap_of_ten(backend: Backend) {
    let Some(app) = capped(backend).await else { return };
    let root = app.setup_admin().await;
    app.org(&root, "acme").await;

    let robots = race(
        &app,
        &root,
        "/v1/orgs/acme/robots",
        |i| json!({"name": format!("r{i}")}),
    )
    .await;
    assert_eq!(robots, expected(), "robots per organization");
    let listed = app.get("/v1/orgs/acme/robots?limit=100", &root).await;
    // Which ten won the race is the scheduler's choice.
    let winners: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|robot| robot["name"].as_str().unwrap())
        .collect();
    assert_eq!(winners.len(), CAP as usize);

    let tokens_path = format!("/v1/orgs/acme/robots/{}/tokens", winners[0]);
    let tokens = race(&app, &root, &tokens_path, |i| json!({"name": format!("t{i}")})).await;
    assert_eq!(tokens, expected(), "tokens per robot");
    let listed = app.get(&format!("{tokens_path}?limit=100"), &root).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), CAP as usize);

    let credentials_path = format!("/v1/orgs/acme/robots/{}/federated-credentials", winners[1]);
    let credentials = race(&app, &root, &credentials_path, |i| {
        json!({
            "name": format!("c{i}"),
            "issuer": "https://token.actions.githubusercontent.com",
            "audience": "robots",
            "subject": "repo:acme/app:*",
        })
    })
    .await;
    assert_eq!(credentials, expected(), "federated credentials per robot");

    let webhooks = race(
        &app,
        &root,
        "/v1/orgs/acme/webhooks",
        |i| json!({"url": format!("http://127.0.0.1:9/hook-{i}")}),
    )
    .await;
    assert_eq!(webhooks, expected(), "webhooks per organization");
    let listed = app.get("/v1/orgs/acme/webhooks", &root).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), CAP as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_caps_hold_under_concurrency() {
    fifty_concurrent_creations_against_a_cap_of_ten(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_caps_hold_under_concurrency() {
    fifty_concurrent_creations_against_a_cap_of_ten(Backend::Postgres).await;
}
