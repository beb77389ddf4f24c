//! Signing keys from the command line: the certificates registries trust,
//! the published keys, and rotating them.

use clap::Subcommand;
use reqwest::Method;
use robots_api_types::{KeyRotateRequest, KeyView, List, RotatedKeyView};

use super::Context;
use super::client::CliError;
use super::output::{self, age, age_or, details, table, text, timestamp};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the signing certificates (PEM) for a registry's auth.token.rootcertbundle. No login needed.
    #[command(
        after_help = "Example:\n  robots keys certificate --server https://robots.example.com > /etc/docker/registry/robots.crt"
    )]
    Certificate,
    /// List the published signing keys (instance administrators).
    #[command(after_help = "Example:\n  robots keys list")]
    List,
    /// Create a new signing key; the current one keeps verifying while its tokens live.
    #[command(after_help = "Examples:\n  robots keys rotate\n  \
        robots keys rotate --after 24h   # publish now, sign from tomorrow: time to update registries")]
    Rotate {
        /// Start signing with the new key after this long (e.g. 24h) [default: now].
        #[arg(long, value_name = "DURATION")]
        after: Option<String>,
    },
}

pub async fn keys(context: &Context, command: KeysCommand) -> Result<(), CliError> {
    let client = &context.client;
    match command {
        KeysCommand::Certificate => {
            let pem = client.get_text("/v1/keys/certificates.pem").await?;
            output::emit(&pem);
        }
        KeysCommand::List => {
            let keys: List<KeyView> = client.get("/v1/keys").await?;
            output::print(context.format, &keys.items, |keys| {
                table(
                    &["kid", "algorithm", "signing", "signs from", "retired"],
                    &keys
                        .iter()
                        .map(|key| {
                            vec![
                                text(&key.kid),
                                text(&key.algorithm),
                                if key.signing { "yes".into() } else { "no".into() },
                                age(key.not_before),
                                age_or(key.retired_at, "-"),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            });
        }
        KeysCommand::Rotate { after } => {
            let body = KeyRotateRequest { after };
            let rotated: RotatedKeyView = client.send(Method::POST, "/v1/keys/rotate", Some(&body)).await?;
            eprintln!(
                "Created signing key {}; it signs {}. Give registries the new certificate bundle (`robots keys certificate`).",
                rotated.kid,
                age(rotated.not_before)
            );
            output::print(context.format, &rotated, |r| {
                details(&[("Key", text(&r.kid)), ("Signs from", timestamp(r.not_before))])
            });
        }
    }
    Ok(())
}
