//! The command line, run as a binary against a real server.

use crate::support::{Cli, PASSWORD, Server, create_user, whoami_as};

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
    let access_id = token
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Access ID: "))
        .unwrap()
        .trim()
        .to_owned();
    let secret = token
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Token:"))
        .unwrap()
        .trim()
        .to_owned();
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

    let bob = Cli::new(&server.base);
    bob.login("bob");
    assert_eq!(bob.run(&["keys", "rotate"]).code, 3);
}
