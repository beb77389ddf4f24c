//! The Admin Console's audit log, settings (token policy) and webhooks:
//! admins only, like their API counterparts.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use robots_core::duration::{format_duration, parse_duration};
use robots_core::policy::OrgAction;
use robots_store::TokenPolicy;
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{Chrome, Context, Stamp};
use super::orgs::org_page;
use super::robots::{NoticeQuery, notice, redirect_with_notice};
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, ok, render};
use crate::api::lifecycle::{AuditParamsPublic, audit_page};
use crate::error::ApiError;
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
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageMembers, "audit").await?;
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
    let (events, next) = audit_page(&state, Some(org.id), &params).await?;
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
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageMembers, "settings").await?;
    Ok(ok(&SettingsPage {
        chrome,
        org_name: org.name.to_string(),
        max_lifetime: org.token_policy.max_lifetime.map(format_duration).unwrap_or_default(),
        max_lifetime_error: None,
        expiry_required: org.token_policy.expiry_required,
        notice: notice(query),
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
    let (org, _, chrome) = org_page(&state, &form.user, &org, OrgAction::ManageMembers, "settings").await?;
    let expiry_required = form.data.expiry_required.is_some();
    let typed = form.data.max_lifetime.trim();
    let max_lifetime = if typed.is_empty() {
        None
    } else {
        match parse_duration(typed) {
            Ok(max) if !max.is_zero() => Some(max),
            _ => {
                let page = SettingsPage {
                    chrome,
                    org_name: org.name.to_string(),
                    max_lifetime: typed.to_owned(),
                    max_lifetime_error: Some("Use a duration such as 90d or 12h, or leave it empty.".into()),
                    expiry_required,
                    notice: None,
                };
                return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
            }
        }
    };
    state
        .set_token_policy_as(
            &form.user.session,
            &org,
            TokenPolicy {
                max_lifetime,
                expiry_required,
            },
        )
        .await?;
    Ok(redirect_with_notice(
        &format!("/orgs/{}/admin/settings", org.name),
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
    let (org, _, chrome) = org_page(state, user, org, OrgAction::ManageMembers, "webhooks").await?;
    let now = state.now();
    let mut rows = Vec::new();
    for webhook in state.store().list_webhooks(org.id).await? {
        let deliveries = state.store().list_deliveries(webhook.id, 10).await?;
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
        events: &crate::webhooks::EVENTS,
    })
}

async fn webhooks(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(org): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    Ok(ok(&webhooks_page(&state, &user, &org, notice(query)).await?))
}

/// The add-webhook form: `url`, and `events` once per checked event.
async fn create_webhook(
    State(state): State<AppState>,
    Path(org): Path<String>,
    form: ConsoleForm<Vec<(String, String)>>,
) -> ConsoleResult {
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageMembers, "webhooks").await?;
    let url = form
        .data
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let events: Vec<String> = form
        .data
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let (url, events) = match crate::api::lifecycle::validate_webhook(&url, Some(events)) {
        Ok(valid) => valid,
        Err(error) => {
            let mut page = webhooks_page(&state, &form.user, &org, None).await?;
            page.url = url;
            page.url_error = Some(error.message().to_owned());
            return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let (_, secret) = state
        .create_webhook_as(&form.user.session, &found, &url, &events)
        .await?;
    // The secret is shown in this response only (no-store), never again.
    let mut page = webhooks_page(&state, &form.user, &org, Some(format!("Webhook to {url} added."))).await?;
    page.secret = Some(secret);
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
    let (found, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageMembers, "webhooks").await?;
    let id = Uuid::try_parse(&form.data.id).map_err(|_| ApiError::not_found("no such webhook"))?;
    if !state.delete_webhook_as(&form.user.session, &found, id).await? {
        return Err(ApiError::not_found("no such webhook").into());
    }
    Ok(Redirect::to(&format!("/orgs/{}/admin/webhooks?notice=Webhook+deleted.", found.name)).into_response())
}
