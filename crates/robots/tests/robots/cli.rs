//! The command line, run as a binary against a real server.

use crate::support::{Cli, Issuer, PASSWORD, Server, create_user, whoami_as};

/// A server on a fresh data directory with users alice (instance admin) and bob.
fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--data-dir", dir.path().to_str().unwrap()];
    for (name, admin) in [("alice", true), ("bob", false)] {
        let created = create_user(&args, name, admin, PASSWORD);
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    }
    (Server::start(&args), dir)
}

#[test]
fn the_whole_robot_and_token_flow() {
    let (server, _data) = server();
    let cli = Cli::new(&server.base);

    // Log in; the session is saved for the owner only.
    let login = cli.run_with(
        &["login", "--username", "alice", "--password-stdin"],
        &[],
        Some(&format!("{PASSWORD}\n")),
    );
    assert_eq!(login.code, 0, "{}", login.stderr);
    assert!(login.stderr.contains("Logged in to"), "{}", login.stderr);
    let session = cli.home.path().join(".config/robots/session.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&session).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let whoami = cli.run(&["whoami"]).ok();
    assert!(
        whoami.stdout.contains("User:") && whoami.stdout.contains("alice"),
        "{}",
        whoami.stdout
    );

    cli.run(&["orgs", "create", "acme", "--display-name", "Acme Inc."]).ok();
    // With one organization, --org is not needed.
    let created = cli
        .run(&["create", "ci-deployer", "--description", "Pushes images from CI"])
        .ok();
    assert!(
        created.stderr.contains("robots tokens create ci-deployer"),
        "{}",
        created.stderr
    );
    cli.run(&["create", "builder"]).ok();

    // Tables: aligned columns, human ages.
    let list = cli.run(&["list"]).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("LAST USED"),
        "{}",
        lines[0]
    );
    let column = lines[0].find("TOKENS").unwrap();
    assert!(
        lines.iter().skip(1).all(|line| line[column..].starts_with('0')),
        "columns align:\n{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("just now") && list.stdout.contains("never used"),
        "{}",
        list.stdout
    );

    // JSON is the API's objects; YAML the same data.
    let json = cli.run(&["list", "-o", "json"]).ok().json();
    assert_eq!(json[0]["name"], "builder");
    assert_eq!(json[1]["description"], "Pushes images from CI");
    let yaml = cli.run(&["get", "ci-deployer", "-o", "yaml"]).ok();
    assert!(
        yaml.stdout.contains("name: ci-deployer\n") && yaml.stdout.contains("tokens: []\n"),
        "{}",
        yaml.stdout
    );

    // A token: Access ID and Token on stdout, the warning on stderr.
    let token = cli
        .run(&[
            "tokens",
            "create",
            "ci-deployer",
            "--name",
            "github-actions",
            "--expires",
            "90d",
        ])
        .ok();
    assert!(token.stderr.contains("shown only this once"), "{}", token.stderr);
    let (access_id, secret) = printed_credentials(&token.stdout);
    assert!(secret.starts_with("rbt_"));
    assert_eq!(
        whoami_as(&server.base, &access_id, &secret),
        200,
        "the printed Token works"
    );

    let tokens = cli.run(&["tokens", "list", "ci-deployer"]).ok();
    assert!(
        tokens.stdout.contains(&access_id) && tokens.stdout.contains("github-actions"),
        "{}",
        tokens.stdout
    );
    assert!(tokens.stdout.contains("in 3 months"), "{}", tokens.stdout);
    assert!(!tokens.stdout.contains(&secret));
    let got = cli.run(&["get", "ci-deployer", "-o", "json"]).ok().json();
    assert_eq!(got["tokens"][0]["access_id"], access_id.as_str());
    assert!(!got.to_string().contains(&secret));

    // Deleting needs a confirmation; without a terminal it refuses instead of hanging.
    let refused = cli.run(&["tokens", "delete", "ci-deployer", &access_id]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("stops authenticating") && refused.stderr.contains("--yes"),
        "{}",
        refused.stderr
    );
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 200, "nothing was deleted");
    cli.run(&["tokens", "delete", "ci-deployer", &access_id, "--yes"]).ok();
    assert_eq!(
        whoami_as(&server.base, &access_id, &secret),
        401,
        "a deleted token stops at once"
    );

    // Rename, then delete the robot.
    cli.run(&["update", "ci-deployer", "--name", "shipper", "--description", "Ships"])
        .ok();
    let shipper = cli.run(&["get", "shipper", "-o", "json"]).ok().json();
    assert_eq!(shipper["description"], "Ships");
    assert_eq!(cli.run(&["delete", "shipper"]).code, 2);
    cli.run(&["delete", "shipper", "--yes"]).ok();
    assert_eq!(cli.run(&["get", "shipper"]).code, 4);

    // Log out: the session is gone, locally and on the server.
    cli.run(&["logout"]).ok();
    assert!(!session.exists());
    let after = cli.run(&["whoami"]);
    assert_eq!(after.code, 3, "{}", after.stderr);
    assert!(after.stderr.contains("robots login"), "{}", after.stderr);
}

#[test]
fn tokens_can_be_written_to_a_private_file_that_is_never_overwritten_by_accident() {
    let (server, _data) = server();
    let cli = Cli::new(&server.base);
    cli.login("alice");
    cli.run(&["orgs", "create", "acme"]).ok();
    cli.run(&["create", "deployer"]).ok();
    let file = cli.home.path().join("token.json");
    let path = file.to_str().unwrap();

    let created = cli
        .run(&["tokens", "create", "deployer", "--name", "first", "--output", path])
        .ok();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let (access_id, token) = (saved["access_id"].as_str().unwrap(), saved["token"].as_str().unwrap());
    assert!(
        !created.stdout.contains(token),
        "with --output the Token stays out of the terminal"
    );
    assert!(created.stdout.contains(access_id));
    assert_eq!(whoami_as(&server.base, access_id, token), 200);

    let again = cli.run(&["tokens", "create", "deployer", "--name", "second", "--output", path]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("--force"));
    assert!(
        std::fs::read_to_string(&file).unwrap().contains(token),
        "the file is untouched"
    );
    let tokens = cli.run(&["tokens", "list", "deployer", "-o", "json"]).ok().json();
    assert_eq!(
        tokens.as_array().unwrap().len(),
        1,
        "no token was minted for a file that could not be written"
    );

    cli.run(&[
        "tokens", "create", "deployer", "--name", "second", "--output", path, "--force",
    ])
    .ok();
    let replaced: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_ne!(replaced["token"].as_str().unwrap(), token);
}

#[test]
fn exit_codes_tell_what_went_wrong() {
    let (server, _data) = server();
    let cli = Cli::new(&server.base);
    let not_logged_in = cli.run(&["list"]);
    assert_eq!(not_logged_in.code, 3, "{}", not_logged_in.stderr);

    let wrong_password = cli.run_with(
        &["login", "--username", "alice", "--password-stdin"],
        &[],
        Some("wrong\n"),
    );
    assert_eq!(wrong_password.code, 3);
    assert!(
        wrong_password
            .stderr
            .contains("wrong username or password (invalid_login)"),
        "{}",
        wrong_password.stderr
    );

    cli.login("alice");
    cli.run(&["orgs", "create", "acme"]).ok();
    let bad_name = cli.run(&["create", "Bad Name"]);
    assert_eq!(bad_name.code, 2);
    assert!(
        bad_name.stderr.starts_with("error: name: may contain only lowercase"),
        "{}",
        bad_name.stderr
    );
    cli.run(&["create", "taken"]).ok();
    let taken = cli.run(&["create", "taken"]);
    assert_eq!(taken.code, 5);
    assert!(taken.stderr.contains("(name_taken)"), "{}", taken.stderr);
    assert_eq!(cli.run(&["get", "missing"]).code, 4);
    assert_eq!(cli.run(&["no-such-command"]).code, 2);
    assert_eq!(cli.run(&["tokens", "create", "taken"]).code, 2, "--name is required");
    let bad_expiry = cli.run(&["tokens", "create", "taken", "--name", "t", "--expires", "soon"]);
    assert_eq!(bad_expiry.code, 2);
    assert!(bad_expiry.stderr.contains("--expires"));
    let unreachable = cli.run(&["list", "--server", "http://127.0.0.1:1"]);
    assert_eq!(
        unreachable.code, 3,
        "no session for that server: {}",
        unreachable.stderr
    );
    let unreachable = cli.run_with(
        &["whoami", "--server", "http://127.0.0.1:1"],
        &[("ROBOTS_TOKEN", "rsn_x")],
        None,
    );
    assert_eq!(unreachable.code, 1, "{}", unreachable.stderr);
    assert!(
        unreachable.stderr.contains("cannot reach the server"),
        "{}",
        unreachable.stderr
    );

    // bob may read, not write: 403 is an authorization failure.
    cli.run(&["members", "set", "bob", "--role", "member"]).ok();
    let bob = Cli::new(&server.base);
    bob.login("bob");
    bob.run(&["list"]).ok();
    let forbidden = bob.run(&["create", "sneaky"]);
    assert_eq!(forbidden.code, 3, "{}", forbidden.stderr);
    assert!(forbidden.stderr.contains("only admins of acme"), "{}", forbidden.stderr);
}

#[test]
fn organizations_are_chosen_with_org_and_personal_accounts_are_explained() {
    let (server, _data) = server();
    let cli = Cli::new(&server.base);
    cli.login("alice");

    let none = cli.run(&["list"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("robots orgs create"), "{}", none.stderr);

    let personal = cli.run(&["list", "--org", "alice"]);
    assert_eq!(personal.code, 2);
    assert!(
        personal.stderr.contains("Only organizations can have robot accounts"),
        "{}",
        personal.stderr
    );

    cli.run(&["orgs", "create", "acme"]).ok();
    cli.run(&["orgs", "create", "globex"]).ok();
    let ambiguous = cli.run(&["list"]);
    assert_eq!(ambiguous.code, 2);
    assert!(
        ambiguous.stderr.contains("acme, globex") && ambiguous.stderr.contains("--org"),
        "{}",
        ambiguous.stderr
    );
    cli.run(&["create", "bot", "--org", "globex"]).ok();
    let from_env = cli
        .run_with(&["list", "-o", "json"], &[("ROBOTS_ORG", "globex")], None)
        .ok()
        .json();
    assert_eq!(from_env[0]["name"], "bot");
    assert_eq!(
        cli.run_with(&["list", "-o", "json"], &[("ROBOTS_ORG", "acme")], None)
            .ok()
            .json(),
        serde_json::json!([])
    );

    let orgs = cli.run(&["orgs", "list"]).ok();
    assert!(
        orgs.stdout.contains("acme") && orgs.stdout.contains("admin"),
        "{}",
        orgs.stdout
    );
    assert_eq!(
        cli.run(&["orgs", "get", "acme", "-o", "json"]).ok().json()["role"],
        "admin"
    );

    // Members.
    cli.run(&["members", "set", "bob", "--role", "member", "--org", "acme"])
        .ok();
    let members = cli.run(&["members", "list", "--org", "acme", "-o", "json"]).ok().json();
    assert_eq!(members.as_array().unwrap().len(), 2);
    let last_admin = cli.run(&["members", "set", "alice", "--role", "member", "--org", "acme"]);
    assert_eq!(last_admin.code, 5, "{}", last_admin.stderr);
    cli.run(&["members", "remove", "bob", "--org", "acme", "--yes"]).ok();

    let refused = cli.run(&["orgs", "delete", "globex"]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("1 robot account(s)"), "{}", refused.stderr);
    cli.run(&["orgs", "delete", "globex", "--yes"]).ok();
    assert_eq!(cli.run(&["orgs", "get", "globex"]).code, 4);
}

#[test]
fn robots_token_overrides_the_saved_session() {
    let (server, _data) = server();
    let cli = Cli::new(&server.base);
    cli.login("alice");
    cli.run(&["orgs", "create", "acme"]).ok();
    cli.run(&["create", "deployer"]).ok();
    let token = cli
        .run(&["tokens", "create", "deployer", "--name", "ci", "-o", "json"])
        .ok()
        .json();
    let secret = token["token"].as_str().unwrap();
    let as_robot = cli
        .run_with(&["whoami", "-o", "json"], &[("ROBOTS_TOKEN", secret)], None)
        .ok()
        .json();
    assert_eq!(
        (as_robot["kind"].as_str(), as_robot["name"].as_str()),
        (Some("robot"), Some("deployer"))
    );
    let robot_writes = cli.run_with(
        &["create", "another", "--org", "acme"],
        &[("ROBOTS_TOKEN", secret)],
        None,
    );
    assert_eq!(robot_writes.code, 3);
    assert!(
        robot_writes.stderr.contains("(robot_forbidden)"),
        "{}",
        robot_writes.stderr
    );
}

#[test]
fn completions_and_help() {
    let cli = Cli::new("http://127.0.0.1:1");
    for shell in ["bash", "zsh", "fish"] {
        let script = cli.run(&["completions", shell]).ok();
        assert!(
            script.stdout.contains("tokens") && script.stdout.len() > 1000,
            "{shell}"
        );
    }
    for command in [
        &["tokens", "create", "--help"][..],
        &["delete", "--help"],
        &["members", "set", "--help"],
        &["login", "--help"],
        &["disable", "--help"],
        &["enable", "--help"],
        &["tokens", "rotate", "--help"],
        &["tokens", "expiring", "--help"],
        &["tokens", "report-leaked", "--help"],
        &["orgs", "policy", "--help"],
        &["audit", "--help"],
        &["webhooks", "create", "--help"],
        &["webhooks", "delete", "--help"],
        &["webhooks", "deliveries", "--help"],
        &["webhooks", "list", "--help"],
        &["federated", "list", "--help"],
        &["federated", "create", "--help"],
        &["federated", "get", "--help"],
        &["federated", "update", "--help"],
        &["federated", "delete", "--help"],
        &["federated", "exchange", "--help"],
    ] {
        let help = cli.run(command).ok();
        assert!(
            help.stdout.contains("Example"),
            "{command:?} has an example:\n{}",
            help.stdout
        );
    }
}

/// Runs `robots ARGS` inside a pseudo-terminal (util-linux `script`), typing `input`.
fn in_terminal(cli: &Cli, args: &str, input: &str) -> crate::support::Run {
    let command = format!("{} {args}", crate::support::ROBOTS);
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cli.home.path())
        .env("ROBOTS_SERVER", &cli.server)
        .env("TERM", "dumb")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            // Type slowly enough that each prompt is up before its answer.
            for line in input.lines() {
                std::thread::sleep(std::time::Duration::from_millis(300));
                stdin.write_all(format!("{line}\n").as_bytes())?;
            }
            drop(stdin);
            child.wait_with_output()
        })
        .unwrap();
    crate::support::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn at_a_terminal_it_asks() {
    let (server, _data) = server();
    let cli = Cli::new(&server.base);
    let login = in_terminal(&cli, "login", &format!("alice\n{PASSWORD}"));
    assert_eq!(login.code, 0, "{}{}", login.stdout, login.stderr);
    assert!(
        login.stdout.contains("Username:") && login.stdout.contains("Password:"),
        "{}",
        login.stdout
    );
    assert!(!login.stdout.contains(PASSWORD), "the password is not echoed");
    cli.run(&["orgs", "create", "acme"]).ok();
    cli.run(&["create", "bot"]).ok();

    let declined = in_terminal(&cli, "delete bot", "n");
    assert_eq!(declined.code, 2, "{}", declined.stdout);
    assert!(
        declined
            .stdout
            .contains("Delete robot account bot in acme? It has no tokens. [y/N]"),
        "{}",
        declined.stdout
    );
    cli.run(&["get", "bot"]).ok();
    let accepted = in_terminal(&cli, "delete bot", "y");
    assert_eq!(accepted.code, 0, "{}", accepted.stdout);
    assert_eq!(cli.run(&["get", "bot"]).code, 4);
}

#[test]
fn teams_repositories_and_grants() {
    let (server, _data) = server();
    let cli = Cli::new(&server.base);
    cli.login("alice");
    cli.run(&["orgs", "create", "acme"]).ok();
    cli.run(&["create", "ci-deployer"]).ok();
    let none = cli.run(&["get", "ci-deployer"]).ok();
    assert!(
        none.stdout.contains("Teams: none") && none.stdout.contains("No permissions"),
        "{}",
        none.stdout
    );

    cli.run(&["repos", "create", "apps/web"]).ok();
    assert_eq!(cli.run(&["repos", "create", "Apps/Web"]).code, 2);
    cli.run(&["teams", "create", "deployers", "--description", "Push images"])
        .ok();
    cli.run(&["teams", "add", "deployers", "--robot", "ci-deployer"]).ok();
    assert_eq!(
        cli.run(&["teams", "add", "deployers"]).code,
        2,
        "--user or --robot is required"
    );
    let grant = cli
        .run(&["teams", "grant", "deployers", "apps/web", "--permission", "write"])
        .ok();
    assert!(grant.stderr.contains("write on acme/apps/web"), "{}", grant.stderr);

    let robot = cli.run(&["get", "ci-deployer"]).ok();
    assert!(robot.stdout.contains("Teams: deployers"), "{}", robot.stdout);
    let row = robot
        .stdout
        .lines()
        .find(|line| line.starts_with("acme/apps/web"))
        .unwrap_or_default();
    assert!(
        row.contains("write") && row.contains("pull, push") && row.contains("deployers (write)"),
        "{}",
        robot.stdout
    );
    let json = cli.run(&["get", "ci-deployer", "-o", "json"]).ok().json();
    assert_eq!(json["permissions"][0]["actions"], serde_json::json!(["pull", "push"]));

    let access = cli.run(&["repos", "get", "apps/web"]).ok();
    assert!(
        access.stdout.contains("ci-deployer") && access.stdout.contains("deployers"),
        "{}",
        access.stdout
    );
    let team = cli.run(&["teams", "get", "deployers", "-o", "json"]).ok().json();
    assert_eq!(team["members"][0]["name"], "ci-deployer");

    assert_eq!(
        cli.run(&["teams", "revoke", "deployers", "apps/web"]).code,
        2,
        "asks first"
    );
    cli.run(&["teams", "revoke", "deployers", "apps/web", "--yes"]).ok();
    let json = cli.run(&["get", "ci-deployer", "-o", "json"]).ok().json();
    assert_eq!(json["permissions"], serde_json::json!([]));
    cli.run(&["teams", "remove", "deployers", "--robot", "ci-deployer", "--yes"])
        .ok();
    cli.run(&["teams", "update", "deployers", "--name", "releasers"]).ok();
    cli.run(&["teams", "delete", "releasers", "--yes"]).ok();
    assert!(cli.run(&["teams", "list"]).ok().stdout.contains("No teams yet"));
    cli.run(&["repos", "delete", "apps/web", "--yes"]).ok();
    assert_eq!(cli.run(&["repos", "get", "apps/web"]).code, 4);
}

#[test]
fn signing_keys_from_the_command_line() {
    let (server, _data) = server();
    let anonymous = Cli::new(&server.base);
    let pem = anonymous.run(&["keys", "certificate"]).ok();
    assert!(
        pem.stdout.starts_with("-----BEGIN CERTIFICATE-----"),
        "no login needed: {}",
        pem.stdout
    );

    let cli = Cli::new(&server.base);
    cli.login("alice");
    let listed = cli.run(&["keys", "list", "-o", "json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let rotated = cli.run(&["keys", "rotate", "--after", "1h"]).ok();
    assert!(rotated.stderr.contains("robots keys certificate"), "{}", rotated.stderr);
    assert_eq!(
        cli.run(&["keys", "certificate"])
            .ok()
            .stdout
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    let table = cli.run(&["keys", "list"]).ok();
    assert_eq!(table.stdout.lines().count(), 3, "{}", table.stdout);
    assert!(
        table.stdout.lines().next().unwrap().contains("ALGORITHM"),
        "{}",
        table.stdout
    );
    assert_eq!(table.stdout.matches("ES256").count(), 2, "{}", table.stdout);

    let bob = Cli::new(&server.base);
    bob.login("bob");
    assert_eq!(bob.run(&["keys", "rotate"]).code, 3);
}

/// The Access ID and Token as the CLI prints them for people (`Access ID: …`, `Token: …`).
fn printed_credentials(stdout: &str) -> (String, String) {
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout:?}"))
            .trim()
            .to_owned()
    };
    (line("Access ID:"), line("Token:"))
}

/// Creates a token with `robots tokens create ... -o json`; its Access ID and Token.
fn new_token(cli: &Cli, robot: &str, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["tokens", "create", robot, "--name", name, "-o", "json"];
    args.extend_from_slice(extra);
    let created = cli.run(&args).ok().json();
    (
        created["access_id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn tokens_are_printed_in_the_form_a_tool_reads() {
    let (_server, _data, cli) = acme();
    let secret = cli
        .run(&[
            "tokens",
            "create",
            "deployer",
            "--name",
            "cluster",
            "--output",
            "k8s-secret",
            "--registry",
            "registry.example.com",
            "--namespace",
            "apps",
        ])
        .ok();
    assert!(
        secret.stdout.starts_with("apiVersion: v1\nkind: Secret\n"),
        "{}",
        secret.stdout
    );
    assert!(secret.stdout.contains("  namespace: apps\n"), "{}", secret.stdout);
    assert!(secret.stderr.contains("shown only this once"), "{}", secret.stderr);

    let env = cli
        .run(&["tokens", "create", "deployer", "--name", "ci", "--output", "env"])
        .ok();
    let lines: Vec<&str> = env.stdout.lines().collect();
    assert!(
        lines[0].starts_with("ROBOTS_ACCESS_ID=") && lines[1].starts_with("ROBOTS_TOKEN=rbt_"),
        "{}",
        env.stdout
    );

    let refused = cli.run(&[
        "tokens",
        "create",
        "deployer",
        "--name",
        "x",
        "--output",
        "dockerconfigjson",
    ]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("--registry-host"), "{}", refused.stderr);
    let tokens = cli.run(&["tokens", "list", "deployer", "-o", "json"]).ok().json();
    assert_eq!(tokens.as_array().unwrap().len(), 2, "no token for a refused format");
}

/// A server, alice logged in, organization acme with robot `deployer`.
fn acme() -> (Server, tempfile::TempDir, Cli) {
    let (server, data) = server();
    let cli = Cli::new(&server.base);
    cli.login("alice");
    cli.run(&["orgs", "create", "acme"]).ok();
    cli.run(&["create", "deployer"]).ok();
    (server, data, cli)
}

#[test]
fn disabling_a_robot_stops_its_tokens_until_it_is_enabled() {
    let (server, _data, cli) = acme();
    let (access_id, secret) = new_token(&cli, "deployer", "ci", &[]);
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 200);

    // It asks first, naming what stops working and that nothing is deleted.
    let refused = cli.run(&["disable", "deployer"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Its 1 token stops working")
            && refused.stderr.contains("robots enable deployer")
            && refused.stderr.contains("Nothing is deleted")
            && refused.stderr.contains("--yes"),
        "{}",
        refused.stderr
    );
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 200, "not disabled yet");

    let disabled = cli.run(&["disable", "deployer", "--yes"]).ok();
    assert!(
        disabled.stderr.contains("Disabled robot account deployer"),
        "{}",
        disabled.stderr
    );
    assert_eq!(
        whoami_as(&server.base, &access_id, &secret),
        401,
        "a disabled robot's token is refused"
    );
    let robot = cli.run(&["get", "deployer", "-o", "json"]).ok().json();
    assert_eq!(robot["disabled"], true);
    assert_eq!(
        robot["tokens"][0]["access_id"],
        access_id.as_str(),
        "nothing was deleted"
    );
    let list = cli.run(&["list"]).ok();
    assert!(
        list.stdout.lines().next().unwrap().ends_with("STATUS") && list.stdout.contains("disabled"),
        "{}",
        list.stdout
    );
    let shown = cli.run(&["get", "deployer"]).ok();
    assert!(
        shown.stdout.contains("Status:") && shown.stdout.contains("disabled"),
        "{}",
        shown.stdout
    );
    let again = cli.run(&["disable", "deployer"]).ok();
    assert!(again.stderr.contains("disabled already"), "{}", again.stderr);

    let enabled = cli.run(&["enable", "deployer", "-o", "json"]).ok();
    assert_eq!(enabled.json()["disabled"], false);
    assert!(enabled.stderr.contains("work again"), "{}", enabled.stderr);
    assert_eq!(
        whoami_as(&server.base, &access_id, &secret),
        200,
        "the same token works again"
    );
    assert_eq!(cli.run(&["enable", "missing"]).code, 4);
}

#[test]
fn rotating_a_token_keeps_the_old_one_working_for_the_grace_period() {
    let (server, _data, cli) = acme();
    let (old_id, old_secret) = new_token(&cli, "deployer", "ci", &["--expires", "30d"]);

    let rotated = cli.run(&["tokens", "rotate", "deployer", &old_id]).ok();
    assert!(rotated.stderr.contains("shown only this once"), "{}", rotated.stderr);
    assert!(
        rotated
            .stderr
            .contains(&format!("The old token ({old_id}) keeps working until"))
            && rotated.stderr.contains("in 23 hours"),
        "{}",
        rotated.stderr
    );
    let (new_id, new_secret) = printed_credentials(&rotated.stdout);
    assert_eq!(
        whoami_as(&server.base, &new_id, &new_secret),
        200,
        "the successor works"
    );
    assert_eq!(
        whoami_as(&server.base, &old_id, &old_secret),
        200,
        "the old token still works"
    );

    // The list shows who replaces whom, and that the old token goes soon.
    let list = cli.run(&["tokens", "list", "deployer"]).ok();
    let header = list.stdout.lines().next().unwrap();
    assert!(header.contains("ROLE"), "{}", list.stdout);
    let row = |id: &str| list.stdout.lines().find(|l| l.contains(id)).unwrap().to_owned();
    assert!(
        row(&old_id).contains("rotating out") && row(&old_id).ends_with("in 23 hours (soon)"),
        "{}",
        list.stdout
    );
    assert!(
        row(&new_id).contains("successor") && row(&new_id).ends_with("in 29 days"),
        "the successor lives as long as the old token did:\n{}",
        list.stdout
    );
    let json = cli.run(&["tokens", "list", "deployer", "-o", "json"]).ok().json();
    let role = |id: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|t| t["access_id"] == id)
            .map(|t| (t["role"].clone(), t["expiring_soon"].clone()))
            .unwrap()
    };
    assert_eq!(
        role(&old_id),
        (serde_json::json!("rotating_out"), serde_json::json!(true))
    );
    assert_eq!(
        role(&new_id),
        (serde_json::json!("successor"), serde_json::json!(false))
    );
    let soon = cli
        .run(&["tokens", "list", "deployer", "--expiring-within", "7d", "-o", "json"])
        .ok()
        .json();
    assert_eq!(soon.as_array().unwrap().len(), 1, "{soon}");
    assert_eq!(soon[0]["access_id"], old_id.as_str());

    // Once rotated is enough: exit 5, a conflict.
    let twice = cli.run(&["tokens", "rotate", "deployer", &old_id]);
    assert_eq!(twice.code, 5, "{}", twice.stderr);
    assert!(
        twice.stderr.contains("(already_rotated)") && twice.stderr.contains(&new_id),
        "{}",
        twice.stderr
    );

    // Into a 0600 file, refused before any rotation when the file exists.
    let file = cli.home.path().join("rotated.json");
    let path = file.to_str().unwrap();
    std::fs::write(&file, "keep me").unwrap();
    let exists = cli.run(&["tokens", "rotate", "deployer", &new_id, "--output", path]);
    assert_eq!(exists.code, 2, "{}", exists.stderr);
    assert!(exists.stderr.contains("--force"), "{}", exists.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let listed = cli.run(&["tokens", "list", "deployer", "-o", "json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "nothing was rotated");
    let into_file = cli
        .run(&[
            "tokens",
            "rotate",
            "deployer",
            &new_id,
            "--output",
            path,
            "--force",
            "--grace",
            "0s",
            "--expires",
            "never",
        ])
        .ok();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let (third_id, third_secret) = (saved["access_id"].as_str().unwrap(), saved["token"].as_str().unwrap());
    assert!(
        !into_file.stdout.contains(third_secret),
        "with --output the Token stays out of the terminal"
    );
    assert!(into_file.stdout.contains(third_id), "{}", into_file.stdout);
    assert_eq!(whoami_as(&server.base, third_id, third_secret), 200);
    assert_eq!(
        whoami_as(&server.base, &new_id, &new_secret),
        401,
        "--grace 0s stops the old token at once"
    );
    let list = cli.run(&["tokens", "list", "deployer"]).ok();
    let expired = list.stdout.lines().find(|l| l.contains(&new_id)).unwrap();
    assert!(expired.ends_with("EXPIRED"), "{}", list.stdout);
    let third = list.stdout.lines().find(|l| l.contains(third_id)).unwrap();
    assert!(third.ends_with("never"), "{}", list.stdout);

    // -o json is the API's whole answer.
    let answer = cli
        .run(&["tokens", "rotate", "deployer", third_id, "--grace", "1h", "-o", "json"])
        .ok()
        .json();
    assert!(answer["successor"]["token"].as_str().unwrap().starts_with("rbt_"));
    assert_eq!(answer["rotating_out"]["access_id"], third_id);
    assert_eq!(answer["rotating_out"]["role"], "rotating_out");
    let bad = cli.run(&["tokens", "rotate", "deployer", third_id, "--grace", "soon"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--grace"), "{}", bad.stderr);
    assert_eq!(cli.run(&["tokens", "rotate", "deployer", "not-an-id"]).code, 4);
}

#[test]
fn tokens_expiring_soon_across_the_organization() {
    let (_server, _data, cli) = acme();
    cli.run(&["create", "builder"]).ok();
    let (soon_id, _) = new_token(&cli, "deployer", "soon", &["--expires", "3d"]);
    let (later_id, _) = new_token(&cli, "builder", "later", &["--expires", "20d"]);
    new_token(&cli, "builder", "forever", &[]);

    let expiring = cli.run(&["tokens", "expiring"]).ok();
    let lines: Vec<&str> = expiring.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "only what expires within 7 days:\n{}", expiring.stdout);
    assert!(
        lines[0].starts_with("ROBOT") && lines[0].contains("ACCESS ID") && lines[0].ends_with("LAST USED"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("deployer") && lines[1].contains(&soon_id) && lines[1].contains("(soon)"),
        "{}",
        expiring.stdout
    );

    let within = cli
        .run(&["tokens", "expiring", "--within", "30d", "-o", "json"])
        .ok()
        .json();
    let items = within.as_array().unwrap();
    assert_eq!(items.len(), 2, "{within}");
    assert_eq!(
        (items[0]["robot"].as_str(), items[0]["access_id"].as_str()),
        (Some("deployer"), Some(soon_id.as_str())),
        "soonest first"
    );
    assert_eq!(items[1]["access_id"], later_id.as_str());
    let none = cli.run(&["tokens", "expiring", "--within", "1h"]).ok();
    assert!(
        none.stdout.contains("No token of acme expires within 1h"),
        "{}",
        none.stdout
    );
    assert_eq!(cli.run(&["tokens", "expiring", "--within", "soon"]).code, 2);

    let list = cli.run(&["tokens", "list", "deployer"]).ok();
    assert!(list.stdout.contains("in 2 days (soon)"), "{}", list.stdout);
}

#[test]
fn the_token_policy_is_shown_and_set() {
    let (server, _data, cli) = acme();
    let shown = cli.run(&["orgs", "policy"]).ok();
    let details = squeezed(&shown.stdout);
    assert!(
        details.contains("Max lifetime: none")
            && details.contains("Expiry required: no")
            && details.contains("Personal access tokens: yes"),
        "{}",
        shown.stdout
    );

    let set = cli.run(&["orgs", "policy", "acme", "--max-lifetime", "90d"]).ok();
    assert!(
        set.stderr.contains("Updated the token policy of acme"),
        "{}",
        set.stderr
    );
    assert!(squeezed(&set.stdout).contains("Max lifetime: 90d"), "{}", set.stdout);
    // Changing one part keeps the other.
    cli.run(&["orgs", "policy", "--require-expiry"]).ok();
    let policy = cli.run(&["orgs", "policy", "-o", "json"]).ok().json();
    assert_eq!(
        policy,
        serde_json::json!({"max_lifetime": "90d", "expiry_required": true, "personal_tokens_allowed": true, "disable_unused_after": null})
    );
    cli.run(&["orgs", "policy", "--forbid-personal-tokens"]).ok();
    let org = cli.run(&["orgs", "get", "acme"]).ok();
    assert!(
        org.stdout
            .contains("tokens live at most 90d; expiry required; personal access tokens refused"),
        "{}",
        org.stdout
    );
    let both = cli.run(&["orgs", "policy", "--forbid-personal-tokens", "--allow-personal-tokens"]);
    assert_eq!(both.code, 2, "{}", both.stderr);

    // New tokens must follow it.
    let forever = cli.run(&["tokens", "create", "deployer", "--name", "forever"]);
    assert_eq!(forever.code, 2, "{}", forever.stderr);
    assert!(
        forever.stderr.contains("requires every token to expire") && forever.stderr.contains("--expires"),
        "{}",
        forever.stderr
    );
    let too_long = cli.run(&["tokens", "create", "deployer", "--name", "long", "--expires", "100d"]);
    assert_eq!(too_long.code, 2, "{}", too_long.stderr);
    assert!(too_long.stderr.contains("at most 90d"), "{}", too_long.stderr);
    let (access_id, secret) = new_token(&cli, "deployer", "ok", &["--expires", "90d"]);
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 200);

    assert_eq!(
        cli.run(&["orgs", "policy", "--require-expiry", "--no-require-expiry"])
            .code,
        2
    );
    let bad = cli.run(&["orgs", "policy", "--max-lifetime", "forever"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--max-lifetime"), "{}", bad.stderr);

    // Members see it; only admins change it.
    cli.run(&["members", "set", "bob", "--role", "member"]).ok();
    let bob = Cli::new(&server.base);
    bob.login("bob");
    assert!(bob.run(&["orgs", "policy", "acme"]).ok().stdout.contains("90d"));
    assert_eq!(bob.run(&["orgs", "policy", "acme", "--max-lifetime", "none"]).code, 3);

    cli.run(&[
        "orgs",
        "policy",
        "--max-lifetime",
        "none",
        "--no-require-expiry",
        "--allow-personal-tokens",
    ])
    .ok();
    assert_eq!(
        cli.run(&["orgs", "policy", "-o", "json"]).ok().json(),
        serde_json::json!({"max_lifetime": null, "expiry_required": false, "personal_tokens_allowed": true, "disable_unused_after": null})
    );
    new_token(&cli, "deployer", "forever", &[]);
}

#[test]
fn the_audit_log_from_the_command_line() {
    let (server, _data, cli) = acme();
    let (access_id, _) = new_token(&cli, "deployer", "ci", &[]);
    cli.run(&["tokens", "delete", "deployer", &access_id, "--yes"]).ok();

    let log = cli.run(&["audit"]).ok();
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert!(
        lines[0].starts_with("TIME") && lines[0].contains("ACTOR") && lines[0].ends_with("IP"),
        "{}",
        log.stdout
    );
    assert!(lines[1].contains("token.deleted"), "newest first:\n{}", log.stdout);
    let created = lines.iter().find(|l| l.contains("robot.created")).unwrap();
    assert!(
        created.starts_with("just now")
            && created.contains("alice")
            && created.contains("robot acme/deployer")
            && created.contains("cli")
            && created.contains("127.0.0.1"),
        "{}",
        log.stdout
    );

    let tokens = cli.run(&["audit", "--action", "token.", "-o", "json"]).ok().json();
    let actions: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.deleted", "token.created"]);
    let exact = cli
        .run(&[
            "audit",
            "--action",
            "robot.created",
            "--actor",
            "alice",
            "--since",
            "1h",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(exact.as_array().unwrap().len(), 1, "{exact}");
    assert_eq!(exact[0]["target"], "robot acme/deployer");
    let target = cli
        .run(&["audit", "--target", "robot acme/deployer", "-o", "json"])
        .ok()
        .json();
    assert_eq!(target[0]["action"], "robot.created");
    let nobody = cli.run(&["audit", "--actor", "bob"]).ok();
    assert!(nobody.stdout.contains("No audit events match"), "{}", nobody.stdout);

    // --limit pages through; what is left is mentioned.
    let all = cli.run(&["audit", "--limit", "1000", "-o", "json"]).ok().json();
    let total = all.as_array().unwrap().len();
    assert!(total >= 4, "{all}");
    let two = cli.run(&["audit", "--limit", "2"]).ok();
    assert_eq!(two.stdout.lines().count(), 3, "{}", two.stdout);
    assert!(two.stderr.contains("--limit"), "{}", two.stderr);

    // The export: JSON lines, every matching event.
    let export = cli.run(&["audit", "--jsonl"]).ok();
    let events: Vec<serde_json::Value> = export
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), total);
    assert_eq!(events, *all.as_array().unwrap());
    let token_lines = cli.run(&["audit", "--jsonl", "--action", "token."]).ok();
    assert_eq!(token_lines.stdout.lines().count(), 2);
    assert_eq!(cli.run(&["audit", "--jsonl", "--limit", "5"]).code, 2);
    assert_eq!(cli.run(&["audit", "--since", "yesterday"]).code, 2);

    // The instance's log: logins and such, for instance admins.
    let instance = cli.run(&["audit", "--instance", "-o", "json"]).ok().json();
    assert!(
        instance
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "session.created"),
        "{instance}"
    );

    // Org admins only.
    cli.run(&["members", "set", "bob", "--role", "member"]).ok();
    let bob = Cli::new(&server.base);
    bob.login("bob");
    assert_eq!(bob.run(&["audit"]).code, 3);
    assert_eq!(bob.run(&["audit", "--jsonl"]).code, 3);
    assert_eq!(bob.run(&["audit", "--instance"]).code, 3);
}

#[test]
fn webhooks_from_the_command_line() {
    let (server, _data, cli) = acme();
    let none = cli.run(&["webhooks", "list"]).ok();
    assert!(none.stdout.contains("No webhooks yet"), "{}", none.stdout);

    let created = cli
        .run(&[
            "webhooks",
            "create",
            "http://127.0.0.1:9/hook",
            "--event",
            "token.created",
        ])
        .ok();
    assert!(created.stderr.contains("shown only this once"), "{}", created.stderr);
    let id = created
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .unwrap()
        .trim()
        .to_owned();
    let secret = created
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Secret:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(secret.len() >= 32, "{}", created.stdout);
    let all_events = cli
        .run(&["webhooks", "create", "https://hooks.example.com/robots", "-o", "json"])
        .ok()
        .json();
    assert_eq!(
        all_events["events"].as_array().unwrap().len(),
        robots_service::events::EVENTS.len()
    );
    assert!(all_events["secret"].is_string());

    let list = cli.run(&["webhooks", "list"]).ok();
    assert!(
        list.stdout.contains(&id)
            && list.stdout.contains("http://127.0.0.1:9/hook")
            && list.stdout.contains("token.created"),
        "{}",
        list.stdout
    );
    assert!(!list.stdout.contains(&secret), "the secret is shown once only");
    let listed = cli.run(&["webhooks", "list", "-o", "json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed.as_array().unwrap().iter().all(|w| w.get("secret").is_none()));

    // A token event is queued for it; nothing listens on port 9, so it is retried.
    new_token(&cli, "deployer", "ci", &[]);
    let deliveries = cli.run(&["webhooks", "deliveries", &id, "-o", "json"]).ok().json();
    assert_eq!(deliveries[0]["event"], "token.created", "{deliveries}");
    let table = cli.run(&["webhooks", "deliveries", &id]).ok();
    assert!(
        table.stdout.starts_with("EVENT") && table.stdout.contains("token.created"),
        "{}",
        table.stdout
    );

    let bad = cli.run(&["webhooks", "create", "http://127.0.0.1:9/x", "--event", "robot.created"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert_eq!(cli.run(&["webhooks", "create", "ftp://example.com"]).code, 2);

    let refused = cli.run(&["webhooks", "delete", &id]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("http://127.0.0.1:9/hook gets no more events") && refused.stderr.contains("--yes"),
        "{}",
        refused.stderr
    );
    cli.run(&["webhooks", "delete", &id, "--yes"]).ok();
    assert_eq!(cli.run(&["webhooks", "delete", &id, "--yes"]).code, 4);
    assert_eq!(cli.run(&["webhooks", "deliveries", &id]).code, 4);
    let left = cli.run(&["webhooks", "list", "-o", "json"]).ok().json();
    assert_eq!(left.as_array().unwrap().len(), 1);

    cli.run(&["members", "set", "bob", "--role", "member"]).ok();
    let bob = Cli::new(&server.base);
    bob.login("bob");
    assert_eq!(bob.run(&["webhooks", "list"]).code, 3);
}

#[test]
fn a_leaked_token_is_reported_without_logging_in() {
    let (server, _data, cli) = acme();
    let (access_id, secret) = new_token(&cli, "deployer", "leaky", &[]);
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 200);

    let finder = Cli::new(&server.base);
    let reported = finder
        .run_with(&["tokens", "report-leaked"], &[], Some(&format!("{secret}\n")))
        .ok();
    assert!(
        reported
            .stderr
            .contains("Reported; if the token was valid it is revoked now."),
        "{}",
        reported.stderr
    );
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 401, "revoked at once");

    // A file written by --output works as well; the answer is the same for any token.
    let file = cli.home.path().join("token.json");
    cli.run(&[
        "tokens",
        "create",
        "deployer",
        "--name",
        "filed",
        "--output",
        file.to_str().unwrap(),
    ])
    .ok();
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let (filed_id, filed_secret) = (saved["access_id"].as_str().unwrap(), saved["token"].as_str().unwrap());
    finder
        .run_with(
            &["tokens", "report-leaked", "-o", "json"],
            &[],
            Some(&std::fs::read_to_string(&file).unwrap()),
        )
        .ok();
    assert_eq!(whoami_as(&server.base, filed_id, filed_secret), 401);
    let unknown = finder
        .run_with(&["tokens", "report-leaked", "-o", "json"], &[], Some(&secret))
        .ok();
    assert_eq!(unknown.json(), serde_json::json!({"status": "received"}));

    let not_a_token = finder.run_with(&["tokens", "report-leaked"], &[], Some("hello\n"));
    assert_eq!(not_a_token.code, 2, "{}", not_a_token.stderr);
    let nothing = finder.run(&["tokens", "report-leaked"]);
    assert_eq!(nothing.code, 2, "{}", nothing.stderr);
    assert_eq!(
        finder.run(&["tokens", "report-leaked", &secret]).code,
        2,
        "never from the command line, where it would be seen"
    );

    let audit = cli
        .run(&["audit", "--action", "token.revoked_as_leaked", "-o", "json"])
        .ok()
        .json();
    assert_eq!(audit.as_array().unwrap().len(), 2, "{audit}");
    assert_eq!(audit[0]["actor_kind"], "anonymous");
    assert!(!audit.to_string().contains(&secret));
}

/// Waits (at most 10 s) for audit events with `action` to be written: refusals are written in batches.
fn audit_events(cli: &Cli, action: &str) -> Vec<serde_json::Value> {
    for _ in 0..100 {
        let events = cli.run(&["audit", "--action", action, "-o", "json"]).ok().json();
        let events = events.as_array().unwrap().clone();
        if !events.is_empty() {
            return events;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no {action} event was written");
}

#[test]
fn federated_credentials_from_the_command_line() {
    let (server, _data, cli) = acme();
    let none = cli.run(&["federated", "list", "deployer"]).ok();
    assert!(none.stdout.contains("no federated credentials yet"), "{}", none.stdout);

    let created = cli
        .run(&[
            "federated",
            "create",
            "deployer",
            "github-main",
            "--issuer",
            "https://token.actions.githubusercontent.com",
            "--audience",
            "https://robots.example.com",
            "--subject",
            "repo:acme/app:ref:refs/heads/main",
            "--claim",
            "repository=acme/app",
            "--claim",
            "environment=production",
            "--description",
            "Deploys from main",
        ])
        .ok();
    assert!(
        created
            .stderr
            .contains("robots federated exchange acme/deployer --id-token-file FILE"),
        "{}",
        created.stderr
    );

    // The table: one line per credential, its conditions joined.
    let list = cli.run(&["federated", "list", "deployer"]).ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", list.stdout);
    for (header, next) in [
        ("NAME", "ISSUER"),
        ("ISSUER", "SUBJECT"),
        ("SUBJECT", "CONDITIONS"),
        ("CONDITIONS", "AUDIENCE"),
    ] {
        assert!(
            lines[0].find(header).unwrap() < lines[0].find(next).unwrap(),
            "{}",
            lines[0]
        );
    }
    assert!(
        lines[1].starts_with("github-main")
            && lines[1].contains("https://token.actions.githubusercontent.com")
            && lines[1].contains("repo:acme/app:ref:refs/heads/main")
            && lines[1].contains("environment=production, repository=acme/app")
            && lines[1].ends_with("https://robots.example.com"),
        "{}",
        list.stdout
    );
    let json = cli.run(&["federated", "list", "deployer", "-o", "json"]).ok().json();
    assert_eq!(json.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(
        json[0]["claims"],
        serde_json::json!({"environment": "production", "repository": "acme/app"})
    );
    assert_eq!(json[0]["created_by"], "alice");

    let got = cli.run(&["federated", "get", "deployer", "github-main"]).ok();
    for (label, value) in [
        ("Name:", "github-main"),
        ("Robot:", "acme/deployer"),
        ("Description:", "Deploys from main"),
        ("Audience:", "https://robots.example.com"),
        ("Conditions:", "environment=production, repository=acme/app"),
        ("Created:", "just now by alice"),
    ] {
        let line = got.stdout.lines().find(|line| line.starts_with(label));
        assert_eq!(
            line.and_then(|line| line.strip_prefix(label)).map(str::trim),
            Some(value),
            "{}",
            got.stdout
        );
    }
    assert_eq!(cli.run(&["federated", "get", "deployer", "nope"]).code, 4);

    // --claim replaces every condition; --clear-claims removes them all.
    let updated = cli
        .run(&[
            "federated",
            "update",
            "deployer",
            "github-main",
            "--claim",
            "ref=refs/heads/main",
            "--subject",
            "repo:acme/app:*",
            "-o",
            "json",
        ])
        .ok();
    assert!(updated.stderr.contains("no longer work"), "{}", updated.stderr);
    let updated = updated.json();
    assert_eq!(updated["claims"], serde_json::json!({"ref": "refs/heads/main"}));
    assert_eq!(updated["subject"], "repo:acme/app:*");
    assert_eq!(updated["description"], "Deploys from main", "what is not given stays");
    let cleared = cli
        .run(&[
            "federated",
            "update",
            "deployer",
            "github-main",
            "--clear-claims",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(cleared["claims"], serde_json::json!({}));
    assert_eq!(cleared["subject"], "repo:acme/app:*");
    let list = cli.run(&["federated", "list", "deployer"]).ok();
    assert!(
        list.stdout.lines().nth(1).unwrap().contains("repo:acme/app:*  -"),
        "{}",
        list.stdout
    );
    let renamed = cli
        .run(&[
            "federated",
            "update",
            "deployer",
            "github-main",
            "--name",
            "github",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(renamed["name"], "github");
    let nothing = cli.run(&["federated", "update", "deployer", "github"]);
    assert_eq!(nothing.code, 2, "{}", nothing.stderr);

    // Usage errors name the bad argument, before any request.
    let bad = cli.run(&["federated", "update", "deployer", "github", "--claim", "repository"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("'repository'") && bad.stderr.contains("--claim") && bad.stderr.contains("KEY=PATTERN"),
        "{}",
        bad.stderr
    );
    let twice = cli.run(&[
        "federated",
        "update",
        "deployer",
        "github",
        "--claim",
        "ref=a",
        "--claim",
        "ref=b",
    ]);
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    assert!(twice.stderr.contains("--claim ref is given twice"), "{}", twice.stderr);
    let both = cli.run(&[
        "federated",
        "update",
        "deployer",
        "github",
        "--claim",
        "a=b",
        "--clear-claims",
    ]);
    assert_eq!(both.code, 2, "{}", both.stderr);
    // What the server refuses is a usage error too.
    let reserved = cli.run(&["federated", "update", "deployer", "github", "--claim", "iss=x"]);
    assert_eq!(reserved.code, 2, "{}", reserved.stderr);
    let http = cli.run(&[
        "federated",
        "update",
        "deployer",
        "github",
        "--issuer",
        "http://ci.example.com",
    ]);
    assert_eq!(http.code, 2, "{}", http.stderr);
    assert!(http.stderr.contains("https://"), "{}", http.stderr);

    // Members read; admins change.
    cli.run(&["members", "set", "bob", "--role", "member"]).ok();
    let bob = Cli::new(&server.base);
    bob.login("bob");
    bob.run(&["federated", "list", "deployer"]).ok();
    assert_eq!(bob.run(&["federated", "delete", "deployer", "github", "--yes"]).code, 3);

    // An exchange needs no login; a token that is not accepted is an auth error,
    // and the admin finds the reason in the audit log.
    let job = Cli::new(&server.base);
    let refused = job.run_with(
        &["federated", "exchange", "acme/deployer", "--id-token-file", "-"],
        &[],
        Some("not-a-jwt\n"),
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not accepted") && refused.stderr.contains("token.exchange_refused"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    let events = audit_events(&cli, "token.exchange_refused");
    assert_eq!(events[0]["target"], "robot acme/deployer", "{events:?}");
    assert!(
        events[0]["detail"]["reason"].as_str().unwrap().contains("malformed"),
        "{events:?}"
    );
    let empty = job.run_with(
        &["federated", "exchange", "acme/deployer", "--id-token-file", "-"],
        &[],
        Some("\n"),
    );
    assert_eq!(empty.code, 2, "{}", empty.stderr);
    let missing = job.run(&[
        "federated",
        "exchange",
        "acme/deployer",
        "--id-token-file",
        "/nonexistent/token",
    ]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("/nonexistent/token"), "{}", missing.stderr);
    let bare = job.run_with(
        &["federated", "exchange", "deployer", "--id-token-file", "-"],
        &[],
        Some("x.y.z"),
    );
    assert_eq!(bare.code, 2, "{}", bare.stderr);
    assert!(bare.stderr.contains("ORG/deployer"), "{}", bare.stderr);

    // Deleting asks; without a terminal it refuses instead of hanging.
    let unconfirmed = cli.run(&["federated", "delete", "deployer", "github"]);
    assert_eq!(unconfirmed.code, 2, "{}", unconfirmed.stderr);
    assert!(
        unconfirmed.stderr.contains("stop working at once") && unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );
    cli.run(&["federated", "get", "deployer", "github"]).ok();
    cli.run(&["federated", "delete", "deployer", "github", "--yes"]).ok();
    assert_eq!(cli.run(&["federated", "get", "deployer", "github"]).code, 4);
    assert_eq!(cli.run(&["federated", "delete", "deployer", "github", "--yes"]).code, 4);
}

#[test]
fn a_ci_job_exchanges_its_id_token_for_a_short_lived_robot_token() {
    let issuer = Issuer::start();
    let dir = tempfile::tempdir().unwrap();
    let args = ["--data-dir", dir.path().to_str().unwrap()];
    let created = create_user(&args, "alice", true, PASSWORD);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let server = Server::start_with(&args, &["--allow-insecure-issuers"]);
    let cli = Cli::new(&server.base);
    cli.login("alice");
    cli.run(&["orgs", "create", "acme"]).ok();
    cli.run(&["create", "deployer"]).ok();
    cli.run(&[
        "federated",
        "create",
        "deployer",
        "github-main",
        "--issuer",
        &issuer.url,
        "--audience",
        "https://robots.example.com",
        "--subject",
        "repo:acme/app:ref:refs/heads/main",
        "--claim",
        "repository=acme/app",
    ])
    .ok();
    let id_token = |repository: &str| {
        issuer.sign(serde_json::json!({
            "aud": "https://robots.example.com",
            "sub": format!("repo:{repository}:ref:refs/heads/main"),
            "repository": repository,
            "ref": "refs/heads/main",
            "jti": format!("jti-{repository}"),
        }))
    };

    // From standard input: the Access ID and Token on stdout, the warning on stderr.
    let job = Cli::new(&server.base);
    let exchanged = job
        .run_with(
            &["federated", "exchange", "acme/deployer", "--id-token-file", "-"],
            &[],
            Some(&id_token("acme/app")),
        )
        .ok();
    assert!(
        exchanged.stderr.contains("acme/deployer") && exchanged.stderr.contains("in 15 minutes"),
        "{}",
        exchanged.stderr
    );
    let (access_id, token) = printed_credentials(&exchanged.stdout);
    assert!(token.starts_with("rbt_"), "{}", exchanged.stdout);
    assert_eq!(whoami_as(&server.base, &access_id, &token), 200, "the token works");

    // From a file holding GitHub's JSON answer, with --org; -o json is the server's answer.
    let id_file = job.home.path().join("id-token.json");
    std::fs::write(
        &id_file,
        serde_json::json!({"count": 1, "value": id_token("acme/app")}).to_string(),
    )
    .unwrap();
    let answer = job
        .run(&[
            "federated",
            "exchange",
            "deployer",
            "--org",
            "acme",
            "--id-token-file",
            id_file.to_str().unwrap(),
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(answer["robot"], "acme/deployer");
    assert_eq!(answer["expires_in"], 900);
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(
        whoami_as(
            &server.base,
            answer["access_id"].as_str().unwrap(),
            answer["access_token"].as_str().unwrap()
        ),
        200
    );

    // --output: a private file, and the Token stays off the terminal.
    let saved = job.home.path().join("token.json");
    let filed = job
        .run_with(
            &[
                "federated",
                "exchange",
                "acme/deployer",
                "--id-token-file",
                "-",
                "--output",
                saved.to_str().unwrap(),
            ],
            &[],
            Some(&id_token("acme/app")),
        )
        .ok();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&saved).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let (filed_id, filed_token) = (file["access_id"].as_str().unwrap(), file["token"].as_str().unwrap());
    assert!(
        !filed.stdout.contains(filed_token) && filed.stdout.contains(filed_id),
        "{}",
        filed.stdout
    );
    assert_eq!(whoami_as(&server.base, filed_id, filed_token), 200);

    // Audited as the job: the ID token's subject.
    let events = audit_events(&cli, "token.exchanged");
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0]["actor_kind"], "federated");
    assert_eq!(events[0]["actor"], "repo:acme/app:ref:refs/heads/main");
    assert_eq!(events[0]["detail"]["credential"], "github-main");
    assert_eq!(events[0]["detail"]["access_id"], filed_id);

    // Another repository's job is refused, and the admin sees which condition failed.
    let refused = job.run_with(
        &["federated", "exchange", "acme/deployer", "--id-token-file", "-"],
        &[],
        Some(&id_token("mallory/app")),
    );
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("not accepted"), "{}", refused.stderr);
    let reason = audit_events(&cli, "token.exchange_refused")[0]["detail"]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(reason.contains("mallory/app"), "{reason}");

    // Deleting the credential stops the tokens it minted.
    cli.run(&["federated", "delete", "deployer", "github-main", "--yes"])
        .ok();
    assert_eq!(whoami_as(&server.base, &access_id, &token), 401);
    assert_eq!(whoami_as(&server.base, filed_id, filed_token), 401);
}

#[test]
fn passwords_change_other_sessions_end_and_admins_delete_users() {
    let (server, _data) = server();
    let here = Cli::new(&server.base);
    let laptop = Cli::new(&server.base);
    here.login("bob");
    laptop.login("bob");

    let wrong = here.run_with(
        &["password", "--stdin"],
        &[],
        Some("not my password\na brand new passphrase\n"),
    );
    assert_ne!(wrong.code, 0);
    assert!(wrong.stderr.contains("current_password"), "{}", wrong.stderr);
    let changed = here
        .run_with(
            &["password", "--stdin"],
            &[],
            Some(&format!("{PASSWORD}\na brand new passphrase\n")),
        )
        .ok();
    assert!(changed.stderr.contains("Password changed"), "{}", changed.stderr);
    assert_ne!(laptop.run(&["whoami"]).code, 0, "the other session ended");
    here.run(&["whoami"]).ok();

    laptop
        .run_with(
            &["login", "--username", "bob", "--password-stdin"],
            &[],
            Some("a brand new passphrase\n"),
        )
        .ok();
    here.run(&["logout", "--others"]).ok();
    assert_ne!(laptop.run(&["whoami"]).code, 0, "ended from the other session");
    here.run(&["whoami"]).ok();

    let admin = Cli::new(&server.base);
    admin.login("alice");
    let refused = here.run(&["users", "delete", "alice", "--yes"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("instance administrators"), "{}", refused.stderr);
    admin.run(&["users", "delete", "bob", "--yes"]).ok();
    assert_ne!(here.run(&["whoami"]).code, 0, "a deleted user's sessions end");
    let last = admin.run(&["users", "delete", "alice", "--yes"]);
    assert_ne!(last.code, 0);
    assert!(last.stderr.contains("instance administrator"), "{}", last.stderr);
}

/// Runs of spaces as one: detail views align their values.
fn squeezed(text: &str) -> String {
    text.split(' ')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The flow the README shows for automation: a person makes a personal
/// access token once; a job logs in with it, manages robots within its
/// scopes, and is refused beyond them; revoking it ends it.
#[test]
fn automation_manages_robots_with_a_personal_access_token() {
    let (server, _data, person) = acme();
    let created = person
        .run(&[
            "pat",
            "create",
            "terraform",
            "--scope",
            "robots:write",
            "--scope",
            "tokens:write",
            "--limit-to",
            "acme",
            "--expires",
            "90d",
        ])
        .ok();
    let pat = created.stdout.trim().to_owned();
    assert!(pat.starts_with("rpat_"), "{}", created.stdout);
    assert!(created.stderr.contains("shown this once"), "{}", created.stderr);

    let job = Cli::new(&server.base);
    let login = job
        .run_with(&["login", "--token-stdin"], &[], Some(&format!("{pat}\n")))
        .ok();
    assert!(
        login.stderr.contains("as alice with personal access token terraform"),
        "{}",
        login.stderr
    );
    let me = job.run(&["whoami", "-o", "json"]).ok().json();
    assert_eq!(
        me["personal_token"]["scopes"],
        serde_json::json!(["robots:write", "tokens:write"])
    );
    job.run(&["create", "builder", "--org", "acme"]).ok();
    let (access_id, secret) = {
        let made = job
            .run(&[
                "tokens",
                "create",
                "builder",
                "--name",
                "ci",
                "--expires",
                "30d",
                "--org",
                "acme",
                "-o",
                "json",
            ])
            .ok()
            .json();
        (
            made["access_id"].as_str().unwrap().to_owned(),
            made["token"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 200);
    // Beyond its scopes: named, with the API's code.
    let members = job.run(&["members", "list", "--org", "acme"]);
    assert_eq!(members.code, 3, "{}", members.stderr);
    assert!(
        members.stderr.contains("lacks the scope orgs:read"),
        "{}",
        members.stderr
    );
    let another = job.run(&["pat", "create", "child", "--scope", "robots:read"]);
    assert!(another.stderr.contains("(session_required)"), "{}", another.stderr);

    // The person sees where it was used, and revokes it.
    let listed = person.run(&["pat", "list", "-o", "json"]).ok().json();
    assert_eq!(listed[0]["name"], "terraform");
    assert_eq!(listed[0]["last_used_ip"], "127.0.0.1");
    assert!(!serde_json::to_string(&listed).unwrap().contains(&pat));
    person.run(&["pat", "revoke", "terraform", "--yes"]).ok();
    let refused = job.run(&["list", "--org", "acme"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let logout = job.run(&["logout"]).ok();
    assert!(
        logout.stderr.contains("Forgot the personal access token"),
        "{}",
        logout.stderr
    );

    // A robot token is no personal access token.
    let wrong = job.run_with(&["login", "--token-stdin"], &[], Some(&format!("{secret}\n")));
    assert_eq!(wrong.code, 2, "{}", wrong.stderr);
}

#[test]
fn a_robot_allowed_to_rotates_its_own_token_from_the_command_line() {
    let (server, _data, cli) = acme();
    let (old_id, old) = new_token(&cli, "deployer", "ci", &[]);
    let robot = Cli::new(&server.base);
    let env = [("ROBOTS_TOKEN", old.as_str())];
    let refused = robot.run_with(&["tokens", "rotate-self"], &env, None);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("self_rotate"), "{}", refused.stderr);

    cli.run(&["update", "deployer", "--self-rotate"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.json");
    let rotated = robot
        .run_with(
            &[
                "tokens",
                "rotate-self",
                "--grace",
                "0s",
                "--output",
                file.to_str().unwrap(),
            ],
            &env,
            None,
        )
        .ok();
    assert!(!rotated.stdout.contains("rbt_") && !rotated.stderr.contains("rbt_"));
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let (new_id, new) = (saved["access_id"].as_str().unwrap(), saved["token"].as_str().unwrap());
    assert_ne!(new_id, old_id);
    assert_eq!(whoami_as(&server.base, new_id, new), 200);
    assert_eq!(
        whoami_as(&server.base, &old_id, &old),
        401,
        "no grace: the old token stopped"
    );
}

#[test]
fn the_instance_policy_is_a_floor_under_every_organization() {
    let (_server, _data, cli) = acme();
    let set = cli
        .run(&[
            "instance",
            "policy",
            "--max-lifetime",
            "30d",
            "--require-expiry",
            "-o",
            "json",
        ])
        .ok();
    assert_eq!(
        set.json(),
        serde_json::json!({"max_lifetime": "30d", "expiry_required": true, "personal_token_max_lifetime": null})
    );
    let forever = cli.run(&["tokens", "create", "deployer", "--name", "forever"]);
    assert_eq!(forever.code, 2, "{}", forever.stderr);
    assert!(
        forever.stderr.contains("requires every token to expire"),
        "{}",
        forever.stderr
    );
    let looser = cli.run(&["orgs", "policy", "--max-lifetime", "90d"]);
    assert!(
        looser.stderr.contains("installation allows tokens to live at most 30d"),
        "{}",
        looser.stderr
    );
    let bad = cli.run(&["instance", "policy", "--personal-token-max-lifetime", "2y"]);
    assert!(bad.stderr.contains("--personal-token-max-lifetime"), "{}", bad.stderr);
    let cleared = cli
        .run(&["instance", "policy", "--max-lifetime", "none", "--no-require-expiry"])
        .ok();
    assert!(
        squeezed(&cleared.stdout).contains("Max lifetime: none"),
        "{}",
        cleared.stdout
    );
    new_token(&cli, "deployer", "forever", &[]);
}

#[test]
fn tokens_are_disabled_and_enabled_and_unused_ones_disabled_by_policy() {
    let (server, _data, cli) = acme();
    let (access_id, secret) = new_token(&cli, "deployer", "ci", &[]);
    let disabled = cli.run(&["tokens", "disable", "deployer", &access_id]).ok();
    assert!(disabled.stderr.contains("is disabled"), "{}", disabled.stderr);
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 401);
    cli.run(&["tokens", "enable", "deployer", &access_id]).ok();
    assert_eq!(whoami_as(&server.base, &access_id, &secret), 200);
    let set = cli
        .run(&["orgs", "policy", "--disable-unused-after", "90d", "-o", "json"])
        .ok()
        .json();
    assert_eq!(set["disable_unused_after"], "90d");
    let bad = cli.run(&["orgs", "policy", "--disable-unused-after", "soon"]);
    assert!(bad.stderr.contains("--disable-unused-after"), "{}", bad.stderr);
}
