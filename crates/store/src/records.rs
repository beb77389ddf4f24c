//! What the store hands out: domain records with parsed names and real
//! timestamps, built from raw rows in one place.

use robots_core::access::{Permission, RepoPath};
use robots_core::clock::from_millis;
use robots_core::{Name, Role};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// One page of a list, in the order of its key.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub name: Name,
    pub email: String,
    pub instance_admin: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: Name,
    pub email: String,
    /// An argon2id PHC string, never the password.
    pub password_hash: String,
    pub instance_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: Uuid,
    pub name: Name,
    pub display_name: String,
    pub created_at: OffsetDateTime,
    pub token_policy: TokenPolicy,
}

/// An organization's rules for the tokens used in it: its robots' tokens,
/// and its members' personal access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// The longest a token may live, if limited.
    pub max_lifetime: Option<std::time::Duration>,
    /// Whether every token must have an expiry.
    pub expiry_required: bool,
    /// Whether members may act here with personal access tokens.
    pub personal_tokens_allowed: bool,
    /// Robot tokens unused (or never used since creation) this long are
    /// disabled, not deleted.
    pub disable_unused_after: Option<std::time::Duration>,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            max_lifetime: None,
            expiry_required: false,
            personal_tokens_allowed: true,
            disable_unused_after: None,
        }
    }
}

/// What a name in the shared namespace turned out to be, seen by one user.
#[derive(Debug, Clone)]
pub enum AccountLookup {
    /// A user's personal account; it can own no robots.
    User,
    /// An organization, with the looking user's role in it (`None`: not a member).
    Org { org: Org, role: Option<Role> },
}

/// An organization together with the caller's role in it.
#[derive(Debug, Clone)]
pub struct OrgMembership {
    pub org: Org,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: Uuid,
    pub username: Name,
    pub email: String,
    pub role: Role,
    pub joined_at: OffsetDateTime,
}

/// A robot as changes to it need it: without the per-token aggregates of
/// [`Robot`], which cost a scan of its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotRef {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: Name,
    pub disabled_at: Option<OffsetDateTime>,
}

/// What a token's standing depends on, apart from its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenStanding {
    pub robot_id: Uuid,
    pub expires_at: Option<OffsetDateTime>,
    pub robot_disabled: bool,
    pub token_disabled: bool,
}

impl TokenStanding {
    /// Whether the token would verify at `now` (given its secret).
    pub fn stands_at(&self, now: OffsetDateTime) -> bool {
        !self.robot_disabled && !self.token_disabled && self.expires_at.is_none_or(|expiry| expiry > now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Robot {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: Name,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub created_by: Option<Name>,
    pub updated_at: OffsetDateTime,
    pub token_count: i64,
    /// The most recent use of any of its tokens.
    pub last_used_at: Option<OffsetDateTime>,
    /// A disabled robot's tokens are refused; nothing is deleted.
    pub disabled_at: Option<OffsetDateTime>,
    /// It may rotate the token it authenticates with.
    pub self_rotate: bool,
}

/// The instance administrators' floor under every organization's token
/// policy: an organization's may only be stricter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstancePolicy {
    /// The longest a robot token may live, anywhere.
    pub max_lifetime: Option<std::time::Duration>,
    /// Whether every robot token must expire, anywhere.
    pub expiry_required: bool,
    /// The longest a personal access token may live (within the service's
    /// own maximum).
    pub personal_token_max_lifetime: Option<std::time::Duration>,
}

impl InstancePolicy {
    /// An organization's policy with this floor under it: the shorter
    /// maximum, and an expiry required if either requires one.
    pub fn floor(&self, org: TokenPolicy) -> TokenPolicy {
        TokenPolicy {
            max_lifetime: match (org.max_lifetime, self.max_lifetime) {
                (Some(own), Some(floor)) => Some(own.min(floor)),
                (own, floor) => own.or(floor),
            },
            expiry_required: org.expiry_required || self.expiry_required,
            ..org
        }
    }
}

/// A token its organization's policy disables for want of use.
#[derive(Debug, Clone)]
pub struct UnusedToken {
    pub org_name: Name,
    pub robot_id: Uuid,
    pub robot_name: Name,
    pub access_id: Uuid,
    pub token_name: Name,
    /// Its last use, or its creation if never used.
    pub unused_since: OffsetDateTime,
    /// The organization's `disable_unused_after`.
    pub after: std::time::Duration,
}

/// A change to a robot; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct RobotPatch<'a> {
    pub name: Option<&'a Name>,
    pub description: Option<&'a str>,
    pub self_rotate: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct NewRobot<'a> {
    pub org_id: Uuid,
    pub name: &'a Name,
    pub description: &'a str,
    pub created_by: Uuid,
}

/// A robot token as lists show it: everything but the secret, which the
/// store never had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub access_id: Uuid,
    pub robot_id: Uuid,
    pub name: Name,
    pub created_at: OffsetDateTime,
    pub created_by: Option<Name>,
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub last_used_user_agent: Option<String>,
    /// Set while it rotates out: its successor's Access ID.
    pub replaced_by: Option<Uuid>,
    /// Set on a successor: the Access ID it replaces.
    pub rotated_from: Option<Uuid>,
    /// Minted by an OIDC token exchange: the federated credential's name.
    pub federated_by: Option<Name>,
    /// Disabled (by an admin, or unused for the organization's
    /// `disable_unused_after`): refused until enabled again.
    pub disabled_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub access_id: Uuid,
    pub robot_id: Uuid,
    pub name: &'a Name,
    pub secret_hash: &'a robots_core::SecretHash,
    /// `None` for tokens no user created (token exchanges).
    pub created_by: Option<Uuid>,
    pub expires_at: Option<OffsetDateTime>,
    /// Minted by a token exchange this credential allowed.
    pub federated_credential: Option<Uuid>,
}

/// Who a presented robot token belongs to: what verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub access_id: Uuid,
    pub token_name: Name,
    pub created_at: OffsetDateTime,
    pub secret_hash: robots_core::SecretHash,
    pub expires_at: Option<OffsetDateTime>,
    pub robot_id: Uuid,
    pub robot_name: Name,
    pub robot_disabled: bool,
    pub token_disabled: bool,
    pub org_id: Uuid,
    pub org_name: Name,
}

/// A successful use of a token, recorded in batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUse {
    pub access_id: Uuid,
    pub at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: Name,
    pub description: String,
    pub created_at: OffsetDateTime,
    pub user_count: i64,
    pub robot_count: i64,
    pub grant_count: i64,
}

/// Users and robots are both members of teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberKind {
    User,
    Robot,
}

impl MemberKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Robot => "robot",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    pub kind: MemberKind,
    pub name: Name,
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: RepoPath,
    pub created_at: OffsetDateTime,
    pub created_by: Option<Name>,
}

/// A team's grant on a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamGrant {
    pub team: Name,
    pub repository: RepoPath,
    pub permission: Permission,
    pub granted_at: OffsetDateTime,
}

/// Who reaches a repository, with what, through which team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoAccess {
    pub kind: MemberKind,
    pub name: Name,
    pub permission: Permission,
    pub team: Name,
}

pub(crate) fn name(raw: String) -> Result<Name, StoreError> {
    Name::parse(&raw).map_err(|error| StoreError::Corrupt(format!("name {raw:?}: {error}")))
}

pub(crate) fn optional_name(raw: Option<String>) -> Result<Option<Name>, StoreError> {
    raw.map(name).transpose()
}

pub(crate) fn role(raw: &str) -> Result<Role, StoreError> {
    Role::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("role {raw:?}")))
}

pub(crate) fn time(millis: i64) -> OffsetDateTime {
    from_millis(millis)
}

pub(crate) fn optional_time(millis: Option<i64>) -> Option<OffsetDateTime> {
    millis.map(from_millis)
}

pub(crate) fn repo_path(raw: String) -> Result<RepoPath, StoreError> {
    RepoPath::parse(&raw).map_err(|error| StoreError::Corrupt(format!("repository {raw:?}: {error}")))
}

pub(crate) fn permission(raw: &str) -> Result<Permission, StoreError> {
    Permission::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("permission {raw:?}")))
}

pub(crate) fn member_kind(raw: &str) -> Result<MemberKind, StoreError> {
    match raw {
        "user" => Ok(MemberKind::User),
        "robot" => Ok(MemberKind::Robot),
        other => Err(StoreError::Corrupt(format!("member kind {other:?}"))),
    }
}
