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

#[cfg(test)]
mod tests {
    use super::*;

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
