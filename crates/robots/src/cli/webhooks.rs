//! Webhooks from the command line: where the organization's token events
//! are sent, and how their deliveries fare.

use clap::Subcommand;
use reqwest::Method;
use robots_api_types::{CreateWebhookRequest, DeliveryStatus, DeliveryView, ErrorCode, WebhookView};

use super::client::{CliError, segment};
use super::output::{self, age, age_or, optional, table, text};
use super::{Context, confirm};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// List the organization's webhooks and how their deliveries fare (admins).
    #[command(after_help = "Example:\n  robots webhooks list -o json")]
    List,
    /// Send the organization's token events to a URL, signed with a secret shown only now (admins).
    #[command(
        after_help = "Examples:\n  robots webhooks create https://hooks.example.com/robots\n  \
        robots webhooks create https://hooks.example.com/robots --event token.expiring --event token.revoked_as_leaked"
    )]
    Create {
        /// Where to POST the events: an http:// or https:// URL.
        url: String,
        /// An event to send (repeat for several) [default: all]: token.created, token.deleted,
        /// token.rotated, token.expiring (30, 7 and 1 days before expiry), token.expiring_soon
        /// (the 7-day one, under its earlier name), token.revoked_as_leaked, token.disabled,
        /// token.enabled.
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
    },
    /// Delete a webhook; its URL gets no more events.
    #[command(after_help = "Example:\n  robots webhooks delete 0190f7a2-6c1e-7b3a-9d2f-5e8c4a1b2c3d --yes")]
    Delete {
        /// The webhook's ID (see `robots webhooks list`).
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Show a webhook's recent deliveries: delivered, retrying, or failed.
    #[command(after_help = "Example:\n  robots webhooks deliveries 0190f7a2-6c1e-7b3a-9d2f-5e8c4a1b2c3d")]
    Deliveries {
        /// The webhook's ID (see `robots webhooks list`).
        id: String,
    },
}

fn webhook_rows(webhooks: &[WebhookView]) -> String {
    table(
        &["id", "url", "events", "created", "failed", "last error"],
        &webhooks
            .iter()
            .map(|webhook| {
                vec![
                    text(webhook.id),
                    text(&webhook.url),
                    webhook.events.join(","),
                    age(webhook.created_at),
                    text(webhook.failed_deliveries),
                    optional(webhook.last_error.as_deref()),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// Where a delivery stands: "delivered 2 hours ago", "retrying in 5 minutes", "failed".
fn delivery_status(delivery: &DeliveryView) -> String {
    match delivery.status {
        DeliveryStatus::Retrying => format!("retrying {}", age_or(delivery.next_attempt_at, "")),
        DeliveryStatus::Delivered => format!("delivered {}", age_or(delivery.delivered_at, "")),
        DeliveryStatus::Failed => "failed".to_owned(),
    }
    .trim_end()
    .to_owned()
}

pub async fn webhooks(context: &Context, command: WebhooksCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let base = format!("/v1/orgs/{}/webhooks", segment(&org));
    match command {
        WebhooksCommand::List => {
            let webhooks: Vec<WebhookView> = client.get_all(&base).await?;
            output::print(context.format, &webhooks, |webhooks| {
                if webhooks.is_empty() {
                    "No webhooks yet. Create one with `robots webhooks create URL`.\n".to_owned()
                } else {
                    webhook_rows(webhooks)
                }
            });
        }
        WebhooksCommand::Create { url, events } => {
            let body = CreateWebhookRequest {
                url,
                // None: every event.
                events: (!events.is_empty()).then_some(events),
            };
            let created: WebhookView = client.send(Method::POST, &base, Some(&body)).await?;
            eprintln!(
                "Created webhook {} for {org}. Its secret (for checking the signatures of deliveries) is shown \
                 only this once and cannot be recovered: store it now.",
                created.id
            );
            output::print(context.format, &created, |created| {
                format!(
                    "ID:     {}\nSecret: {}\n",
                    created.id,
                    created.secret.as_deref().unwrap_or_default()
                )
            });
        }
        WebhooksCommand::Delete { id, yes } => {
            let webhooks: Vec<WebhookView> = client.get_all(&base).await?;
            let Some(found) = webhooks.iter().find(|webhook| webhook.id.to_string() == id) else {
                return Err(CliError::Api {
                    status: reqwest::StatusCode::NOT_FOUND,
                    code: ErrorCode::NotFound,
                    message: format!("{org} has no webhook {id}"),
                });
            };
            confirm(
                &format!(
                    "Delete webhook {id}? {} gets no more events of {org}, and its pending deliveries are dropped.",
                    found.url
                ),
                yes,
            )?;
            client
                .perform(Method::DELETE, &format!("{base}/{}", segment(&id)))
                .await?;
            eprintln!("Deleted webhook {id} ({}).", found.url);
        }
        WebhooksCommand::Deliveries { id } => {
            let deliveries: Vec<DeliveryView> = client.get_all(&format!("{base}/{}/deliveries", segment(&id))).await?;
            output::print(context.format, &deliveries, |deliveries| {
                if deliveries.is_empty() {
                    return "No deliveries yet: events are sent as they happen.\n".to_owned();
                }
                table(
                    &["event", "status", "attempts", "created", "last status", "last error"],
                    &deliveries
                        .iter()
                        .map(|delivery| {
                            vec![
                                text(&delivery.event),
                                delivery_status(delivery),
                                text(delivery.attempts),
                                age(delivery.created_at),
                                optional(delivery.last_status),
                                optional(delivery.last_error.as_deref()),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            });
        }
    }
    Ok(())
}
