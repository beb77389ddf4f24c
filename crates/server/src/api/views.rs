//! What the API sends: JSON views of the store's records. Field names are
//! the contract; times are RFC 3339.

use robots_core::{Role, SecretToken};
use robots_store::{Member, Org, Robot, TokenInfo, TokenOwner, User};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::extract::encode_cursor;

/// A page of a list: `{"items": [...], "next_cursor": "…" | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// Builds a page; `key` gives the pagination key of an item.
    pub fn from_page<R>(page: robots_store::Page<R>, key: impl Fn(&R) -> String, view: impl Fn(R) -> T) -> Self {
        let next_cursor = if page.has_more {
            page.items.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Self {
            items: page.items.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub instance_admin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            username: user.name.into(),
            email: user.email,
            instance_admin: user.instance_admin,
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    #[serde(serialize_with = "expose_secret")]
    #[schema(value_type = String)]
    pub token: SecretToken,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub user: UserView,
}

impl From<robots_service::NewSession> for SessionView {
    fn from(session: robots_service::NewSession) -> Self {
        Self {
            token: session.token,
            expires_at: session.expires_at,
            user: session.user.into(),
        }
    }
}

/// `GET /v1/whoami`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WhoAmI {
    User {
        #[serde(flatten)]
        user: UserView,
        #[serde(with = "time::serde::rfc3339")]
        session_expires_at: OffsetDateTime,
    },
    Robot {
        id: Uuid,
        name: String,
        org: String,
        access_id: Uuid,
        token_name: String,
        #[serde(with = "time::serde::rfc3339::option")]
        token_expires_at: Option<OffsetDateTime>,
    },
}

impl From<&TokenOwner> for WhoAmI {
    fn from(owner: &TokenOwner) -> Self {
        Self::Robot {
            id: owner.robot_id,
            name: owner.robot_name.to_string(),
            org: owner.org_name.to_string(),
            access_id: owner.access_id,
            token_name: owner.token_name.to_string(),
            token_expires_at: owner.expires_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPolicyView {
    /// The longest a token may live (`90d`), or null.
    pub max_lifetime: Option<String>,
    pub expiry_required: bool,
}

impl From<robots_store::TokenPolicy> for TokenPolicyView {
    fn from(policy: robots_store::TokenPolicy) -> Self {
        Self {
            max_lifetime: policy.max_lifetime.map(robots_core::duration::format_duration),
            expiry_required: policy.expiry_required,
        }
    }
}

impl OrgView {
    pub fn new(org: Org, role: Role) -> Self {
        Self {
            id: org.id,
            name: org.name.into(),
            display_name: org.display_name,
            created_at: org.created_at,
            role,
            token_policy: org.token_policy.into(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub username: String,
    pub email: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

impl From<Member> for MemberView {
    fn from(member: Member) -> Self {
        Self {
            username: member.username.into(),
            email: member.email,
            role: member.role,
            joined_at: member.joined_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RobotView {
    pub id: Uuid,
    pub org: String,
    pub name: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub token_count: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// A disabled robot's tokens are refused until it is enabled again.
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
}

impl RobotView {
    pub fn new(org: &str, robot: Robot) -> Self {
        Self {
            id: robot.id,
            org: org.to_owned(),
            name: robot.name.into(),
            description: robot.description,
            created_at: robot.created_at,
            created_by: robot.created_by.map(Into::into),
            updated_at: robot.updated_at,
            token_count: robot.token_count,
            last_used_at: robot.last_used_at,
            disabled: robot.disabled_at.is_some(),
            disabled_at: robot.disabled_at,
        }
    }
}

/// A token in lists: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
    /// Expires within [`EXPIRING_SOON`].
    pub expiring_soon: bool,
    /// `current`, `successor` (of a rotation) or `rotating_out`.
    pub role: &'static str,
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
}

/// How soon an expiry counts as "soon": lists flag it, webhooks announce it.
pub const EXPIRING_SOON: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

impl TokenView {
    pub fn new(token: TokenInfo, now: OffsetDateTime) -> Self {
        let expired = token.expires_at.is_some_and(|at| at <= now);
        Self {
            access_id: token.access_id,
            name: token.name.into(),
            created_at: token.created_at,
            created_by: token.created_by.map(Into::into),
            expires_at: token.expires_at,
            expired,
            expiring_soon: !expired && token.expires_at.is_some_and(|at| at <= now + EXPIRING_SOON),
            role: match (token.replaced_by, token.rotated_from) {
                (Some(_), _) => "rotating_out",
                (None, Some(_)) => "successor",
                (None, None) => "current",
            },
            replaced_by: token.replaced_by,
            rotated_from: token.rotated_from,
            last_used_at: token.last_used_at,
            last_used_ip: token.last_used_ip,
            last_used_user_agent: token.last_used_user_agent,
            federated_credential: token.federated_by.map(Into::into),
        }
    }
}

/// The one response that carries a token's secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTokenView {
    pub access_id: Uuid,
    pub name: String,
    #[serde(serialize_with = "expose_secret")]
    #[schema(value_type = String)]
    pub token: SecretToken,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// Serializes a secret's plaintext: only the two views above, each the one
/// response that hands a secret to its owner, use it.
fn expose_secret<S: serde::Serializer>(secret: &SecretToken, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}
