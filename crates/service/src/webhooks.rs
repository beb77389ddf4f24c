//! An organization's webhooks: where its systems hear about its tokens.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use robots_store::{Delivery, NewWebhook, Webhook};
use serde_json::json;
use uuid::Uuid;

use crate::audit::Change;
use crate::events::EVENTS;
use crate::outbound::Outbound;
use crate::{Authorized, ManageWebhooks, Service, ServiceError, ServiceResult};

/// A webhook just added, with its signing secret: shown this once.
#[derive(Debug)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub secret: String,
}

/// The URL, checked, and the events (every one when `None`).
fn check(url: &str, events: Option<&[String]>, outbound: Outbound) -> ServiceResult<(String, Vec<String>)> {
    let url = url.trim();
    let parsed = url::Url::parse(url).map_err(|_| ServiceError::invalid("url", "is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ServiceError::invalid("url", "must be an http:// or https:// URL"));
    }
    outbound
        .check_url(&parsed)
        .map_err(|why| ServiceError::invalid("url", why))?;
    let events = events.map_or_else(
        || EVENTS.iter().map(|event| (*event).to_owned()).collect(),
        <[String]>::to_vec,
    );
    if events.is_empty() {
        return Err(ServiceError::invalid("events", "must name at least one event"));
    }
    if let Some(unknown) = events.iter().find(|event| !EVENTS.contains(&event.as_str())) {
        return Err(ServiceError::invalid(
            "events",
            format!("{unknown:?} is not an event; known: {}", EVENTS.join(", ")),
        ));
    }
    Ok((url.to_owned(), events))
}

impl Service {
    pub async fn list_webhooks(&self, at: &Authorized<'_, ManageWebhooks>) -> ServiceResult<Vec<Webhook>> {
        Ok(self.store.list_webhooks(at.org().id).await?)
    }

    /// Adds a webhook; answers it with its signing secret (to show once).
    pub async fn create_webhook(
        &self,
        at: &Authorized<'_, ManageWebhooks>,
        url: &str,
        events: Option<&[String]>,
    ) -> ServiceResult<CreatedWebhook> {
        let org = at.org();
        let (url, events) = check(url, events, self.config.outbound)?;
        let secret = URL_SAFE_NO_PAD.encode(robots_core::secret::random_bytes::<32>());
        let new = NewWebhook {
            id: Uuid::now_v7(),
            org_id: org.id,
            url: &url,
            secret: &secret,
            events: &events,
            created_by: at.caller().user.id,
        };
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "webhook.created", format!("webhook {}", new.id))
                .detail(json!({"url": url, "events": events})),
        );
        let webhook = self
            .store
            .create_webhook(&new, self.now(), self.config.max_webhooks_per_org, &record)
            .await?;
        Ok(CreatedWebhook { webhook, secret })
    }

    pub async fn delete_webhook(&self, at: &Authorized<'_, ManageWebhooks>, id: &str) -> ServiceResult<()> {
        let org = at.org();
        let not_found = || ServiceError::NotFound(format!("{} has no webhook {id}", org.name));
        let id = Uuid::try_parse(id).map_err(|_| not_found())?;
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "webhook.deleted", format!("webhook {id}")),
        );
        if !self.store.delete_webhook(org.id, id, &record).await? {
            return Err(not_found());
        }
        Ok(())
    }

    /// The organization's webhooks, each with its latest `per_webhook`
    /// deliveries (newest first): two queries, however many webhooks.
    pub async fn webhooks_with_deliveries(
        &self,
        at: &Authorized<'_, ManageWebhooks>,
        per_webhook: i64,
    ) -> ServiceResult<Vec<(Webhook, Vec<Delivery>)>> {
        let org = at.org();
        let mut deliveries: HashMap<Uuid, Vec<Delivery>> = HashMap::new();
        for (webhook, delivery) in self.store.recent_org_deliveries(org.id, per_webhook).await? {
            deliveries.entry(webhook).or_default().push(delivery);
        }
        let webhooks = self.store.list_webhooks(org.id).await?;
        Ok(webhooks
            .into_iter()
            .map(|webhook| {
                let recent = deliveries.remove(&webhook.id).unwrap_or_default();
                (webhook, recent)
            })
            .collect())
    }

    /// A webhook's latest deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        at: &Authorized<'_, ManageWebhooks>,
        id: &str,
        limit: i64,
    ) -> ServiceResult<Vec<Delivery>> {
        let org = at.org();
        let not_found = || ServiceError::NotFound(format!("{} has no webhook {id}", org.name));
        let id = Uuid::try_parse(id).map_err(|_| not_found())?;
        if !self
            .store
            .list_webhooks(org.id)
            .await?
            .iter()
            .any(|webhook| webhook.id == id)
        {
            return Err(not_found());
        }
        Ok(self.store.list_deliveries(id, limit).await?)
    }
}
