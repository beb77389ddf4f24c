//! The Admin Console's audit log: admins only, like its API counterpart.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use robots_service::ReadAudit;
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{Chrome, Context, PAGE_SIZE, Stamp, org_page};
use super::{ConsoleResult, ConsoleUser, ok};
use crate::state::AppState;

struct EventRow {
    at: Stamp,
    actor: String,
    action: String,
    target: String,
    detail: String,
    via: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    org_name: String,
    action: String,
    actor: String,
    events: Vec<EventRow>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuditFilter {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    cursor: Option<String>,
}

fn query_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn audit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<AuditFilter>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ReadAudit>(&state, &user, &org, "audit").await?;
    let org = at.org();
    let before = query
        .cursor
        .as_deref()
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .and_then(|bytes| Uuid::from_slice(&bytes).ok());
    let filter = robots_store::AuditQuery {
        action: Some(query.action.trim().to_owned()).filter(|a| !a.is_empty()),
        actor: Some(query.actor.trim().to_owned()).filter(|a| !a.is_empty()),
        before,
        ..robots_store::AuditQuery::default()
    };
    let page = state.service().audit_log(&at, &filter, PAGE_SIZE).await?;
    let next = page
        .has_more
        .then(|| {
            page.items
                .last()
                .map(|event| URL_SAFE_NO_PAD.encode(event.id.as_bytes()))
        })
        .flatten();
    let events = page.items;
    let now = state.now();
    Ok(ok(&AuditPage {
        chrome,
        org_name: org.name.to_string(),
        next: next.map(|cursor| {
            format!(
                "/orgs/{}/admin/audit?action={}&actor={}&cursor={cursor}",
                org.name,
                query_encode(&query.action),
                query_encode(&query.actor)
            )
        }),
        action: query.action,
        actor: query.actor,
        events: events
            .into_iter()
            .map(|event| EventRow {
                at: Stamp::new(event.at, now),
                actor: event.actor.unwrap_or_else(|| event.actor_kind.clone()),
                action: event.action,
                target: event.target.unwrap_or_default(),
                detail: readable(&event.detail),
                via: event.via,
                ip: event.ip.unwrap_or_default(),
            })
            .collect(),
    }))
}

/// `{"reason": "expired", "robot": "acme/ci"}` as `reason: expired · robot: acme/ci`.
fn readable(detail: &str) -> String {
    let detail: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
    match detail.as_object() {
        Some(fields) => fields
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => format!("{key}: {text}"),
                other => format!("{key}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        None => detail.to_string(),
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/orgs/{org}/admin/audit", get(audit))
}
