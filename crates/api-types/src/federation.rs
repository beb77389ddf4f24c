//! Keyless robots: federated credentials, and the exchange's answer.

use std::collections::BTreeMap;

use robots_core::Name;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FederatedCredentialView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// The issuer's URL, exactly as its tokens' `iss` says it.
    pub issuer: String,
    /// The `aud` the ID token must carry.
    pub audience: String,
    /// Pattern on `sub`: `*` stands for any run of characters.
    pub subject: String,
    /// Claim name → pattern on its value, e.g. `{"ref": "refs/heads/main"}`.
    pub claims: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredentialRequest {
    #[schema(value_type = Name)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 512)]
    pub description: Option<String>,
    #[schema(example = "https://token.actions.githubusercontent.com")]
    pub issuer: String,
    #[schema(example = "https://robots.example.com")]
    pub audience: String,
    #[schema(example = "repo:acme/app:ref:refs/heads/main")]
    pub subject: String,
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

/// `PATCH`: what is absent stays as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredentialRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Name>)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 512)]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Replaces every condition on other claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<BTreeMap<String, String>>,
}

/// RFC 8693 §2.2.1, plus the Access ID so the token also works as a Basic
/// password (`docker login -u ACCESS_ID`).
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExchangeAnswer {
    /// A robot Token (`rbt_…`).
    pub access_token: String,
    pub issued_token_type: String,
    pub token_type: String,
    pub expires_in: u64,
    /// The token's Access ID: the username wherever Basic authentication is used.
    pub access_id: Uuid,
    /// `org/robot`.
    pub robot: String,
}

impl std::fmt::Debug for ExchangeAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeAnswer")
            .field("access_id", &self.access_id)
            .field("robot", &self.robot)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}
