//! The JSON bodies of the REST API, through the real router.
//!
//! The request types are private to their handlers (and are parsed only
//! after the organization check), so the bodies go where clients send them:
//! the whole `robots_server::app` router, called in-process with
//! `tower::ServiceExt::oneshot` as an instance administrator who is admin of
//! every organization involved. The first byte picks the route, the rest is
//! the body.
//!
//! The invariant: no body makes the server answer 5xx (or panic), and every
//! refusal has the one error shape, `{"error": {"code": …}}`.
//!
//! The server, its SQLite database and a tokio runtime are built once per
//! process (building them takes a few password hashes and the migrations);
//! each route works on fixtures of its own, so what one route changes (an
//! organization's token policy, a renamed robot) does not change what another
//! route sees. Routes that hash a password per request (log-in, sign-up,
//! setup) are left out: at ~10 ms a hash they would starve the rest.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use robots_core::ManualClock;
use robots_server::{AppState, ServerConfig};
use robots_store::Store;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

/// The service's HTTP surface with its common layers, driven in process.
type App = BoxCloneSyncService<Request<Body>, axum::response::Response, std::convert::Infallible>;

const PASSWORD: &str = "correct horse battery staple";

/// What the first byte of an input selects.
#[derive(Debug, Clone, Copy)]
enum Route {
    CreateOrg,
    UpdateOrg,
    SetMember,
    CreateRobot,
    UpdateRobot,
    CreateToken,
    RotateToken,
    CreateTeam,
    UpdateTeam,
    SetGrant,
    CreateRepository,
    CreateWebhook,
    ReportLeakJson,
    ReportLeakForm,
    CreateFederatedCredential,
}

const ROUTES: [Route; 15] = [
    Route::CreateOrg,
    Route::UpdateOrg,
    Route::SetMember,
    Route::CreateRobot,
    Route::UpdateRobot,
    Route::CreateToken,
    Route::RotateToken,
    Route::CreateTeam,
    Route::UpdateTeam,
    Route::SetGrant,
    Route::CreateRepository,
    Route::CreateWebhook,
    Route::ReportLeakJson,
    Route::ReportLeakForm,
    Route::CreateFederatedCredential,
];

/// The server, and the names of the fixtures that requests change.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: App,
    bearer: String,
    /// The robot `UpdateRobot` renames, under its current name.
    patched_robot: Mutex<String>,
    /// The team `UpdateTeam` renames, under its current name.
    patched_team: Mutex<String>,
    /// The Access ID of the token `RotateToken` rotates: the latest successor.
    rotating_token: Mutex<String>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(Fixture::new);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let route = ROUTES[usize::from(selector) % ROUTES.len()];
    FIXTURE.send(route, body);
});

impl Fixture {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let (app, bearer, rotating_token) = runtime.block_on(start());
        Self {
            runtime,
            app,
            bearer,
            patched_robot: Mutex::new("patched".to_owned()),
            patched_team: Mutex::new("patched".to_owned()),
            rotating_token: Mutex::new(rotating_token),
        }
    }

    fn send(&self, route: Route, body: &[u8]) {
        let current = |name: &Mutex<String>| name.lock().expect("not poisoned").clone();
        let (method, path, content_type) = match route {
            Route::CreateOrg => (Method::POST, "/v1/orgs".to_owned(), JSON),
            Route::UpdateOrg => (Method::PATCH, "/v1/orgs/policy-lab".to_owned(), JSON),
            Route::SetMember => (Method::PUT, "/v1/orgs/members-lab/members/bob".to_owned(), JSON),
            Route::CreateRobot => (Method::POST, "/v1/orgs/acme/robots".to_owned(), JSON),
            Route::UpdateRobot => {
                let robot = current(&self.patched_robot);
                (Method::PATCH, format!("/v1/orgs/acme/robots/{robot}"), JSON)
            }
            Route::CreateToken => (Method::POST, "/v1/orgs/acme/robots/builder/tokens".to_owned(), JSON),
            Route::RotateToken => {
                let access_id = current(&self.rotating_token);
                let path = format!("/v1/orgs/acme/robots/rotator/tokens/{access_id}/rotate");
                (Method::POST, path, JSON)
            }
            Route::CreateTeam => (Method::POST, "/v1/orgs/acme/teams".to_owned(), JSON),
            Route::UpdateTeam => {
                let team = current(&self.patched_team);
                (Method::PATCH, format!("/v1/orgs/acme/teams/{team}"), JSON)
            }
            Route::SetGrant => (Method::PUT, "/v1/orgs/acme/teams/ops/grants/apps/web".to_owned(), JSON),
            Route::CreateRepository => (Method::POST, "/v1/orgs/acme/repositories".to_owned(), JSON),
            Route::CreateWebhook => (Method::POST, "/v1/orgs/hooks-lab/webhooks".to_owned(), JSON),
            Route::ReportLeakJson => (Method::POST, "/v1/tokens/revoke".to_owned(), JSON),
            Route::ReportLeakForm => (Method::POST, "/v1/tokens/revoke".to_owned(), FORM),
            Route::CreateFederatedCredential => {
                let path = "/v1/orgs/acme/robots/builder/federated-credentials".to_owned();
                (Method::POST, path, JSON)
            }
        };
        let request = Request::builder()
            .method(method)
            .uri(&path)
            .header(header::AUTHORIZATION, &self.bearer)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_vec()))
            .expect("a request");
        let (status, answer) = self.runtime.block_on(call(&self.app, request));
        assert!(
            !status.is_server_error(),
            "{route:?} answered {status} to {:?}: {answer}",
            String::from_utf8_lossy(body)
        );
        if status.is_client_error() {
            assert!(
                answer["error"]["code"].is_string(),
                "{route:?} answered {status} without the error shape: {answer}"
            );
        }
        // Follow what the request changed, so the next one finds its target.
        if status == StatusCode::OK
            && let Some(name) = answer["name"].as_str()
        {
            match route {
                Route::UpdateRobot => *self.patched_robot.lock().expect("not poisoned") = name.to_owned(),
                Route::UpdateTeam => *self.patched_team.lock().expect("not poisoned") = name.to_owned(),
                _ => {}
            }
        }
        if let Route::RotateToken = route
            && status == StatusCode::CREATED
            && let Some(access_id) = answer["successor"]["access_id"].as_str()
        {
            *self.rotating_token.lock().expect("not poisoned") = access_id.to_owned();
        }
    }
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// One request through the router: its status and its body as JSON
/// (`Value::Null` when it is not JSON).
async fn call(app: &App, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a buffered body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A setup step that must succeed: its answer.
async fn step(app: &App, method: Method, path: &str, bearer: Option<&str>, body: Value) -> Value {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, JSON);
    if let Some(bearer) = bearer {
        request = request.header(header::AUTHORIZATION, bearer);
    }
    let request = request.body(Body::from(body.to_string())).expect("a request");
    let (status, answer) = call(app, request).await;
    assert!(status.is_success(), "setting up: {path} answered {status}: {answer}");
    answer
}

/// The server on a fresh database with its fixtures: the router, the
/// administrator's `Authorization` value, and the Access ID of the token to
/// rotate.
async fn start() -> (App, String, String) {
    let data_dir = data_dir();
    let store = Store::open_data_dir(&data_dir).await.expect("a SQLite store");
    // A fixed clock: the same input gets the same answer in every run.
    let now = OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("2026-01-01");
    let mut config = ServerConfig::new(([127, 0, 0, 1], 0).into());
    // Millions of inputs would otherwise exhaust the builder's token quota
    // and leave only the "too many tokens" answer to explore.
    config.service.max_tokens_per_robot = u32::MAX;
    let state = AppState::new(store, Arc::new(ManualClock::new(now)), config)
        .await
        .expect("the server's state");
    let code = robots_server::prepare_first_run(&state)
        .await
        .expect("a setup code")
        .expect("a fresh database");
    let app = BoxCloneSyncService::new(robots_server::app(state));

    let root = json!({"username": "root", "email": "root@example.com", "password": PASSWORD});
    let mut setup = root.clone();
    setup["code"] = json!(code.display());
    step(&app, Method::POST, "/v1/setup", None, setup).await;
    let login = json!({"username": "root", "password": PASSWORD});
    let session = step(&app, Method::POST, "/v1/sessions", None, login).await;
    let bearer = format!("Bearer {}", session["token"].as_str().expect("a session token"));
    let admin = Some(bearer.as_str());

    let bob = json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD});
    step(&app, Method::POST, "/v1/users", admin, bob).await;
    for org in ["acme", "policy-lab", "hooks-lab", "members-lab"] {
        step(&app, Method::POST, "/v1/orgs", admin, json!({"name": org})).await;
    }
    for robot in ["builder", "patched", "rotator"] {
        step(
            &app,
            Method::POST,
            "/v1/orgs/acme/robots",
            admin,
            json!({"name": robot}),
        )
        .await;
    }
    for team in ["ops", "patched"] {
        step(&app, Method::POST, "/v1/orgs/acme/teams", admin, json!({"name": team})).await;
    }
    let repository = json!({"name": "apps/web"});
    step(&app, Method::POST, "/v1/orgs/acme/repositories", admin, repository).await;
    let token = json!({"name": "deploy"});
    let token = step(&app, Method::POST, "/v1/orgs/acme/robots/rotator/tokens", admin, token).await;
    let access_id = token["access_id"].as_str().expect("an Access ID").to_owned();
    (app, bearer, access_id)
}

/// A directory for this process's database: `robots-fuzz-<pid>` in the
/// temporary directory. libFuzzer ends with `exit`, which runs no
/// destructors, so directories of processes that are gone are removed here.
fn data_dir() -> PathBuf {
    let parent = std::env::temp_dir();
    let processes_visible = Path::new("/proc/self").exists();
    if processes_visible && let Ok(entries) = std::fs::read_dir(&parent) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|name| name.strip_prefix("robots-fuzz-")) else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = parent.join(format!("robots-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
