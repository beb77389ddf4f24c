//! Organizations from the command line: list, create, show, delete, and
//! their token policy.

use clap::{Args, Subcommand};
use reqwest::Method;
use robots_api_types::{CreateOrgRequest, OrgView, PolicyRequest, RobotView, TokenPolicyView, UpdateOrgRequest};

use super::client::{CliError, segment, with_flags};
use super::output::{self, age, details, table, text};
use super::{Context, confirm};

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// List the organizations you belong to.
    #[command(after_help = "Example:\n  robots orgs list -o json | jq -r '.[].name'")]
    List,
    /// Create an organization; you become its admin.
    #[command(after_help = "Example:\n  robots orgs create acme --display-name \"Acme Inc.\"")]
    Create {
        /// Lowercase letters, digits and hyphens.
        name: String,
        /// A human-friendly name.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show an organization.
    #[command(after_help = "Example:\n  robots orgs get acme")]
    Get { name: String },
    /// Delete an organization with all its robot accounts and tokens.
    #[command(after_help = "Example:\n  robots orgs delete acme --yes")]
    Delete {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Show the organization's token policy, or change it (admins): how long new tokens may live.
    #[command(after_help = "Examples:\n  robots orgs policy acme\n  \
        robots orgs policy acme --max-lifetime 90d --require-expiry\n  \
        robots orgs policy --max-lifetime none --no-require-expiry\n  \
        robots orgs policy acme --forbid-personal-tokens")]
    Policy {
        /// The organization [default: --org, else the only one you belong to].
        org: Option<String>,
        #[command(flatten)]
        change: PolicyChange,
    },
}

/// What `orgs policy` changes; nothing given: it only shows the policy.
#[derive(Debug, Args)]
pub struct PolicyChange {
    #[command(flatten)]
    rules: LifetimeRules,
    /// Members may act here with personal access tokens (the default).
    #[arg(long, conflicts_with = "forbid_personal_tokens")]
    allow_personal_tokens: bool,
    /// Refuse members' personal access tokens here: automation must use a session.
    #[arg(long)]
    forbid_personal_tokens: bool,
    /// Disable robot tokens unused (or never used) this long (e.g. 90d), or none.
    #[arg(long, value_name = "DURATION|none")]
    disable_unused_after: Option<String>,
}

/// How long new robot tokens may live: the flags an organization's policy
/// and the instance's share.
#[derive(Debug, Args)]
pub struct LifetimeRules {
    /// The longest a new token may live (e.g. 90d), or none for no limit.
    #[arg(long, value_name = "DURATION|none")]
    pub max_lifetime: Option<String>,
    /// Every new token must have an expiry.
    #[arg(long, conflicts_with = "no_require_expiry")]
    pub require_expiry: bool,
    /// New tokens may be created without an expiry (unless there is a maximum lifetime).
    #[arg(long)]
    pub no_require_expiry: bool,
}

impl LifetimeRules {
    /// The maximum to send: as given (`none` clears it), else `current`.
    pub fn max_lifetime(&self, current: Option<String>) -> Option<String> {
        maximum(self.max_lifetime.clone(), current)
    }

    pub fn expiry_required(&self, current: bool) -> bool {
        switch(self.require_expiry, self.no_require_expiry, current)
    }

    pub fn changing(&self) -> bool {
        self.max_lifetime.is_some() || self.require_expiry || self.no_require_expiry
    }
}

/// A maximum to send: as given (`none` clears it; the server checks the
/// rest), else `current`.
pub fn maximum(given: Option<String>, current: Option<String>) -> Option<String> {
    match given {
        None => current,
        Some(text) if text.eq_ignore_ascii_case("none") => None,
        Some(text) => Some(text),
    }
}

/// On if asked on, off if asked off, else as it is.
fn switch(on: bool, off: bool, current: bool) -> bool {
    if on {
        true
    } else if off {
        false
    } else {
        current
    }
}

fn org_rows(orgs: &[OrgView]) -> String {
    table(
        &["name", "display name", "role", "created"],
        &orgs
            .iter()
            .map(|org| {
                vec![
                    text(&org.name),
                    text(&org.display_name),
                    text(org.role.as_str()),
                    age(org.created_at),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

pub async fn orgs(context: &Context, command: OrgsCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        OrgsCommand::List => {
            let orgs: Vec<OrgView> = client.get_all("/v1/orgs").await?;
            output::print(context.format, &orgs, |orgs| org_rows(orgs));
        }
        OrgsCommand::Create { name, display_name } => {
            let body = CreateOrgRequest { name, display_name };
            let org: OrgView = client.send(Method::POST, "/v1/orgs", Some(&body)).await?;
            eprintln!("Created organization {}; you are its admin.", org.name);
            output::print(context.format, &org, |org| org_rows(std::slice::from_ref(org)));
        }
        OrgsCommand::Get { name } => {
            let org: OrgView = client.get(&format!("/v1/orgs/{}", segment(&name))).await?;
            output::print(context.format, &org, |org| {
                details(&[
                    ("Name", text(&org.name)),
                    ("Display name", text(&org.display_name)),
                    ("Your role", text(org.role.as_str())),
                    ("Created", age(org.created_at)),
                    ("Token policy", policy_summary(&org.token_policy)),
                ])
            });
        }
        OrgsCommand::Delete { name, yes } => {
            let path = format!("/v1/orgs/{}", segment(&name));
            let robots = client
                .get_all::<RobotView>(&format!("{path}/robots"))
                .await
                .map_or(0, |robots| robots.len());
            confirm(
                &format!(
                    "Delete organization {name}? Its {robots} robot account(s) and all their tokens are deleted, \
                     and every system using them stops authenticating."
                ),
                yes,
            )?;
            client.perform(Method::DELETE, &path).await?;
            eprintln!("Deleted organization {name}.");
        }
        OrgsCommand::Policy { org, change } => {
            let org = match org {
                Some(org) => org,
                None => context.org().await?,
            };
            token_policy(context, &org, change).await?;
        }
    }
    Ok(())
}

/// A token policy in a few words: "tokens live at most 90d; expiry required".
fn policy_summary(policy: &TokenPolicyView) -> String {
    let lifetime = match &policy.max_lifetime {
        Some(max) => format!("tokens live at most {max}"),
        None => "no maximum lifetime".to_owned(),
    };
    let required = if policy.expiry_required {
        "expiry required"
    } else {
        "expiry optional"
    };
    let personal = if policy.personal_tokens_allowed {
        "personal access tokens allowed"
    } else {
        "personal access tokens refused"
    };
    format!("{lifetime}; {required}; {personal}")
}

async fn token_policy(context: &Context, org: &str, change: PolicyChange) -> Result<(), CliError> {
    let client = &context.client;
    let path = format!("/v1/orgs/{}", segment(org));
    let mut found: OrgView = client.get(&path).await?;
    let changing = change.rules.changing()
        || change.allow_personal_tokens
        || change.forbid_personal_tokens
        || change.disable_unused_after.is_some();
    if changing {
        // The API sets the whole policy: what is not being changed is sent as it is.
        let current = found.token_policy;
        let policy = PolicyRequest {
            max_lifetime: change.rules.max_lifetime(current.max_lifetime),
            expiry_required: change.rules.expiry_required(current.expiry_required),
            personal_tokens_allowed: switch(
                change.allow_personal_tokens,
                change.forbid_personal_tokens,
                current.personal_tokens_allowed,
            ),
            disable_unused_after: maximum(change.disable_unused_after, current.disable_unused_after),
        };
        let body = UpdateOrgRequest {
            token_policy: Some(policy),
            ..UpdateOrgRequest::default()
        };
        found = client.send(Method::PATCH, &path, Some(&body)).await.map_err(|error| {
            with_flags(
                error,
                &[
                    ("token_policy.max_lifetime", "--max-lifetime"),
                    ("token_policy.disable_unused_after", "--disable-unused-after"),
                ],
            )
        })?;
        eprintln!(
            "Updated the token policy of {org}: {}. It applies to tokens created from now on; \
             existing tokens keep their expiry.",
            policy_summary(&found.token_policy)
        );
    }
    output::print(context.format, &found.token_policy, |policy| {
        details(&[
            ("Organization", org.to_owned()),
            (
                "Max lifetime",
                policy.max_lifetime.as_deref().unwrap_or("none").to_owned(),
            ),
            ("Expiry required", yes_no(policy.expiry_required)),
            ("Personal access tokens", yes_no(policy.personal_tokens_allowed)),
            (
                "Disable unused after",
                policy.disable_unused_after.as_deref().unwrap_or("never").to_owned(),
            ),
        ])
    });
    Ok(())
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}
