//! One rule, one answer, whichever door: each rule of the service is tried
//! through the REST API, the console's forms and the command line, and
//! every door must give the same outcome — accepted, or refused with the
//! same error code and nothing written.
//!
//! Each attempt gets an organization of its own, set up the same way
//! through the API, so the doors cannot disturb each other.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{Cli, PASSWORD, Server, create_user};

/// The operator's cap on tokens per robot for these tests.
const MAX_TOKENS: &str = "2";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Door {
    Api,
    Console,
    Cli,
}

const DOORS: [Door; 3] = [Door::Api, Door::Console, Door::Cli];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Refused(String),
}

fn refused(code: &str) -> Outcome {
    Outcome::Refused(code.to_owned())
}

/// What a case asks a door to do, in the organization `org`.
#[derive(Debug, Clone)]
enum Attempt {
    CreateRobot {
        name: &'static str,
    },
    /// In the personal account of the acting user.
    CreateRobotForAlice,
    /// With a robot's own credentials (`robot`'s first token).
    CreateRobotAsRobot,
    /// `expires`: a duration, or `never`.
    CreateToken {
        robot: &'static str,
        name: &'static str,
        expires: &'static str,
    },
    /// The successor's expiry is left to the rule.
    RotateToken {
        robot: &'static str,
        token: &'static str,
    },
    SetRole {
        user: &'static str,
        role: &'static str,
    },
    /// The acting user's own password, with this as the current one.
    ChangePassword {
        current: &'static str,
    },
    /// A federated credential for GitHub Actions with this subject.
    CreateCredential {
        robot: &'static str,
        subject: &'static str,
    },
    /// The organization's maximum token lifetime.
    SetMaxLifetime {
        max: &'static str,
    },
    /// Allow `robot` to rotate its own tokens.
    AllowSelfRotation {
        robot: &'static str,
    },
    /// A personal access token of alice named after the organization, with
    /// this scope, limited to the organization or not.
    CreatePersonalToken {
        scope: &'static str,
        limited: bool,
    },
}

const GITHUB: &str = "https://token.actions.githubusercontent.com";

/// The new password every password change attempt asks for.
const NEW_PASSWORD: &str = "a brand new passphrase";

/// What a case prepares in its organization before the attempt.
#[derive(Debug, Clone, Copy, Default)]
struct Setup {
    robot: Option<&'static str>,
    /// Tokens of `robot`: (name, lifetime), created before the policy.
    tokens: &'static [(&'static str, Option<&'static str>)],
    /// `token_policy` of the organization, set after the tokens.
    policy: Option<(Option<&'static str>, bool)>,
    /// Rotate this token of `robot` once, through the API.
    rotated: Option<&'static str>,
    /// The organization refuses personal access tokens.
    forbid_personal_tokens: bool,
    /// The instance's maximum token lifetime for the case (reset after it).
    instance_max_lifetime: Option<&'static str>,
}

/// After an accepted attempt: what every door must have left.
type Check = fn(&Doors, &str);

struct Case {
    rule: &'static str,
    setup: Setup,
    attempt: Attempt,
    expected: Outcome,
    check: Option<Check>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            rule: "names are lowercase DNS labels",
            setup: Setup::default(),
            attempt: Attempt::CreateRobot { name: "Not_A_Name" },
            expected: refused("invalid_field"),
            check: None,
        },
        Case {
            rule: "robot names are unique in an organization",
            setup: Setup {
                robot: Some("ci"),
                ..Setup::default()
            },
            attempt: Attempt::CreateRobot { name: "ci" },
            expected: refused("name_taken"),
            check: None,
        },
        Case {
            rule: "only organizations have robots",
            setup: Setup::default(),
            attempt: Attempt::CreateRobotForAlice,
            expected: refused("personal_account"),
            check: None,
        },
        Case {
            rule: "robots never manage anything",
            setup: Setup {
                robot: Some("ci"),
                tokens: &[("first", None)],
                ..Setup::default()
            },
            attempt: Attempt::CreateRobotAsRobot,
            expected: refused("robot_forbidden"),
            check: None,
        },
        Case {
            rule: "a policy that requires an expiry refuses a token that never expires",
            setup: Setup {
                robot: Some("ci"),
                policy: Some((None, true)),
                ..Setup::default()
            },
            attempt: Attempt::CreateToken {
                robot: "ci",
                name: "forever",
                expires: "never",
            },
            expected: refused("invalid_field"),
            check: None,
        },
        Case {
            rule: "a policy's maximum lifetime refuses a longer token",
            setup: Setup {
                robot: Some("ci"),
                policy: Some((Some("30d"), false)),
                ..Setup::default()
            },
            attempt: Attempt::CreateToken {
                robot: "ci",
                name: "long",
                expires: "90d",
            },
            expected: refused("invalid_field"),
            check: None,
        },
        Case {
            rule: "a policy's maximum lifetime accepts a token within it",
            setup: Setup {
                robot: Some("ci"),
                policy: Some((Some("30d"), true)),
                ..Setup::default()
            },
            attempt: Attempt::CreateToken {
                robot: "ci",
                name: "month",
                expires: "30d",
            },
            expected: Outcome::Accepted,
            check: Some(|doors, org| {
                let expires = doors.token_expiry(org, "ci", "month");
                assert_within(expires, 30, "a token created at the maximum");
            }),
        },
        Case {
            rule: "a rotation gives the successor the old lifetime, capped by the policy",
            setup: Setup {
                robot: Some("ci"),
                tokens: &[("deploy", Some("90d"))],
                policy: Some((Some("30d"), true)),
                ..Setup::default()
            },
            attempt: Attempt::RotateToken {
                robot: "ci",
                token: "deploy",
            },
            expected: Outcome::Accepted,
            check: Some(|doors, org| {
                let expires = doors.token_expiry(org, "ci", "deploy");
                assert_within(expires, 30, "the successor of a 90-day token under a 30-day policy");
            }),
        },
        Case {
            rule: "a token rotates once",
            setup: Setup {
                robot: Some("ci"),
                tokens: &[("deploy", None)],
                rotated: Some("deploy"),
                ..Setup::default()
            },
            attempt: Attempt::RotateToken {
                robot: "ci",
                token: "deploy",
            },
            expected: refused("already_rotated"),
            check: None,
        },
        Case {
            rule: "a robot holds at most the operator's number of tokens",
            setup: Setup {
                robot: Some("ci"),
                tokens: &[("one", None), ("two", None)],
                ..Setup::default()
            },
            attempt: Attempt::CreateToken {
                robot: "ci",
                name: "three",
                expires: "never",
            },
            expected: refused("limit_reached"),
            check: None,
        },
        Case {
            rule: "an organization keeps an admin",
            setup: Setup::default(),
            attempt: Attempt::SetRole {
                user: "alice",
                role: "member",
            },
            expected: refused("last_admin"),
            check: None,
        },
        Case {
            rule: "a federated subject names the repository's owner",
            setup: Setup {
                robot: Some("deployer"),
                ..Setup::default()
            },
            attempt: Attempt::CreateCredential {
                robot: "deployer",
                subject: "repo:*",
            },
            expected: refused("invalid_field"),
            check: None,
        },
        Case {
            rule: "a federated subject pinned to an owner is accepted",
            setup: Setup {
                robot: Some("deployer"),
                ..Setup::default()
            },
            attempt: Attempt::CreateCredential {
                robot: "deployer",
                subject: "repo:acme/*",
            },
            expected: Outcome::Accepted,
            check: None,
        },
        Case {
            rule: "an organization's maximum may only be shorter than the instance's",
            setup: Setup {
                instance_max_lifetime: Some("30d"),
                ..Setup::default()
            },
            attempt: Attempt::SetMaxLifetime { max: "90d" },
            expected: refused("invalid_field"),
            check: None,
        },
        Case {
            rule: "an organization's maximum within the instance's is accepted",
            setup: Setup {
                instance_max_lifetime: Some("30d"),
                ..Setup::default()
            },
            attempt: Attempt::SetMaxLifetime { max: "7d" },
            expected: Outcome::Accepted,
            check: Some(|doors, org| {
                let found = doors.api_get(&format!("/v1/orgs/{org}"));
                assert_eq!(found["token_policy"]["max_lifetime"], "7d", "{found}");
            }),
        },
        Case {
            rule: "an admin allows a robot to rotate its own tokens",
            setup: Setup {
                robot: Some("renewer"),
                ..Setup::default()
            },
            attempt: Attempt::AllowSelfRotation { robot: "renewer" },
            expected: Outcome::Accepted,
            check: Some(|doors, org| {
                let robot = doors.api_get(&format!("/v1/orgs/{org}/robots/renewer"));
                assert_eq!(robot["self_rotate"], true, "{robot}");
            }),
        },
        Case {
            rule: "a personal access token holds known scopes",
            setup: Setup::default(),
            attempt: Attempt::CreatePersonalToken {
                scope: "robots:admin",
                limited: false,
            },
            expected: refused("invalid_field"),
            check: None,
        },
        Case {
            rule: "a personal access token is not limited to an organization that refuses them",
            setup: Setup {
                forbid_personal_tokens: true,
                ..Setup::default()
            },
            attempt: Attempt::CreatePersonalToken {
                scope: "robots:read",
                limited: true,
            },
            expected: refused("invalid_field"),
            check: None,
        },
        Case {
            rule: "a personal access token limited to an organization fits its policy",
            setup: Setup {
                policy: Some((Some("7d"), false)),
                ..Setup::default()
            },
            attempt: Attempt::CreatePersonalToken {
                scope: "robots:read",
                limited: true,
            },
            expected: Outcome::Accepted,
            check: Some(|doors, org| {
                let tokens = doors.api_get("/v1/me/tokens?limit=200");
                let token = tokens["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|token| token["name"] == org)
                    .unwrap_or_else(|| panic!("no token {org}: {tokens}"));
                assert_eq!(token["orgs"], json!([org]));
                let expires = OffsetDateTime::parse(token["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
                assert_within(Some(expires), 7, "a token under a 7-day policy, its lifetime not given");
            }),
        },
        Case {
            rule: "a password changes only with the current one",
            setup: Setup::default(),
            attempt: Attempt::ChangePassword {
                current: "not the password",
            },
            expected: refused("invalid_field"),
            check: None,
        },
    ]
}

/// `expires` lies within a minute of `days` days from now.
#[track_caller]
fn assert_within(expires: Option<OffsetDateTime>, days: i64, what: &str) {
    let expires = expires.unwrap_or_else(|| panic!("{what}: no expiry"));
    let wanted = OffsetDateTime::now_utc() + time::Duration::days(days);
    assert!(
        (expires - wanted).abs() < time::Duration::minutes(1),
        "{what}: expires {expires}, not in {days} days"
    );
}

/// The three doors, each logged in as alice (an organization's admin).
struct Doors {
    server: Server,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    session: String,
    console_cookie: String,
    csrf: String,
    cli: Cli,
    /// Access IDs by (org, robot, token name), from the setups, and each
    /// org's first robot token's credentials.
    access_ids: std::collections::HashMap<(String, String), String>,
    robot_credentials: std::collections::HashMap<String, (String, String)>,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Doors {
    fn open(server: Server) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cli = Cli::new(&server.base);
        cli.login("alice");
        let mut doors = Self {
            server,
            runtime,
            http,
            session: String::new(),
            console_cookie: String::new(),
            csrf: String::new(),
            cli,
            access_ids: Default::default(),
            robot_credentials: Default::default(),
        };
        let login = doors.api(
            "POST",
            "/v1/sessions",
            json!({"username": "alice", "password": PASSWORD}),
        );
        assert_eq!(login.status, 201, "{}", login.text);
        doors.session = login.body["token"].as_str().unwrap().to_owned();
        let (cookie, _) = doors.console_login("alice", PASSWORD);
        doors.console_cookie = cookie.expect("alice logs in to the console");
        let account = doors.console_get("/account");
        doors.csrf = hidden_value(&account.text, "csrf");
        doors
    }

    fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        self.runtime.block_on(async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.unwrap();
            Answer {
                status,
                headers,
                body: serde_json::from_str(&text).unwrap_or(Value::Null),
                text,
            }
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    fn api(&self, method: &str, path: &str, body: Value) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path)).json(&body);
        if !self.session.is_empty() {
            request = request.bearer_auth(&self.session);
        }
        self.send(request)
    }

    fn api_get(&self, path: &str) -> Value {
        let answer = self.send(self.http.get(self.url(path)).bearer_auth(&self.session));
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.text);
        answer.body
    }

    /// Logs in through the console's form: the session cookie, or the
    /// refusal's code.
    fn console_login(&self, username: &str, password: &str) -> (Option<String>, Answer) {
        let page = self.send(self.http.get(self.url("/login")));
        let csrf = hidden_value(&page.text, "csrf");
        let answer = self.send(
            self.http
                .post(self.url("/login"))
                .header("cookie", format!("robots_csrf={csrf}"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("username", username),
                    ("password", password),
                    ("next", ""),
                ]),
        );
        let cookie = answer
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| value.strip_prefix("robots_session="))
            .map(|rest| rest.split(';').next().unwrap().to_owned());
        (cookie, answer)
    }

    fn console_get(&self, path: &str) -> Answer {
        let answer = self.send(
            self.http
                .get(self.url(path))
                .header("cookie", format!("robots_session={}", self.console_cookie)),
        );
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.text);
        answer
    }

    fn console_post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.send(
            self.http
                .post(self.url(path))
                .header("cookie", format!("robots_session={}", self.console_cookie))
                .form(&fields),
        )
    }

    /// Prepares `org` for a case, through the API.
    fn prepare(&mut self, org: &str, setup: Setup) {
        let created = self.api("POST", "/v1/orgs", json!({"name": org}));
        assert_eq!(created.status, 201, "{}", created.text);
        let Some(robot) = setup.robot else {
            self.set_policy(org, setup);
            return;
        };
        let created = self.api("POST", &format!("/v1/orgs/{org}/robots"), json!({"name": robot}));
        assert_eq!(created.status, 201, "{}", created.text);
        for (name, lifetime) in setup.tokens {
            let mut body = json!({"name": name});
            if let Some(lifetime) = lifetime {
                body["expires_in"] = json!(lifetime);
            }
            let token = self.api("POST", &format!("/v1/orgs/{org}/robots/{robot}/tokens"), body);
            assert_eq!(token.status, 201, "{}", token.text);
            let access_id = token.body["access_id"].as_str().unwrap().to_owned();
            self.robot_credentials
                .entry(org.to_owned())
                .or_insert_with(|| (access_id.clone(), token.body["token"].as_str().unwrap().to_owned()));
            self.access_ids.insert((org.to_owned(), (*name).to_owned()), access_id);
        }
        self.set_policy(org, setup);
        if let Some(token) = setup.rotated {
            let access_id = &self.access_ids[&(org.to_owned(), token.to_owned())];
            let path = format!("/v1/orgs/{org}/robots/{robot}/tokens/{access_id}/rotate");
            let rotated = self.api("POST", &path, json!({}));
            assert_eq!(rotated.status, 201, "{}", rotated.text);
        }
    }

    /// Sets (or, with `None`, clears) the instance's maximum token lifetime.
    fn set_instance_max_lifetime(&self, max: Option<&str>) {
        let set = self.api("PUT", "/v1/instance/policy", json!({"max_lifetime": max}));
        assert_eq!(set.status, 200, "{}", set.text);
    }

    fn set_policy(&self, org: &str, setup: Setup) {
        if let Some(max) = setup.instance_max_lifetime {
            self.set_instance_max_lifetime(Some(max));
        }
        if setup.policy.is_some() || setup.forbid_personal_tokens {
            let (max_lifetime, expiry_required) = setup.policy.unwrap_or((None, false));
            let policy = json!({"token_policy": {
                "max_lifetime": max_lifetime,
                "expiry_required": expiry_required,
                "personal_tokens_allowed": !setup.forbid_personal_tokens,
            }});
            let set = self.api("PATCH", &format!("/v1/orgs/{org}"), policy);
            assert_eq!(set.status, 200, "{}", set.text);
        }
    }

    /// Everything a refused attempt must leave as it was.
    fn snapshot(&self, org: &str) -> Value {
        let robots = self.api_get(&format!("/v1/orgs/{org}/robots?limit=200"));
        let mut tokens = Vec::new();
        for robot in robots["items"].as_array().unwrap() {
            let name = robot["name"].as_str().unwrap();
            let listed = self.api_get(&format!("/v1/orgs/{org}/robots/{name}/tokens?limit=200"));
            tokens.push(json!({"robot": name, "tokens": listed["items"]}));
        }
        json!({
            "org": self.api_get(&format!("/v1/orgs/{org}")),
            "robots": robots["items"],
            "tokens": tokens,
            "members": self.api_get(&format!("/v1/orgs/{org}/members?limit=200"))["items"],
            "personal": self.api_get("/v1/orgs?limit=200")["items"],
            "personal_tokens": self.api_get("/v1/me/tokens?limit=200")["items"],
        })
    }

    /// When the current token named `token` of `robot` expires.
    fn token_expiry(&self, org: &str, robot: &str, token: &str) -> Option<OffsetDateTime> {
        let listed = self.api_get(&format!("/v1/orgs/{org}/robots/{robot}/tokens?limit=200"));
        let current = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == token && t["role"] != "rotating_out")
            .unwrap_or_else(|| panic!("no current token {token}: {listed}"));
        current["expires_at"]
            .as_str()
            .map(|at| OffsetDateTime::parse(at, &Rfc3339).unwrap())
    }

    fn attempt(&self, door: Door, org: &str, attempt: &Attempt) -> Outcome {
        match door {
            Door::Api => self.through_api(org, attempt),
            Door::Console => self.through_console(org, attempt),
            Door::Cli => self.through_cli(org, attempt),
        }
    }

    fn through_api(&self, org: &str, attempt: &Attempt) -> Outcome {
        let answer = match attempt {
            Attempt::CreateRobot { name } => self.api("POST", &format!("/v1/orgs/{org}/robots"), json!({"name": name})),
            Attempt::CreateRobotForAlice => self.api("POST", "/v1/orgs/alice/robots", json!({"name": "mine"})),
            Attempt::CreateRobotAsRobot => {
                let (access_id, token) = &self.robot_credentials[org];
                let request = self
                    .http
                    .post(self.url(&format!("/v1/orgs/{org}/robots")))
                    .basic_auth(access_id, Some(token))
                    .json(&json!({"name": "spawned"}));
                self.send(request)
            }
            Attempt::CreateToken { robot, name, expires } => self.api(
                "POST",
                &format!("/v1/orgs/{org}/robots/{robot}/tokens"),
                json!({"name": name, "expires_in": expires}),
            ),
            Attempt::RotateToken { robot, token } => {
                let access_id = &self.access_ids[&(org.to_owned(), (*token).to_owned())];
                self.api(
                    "POST",
                    &format!("/v1/orgs/{org}/robots/{robot}/tokens/{access_id}/rotate"),
                    json!({}),
                )
            }
            Attempt::SetRole { user, role } => {
                self.api("PUT", &format!("/v1/orgs/{org}/members/{user}"), json!({"role": role}))
            }
            Attempt::ChangePassword { current } => self.api(
                "PUT",
                "/v1/me/password",
                json!({"current_password": current, "new_password": NEW_PASSWORD}),
            ),
            Attempt::CreateCredential { robot, subject } => self.api(
                "POST",
                &format!("/v1/orgs/{org}/robots/{robot}/federated-credentials"),
                json!({"name": "ci", "issuer": GITHUB, "audience": "robots", "subject": subject}),
            ),
            Attempt::SetMaxLifetime { max } => self.api(
                "PATCH",
                &format!("/v1/orgs/{org}"),
                json!({"token_policy": {"max_lifetime": max}}),
            ),
            Attempt::AllowSelfRotation { robot } => self.api(
                "PATCH",
                &format!("/v1/orgs/{org}/robots/{robot}"),
                json!({"self_rotate": true}),
            ),
            Attempt::CreatePersonalToken { scope, limited } => {
                let mut body = json!({"name": org, "scopes": [scope]});
                if *limited {
                    body["orgs"] = json!([org]);
                }
                self.api("POST", "/v1/me/tokens", body)
            }
        };
        match answer.status {
            200..=299 => Outcome::Accepted,
            _ => refused(
                answer.body["error"]["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{}", answer.text)),
            ),
        }
    }

    fn through_console(&self, org: &str, attempt: &Attempt) -> Outcome {
        let answer = match attempt {
            Attempt::CreateRobot { name } => self.console_post(
                &format!("/orgs/{org}/admin/robots"),
                &[("name", name), ("description", "")],
            ),
            Attempt::CreateRobotForAlice => {
                self.console_post("/orgs/alice/admin/robots", &[("name", "mine"), ("description", "")])
            }
            Attempt::CreateRobotAsRobot => {
                let (access_id, token) = &self.robot_credentials[org];
                let (cookie, answer) = self.console_login(access_id, token);
                assert_eq!(cookie, None, "a robot got a console session");
                answer
            }
            Attempt::CreateToken { robot, name, expires } => self.console_post(
                &format!("/orgs/{org}/admin/robots/{robot}/tokens"),
                &[("name", name), ("expires", expires)],
            ),
            Attempt::RotateToken { robot, token } => {
                let access_id = &self.access_ids[&(org.to_owned(), (*token).to_owned())];
                self.console_post(
                    &format!("/orgs/{org}/admin/robots/{robot}/tokens/{access_id}/rotate"),
                    &[("grace", "24h"), ("expires", "")],
                )
            }
            Attempt::SetRole { user, role } => {
                self.console_post(&format!("/orgs/{org}/admin/members/{user}"), &[("role", role)])
            }
            Attempt::ChangePassword { current } => self.console_post(
                "/account/password",
                &[("current_password", current), ("new_password", NEW_PASSWORD)],
            ),
            Attempt::CreateCredential { robot, subject } => self.console_post(
                &format!("/orgs/{org}/admin/robots/{robot}/federated/-/new"),
                &[
                    ("name", "ci"),
                    ("issuer", GITHUB),
                    ("audience", "robots"),
                    ("subject", subject),
                    ("conditions", ""),
                ],
            ),
            Attempt::SetMaxLifetime { max } => self.console_post(
                &format!("/orgs/{org}/admin/settings"),
                &[("max_lifetime", max), ("personal_tokens_allowed", "true")],
            ),
            Attempt::AllowSelfRotation { robot } => self.console_post(
                &format!("/orgs/{org}/admin/robots/{robot}/self-rotation"),
                &[("self_rotate", "allow")],
            ),
            Attempt::CreatePersonalToken { scope, limited } => {
                let mut form = vec![("name", org), ("scopes", scope), ("expires", "")];
                if *limited {
                    form.push(("orgs", org));
                }
                self.console_post("/account/tokens", &form)
            }
        };
        match answer.status {
            200..=399 => Outcome::Accepted,
            status => refused(
                answer
                    .headers
                    .get("x-robots-error")
                    .and_then(|code| code.to_str().ok())
                    .unwrap_or_else(|| panic!("a {status} without X-Robots-Error:\n{}", answer.text)),
            ),
        }
    }

    fn through_cli(&self, org: &str, attempt: &Attempt) -> Outcome {
        let access_id;
        let run = match attempt {
            Attempt::CreateRobot { name } => self.cli.run(&["create", name, "--org", org]),
            Attempt::CreateRobotForAlice => self.cli.run(&["create", "mine", "--org", "alice"]),
            Attempt::CreateRobotAsRobot => {
                let (_, token) = &self.robot_credentials[org];
                self.cli
                    .run_with(&["create", "spawned", "--org", org], &[("ROBOTS_TOKEN", token)], None)
            }
            Attempt::CreateToken { robot, name, expires } => self.cli.run(&[
                "tokens",
                "create",
                robot,
                "--name",
                name,
                "--expires",
                expires,
                "--org",
                org,
                "-o",
                "json",
            ]),
            Attempt::RotateToken { robot, token } => {
                access_id = self.access_ids[&(org.to_owned(), (*token).to_owned())].clone();
                self.cli
                    .run(&["tokens", "rotate", robot, &access_id, "--org", org, "-o", "json"])
            }
            Attempt::SetRole { user, role } => self.cli.run(&["members", "set", user, "--role", role, "--org", org]),
            Attempt::ChangePassword { current } => self.cli.run_with(
                &["password", "--stdin"],
                &[],
                Some(&format!("{current}\n{NEW_PASSWORD}\n")),
            ),
            Attempt::CreateCredential { robot, subject } => self.cli.run(&[
                "federated",
                "create",
                robot,
                "ci",
                "--issuer",
                GITHUB,
                "--audience",
                "robots",
                "--subject",
                subject,
                "--org",
                org,
            ]),
            Attempt::AllowSelfRotation { robot } => self.cli.run(&["update", robot, "--self-rotate", "--org", org]),
            Attempt::SetMaxLifetime { max } => self.cli.run(&["orgs", "policy", org, "--max-lifetime", max]),
            Attempt::CreatePersonalToken { scope, limited } => {
                let mut args = vec!["pat", "create", org, "--scope", scope];
                if *limited {
                    args.extend(["--limit-to", org]);
                }
                self.cli.run(&args)
            }
        };
        if run.code == 0 {
            return Outcome::Accepted;
        }
        // Refusals end with the API's code in parentheses.
        let code = run
            .stderr
            .trim_end()
            .rsplit_once('(')
            .and_then(|(_, code)| code.strip_suffix(')'))
            .unwrap_or_else(|| panic!("exit {} without a code: {}", run.code, run.stderr));
        refused(code)
    }
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in:\n{html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn every_rule_answers_the_same_through_every_door() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--data-dir", dir.path().to_str().unwrap()];
    let created = create_user(&args, "alice", true, PASSWORD);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let server = Server::start_with(&args, &["--max-tokens-per-robot", MAX_TOKENS]);
    let mut doors = Doors::open(server);

    let mut failures = Vec::new();
    for (number, case) in cases().into_iter().enumerate() {
        for door in DOORS {
            let org = format!("case{number}-{door:?}").to_lowercase();
            doors.prepare(&org, case.setup);
            let before = doors.snapshot(&org);
            let outcome = doors.attempt(door, &org, &case.attempt);
            if outcome != case.expected {
                failures.push(format!(
                    "{}: {door:?} answered {outcome:?}, not {:?}",
                    case.rule, case.expected
                ));
                continue;
            }
            match (&case.expected, case.check) {
                (Outcome::Refused(_), _) => {
                    if doors.snapshot(&org) != before {
                        failures.push(format!("{}: {door:?} refused, but wrote something", case.rule));
                    }
                }
                (Outcome::Accepted, Some(check)) => check(&doors, &org),
                (Outcome::Accepted, None) => {}
            }
            if case.setup.instance_max_lifetime.is_some() {
                doors.set_instance_max_lifetime(None);
            }
        }
    }
    // Every refused password change left the password as it was.
    let (still, answer) = doors.console_login("alice", PASSWORD);
    assert!(still.is_some(), "alice's password changed: {}", answer.text);
    assert!(
        failures.is_empty(),
        "rules that differ between doors:\n{}",
        failures.join("\n")
    );
}
