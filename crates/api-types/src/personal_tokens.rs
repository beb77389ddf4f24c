//! Personal access tokens: `/v1/me/tokens`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use robots_core::SecretToken;

/// `POST /v1/me/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePersonalTokenRequest {
    #[schema(value_type = crate::Name)]
    pub name: String,
    /// What the token may do: `orgs:read`, `orgs:write`, `robots:read`,
    /// `robots:write`, `tokens:write`, `teams:write`, `audit:read`,
    /// `webhooks:write`. Writing implies reading.
    #[schema(min_items = 1, example = json!(["robots:write", "tokens:write"]))]
    pub scopes: Vec<String>,
    /// The organizations it may reach; left out: every one you belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgs: Option<Vec<String>>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// A lifetime from now, instead of `expires_at`: `30d` (the default),
    /// at most `366d`. Personal access tokens always expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "90d")]
    pub expires_in: Option<String>,
}

/// A personal access token, without its secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonalTokenView {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    /// The organizations it may reach; null: every one its owner belongs to.
    pub orgs: Option<Vec<String>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub expired: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub last_used_user_agent: Option<String>,
}

/// A token just made: its secret is in this answer and nowhere else.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedPersonalTokenView {
    /// `rpat_…`: send it as `Authorization: Bearer rpat_…`.
    #[serde(with = "crate::secret")]
    #[schema(value_type = String)]
    pub token: SecretToken,
    #[serde(flatten)]
    pub info: PersonalTokenView,
}
