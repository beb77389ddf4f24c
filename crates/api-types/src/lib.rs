//! The REST API's vocabulary: every request body the server reads and every
//! answer it sends, with the enums they use (roles, permissions, token
//! roles, events, error codes). The server serializes answers and reads
//! requests with these types; the command line does the reverse with the
//! same ones, so the two cannot disagree about a field. Each type carries
//! its OpenAPI schema; the document is generated from the server's routes.
//!
//! Nothing here knows about storage or HTTP: the server builds answers from
//! its records (`robots-server`'s `api::views`).

mod audit;
mod error;
mod federation;
mod keys;
mod orgs;
mod personal_tokens;
mod robots;
mod teams;
mod tokens;
mod users;

pub use audit::{AuditView, LeakReport, Received};
pub use error::{ErrorBody, ErrorCode, ErrorDetail, OAuthError};
pub use federation::{CreateCredentialRequest, ExchangeAnswer, FederatedCredentialView, UpdateCredentialRequest};
pub use keys::{KeyRotateRequest, KeyView, RotatedKeyView};
pub use orgs::{
    CreateOrgRequest, CreateWebhookRequest, DeliveryStatus, DeliveryView, EventKind, InstancePolicyRequest,
    InstancePolicyView, MemberView, OrgView, PolicyRequest, SetMemberRequest, TokenPolicyView, UpdateOrgRequest,
    WebhookView,
};
pub use personal_tokens::{CreatePersonalTokenRequest, CreatedPersonalTokenView, PersonalTokenView};
pub use robots::{CreateRobotRequest, EffectiveView, PermissionsView, RobotView, UpdateRobotRequest, ViaView};
pub use robots_core::access::{Permission, RepoAction, RepoPath};
pub use robots_core::{Name, Role};
pub use teams::{
    AccessView, CreateRepositoryRequest, CreateTeamRequest, GrantRequest, GrantView, MemberKind, RepositoryView,
    TeamMemberView, TeamView, UpdateTeamRequest,
};
pub use tokens::{
    CreateTokenRequest, CreatedTokenView, CredentialView, ExpiringTokenView, RotateRequest, RotatedView, TokenRole,
    TokenView,
};
pub use users::{
    ChangePasswordRequest, CreateUserRequest, LoginRequest, SessionView, SetupRequest, UserView, WhoAmI, WhoAmIToken,
};

use serde::{Deserialize, Serialize};

/// A page of a list: `{"items": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The plaintext of a secret in the one answer that hands it to its owner:
/// written as text, read back into a [`robots_core::SecretToken`] (whose
/// `Debug` never shows it).
pub mod secret {
    use robots_core::SecretToken;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &SecretToken, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(secret.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretToken, D::Error> {
        let text = String::deserialize(deserializer)?;
        SecretToken::parse(&text).map_err(serde::de::Error::custom)
    }
}
