//! The Admin Console's Webhooks and their recent deliveries.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use robots_service::ManageWebhooks;
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{Chrome, Context, PageQuery, org_page};
use super::{ConsoleError, ConsoleForm, ConsoleResult, ConsoleUser, field_error, ok};
use crate::state::AppState;

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
    let (at, chrome) = org_page::<ManageWebhooks>(state, user, org, "webhooks").await?;
    let org = at.org();
    let now = state.now();
    let mut rows = Vec::new();
    for (webhook, deliveries) in state.service().webhooks_with_deliveries(&at, 10).await? {
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
        .authorize::<ManageWebhooks>(&form.user.session, &org)
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
        .authorize::<ManageWebhooks>(&form.user.session, &org)
        .await?;
    state.service().delete_webhook(&at, &form.data.id).await?;
    Ok(Redirect::to(&format!(
        "/orgs/{}/admin/webhooks?notice=Webhook+deleted.",
        at.org().name
    ))
    .into_response())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/admin/webhooks", get(webhooks).post(create_webhook))
        .route("/orgs/{org}/admin/webhooks/-/delete", post(delete_webhook))
}
