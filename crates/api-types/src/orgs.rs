//! Organizations, their members, settings and webhooks.

use robots_core::{Name, Role};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrgView {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The caller's role in it.
    pub role: Role,
    pub token_policy: TokenPolicyView,
}

/// An organization's rules for tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenPolicyView {
    /// The longest a token may live (`90d`), or null: robot tokens, and
    /// members' personal access tokens used here.
    pub max_lifetime: Option<String>,
    pub expiry_required: bool,
    /// Whether members may act here with personal access tokens.
    pub personal_tokens_allowed: bool,
    /// Robot tokens unused (or never used) this long are disabled (`90d`), or null.
    pub disable_unused_after: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    #[schema(value_type = Name)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 100,
        pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
    )]
    pub display_name: Option<String>,
}

/// `PATCH /v1/orgs/{org}`: what is absent stays as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        max_length = 100,
        pattern = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
    )]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_policy: Option<PolicyRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// `90d`, or null for no maximum.
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "90d")]
    pub max_lifetime: Option<String>,
    #[serde(default)]
    pub expiry_required: bool,
    /// Whether members may act here with personal access tokens.
    #[serde(default = "allowed")]
    pub personal_tokens_allowed: bool,
    /// Disable robot tokens unused (or never used) this long (`90d`), or null for never.
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "90d")]
    pub disable_unused_after: Option<String>,
}

fn allowed() -> bool {
    true
}

impl Default for PolicyRequest {
    fn default() -> Self {
        Self {
            max_lifetime: None,
            expiry_required: false,
            personal_tokens_allowed: true,
            disable_unused_after: None,
        }
    }
}

/// A member of an organization.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberView {
    pub username: String,
    pub email: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

/// `PUT /v1/orgs/{org}/members/{username}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMemberRequest {
    pub role: Role,
}

/// What a webhook can hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    #[serde(rename = "token.created")]
    TokenCreated,
    #[serde(rename = "token.deleted")]
    TokenDeleted,
    #[serde(rename = "token.rotated")]
    TokenRotated,
    /// 30, 7 and 1 days before a token expires (`data.within_days`).
    #[serde(rename = "token.expiring")]
    TokenExpiring,
    /// The 7-day `token.expiring`, under its earlier name.
    #[serde(rename = "token.expiring_soon")]
    TokenExpiringSoon,
    #[serde(rename = "token.revoked_as_leaked")]
    TokenRevokedAsLeaked,
    #[serde(rename = "token.disabled")]
    TokenDisabled,
    #[serde(rename = "token.enabled")]
    TokenEnabled,
}

impl EventKind {
    pub const ALL: [Self; 8] = [
        Self::TokenCreated,
        Self::TokenDeleted,
        Self::TokenRotated,
        Self::TokenExpiring,
        Self::TokenExpiringSoon,
        Self::TokenRevokedAsLeaked,
        Self::TokenDisabled,
        Self::TokenEnabled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TokenCreated => "token.created",
            Self::TokenDeleted => "token.deleted",
            Self::TokenRotated => "token.rotated",
            Self::TokenExpiring => "token.expiring",
            Self::TokenExpiringSoon => "token.expiring_soon",
            Self::TokenRevokedAsLeaked => "token.revoked_as_leaked",
            Self::TokenDisabled => "token.disabled",
            Self::TokenEnabled => "token.enabled",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Deliveries given up on after every retry.
    pub failed_deliveries: i64,
    pub last_error: Option<String>,
    /// Only in the answer to its creation: the signing secret, shown once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed.
    #[schema(pattern = "^https?://[^/?#\\s]+", example = "https://ci.example.com/hooks/robots")]
    pub url: String,
    /// Default: every event (see `EventKind`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub events: Option<Vec<String>>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Delivered,
    Retrying,
    /// Given up on after every retry.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub event: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub attempts: i32,
    pub status: DeliveryStatus,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// The instance's floor under every organization's token policy
/// (`/v1/instance/policy`): an organization's may only be stricter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstancePolicyView {
    /// The longest any robot token may live (`90d`), or null.
    pub max_lifetime: Option<String>,
    /// Whether every robot token must expire.
    pub expiry_required: bool,
    /// The longest a personal access token may live, or null (then 366d).
    pub personal_token_max_lifetime: Option<String>,
}

/// `PUT /v1/instance/policy`: the whole policy at once.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstancePolicyRequest {
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "365d")]
    pub max_lifetime: Option<String>,
    #[serde(default)]
    pub expiry_required: bool,
    #[serde(default)]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "90d")]
    pub personal_token_max_lifetime: Option<String>,
}
