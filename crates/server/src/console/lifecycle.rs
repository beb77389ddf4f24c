//! The Admin Console's audit log, settings (token policy) and webhooks:
//! admins only, like their API counterparts.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use robots_core::duration::format_duration;
use robots_service::{ManageMembers, OrgUpdate, PolicyInput};
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{Chrome, Context, PageQuery, Stamp};
use super::orgs::org_page;
use super::robots::redirect_with_notice;
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
use crate::api::lifecycle::{AuditLog, AuditParamsPublic, audit_page};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/admin/audit", get(audit))
        .route("/orgs/{org}/admin/settings", get(settings).post(save_settings))
        .route("/orgs/{org}/admin/webhooks", get(webhooks).post(create_webhook))
        .route("/orgs/{org}/admin/webhooks/-/delete", post(delete_webhook))
}

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
struct AuditQuery {
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
    Query(query): Query<AuditQuery>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageMembers>(&state, &user, &org, "audit").await?;
    let org = at.org();
    let before = query
        .cursor
        .as_deref()
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .and_then(|bytes| Uuid::from_slice(&bytes).ok());
    let params = AuditParamsPublic {
        action: Some(query.action.trim().to_owned()).filter(|a| !a.is_empty()),
        actor: Some(query.actor.trim().to_owned()).filter(|a| !a.is_empty()),
        before,
        limit: 50,
        ..AuditParamsPublic::default()
    };
    let (events, next) = audit_page(&state, AuditLog::Org(&at), &params).await?;
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
fn readable(detail: &serde_json::Value) -> String {
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

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    org_name: String,
    max_lifetime: String,
    max_lifetime_error: Option<String>,
    expiry_required: bool,
    notice: Option<String>,
}

async fn settings(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageMembers>(&state, &user, &org, "settings").await?;
    let org = at.org();
    Ok(ok(&SettingsPage {
        chrome,
        org_name: org.name.to_string(),
        max_lifetime: org.token_policy.max_lifetime.map(format_duration).unwrap_or_default(),
        max_lifetime_error: None,
        expiry_required: org.token_policy.expiry_required,
        notice: query.notice(),
    }))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    max_lifetime: String,
    #[serde(default)]
    expiry_required: Option<String>,
}

async fn save_settings(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<SettingsForm>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageMembers>(&state, &form.user, &org, "settings").await?;
    let expiry_required = form.data.expiry_required.is_some();
    let update = OrgUpdate {
        display_name: None,
        token_policy: Some(PolicyInput {
            max_lifetime: Some(&form.data.max_lifetime),
            expiry_required,
        }),
    };
    if let Err(error) = state.service().update_org(&at, update).await {
        let refused = field_error(error)?;
        let page = SettingsPage {
            chrome,
            org_name: at.org().name.to_string(),
            max_lifetime: form.data.max_lifetime.trim().to_owned(),
            max_lifetime_error: Some(format!("{} Leave it empty for no maximum.", refused.message)),
            expiry_required,
            notice: None,
        };
        return Ok(refused.render(&page));
    }
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/settings", at.org().name),
        "Token policy saved.",
    ))
}

struct DeliveryRow {
    event: String,
    created: String,
    status: &'static str,
    attempts: i32,
    last: String,
}

struct WebhookRow {
    id: Uuid,
    url: String,
    events: String,
    failed: i64,
    last_error: Option<String>,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    org_name: String,
    webhooks: Vec<WebhookRow>,
    notice: Option<String>,
    secret: Option<String>,
    url: String,
    url_error: Option<String>,
    events: &'static [&'static str],
}

async fn webhooks_page(
    state: &AppState,
    user: &ConsoleUser,
    org: &str,
    notice: Option<String>,
) -> Result<WebhooksPage, ConsoleError> {
    let (at, chrome) = org_page::<ManageMembers>(state, user, org, "webhooks").await?;
    let org = at.org();
    let now = state.now();
    let mut rows = Vec::new();
    for webhook in state.service().list_webhooks(&at).await? {
        let deliveries = state
            .service()
            .webhook_deliveries(&at, &webhook.id.to_string(), 10)
            .await?;
        rows.push(WebhookRow {
            id: webhook.id,
            url: webhook.url,
            events: webhook.events.join(", "),
            failed: webhook.failed_deliveries,
            last_error: webhook.last_error,
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryRow {
                    event: d.event,
                    created: robots_core::humanize::relative(d.created_at, now),
                    status: match (d.delivered_at, d.next_attempt_at) {
                        (Some(_), _) => "delivered",
                        (None, Some(_)) => "retrying",
                        (None, None) => "failed",
                    },
                    attempts: d.attempts,
                    last: match (d.last_status, d.last_error) {
                        (_, Some(error)) => error,
                        (Some(status), None) => format!("HTTP {status}"),
                        (None, None) => "not sent yet".to_owned(),
                    },
                })
                .collect(),
        });
    }
    Ok(WebhooksPage {
        chrome,
        org_name: org.name.to_string(),
        webhooks: rows,
        notice,
        secret: None,
        url: String::new(),
        url_error: None,
        events: &robots_service::events::EVENTS,
    })
}

async fn webhooks(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    Ok(ok(&webhooks_page(&state, &user, &org, query.notice()).await?))
}

/// The add-webhook form: `url`, and `events` once per checked event.
async fn create_webhook(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<Vec<(String, String)>>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageMembers>(&form.user.session, &org)
        .await?;
    let url = form
        .data
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let events: Vec<String> = form
        .data
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let created = match state.service().create_webhook(&at, url, Some(&events)).await {
        Ok(created) => created,
        Err(error) => {
            let refused = field_error(error)?;
            let mut page = webhooks_page(&state, &form.user, &org, None).await?;
            page.url = url.to_owned();
            page.url_error = Some(refused.message.clone());
            return Ok(refused.render(&page));
        }
    };
    // The secret is shown in this response only (no-store), never again.
    let notice = format!("Webhook to {} added.", created.webhook.url);
    let mut page = webhooks_page(&state, &form.user, &org, Some(notice)).await?;
    page.secret = Some(created.secret);
    let mut response = ok(&page);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
struct DeleteWebhookForm {
    id: String,
}

async fn delete_webhook(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<DeleteWebhookForm>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageMembers>(&form.user.session, &org)
        .await?;
    state.service().delete_webhook(&at, &form.data.id).await?;
    Ok(Redirect::to(&format!(
        "/orgs/{}/admin/webhooks?notice=Webhook+deleted.",
        at.org().name
    ))
    .into_response())
}
