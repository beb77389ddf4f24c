//! Keyless robots from the command line: a robot's federated credentials
//! (which CI jobs' OIDC ID tokens it trusts), and the exchange a CI job runs
//! to trade its ID token for a short-lived token of the robot. The exchange
//! needs no login; the ID token is read from a file or standard input, never
//! from an argument, where it would land in logs and process lists.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use reqwest::Method;
use robots_api_types::{CreateCredentialRequest, ExchangeAnswer, FederatedCredentialView, UpdateCredentialRequest};
use serde_json::Value;

use super::client::{CliError, Credential, segment};
use super::minted::{Minted, hand_out, refuse_existing_file};
use super::output::{self, age, details, optional, table, text};
use super::{Context, confirm};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

/// A condition on one claim of the ID token: `--claim KEY=PATTERN`.
#[derive(Debug, Clone)]
pub struct ClaimCondition {
    claim: String,
    pattern: String,
}

/// Parses `--claim KEY=PATTERN`; clap names the argument when this fails.
fn claim_condition(text: &str) -> Result<ClaimCondition, String> {
    match text.split_once('=') {
        Some((claim, pattern)) if !claim.trim().is_empty() && !pattern.is_empty() => Ok(ClaimCondition {
            claim: claim.trim().to_owned(),
            pattern: pattern.to_owned(),
        }),
        _ => Err(
            "expected KEY=PATTERN (a claim of the ID token, and a pattern its value must match; \
                  * matches any run of characters), e.g. --claim ref=refs/heads/main"
                .to_owned(),
        ),
    }
}

/// The conditions as the API takes them; a claim named twice is a mistake, not a choice.
fn claims_object(conditions: Vec<ClaimCondition>) -> Result<BTreeMap<String, String>, CliError> {
    let mut claims = BTreeMap::new();
    for condition in conditions {
        if claims.contains_key(&condition.claim) {
            return Err(CliError::Usage(format!(
                "--claim {} is given twice: a claim has one pattern (use * for alternatives within it)",
                condition.claim
            )));
        }
        claims.insert(condition.claim, condition.pattern);
    }
    Ok(claims)
}

#[derive(Debug, Subcommand)]
pub enum FederatedCommand {
    /// List a robot's federated credentials: the CI jobs that may get its tokens without a stored secret.
    #[command(after_help = "Example:\n  robots federated list ci-deployer")]
    List {
        /// The robot account's name.
        robot: String,
    },
    /// Trust the ID tokens of an OIDC issuer (a CI system) whose subject and claims match, for short-lived tokens of the robot (admins).
    #[command(after_help = "Example (GitHub Actions, main branch of acme/app only):\n  \
        robots federated create ci-deployer github-main \\\n    \
        --issuer https://token.actions.githubusercontent.com \\\n    \
        --audience https://robots.example.com \\\n    \
        --subject 'repo:acme/app:ref:refs/heads/main' \\\n    \
        --claim repository=acme/app")]
    Create {
        /// The robot account's name.
        robot: String,
        /// A name for the credential: lowercase letters, digits and hyphens, e.g. github-main.
        name: String,
        /// The issuer's URL, exactly as its ID tokens' iss says it.
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The audience the ID token must carry (aud), e.g. this server's URL.
        #[arg(long, value_name = "AUD")]
        audience: String,
        /// A pattern the ID token's sub must match; * matches any run of characters.
        #[arg(long, value_name = "PATTERN")]
        subject: String,
        /// A pattern another claim must match (repeat for several; all must hold).
        #[arg(long = "claim", value_name = "KEY=PATTERN", value_parser = claim_condition)]
        claims: Vec<ClaimCondition>,
        /// What the credential is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Show a federated credential.
    #[command(after_help = "Example:\n  robots federated get ci-deployer github-main -o yaml")]
    Get {
        /// The robot account's name.
        robot: String,
        /// The credential's name.
        name: String,
    },
    /// Change a federated credential; the tokens it minted before stop working (admins).
    #[command(after_help = "Examples:\n  \
        robots federated update ci-deployer github-main --claim environment=production\n  \
        robots federated update ci-deployer github-main --subject 'repo:acme/app:*' --clear-claims")]
    Update {
        /// The robot account's name.
        robot: String,
        /// The credential's current name.
        name: String,
        /// A new name.
        #[arg(long = "name", id = "new_name", value_name = "NEW_NAME")]
        new_name: Option<String>,
        /// A new issuer URL.
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
        /// A new audience.
        #[arg(long, value_name = "AUD")]
        audience: Option<String>,
        /// A new pattern on sub.
        #[arg(long, value_name = "PATTERN")]
        subject: Option<String>,
        /// Replace all conditions on other claims with these (repeat for several).
        #[arg(long = "claim", value_name = "KEY=PATTERN", value_parser = claim_condition, conflicts_with = "clear_claims")]
        claims: Vec<ClaimCondition>,
        /// Remove all conditions on other claims (only issuer, audience and subject are checked).
        #[arg(long)]
        clear_claims: bool,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a federated credential; the tokens it minted stop working at once (admins).
    #[command(after_help = "Example:\n  robots federated delete ci-deployer github-main --yes")]
    Delete {
        /// The robot account's name.
        robot: String,
        /// The credential's name.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// In a CI job: trade the job's OIDC ID token for a short-lived token of the robot (its Token is shown once). No login needed.
    #[command(after_help = "Examples:\n  \
        # GitLab CI (id_tokens: ROBOTS_ID_TOKEN: aud: https://robots.example.com)\n  \
        echo \"$ROBOTS_ID_TOKEN\" |\n    \
        robots federated exchange acme/deployer --id-token-file - --output token.json\n  \
        # GitHub Actions (permissions: id-token: write); the endpoint's JSON answer is read as it is\n  \
        curl -sSf -H \"Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN\" \\\n    \
        \"$ACTIONS_ID_TOKEN_REQUEST_URL&audience=https://robots.example.com\" > id-token.json\n  \
        robots federated exchange acme/deployer --id-token-file id-token.json -o json |\n    \
        jq -r .access_token")]
    Exchange(ExchangeArgs),
}

#[derive(Debug, Args)]
pub struct ExchangeArgs {
    /// The robot: ORG/ROBOT, or ROBOT with --org.
    robot: String,
    /// Where the ID token is: a file, or - for standard input. A JSON object with the token
    /// in "value" (GitHub Actions' answer) works too.
    #[arg(long, value_name = "FILE|-")]
    id_token_file: PathBuf,
    /// Write {"access_id", "token"} to this file (mode 0600) instead of printing the Token.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite the --output file if it exists.
    #[arg(long, requires = "output")]
    force: bool,
}

/// `environment=production, ref=refs/heads/main`, or "-".
fn conditions(credential: &FederatedCredentialView) -> String {
    let conditions: Vec<String> = credential
        .claims
        .iter()
        .map(|(claim, pattern)| format!("{claim}={pattern}"))
        .collect();
    text(conditions.join(", "))
}

fn credential_rows(credentials: &[FederatedCredentialView]) -> String {
    table(
        &["name", "issuer", "subject", "conditions", "audience"],
        &credentials
            .iter()
            .map(|credential| {
                vec![
                    text(&credential.name),
                    text(&credential.issuer),
                    text(&credential.subject),
                    conditions(credential),
                    text(&credential.audience),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// The organization, and where `robot`'s federated credentials are.
async fn credentials_path(context: &Context, robot: &str) -> Result<(String, String), CliError> {
    let org = context.org().await?;
    let path = format!(
        "/v1/orgs/{}/robots/{}/federated-credentials",
        segment(&org),
        segment(robot)
    );
    Ok((org, path))
}

pub async fn federated(context: &Context, command: FederatedCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        FederatedCommand::List { robot } => {
            let (_, base) = credentials_path(context, &robot).await?;
            let credentials: Vec<FederatedCredentialView> = client.get_all(&base).await?;
            output::print(context.format, &credentials, |credentials| {
                if credentials.is_empty() {
                    format!(
                        "{robot} has no federated credentials yet. Create one with \
                         `robots federated create {robot} NAME --issuer URL --audience AUD --subject PATTERN`.\n"
                    )
                } else {
                    credential_rows(credentials)
                }
            });
        }
        FederatedCommand::Create {
            robot,
            name,
            issuer,
            audience,
            subject,
            claims,
            description,
        } => {
            let body = CreateCredentialRequest {
                name,
                description,
                issuer,
                audience,
                subject,
                claims: claims_object(claims)?,
            };
            let (org, base) = credentials_path(context, &robot).await?;
            let created: FederatedCredentialView = client.send(Method::POST, &base, Some(&body)).await?;
            eprintln!(
                "Created federated credential {} for {robot}: CI jobs whose ID tokens match it get short-lived \
                 tokens of {robot} with `robots federated exchange {org}/{robot} --id-token-file FILE`.",
                created.name
            );
            output::print(context.format, &created, |c| credential_rows(std::slice::from_ref(c)));
        }
        FederatedCommand::Get { robot, name } => {
            let (org, base) = credentials_path(context, &robot).await?;
            let found: FederatedCredentialView = client.get(&format!("{base}/{}", segment(&name))).await?;
            output::print(context.format, &found, |c| {
                details(&[
                    ("Name", text(&c.name)),
                    ("Robot", format!("{org}/{robot}")),
                    ("Description", text(&c.description)),
                    ("Issuer", text(&c.issuer)),
                    ("Audience", text(&c.audience)),
                    ("Subject", text(&c.subject)),
                    ("Conditions", conditions(c)),
                    (
                        "Created",
                        format!("{} by {}", age(c.created_at), optional(c.created_by.as_deref())),
                    ),
                    ("Updated", age(c.updated_at)),
                    ("ID", text(c.id)),
                ])
            });
        }
        FederatedCommand::Update {
            robot,
            name,
            new_name,
            issuer,
            audience,
            subject,
            claims,
            clear_claims,
            description,
        } => {
            let replacing_claims = clear_claims || !claims.is_empty();
            let body = UpdateCredentialRequest {
                name: new_name,
                description,
                issuer,
                audience,
                subject,
                claims: replacing_claims.then(|| claims_object(claims)).transpose()?,
            };
            if nothing_to_change(&body) {
                return Err(CliError::Usage(
                    "nothing to change: give --name, --issuer, --audience, --subject, --claim, --clear-claims \
                     and/or --description"
                        .into(),
                ));
            }
            let (_, base) = credentials_path(context, &robot).await?;
            let updated: FederatedCredentialView = client
                .send(Method::PATCH, &format!("{base}/{}", segment(&name)), Some(&body))
                .await?;
            eprintln!(
                "Updated federated credential {} of {robot}; tokens it minted before no longer work.",
                updated.name
            );
            output::print(context.format, &updated, |c| credential_rows(std::slice::from_ref(c)));
        }
        FederatedCommand::Delete { robot, name, yes } => {
            let (_, base) = credentials_path(context, &robot).await?;
            let path = format!("{base}/{}", segment(&name));
            let found: FederatedCredentialView = client.get(&path).await?;
            confirm(
                &format!(
                    "Delete federated credential {name} of {robot}? CI jobs with ID tokens from {} can no longer \
                     get its tokens, and the tokens it minted stop working at once.",
                    found.issuer
                ),
                yes,
            )?;
            client.perform(Method::DELETE, &path).await?;
            eprintln!("Deleted federated credential {name} of {robot}.");
        }
        FederatedCommand::Exchange(args) => exchange(context, args).await?,
    }
    Ok(())
}

/// Whether a `PATCH` would change nothing.
fn nothing_to_change(update: &UpdateCredentialRequest) -> bool {
    let UpdateCredentialRequest {
        name,
        description,
        issuer,
        audience,
        subject,
        claims,
    } = update;
    [name, description, issuer, audience, subject]
        .iter()
        .all(|field| field.is_none())
        && claims.is_none()
}

/// The exchange, as a CI job runs it: no saved session, no credential sent.
async fn exchange(context: &Context, args: ExchangeArgs) -> Result<(), CliError> {
    let ExchangeArgs {
        robot,
        id_token_file,
        output,
        force,
    } = args;
    // Checked before anything is read or minted.
    let robot = match (robot.contains('/'), &context.global.org) {
        (true, _) => robot,
        (false, Some(org)) => format!("{org}/{robot}"),
        (false, None) => {
            return Err(CliError::Usage(format!(
                "name the robot with its organization: `robots federated exchange ORG/{robot} ...` (or give --org)"
            )));
        }
    };
    refuse_existing_file(output.as_deref(), force)?;
    let id_token = read_id_token(&id_token_file)?;
    let form = [
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", id_token.as_str()),
        ("subject_token_type", ID_TOKEN),
        ("robot", robot.as_str()),
    ];
    let answer: ExchangeAnswer = context
        .client
        .with_credential(Credential::None)
        .post_form("/v1/oauth/token", &form)
        .await
        .map_err(|error| match error {
            CliError::OAuth { status, code, message } if code == "invalid_grant" => CliError::OAuth {
                status,
                message: format!(
                    "{message}; an admin of its organization sees why with \
                     `robots audit --action token.exchange_refused`"
                ),
                code,
            },
            other => other,
        })?;
    let now = time::OffsetDateTime::now_utc();
    let lifetime = time::Duration::seconds(i64::try_from(answer.expires_in).unwrap_or(i64::MAX));
    let minted = Minted {
        answer: &answer,
        access_id: answer.access_id,
        token: &answer.access_token,
        done: format!(
            "Exchanged the ID token for a token of {} that stops working by itself {}",
            answer.robot,
            robots_core::humanize::relative(now.saturating_add(lifetime), now)
        ),
        recovery: "it stops working by itself soon; run the exchange again".to_owned(),
    };
    hand_out(context, minted, output, force)
}

/// The ID token from a file or standard input (`-`): a bare token, or a JSON
/// object holding it in `value` (what GitHub Actions' token endpoint answers).
fn read_id_token(path: &std::path::Path) -> Result<String, CliError> {
    let from_stdin = path.as_os_str() == "-";
    let input = if from_stdin {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            rpassword::prompt_password("ID token (not shown): ")
                .map_err(|error| CliError::Local(format!("cannot read the ID token: {error}")))?
        } else {
            let mut input = String::new();
            stdin
                .lock()
                .read_to_string(&mut input)
                .map_err(|error| CliError::Local(format!("cannot read the ID token from standard input: {error}")))?;
            input
        }
    } else {
        std::fs::read_to_string(path)
            .map_err(|error| CliError::Local(format!("cannot read the ID token from {}: {error}", path.display())))?
    };
    let input = input.trim();
    let id_token = match serde_json::from_str::<Value>(input) {
        Ok(Value::Object(map)) => map.get("value").and_then(Value::as_str).unwrap_or_default().to_owned(),
        _ => input.to_owned(),
    };
    let source = if from_stdin {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    if id_token.is_empty() {
        return Err(CliError::Usage(format!(
            "no ID token in {source}: give the file your CI system wrote it to, or - and pipe it in"
        )));
    }
    if id_token.contains(char::is_whitespace) {
        return Err(CliError::Usage(format!(
            "{source} does not hold one ID token (a JWT, without spaces); nothing was exchanged"
        )));
    }
    Ok(id_token)
}
