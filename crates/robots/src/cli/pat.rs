//! Personal access tokens from the command line: create (the token is
//! shown once), list, revoke. Managing them takes a logged-in session; the
//! tokens themselves are for automation (`ROBOTS_TOKEN`, or `robots login
//! --token-stdin`).

use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use robots_api_types::{CreatePersonalTokenRequest, CreatedPersonalTokenView, PersonalTokenView};

use super::client::{CliError, segment, with_flags};
use super::output::{self, age, table, text};
use super::tokens::Expiry;
use super::{Context, confirm, session};

#[derive(Debug, Subcommand)]
pub enum PatCommand {
    /// Create a personal access token for automation acting as you. It is shown once.
    #[command(
        after_help = "Scopes: orgs:read, orgs:write, robots:read, robots:write, tokens:write, \
        teams:write, audit:read, webhooks:write (writing implies reading).\n\n\
        Examples:\n  robots pat create terraform --scope robots:write --scope tokens:write --limit-to acme --expires 90d\n  \
        robots pat create rotation --scope tokens:write --output rotation-pat.txt"
    )]
    Create {
        /// A name for the token, e.g. what uses it.
        name: String,
        /// What it may do (repeat for several).
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// Only these organizations (repeat for several) [default: every one you belong to].
        #[arg(long = "limit-to", value_name = "ORG")]
        orgs: Vec<String>,
        /// When it stops working: a duration (90d) or a time (2027-01-31T00:00:00Z); at most 366d [default: 30d].
        #[arg(long)]
        expires: Option<String>,
        /// Write the token to this file (mode 0600) instead of printing it.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite the --output file if it exists.
        #[arg(long, requires = "output")]
        force: bool,
    },
    /// List your personal access tokens, with where each was last used.
    #[command(after_help = "Example:\n  robots pat list -o json")]
    List,
    /// Revoke one of your personal access tokens: it stops working at once.
    #[command(after_help = "Example:\n  robots pat revoke terraform --yes")]
    Revoke {
        /// The token's name or id.
        token: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn pat(context: &Context, command: PatCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        PatCommand::Create {
            name,
            scopes,
            orgs,
            expires,
            output,
            force,
        } => {
            super::minted::refuse_existing_file(output.as_deref(), force)?;
            let (expires_at, expires_in) = match expires {
                Some(expires) => Expiry::parse(&expires).fields(),
                None => (None, None),
            };
            let body = CreatePersonalTokenRequest {
                name,
                scopes,
                orgs: (!orgs.is_empty()).then_some(orgs),
                expires_at,
                expires_in,
            };
            let created: CreatedPersonalTokenView = client
                .send(Method::POST, "/v1/me/tokens", Some(&body))
                .await
                .map_err(|error| {
                    with_flags(
                        error,
                        &[
                            ("scopes", "--scope"),
                            ("orgs", "--limit-to"),
                            ("expires_at", "--expires"),
                            ("expires_in", "--expires"),
                        ],
                    )
                })?;
            let info = &created.info;
            let done = format!(
                "Created personal access token {} ({}), expiring {}.",
                info.name,
                info.scopes.join(" "),
                age(info.expires_at)
            );
            match output {
                Some(path) => {
                    let mut line = created.token.expose().to_owned();
                    line.push('\n');
                    session::write_private(&path, line.as_bytes(), force).map_err(|error| {
                        CliError::Local(format!(
                            "the token was created but could not be written to {}: {error}; \
                             revoke it with `robots pat revoke {}` and create another",
                            path.display(),
                            info.name
                        ))
                    })?;
                    eprintln!("{done} It is in {} (mode 0600).", path.display());
                }
                None => {
                    eprintln!(
                        "{done} It is shown this once: send it as `Authorization: Bearer …`, \
                         set ROBOTS_TOKEN, or give it to `robots login --token-stdin`."
                    );
                    output::print(context.format, &created, |created| {
                        format!("{}\n", created.token.expose())
                    });
                }
            }
        }
        PatCommand::List => {
            let tokens: Vec<PersonalTokenView> = client.get_all("/v1/me/tokens").await?;
            output::print(context.format, &tokens, |tokens| {
                if tokens.is_empty() {
                    return "You have no personal access tokens. Create one with \
                            `robots pat create NAME --scope robots:read`.\n"
                        .to_owned();
                }
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|token| {
                        vec![
                            text(&token.name),
                            token.scopes.join(" "),
                            token
                                .orgs
                                .as_ref()
                                .map_or_else(|| "all".to_owned(), |orgs| orgs.join(" ")),
                            if token.expired {
                                "expired".to_owned()
                            } else {
                                age(token.expires_at)
                            },
                            match (&token.last_used_at, &token.last_used_ip) {
                                (Some(at), Some(ip)) => format!("{} from {ip}", age(*at)),
                                (Some(at), None) => age(*at),
                                (None, _) => "never".to_owned(),
                            },
                        ]
                    })
                    .collect();
                table(&["NAME", "SCOPES", "ORGS", "EXPIRES", "LAST USED"], &rows)
            });
        }
        PatCommand::Revoke { token, yes } => {
            if token.starts_with("rpat_") {
                return Err(CliError::Usage(
                    "that is the token's secret: give its name or id (robots pat list), so the secret \
                     does not travel in a URL"
                        .into(),
                ));
            }
            confirm(
                &format!("Revoke personal access token {token}? What uses it stops working at once."),
                yes,
            )?;
            client
                .perform(Method::DELETE, &format!("/v1/me/tokens/{}", segment(&token)))
                .await?;
            eprintln!("Revoked personal access token {token}.");
        }
    }
    Ok(())
}
