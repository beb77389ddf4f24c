//! The audit log from the command line: who changed what, when, from
//! where; a page at a time, or every matching event as JSON lines.

use clap::Args;
use robots_api_types::{AuditView, List};

use super::Context;
use super::client::{CliError, query, segment};
use super::output::{self, age, optional, table, text};

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
    let mut events: Vec<AuditView> = Vec::new();
    let mut cursor: Option<String> = None;
    let more = loop {
        let mut pairs = filters.to_vec();
        pairs.push(("limit", Some((wanted - events.len()).min(MAX_PAGE).to_string())));
        pairs.push(("cursor", cursor.take()));
        let page: List<AuditView> = context.client.get(&format!("{base}{}", query(&pairs))).await?;
        events.extend(page.items);
        match page.next_cursor {
            Some(next) if events.len() < wanted => cursor = Some(next),
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
    output::print(context.format, &events, |events| {
        if events.is_empty() {
            return "No audit events match.\n".to_owned();
        }
        table(
            &["time", "actor", "action", "target", "via", "ip"],
            &events
                .iter()
                .map(|event| {
                    vec![
                        age(event.at),
                        match &event.actor {
                            Some(actor) => actor.clone(),
                            // anonymous, system
                            None => text(&event.actor_kind),
                        },
                        text(&event.action),
                        optional(event.target.as_deref()),
                        text(&event.via),
                        optional(event.ip.as_deref()),
                    ]
                })
                .collect::<Vec<_>>(),
        )
    });
    Ok(())
}
