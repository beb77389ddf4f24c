//! The instance's own settings from the command line: the token policy
//! floor under every organization's (set by instance administrators).

use clap::Subcommand;
use reqwest::Method;
use robots_api_types::{InstancePolicyRequest, InstancePolicyView};

use super::Context;
use super::client::{CliError, with_flags};
use super::orgs::{LifetimeRules, maximum};
use super::output::{self, details};

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Show the instance's token policy, or change it (instance administrators): the floor under every organization's.
    #[command(after_help = "Examples:\n  robots instance policy\n  \
        robots instance policy --max-lifetime 365d --require-expiry --personal-token-max-lifetime 90d\n  \
        robots instance policy --max-lifetime none")]
    Policy {
        #[command(flatten)]
        rules: LifetimeRules,
        /// The longest a personal access token may live (at most 366d), or none.
        #[arg(long, value_name = "DURATION|none")]
        personal_token_max_lifetime: Option<String>,
    },
}

pub async fn instance(context: &Context, command: InstanceCommand) -> Result<(), CliError> {
    let InstanceCommand::Policy {
        rules,
        personal_token_max_lifetime,
    } = command;
    let client = &context.client;
    let mut policy: InstancePolicyView = client.get("/v1/instance/policy").await?;
    let changing = rules.changing() || personal_token_max_lifetime.is_some();
    if changing {
        // The API sets the whole policy: what is not being changed is sent as it is.
        let body = InstancePolicyRequest {
            max_lifetime: rules.max_lifetime(policy.max_lifetime),
            expiry_required: rules.expiry_required(policy.expiry_required),
            personal_token_max_lifetime: maximum(personal_token_max_lifetime, policy.personal_token_max_lifetime),
        };
        policy = client
            .send(Method::PUT, "/v1/instance/policy", Some(&body))
            .await
            .map_err(|error| {
                with_flags(
                    error,
                    &[
                        ("max_lifetime", "--max-lifetime"),
                        ("personal_token_max_lifetime", "--personal-token-max-lifetime"),
                    ],
                )
            })?;
        eprintln!(
            "Updated the instance's token policy. It holds under every organization's, for tokens created from now on."
        );
    }
    output::print(context.format, &policy, |policy| {
        details(&[
            (
                "Max lifetime",
                policy.max_lifetime.as_deref().unwrap_or("none").to_owned(),
            ),
            (
                "Expiry required",
                if policy.expiry_required { "yes" } else { "no" }.to_owned(),
            ),
            (
                "Personal access tokens",
                format!(
                    "at most {}",
                    policy.personal_token_max_lifetime.as_deref().unwrap_or("366d")
                ),
            ),
        ])
    });
    Ok(())
}
