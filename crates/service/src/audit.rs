//! The audit trail: who did what to what, when, from where and through
//! which door; and every failed authentication.
//!
//! Changes to an organization are recorded by the operation that makes
//! them, in the change's own transaction: [`Service::record`] makes the
//! event, the store writes it with the change or not at all. Failed authentications are
//! buffered and written in batches, so a flood of bad guesses costs memory
//! (bounded) rather than a database write each. Nothing secret is ever put
//! in an event: callers pass names, Access IDs and reasons.

use std::net::IpAddr;
use std::sync::Mutex;

use robots_store::{AuditEvent, AuditQuery, Page, Store};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Authorized, InstanceAdmin, ReadAudit, Service, ServiceResult, UserSession};

/// Where a request came from, for the audit log and last-use records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address (behind trusted proxies, as they forwarded it).
    pub ip: Option<IpAddr>,
    /// At most [`MAX_USER_AGENT_CHARS`] characters of its `User-Agent`.
    pub user_agent: Option<String>,
    /// The request's `X-Request-Id` (the server assigns one to every request).
    pub request_id: Option<String>,
}

/// How much of a user agent is kept.
pub const MAX_USER_AGENT_CHARS: usize = 256;

impl ClientInfo {
    /// A client with the user agent it sent, cut to what is kept.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
            request_id: None,
        }
    }

    /// The same client, for the request with this id.
    pub fn with_request_id(mut self, request_id: Option<&str>) -> Self {
        self.request_id = request_id.map(str::to_owned);
        self
    }
}

/// Which door a request came through, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Api,
    Console,
    Cli,
    System,
}

impl Via {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Console => "console",
            Self::Cli => "cli",
            Self::System => "system",
        }
    }

    /// API requests from our command line say so in their User-Agent.
    pub fn of_api_request(client: &ClientInfo) -> Self {
        match &client.user_agent {
            Some(agent) if agent.starts_with("robots-cli/") => Self::Cli,
            _ => Self::Api,
        }
    }
}

/// Who did something.
#[derive(Debug, Clone)]
pub enum Actor<'a> {
    User(&'a UserSession),
    /// A robot, as `org/robot` with its Access ID.
    Robot {
        name: String,
        client: &'a ClientInfo,
    },
    /// Someone unauthenticated (a failed login, a leaked-token report).
    Anonymous(&'a ClientInfo),
    /// A CI job, by its ID token's subject (a token exchange).
    Federated {
        subject: String,
        client: &'a ClientInfo,
    },
    System,
}

/// What happened to what.
#[derive(Debug, Clone)]
pub struct Change {
    pub org: Option<Uuid>,
    pub action: &'static str,
    pub target: Option<String>,
    pub detail: Value,
}

impl Change {
    pub fn new(org: Option<Uuid>, action: &'static str, target: impl Into<String>) -> Self {
        Self {
            org,
            action,
            target: Some(target.into()),
            detail: Value::Object(Default::default()),
        }
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// The stored form of a change.
pub fn event(actor: &Actor<'_>, change: Change, at: OffsetDateTime) -> AuditEvent {
    let mut detail = change.detail;
    // A change made with a personal access token names it, like a robot's
    // names its token.
    if let (Actor::User(session), Value::Object(detail)) = (actor, &mut detail)
        && let Some(token) = &session.personal_token
    {
        detail.insert("personal_token".to_owned(), Value::String(token.name.to_string()));
    }
    let (kind, name, client, via) = match actor {
        Actor::User(session) => (
            "user",
            Some(session.user.name.to_string()),
            Some(&session.client),
            session.via,
        ),
        Actor::Robot { name, client } => ("robot", Some(name.clone()), Some(*client), Via::Api),
        Actor::Anonymous(client) => ("anonymous", None, Some(*client), Via::of_api_request(client)),
        Actor::Federated { subject, client } => ("federated", Some(subject.clone()), Some(*client), Via::Api),
        Actor::System => ("system", None, None, Via::System),
    };
    AuditEvent {
        id: Uuid::now_v7(),
        org_id: change.org,
        at,
        actor_kind: kind.to_owned(),
        actor: name,
        action: change.action.to_owned(),
        target: change.target,
        detail: detail.to_string(),
        ip: client.and_then(|c| c.ip).map(|address| address.to_string()),
        user_agent: client.and_then(|c| c.user_agent.clone()),
        via: via.as_str().to_owned(),
        request_id: client.and_then(|c| c.request_id.clone()),
    }
}

/// Failed authentications waiting to be written.
#[derive(Debug, Default)]
pub struct AuditBuffer {
    pending: Mutex<Vec<AuditEvent>>,
    /// Held while a batch is written, so that a flush returns only once
    /// everything buffered before it is in the store, also when the
    /// periodic flush had just taken it.
    flushing: tokio::sync::Mutex<()>,
}

/// More than this many unwritten events are dropped (and counted in the
/// log): a flood must not exhaust memory.
const MAX_BUFFERED: usize = 10_000;

impl AuditBuffer {
    fn push(&self, event: AuditEvent) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if pending.len() < MAX_BUFFERED {
            pending.push(event);
        } else {
            tracing::warn!("audit buffer full: a failed authentication was not recorded");
        }
    }

    /// Writes the buffered events. Returns once every event pushed before
    /// the call is stored, or put back after a failure to write.
    pub async fn flush(&self, store: &Store) {
        let _flushing = self.flushing.lock().await;
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        if batch.is_empty() {
            return;
        }
        if let Err(error) = store.record_audit(&batch).await {
            tracing::error!(%error, events = batch.len(), "could not write audit events; will retry");
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let room = MAX_BUFFERED.saturating_sub(pending.len());
            pending.extend(batch.into_iter().take(room));
        }
    }
}

impl Service {
    /// The audit event of a change about to be made, for the store to write
    /// in the change's own transaction.
    pub(crate) fn record(&self, actor: Actor<'_>, change: Change) -> AuditEvent {
        event(&actor, change, self.now())
    }

    /// Records a change that has happened, after the fact (logins and
    /// instance-wide changes, which the store does not write with a record).
    /// A failure to record is logged, not returned: the change itself stands.
    pub async fn audit(&self, actor: Actor<'_>, change: Change) {
        let event = event(&actor, change, self.now());
        if let Err(error) = self.store.record_audit(std::slice::from_ref(&event)).await {
            tracing::error!(%error, action = %event.action, "could not write an audit event");
        }
    }

    /// Records an event in the next batch (failed authentications).
    pub fn audit_later(&self, actor: Actor<'_>, change: Change) {
        self.buffered.push(event(&actor, change, self.now()));
    }

    /// Writes the batched events now (the background task does this every
    /// second, and shutdown once more).
    pub async fn flush_audit(&self) {
        self.buffered.flush(&self.store).await;
    }

    /// An organization's audit log, newest first: for its admins.
    pub async fn audit_log(
        &self,
        at: &Authorized<'_, ReadAudit>,
        query: &AuditQuery,
        limit: u32,
    ) -> ServiceResult<Page<AuditEvent>> {
        Ok(self.store.list_audit(Some(at.org().id), query, limit).await?)
    }

    /// The instance's own log (what belongs to no organization, such as
    /// logins and deleted organizations): for instance administrators.
    pub async fn instance_audit_log(
        &self,
        _admin: &InstanceAdmin<'_>,
        query: &AuditQuery,
        limit: u32,
    ) -> ServiceResult<Page<AuditEvent>> {
        Ok(self.store.list_audit(None, query, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use robots_store::AuditQuery;

    use super::*;

    /// The periodic flush may have just taken the batch when shutdown (or a
    /// test) flushes: that flush must wait for the batch to be stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flush_returns_after_the_one_in_flight() {
        let test_store = robots_store::testing::fresh_sqlite().await;
        let store = test_store.store.clone();
        let buffer = Arc::new(AuditBuffer::default());
        const EVENTS: usize = 2_000;
        for i in 0..EVENTS {
            let change = Change::new(None, "auth.failed", format!("token {i}"));
            buffer.push(event(&Actor::System, change, OffsetDateTime::now_utc()));
        }
        let in_flight = tokio::spawn({
            let (buffer, store) = (buffer.clone(), store.clone());
            async move { buffer.flush(&store).await }
        });
        while !buffer.pending.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        buffer.flush(&store).await;
        let query = AuditQuery {
            action: Some("auth.failed".into()),
            ..AuditQuery::default()
        };
        let stored = store.list_audit(None, &query, 5_000).await.unwrap().items.len();
        assert_eq!(stored, EVENTS);
        in_flight.await.unwrap();
    }
}
