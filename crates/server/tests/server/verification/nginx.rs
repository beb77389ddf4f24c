//! Debian's nginx with `auth_request` in front of a location, asking our
//! `/v1/auth` whether the robot may push to `acme/apps/web`.

use std::process::{Command, Stdio};

use crate::support::{Background, Credentials, TestApp, free_port, have_tool, wait_for_port};

/// The README's two `location` blocks, pointed at this test's server and backend.
fn readme_locations(upstream: &str, backend: u16) -> String {
    crate::support::readme_block("location /artifacts/ {")
        .replace("127.0.0.1:8080", upstream)
        .replace("127.0.0.1:9000", &format!("127.0.0.1:{backend}"))
}

async fn start_nginx(app: &TestApp, dir: &std::path::Path) -> (Background, u16) {
    let port = free_port();
    let backend = free_port();
    let upstream = app.base.trim_start_matches("http://");
    let www = dir.join("www/artifacts");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "the protected content\n").unwrap();
    // nginx's workers may run as another user: let them read the files.
    use std::os::unix::fs::PermissionsExt;
    for path in [dir.to_path_buf(), dir.join("www"), www.clone(), www.join("index.html")] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let config = format!(
        r#"
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
{locations}
    }}
    server {{
        listen 127.0.0.1:{backend};
        root {dir}/www;
        location / {{
            add_header X-Seen-Robot $http_x_robot always;
            add_header X-Seen-Authorization $http_authorization always;
        }}
    }}
}}
"#,
        dir = dir.display(),
        locations = readme_locations(upstream, backend),
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&config_path)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nginx = Background(child);
    wait_for_port(port, "nginx").await;
    wait_for_port(backend, "nginx's backend").await;
    (nginx, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_allows_refuses_and_forbids() {
    if !have_tool("nginx", "apt-get install nginx") {
        return;
    }
    // As the README says to run it: nginx (on 127.0.0.1) is a trusted proxy.
    let Some(app) = TestApp::spawn_with(robots_store::Backend::Sqlite, |config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await
    else {
        return;
    };
    let (_, writer, reader) = app.registry_fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let (_nginx, port) = start_nginx(&app, dir.path()).await;
    let url = format!("http://127.0.0.1:{port}/artifacts/");
    let get = |credentials: Option<&Credentials>| {
        let mut request = app.client.get(&url);
        if let Some(credentials) = credentials {
            request = request.basic_auth(&credentials.access_id, Some(&credentials.token));
        }
        request.send()
    };

    let allowed = get(Some(&writer)).await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["x-seen-robot"],
        "writer",
        "auth_request_set passed who it is upstream"
    );
    assert!(
        allowed.headers().get("x-seen-authorization").is_none(),
        "the robot's token does not reach the upstream"
    );
    assert_eq!(allowed.text().await.unwrap(), "the protected content\n");
    let bearer = app.client.get(&url).bearer_auth(&writer.token).send().await.unwrap();
    assert_eq!(bearer.status(), 200, "Bearer works too");

    let anonymous = get(None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers().get("www-authenticate").is_some(),
        "nginx forwards the challenge of a 401"
    );
    let wrong = Credentials {
        access_id: writer.access_id.clone(),
        token: reader.token.clone(),
    };
    assert_eq!(
        get(Some(&wrong)).await.unwrap().status(),
        401,
        "another robot's Token under this Access ID"
    );

    // The README asks for pull on acme/apps/web: the reader may, a robot without a grant may not.
    assert_eq!(get(Some(&reader)).await.unwrap().status(), 200, "read may pull");
    let alice = app.login("alice").await;
    app.robot(&alice, "acme", "stranger").await;
    let stranger = app.token(&alice, "acme", "stranger", "ci").await;
    assert_eq!(get(Some(&stranger)).await.unwrap().status(), 403, "no grant, no pull");

    // A client guessing through nginx is limited by its own address (which
    // nginx forwards), not nginx's: everyone else behind nginx carries on.
    let from = |source: &str| {
        reqwest::Client::builder()
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let guesser = from("127.0.0.7");
    let burst = app.state.config().service.limits.robot_failures_per_address.burst;
    for _ in 0..burst + 5 {
        let guess = robots_core::SecretToken::generate(robots_core::SecretKind::RobotToken);
        let answer = guesser.get(&url).bearer_auth(guess.expose()).send().await.unwrap();
        assert_eq!(answer.status(), 401);
    }
    let limited = guesser
        .get(&url)
        .basic_auth(&writer.access_id, Some(&writer.token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        limited.status(),
        401,
        "the guesser is turned away even with a right token"
    );
    let wait: u64 = limited
        .headers()
        .get("retry-after")
        .expect("nginx hands Retry-After on")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "{wait}");
    let bystander = from("127.0.0.8");
    let carried_on = bystander
        .get(&url)
        .basic_auth(&writer.access_id, Some(&writer.token))
        .send()
        .await
        .unwrap();
    assert_eq!(carried_on.status(), 200, "another client behind the same nginx");
}
