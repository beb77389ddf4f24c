//! Who may do what. Every authorization decision in the service is made by a
//! function in this module, so the rules can be read, and tested, in one place.
//!
//! The rules:
//! - Users and organizations share one namespace; only organizations own robots.
//! - Inside an organization, `admin`s change things and `member`s read them.
//! - Someone who is not a member cannot tell that the organization's robots
//!   exist: they get "not found", not "forbidden".
//! - Robots never use the management API (enforced before any of this runs:
//!   a robot caller never reaches an organization decision).

use serde::{Deserialize, Serialize};

/// What a name in the shared namespace belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    User,
    Org,
}

impl AccountKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Org => "org",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Self::User),
            "org" => Some(Self::Org),
            _ => None,
        }
    }
}

/// A user's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Something a user wants to do inside an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    /// See the organization, its members, robots and tokens (never a token's secret).
    Read,
    /// Create, rename and delete robots; create and delete their tokens.
    ManageRobots,
    /// Add members, change roles, remove others.
    ManageMembers,
    /// Create, change and delete teams, repositories and grants.
    ManageAccess,
    /// Leave the organization (remove oneself).
    Leave,
    /// Delete the organization and everything in it.
    DeleteOrg,
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The caller may not even know the organization exists.
    NotFound,
    /// The caller is a member, but the action needs an admin.
    AdminRequired,
}

/// Decides `action` for a caller whose role in the organization is
/// `membership` (`None`: not a member).
pub fn authorize(membership: Option<Role>, action: OrgAction) -> Result<(), Denial> {
    match (membership, action) {
        (None, _) => Err(Denial::NotFound),
        (Some(_), OrgAction::Read | OrgAction::Leave) => Ok(()),
        (Some(Role::Admin), _) => Ok(()),
        (Some(Role::Member), _) => Err(Denial::AdminRequired),
    }
}

/// What a personal access token may be used for. A request made with one
/// needs the scope **and** the role its owner holds: a token never exceeds
/// its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// See organizations, their members, teams and repositories.
    OrgsRead,
    /// Create organizations; change their members, roles and settings.
    OrgsWrite,
    /// See robots and their tokens (never a secret).
    RobotsRead,
    /// Create, change and delete robots and their federated credentials.
    RobotsWrite,
    /// Create, rotate and delete robot tokens.
    TokensWrite,
    /// Create, change and delete teams, repositories and grants.
    TeamsWrite,
    /// Read an organization's audit log.
    AuditRead,
    /// Create, change and delete webhooks.
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Self; 8] = [
        Self::OrgsRead,
        Self::OrgsWrite,
        Self::RobotsRead,
        Self::RobotsWrite,
        Self::TokensWrite,
        Self::TeamsWrite,
        Self::AuditRead,
        Self::WebhooksWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrgsRead => "orgs:read",
            Self::OrgsWrite => "orgs:write",
            Self::RobotsRead => "robots:read",
            Self::RobotsWrite => "robots:write",
            Self::TokensWrite => "tokens:write",
            Self::TeamsWrite => "teams:write",
            Self::AuditRead => "audit:read",
            Self::WebhooksWrite => "webhooks:write",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == value)
    }

    /// What the scope is for, for forms and help.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::OrgsRead => "see organizations, members, teams and repositories",
            Self::OrgsWrite => "create organizations, change members, roles and settings",
            Self::RobotsRead => "see robots and their tokens",
            Self::RobotsWrite => "create, change and delete robots",
            Self::TokensWrite => "create, rotate and delete robot tokens",
            Self::TeamsWrite => "change teams, repositories and grants",
            Self::AuditRead => "read audit logs",
            Self::WebhooksWrite => "change webhooks",
        }
    }

    /// The scopes that allow this one too: writing implies reading, and
    /// managing tokens means seeing the robots they belong to.
    const fn granted_by(self) -> &'static [Self] {
        match self {
            Self::OrgsRead => &[Self::OrgsRead, Self::OrgsWrite],
            Self::RobotsRead => &[Self::RobotsRead, Self::RobotsWrite, Self::TokensWrite],
            Self::OrgsWrite => &[Self::OrgsWrite],
            Self::RobotsWrite => &[Self::RobotsWrite],
            Self::TokensWrite => &[Self::TokensWrite],
            Self::TeamsWrite => &[Self::TeamsWrite],
            Self::AuditRead => &[Self::AuditRead],
            Self::WebhooksWrite => &[Self::WebhooksWrite],
        }
    }
}

/// A set of scopes, as a personal access token holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Scopes(u16);

impl Scopes {
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= 1 << scope as u16;
    }

    pub fn has(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u16) != 0
    }

    /// Whether a request needing `scope` is allowed.
    pub fn allow(self, scope: Scope) -> bool {
        scope.granted_by().iter().any(|&granted| self.has(granted))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |&scope| self.has(scope))
    }

    /// Scopes by name, in any order, repeated or not; the first unknown
    /// name is the error.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, &'a str> {
        let mut scopes = Self::default();
        for name in names {
            scopes.insert(Scope::parse(name).ok_or(name)?);
        }
        Ok(scopes)
    }
}

impl std::fmt::Display for Scopes {
    /// Space-separated, in a fixed order (how they are stored).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, scope) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_allow_what_they_name_and_writing_allows_reading() {
        let scopes = Scopes::parse(["robots:write", "orgs:read"]).unwrap();
        assert!(scopes.allow(Scope::RobotsWrite));
        assert!(scopes.allow(Scope::RobotsRead));
        assert!(scopes.allow(Scope::OrgsRead));
        assert!(!scopes.allow(Scope::OrgsWrite));
        assert!(!scopes.allow(Scope::TokensWrite));
        assert!(Scopes::parse(["tokens:write"]).unwrap().allow(Scope::RobotsRead));
        assert!(!Scopes::parse(["robots:read"]).unwrap().allow(Scope::RobotsWrite));
        assert_eq!(Scopes::parse(["robots:read", "nope"]), Err("nope"));
        assert_eq!(scopes.to_string(), "orgs:read robots:write");
        let every = Scopes::parse(Scope::ALL.map(Scope::as_str)).unwrap();
        assert_eq!(Scopes::parse(every.to_string().split(' ')), Ok(every));
        assert_eq!(every.iter().count(), Scope::ALL.len());
    }

    #[test]
    fn decision_table() {
        use OrgAction::*;
        let admin = Some(Role::Admin);
        let member = Some(Role::Member);
        let outsider = None;
        let cases = [
            (admin, Read, Ok(())),
            (admin, ManageRobots, Ok(())),
            (admin, ManageMembers, Ok(())),
            (admin, ManageAccess, Ok(())),
            (member, ManageAccess, Err(Denial::AdminRequired)),
            (outsider, ManageAccess, Err(Denial::NotFound)),
            (admin, Leave, Ok(())),
            (admin, DeleteOrg, Ok(())),
            (member, Read, Ok(())),
            (member, Leave, Ok(())),
            (member, ManageRobots, Err(Denial::AdminRequired)),
            (member, ManageMembers, Err(Denial::AdminRequired)),
            (member, DeleteOrg, Err(Denial::AdminRequired)),
            (outsider, Read, Err(Denial::NotFound)),
            (outsider, Leave, Err(Denial::NotFound)),
            (outsider, ManageRobots, Err(Denial::NotFound)),
            (outsider, ManageMembers, Err(Denial::NotFound)),
            (outsider, DeleteOrg, Err(Denial::NotFound)),
        ];
        for (membership, action, expected) in cases {
            assert_eq!(authorize(membership, action), expected, "{membership:?} {action:?}");
        }
    }

    #[test]
    fn roles_and_kinds_round_trip_through_their_names() {
        for role in [Role::Admin, Role::Member] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        for kind in [AccountKind::User, AccountKind::Org] {
            assert_eq!(AccountKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Role::parse("owner"), None);
    }
}
