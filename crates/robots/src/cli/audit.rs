//! What happened and who hears of it: the audit log and webhooks.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{CliError, query, segment};
use super::output::{self, age, table, text};
use super::{Context, confirm, field};

/// The most events the API returns in one page.
const MAX_PAGE: usize = 200;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this action, e.g. token.created; end it with a dot for every action it starts: token.
    #[arg(long)]
    action: Option<String>,
    /// Only what this user did (or this robot: ORG/ROBOT).
    #[arg(long, value_name = "USER")]
    actor: Option<String>,
    /// Only events on this target, as the TARGET column shows it, e.g. "robot acme/ci-deployer".
    #[arg(long)]
    target: Option<String>,
    /// Only events since then: a time (2027-01-31T00:00:00Z) or a duration back from now (24h, 7d).
    #[arg(long, value_name = "TIME|DURATION")]
    since: Option<String>,
    /// Only events before then: a time, or a duration back from now.
    #[arg(long, value_name = "TIME|DURATION")]
    until: Option<String>,
    /// Show at most this many events, newest first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Export every matching event as JSON lines (one object a line), as the server sends them.
    #[arg(long, conflicts_with = "limit")]
    jsonl: bool,
    /// The instance's own log (logins, users, signing keys, deleted organizations) instead of
    /// an organization's; instance administrators only.
    #[arg(long)]
    instance: bool,
}

pub async fn audit(context: &Context, args: AuditArgs) -> Result<(), CliError> {
    let base = if args.instance {
        "/v1/audit".to_owned()
    } else {
        format!("/v1/orgs/{}/audit", segment(&context.org().await?))
    };
    let filters = [
        ("action", args.action.clone()),
        ("actor", args.actor.clone()),
        ("target", args.target.clone()),
        ("since", args.since.clone()),
        ("until", args.until.clone()),
    ];
    if args.jsonl {
        let mut pairs = filters.to_vec();
        pairs.push(("format", Some("jsonl".to_owned())));
        return context
            .client
            .stream(&format!("{base}{}", query(&pairs)), output::emit_bytes)
            .await;
    }
    let wanted = args.limit as usize;
    let mut events: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let more = loop {
        let mut pairs = filters.to_vec();
        pairs.push(("limit", Some((wanted - events.len()).min(MAX_PAGE).to_string())));
        pairs.push(("cursor", cursor.take()));
        let page = context.client.get(&format!("{base}{}", query(&pairs))).await?;
        if let Some(items) = page["items"].as_array() {
            events.extend(items.iter().cloned());
        }
        match page["next_cursor"].as_str() {
            Some(next) if events.len() < wanted => cursor = Some(next.to_owned()),
            Some(_) => break true,
            None => break false,
        }
    };
    events.truncate(wanted);
    if more {
        eprintln!(
            "Showing the newest {wanted} events; more match: raise --limit, narrow with --since, or export all with --jsonl."
        );
    }
    output::print(context.format, &Value::Array(events), |events| {
        let events = events.as_array().map(Vec::as_slice).unwrap_or_default();
        if events.is_empty() {
            return "No audit events match.\n".to_owned();
        }
        table(
            &["time", "actor", "action", "target", "via", "ip"],
            &events
                .iter()
                .map(|event| {
                    vec![
                        age(event, "at", "-"),
                        match event["actor"].as_str() {
                            Some(actor) => actor.to_owned(),
                            // anonymous, system
                            None => text(event, "actor_kind"),
                        },
                        text(event, "action"),
                        text(event, "target"),
                        text(event, "via"),
                        text(event, "ip"),
                    ]
                })
                .collect::<Vec<_>>(),
        )
    });
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// List the organization's webhooks and how their deliveries fare (admins).
    #[command(after_help = "Example:\n  robots webhooks list -o json")]
    List,
    /// Send the organization's token events to a URL, signed with a secret shown only now (admins).
    #[command(
        after_help = "Examples:\n  robots webhooks create https://hooks.example.com/robots\n  \
        robots webhooks create https://hooks.example.com/robots --event token.expiring_soon --event token.revoked_as_leaked"
    )]
    Create {
        /// Where to POST the events: an http:// or https:// URL.
        url: String,
        /// An event to send (repeat for several) [default: all]: token.created, token.deleted,
        /// token.rotated, token.expiring_soon, token.revoked_as_leaked.
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

fn webhook_rows(webhooks: &[Value]) -> String {
    table(
        &["id", "url", "events", "created", "failed", "last error"],
        &webhooks
            .iter()
            .map(|webhook| {
                vec![
                    text(webhook, "id"),
                    text(webhook, "url"),
                    webhook["events"]
                        .as_array()
                        .map(|events| events.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                        .unwrap_or_default(),
                    age(webhook, "created_at", "-"),
                    text(webhook, "failed_deliveries"),
                    text(webhook, "last_error"),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

pub async fn webhooks(context: &Context, command: WebhooksCommand) -> Result<(), CliError> {
    let client = &context.client;
    let org = context.org().await?;
    let base = format!("/v1/orgs/{}/webhooks", segment(&org));
    match command {
        WebhooksCommand::List => {
            let webhooks = Value::Array(client.get_all(&base).await?);
            output::print(context.format, &webhooks, |webhooks| {
                let webhooks = webhooks.as_array().map(Vec::as_slice).unwrap_or_default();
                if webhooks.is_empty() {
                    "No webhooks yet. Create one with `robots webhooks create URL`.\n".to_owned()
                } else {
                    webhook_rows(webhooks)
                }
            });
        }
        WebhooksCommand::Create { url, events } => {
            let mut body = json!({"url": url});
            if !events.is_empty() {
                body["events"] = json!(events);
            }
            let created = client.send(Method::POST, &base, Some(&body)).await?;
            eprintln!(
                "Created webhook {} for {org}. Its secret (for checking the signatures of deliveries) is shown \
                 only this once and cannot be recovered: store it now.",
                field(&created, "id")
            );
            output::print(context.format, &created, |created| {
                format!(
                    "ID:     {}\nSecret: {}\n",
                    field(created, "id"),
                    field(created, "secret")
                )
            });
        }
        WebhooksCommand::Delete { id, yes } => {
            let webhooks = client.get_all(&base).await?;
            let Some(found) = webhooks.iter().find(|w| w["id"].as_str() == Some(id.as_str())) else {
                return Err(CliError::Api {
                    status: reqwest::StatusCode::NOT_FOUND,
                    code: "not_found".into(),
                    message: format!("{org} has no webhook {id}"),
                });
            };
            confirm(
                &format!(
                    "Delete webhook {id}? {} gets no more events of {org}, and its pending deliveries are dropped.",
                    field(found, "url")
                ),
                yes,
            )?;
            client
                .send(Method::DELETE, &format!("{base}/{}", segment(&id)), None)
                .await?;
            eprintln!("Deleted webhook {id} ({}).", field(found, "url"));
        }
        WebhooksCommand::Deliveries { id } => {
            let deliveries = Value::Array(client.get_all(&format!("{base}/{}/deliveries", segment(&id))).await?);
            output::print(context.format, &deliveries, |deliveries| {
                let deliveries = deliveries.as_array().map(Vec::as_slice).unwrap_or_default();
                if deliveries.is_empty() {
                    return "No deliveries yet: events are sent as they happen.\n".to_owned();
                }
                table(
                    &["event", "status", "attempts", "created", "last status", "last error"],
                    &deliveries
                        .iter()
                        .map(|delivery| {
                            let status = match delivery["status"].as_str() {
                                Some("retrying") => {
                                    format!("retrying {}", age(delivery, "next_attempt_at", ""))
                                }
                                Some("delivered") => format!("delivered {}", age(delivery, "delivered_at", "")),
                                _ => text(delivery, "status"),
                            };
                            vec![
                                text(delivery, "event"),
                                status.trim_end().to_owned(),
                                text(delivery, "attempts"),
                                age(delivery, "created_at", "-"),
                                text(delivery, "last_status"),
                                text(delivery, "last_error"),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            });
        }
    }
    Ok(())
}
