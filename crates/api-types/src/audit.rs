//! The audit log, and reports of leaked tokens.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `user`, `robot`, `anonymous`, `federated` or `system`.
    pub actor_kind: String,
    pub actor: Option<String>,
    /// `token.created`, `robot.deleted`, `auth.failed`, …
    pub action: String,
    pub target: Option<String>,
    pub detail: Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `api`, `console`, `cli` or `system`.
    pub via: String,
    /// The `X-Request-Id` of the request that caused it: its log lines carry the same id.
    pub request_id: Option<String>,
}

/// A token someone found: revoked at once if it is valid.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeakReport {
    pub token: String,
}

impl std::fmt::Debug for LeakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeakReport { .. }")
    }
}

/// The answer to a leak report: the same whatever the token was.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Received {
    /// Always `received`.
    pub status: String,
}
