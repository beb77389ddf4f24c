//! Robot tokens: the one answer that carries a secret, and everything else.

use robots_core::{Name, SecretToken};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Where a token stands in a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenRole {
    /// Not part of a rotation.
    Current,
    /// Took a rotated token's name.
    Successor,
    /// Replaced; works until its `expires_at`.
    RotatingOut,
}

/// A token in lists: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    pub access_id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Expired tokens stay listed (so it is clear what stopped), but never authenticate.
    pub expired: bool,
    /// Expires within 7 days.
    pub expiring_soon: bool,
    pub role: TokenRole,
    /// For `rotating_out`: the Access ID that replaces it.
    pub replaced_by: Option<Uuid>,
    /// For `successor`: the Access ID it replaces.
    pub rotated_from: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub last_used_user_agent: Option<String>,
    /// Minted by an OIDC token exchange: the federated credential that allowed it.
    pub federated_credential: Option<String>,
    /// Disabled (by an admin, or unused for the organization's
    /// `disable_unused_after`): refused until enabled again.
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
}

/// A token of the organization with its robot (`GET /v1/orgs/{org}/tokens`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExpiringTokenView {
    pub robot: String,
    #[serde(flatten)]
    pub token: TokenView,
}

/// The one answer that carries a token's secret.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedTokenView {
    pub access_id: Uuid,
    pub name: String,
    #[serde(with = "crate::secret")]
    #[schema(value_type = String)]
    pub token: SecretToken,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The token in the `format` asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialView>,
}

/// A token as a tool reads it: shown this once, like the Token.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CredentialView {
    #[schema(example = "k8s-secret")]
    pub format: String,
    /// A name to save it under, e.g. `deployer.yaml`.
    pub file_name: String,
    /// The document (it contains the Token).
    pub content: String,
}

impl std::fmt::Debug for CredentialView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CredentialView({}, <redacted>)", self.format)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    #[schema(value_type = Name)]
    pub name: String,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// A lifetime from now, instead of `expires_at`: `30d`, `12h`; or
    /// `never` (the default, where the organization's policy allows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(never|([0-9]+[smhdw])+)$", example = "30d")]
    pub expires_in: Option<String>,
    /// Also hand the token over as `dockerconfigjson`, `k8s-secret`
    /// (a Kubernetes Secret manifest), `auth-json` (Podman) or `env`: in
    /// `credential`, this once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "k8s-secret")]
    pub format: Option<String>,
    /// The registry host the credential is for [default: the server's `--registry-host`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "registry.example.com")]
    pub registry: Option<String>,
    /// `k8s-secret`: the Secret's name [default: the robot's name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// `k8s-secret`: the Secret's namespace [default: none, kubectl's current one].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old token keeps working: `24h` (the default), `0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^([0-9]+[smhdw])+$", example = "24h")]
    pub grace_period: Option<String>,
    /// When the successor stops working. Without it (or `expires_in`), it
    /// lives as long as the old token was meant to, from now, within the
    /// organization's policy.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// The successor's lifetime from now (`30d`), or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(never|([0-9]+[smhdw])+)$", example = "30d")]
    pub expires_in: Option<String>,
    /// Also hand the token over as `dockerconfigjson`, `k8s-secret`
    /// (a Kubernetes Secret manifest), `auth-json` (Podman) or `env`: in
    /// `credential`, this once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "k8s-secret")]
    pub format: Option<String>,
    /// The registry host the credential is for [default: the server's `--registry-host`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "registry.example.com")]
    pub registry: Option<String>,
    /// `k8s-secret`: the Secret's name [default: the robot's name].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// `k8s-secret`: the Secret's namespace [default: none, kubectl's current one].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A rotation's answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RotatedView {
    /// The new token, shown this once.
    pub successor: CreatedTokenView,
    /// The old token, which keeps working until its `expires_at`.
    pub rotating_out: TokenView,
}
