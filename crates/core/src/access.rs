//! What a robot may do to a repository.
//!
//! A new robot may do nothing. It gains rights only as a member of teams,
//! and teams hold grants (`read`, `write`, `admin`) on the organization's
//! repositories. A robot's effective permission on a repository is the
//! strongest grant among its teams; `admin ⊇ write ⊇ read`, and the actions
//! a permission allows are `read → pull`, `write → pull, push`,
//! `admin → pull, push, delete`.
//!
//! [`resolve`] is a pure function over a snapshot of memberships and grants,
//! so the rules (and the refusal to let anything cross organizations, even
//! if the data were inconsistent) are tested without a database.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::name::{MAX_NAME_LEN, Name, NameError};

/// A team's grant on a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Read,
    Write,
    Admin,
}

impl Permission {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn allows(self, action: RepoAction) -> bool {
        match action {
            RepoAction::Pull => true,
            RepoAction::Push => self >= Self::Write,
            RepoAction::Delete => self == Self::Admin,
        }
    }

    /// The actions this permission allows, weakest first.
    pub fn actions(self) -> Vec<RepoAction> {
        RepoAction::ALL
            .into_iter()
            .filter(|action| self.allows(*action))
            .collect()
    }
}

/// Something a robot does to a repository, in registry terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepoAction {
    Pull,
    Push,
    Delete,
}

impl RepoAction {
    pub const ALL: [Self; 3] = [Self::Pull, Self::Push, Self::Delete];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pull" => Some(Self::Pull),
            "push" => Some(Self::Push),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// A repository's path inside its organization: one or more names joined
/// by `/` (`web`, `apps/web`), as container registries nest them. Written
/// with its organization in front (`acme/apps/web`) wherever it leaves the
/// organization's context.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(
    pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(/[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    min_length = 1,
    max_length = 191,
    example = "apps/web"
)]
pub struct RepoPath(String);

/// Longest repository path, so `org/path` stays within a registry's 255.
pub const MAX_REPO_PATH_LEN: usize = 255 - MAX_NAME_LEN - 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoPathError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_REPO_PATH_LEN} characters long")]
    TooLong,
    #[error("segment {segment:?} {error}")]
    Segment { segment: String, error: NameError },
}

impl RepoPath {
    pub fn parse(input: &str) -> Result<Self, RepoPathError> {
        Self::check(input)?;
        Ok(Self(input.to_owned()))
    }

    /// Whether `input` is a valid path, without keeping it.
    pub fn check(input: &str) -> Result<(), RepoPathError> {
        if input.is_empty() {
            return Err(RepoPathError::Empty);
        }
        if input.len() > MAX_REPO_PATH_LEN {
            return Err(RepoPathError::TooLong);
        }
        for segment in input.split('/') {
            Name::check(segment).map_err(|error| RepoPathError::Segment {
                segment: segment.to_owned(),
                error,
            })?;
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Splits a registry-style full name (`acme/apps/web`) into the
    /// organization and the path inside it, each valid, borrowed from
    /// `full`: the verification endpoints only compare them, so nothing is
    /// copied.
    pub fn check_full_name(full: &str) -> Option<(&str, &str)> {
        let (org, path) = full.split_once('/')?;
        Name::check(org).ok()?;
        RepoPath::check(path).ok()?;
        Some((org, path))
    }
}

impl TryFrom<String> for RepoPath {
    type Error = RepoPathError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RepoPath> for String {
    fn from(path: RepoPath) -> Self {
        path.0
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// One `scope` of a Docker registry token request:
/// `repository:acme/apps/web:pull,push` (type, name, actions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryScope {
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl RegistryScope {
    /// Parses one scope. The name may itself contain `:` (a registry host
    /// with a port), so the type ends at the first `:` and the actions start
    /// after the last. `None` for anything malformed.
    pub fn parse(scope: &str) -> Option<Self> {
        let (resource_type, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if resource_type.is_empty() || name.is_empty() || scope.len() > 1024 {
            return None;
        }
        let actions: Vec<String> = actions
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        Some(Self {
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
            actions,
        })
    }

    /// The actions of this scope a robot with `snapshot` may take: the
    /// intersection of what was asked and what is allowed (`*` asks for
    /// everything). Empty for other organizations, other resource types and
    /// unknown repositories.
    pub fn grant(&self, snapshot: &AccessSnapshot, org: &Name, org_id: Uuid) -> Vec<RepoAction> {
        if self.resource_type != "repository" {
            return Vec::new();
        }
        let Some((scope_org, path)) = RepoPath::check_full_name(&self.name) else {
            return Vec::new();
        };
        if scope_org != org.as_str() {
            return Vec::new();
        }
        let wants_all = self.actions.iter().any(|a| a == "*");
        RepoAction::ALL
            .into_iter()
            .filter(|action| wants_all || self.actions.iter().any(|a| a == action.as_str()))
            .filter(|action| may(snapshot, org_id, path, *action))
            .collect()
    }
}

/// A team as the resolver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRef {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: Name,
}

/// A grant as the resolver sees it: which team, which repository (and the
/// repository's organization), what permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRef {
    pub team_id: Uuid,
    pub repo_org_id: Uuid,
    pub repository: RepoPath,
    pub permission: Permission,
}

/// Everything that decides one robot's access.
#[derive(Debug, Clone, Default)]
pub struct AccessSnapshot {
    pub robot_org_id: Uuid,
    /// The teams the robot is a member of.
    pub teams: Vec<TeamRef>,
    /// The grants of those teams.
    pub grants: Vec<GrantRef>,
}

/// A team's contribution to an effective permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub team: Name,
    pub permission: Permission,
}

/// What a robot may do to one repository, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePermission {
    pub repository: RepoPath,
    /// The strongest of the grants.
    pub permission: Permission,
    /// Every team that grants something, strongest first, then by name.
    pub via: Vec<Via>,
}

/// The union of a robot's team grants, per repository, sorted by repository.
/// Teams and repositories of any other organization count for nothing.
pub fn resolve(snapshot: &AccessSnapshot) -> Vec<EffectivePermission> {
    let own_teams: BTreeMap<Uuid, &TeamRef> = snapshot
        .teams
        .iter()
        .filter(|team| team.org_id == snapshot.robot_org_id)
        .map(|team| (team.id, team))
        .collect();
    let mut by_repo: BTreeMap<&RepoPath, Vec<Via>> = BTreeMap::new();
    for grant in &snapshot.grants {
        if grant.repo_org_id != snapshot.robot_org_id {
            continue;
        }
        let Some(team) = own_teams.get(&grant.team_id) else {
            continue;
        };
        by_repo.entry(&grant.repository).or_default().push(Via {
            team: team.name.clone(),
            permission: grant.permission,
        });
    }
    by_repo
        .into_iter()
        .filter_map(|(repository, mut via)| {
            via.sort_by(|a, b| b.permission.cmp(&a.permission).then_with(|| a.team.cmp(&b.team)));
            via.dedup();
            let permission = via.first()?.permission;
            Some(EffectivePermission {
                repository: repository.clone(),
                permission,
                via,
            })
        })
        .collect()
}

/// May the robot do `action` to `repository`? The question the verification
/// endpoints ask, on every request that names a repository, so it is
/// answered from the grants as they are, without building [`resolve`]'s
/// view: a permission allows all that a weaker one does, so the strongest
/// grant allows an action exactly when some grant does.
pub fn may(snapshot: &AccessSnapshot, repo_org_id: Uuid, repository: &str, action: RepoAction) -> bool {
    let org = snapshot.robot_org_id;
    let own_team = |team_id: Uuid| {
        snapshot
            .teams
            .iter()
            .any(|team| team.id == team_id && team.org_id == org)
    };
    repo_org_id == org
        && snapshot.grants.iter().any(|grant| {
            grant.repo_org_id == org
                && grant.permission.allows(action)
                && grant.repository.as_str() == repository
                && own_team(grant.team_id)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn repo(text: &str) -> RepoPath {
        RepoPath::parse(text).unwrap()
    }

    struct World {
        acme: Uuid,
        globex: Uuid,
        deployers: TeamRef,
        readers: TeamRef,
        admins: TeamRef,
        globex_team: TeamRef,
    }

    fn world() -> World {
        let acme = Uuid::from_u128(1);
        let globex = Uuid::from_u128(2);
        let team = |id: u128, org: Uuid, team: &str| TeamRef {
            id: Uuid::from_u128(id),
            org_id: org,
            name: name(team),
        };
        World {
            acme,
            globex,
            deployers: team(10, acme, "deployers"),
            readers: team(11, acme, "readers"),
            admins: team(12, acme, "admins"),
            globex_team: team(20, globex, "globex-team"),
        }
    }

    fn grant(team: &TeamRef, org: Uuid, repository: &str, permission: Permission) -> GrantRef {
        GrantRef {
            team_id: team.id,
            repo_org_id: org,
            repository: repo(repository),
            permission,
        }
    }

    /// (repository, permission) pairs of a resolution, for compact expectations.
    fn summary(snapshot: &AccessSnapshot) -> Vec<(String, &'static str)> {
        resolve(snapshot)
            .into_iter()
            .map(|e| (e.repository.to_string(), e.permission.as_str()))
            .collect()
    }

    #[test]
    fn permissions_nest_and_map_to_actions() {
        use Permission::*;
        use RepoAction::*;
        let table = [
            (Read, Pull, true),
            (Read, Push, false),
            (Read, Delete, false),
            (Write, Pull, true),
            (Write, Push, true),
            (Write, Delete, false),
            (Admin, Pull, true),
            (Admin, Push, true),
            (Admin, Delete, true),
        ];
        for (permission, action, allowed) in table {
            assert_eq!(permission.allows(action), allowed, "{permission:?} {action:?}");
        }
        assert_eq!(Write.actions(), [Pull, Push]);
        assert!(Admin > Write && Write > Read);
    }

    #[test]
    fn resolution_table() {
        let w = world();
        /// What is tested, the snapshot, and the expected (repository, permission) pairs.
        type Case<'a> = (&'a str, AccessSnapshot, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            (
                "a new robot has nothing",
                AccessSnapshot {
                    robot_org_id: w.acme,
                    ..Default::default()
                },
                vec![],
            ),
            (
                "a team without grants gives nothing",
                AccessSnapshot {
                    robot_org_id: w.acme,
                    teams: vec![w.readers.clone()],
                    grants: vec![],
                },
                vec![],
            ),
            (
                "one team, two repositories",
                AccessSnapshot {
                    robot_org_id: w.acme,
                    teams: vec![w.deployers.clone()],
                    grants: vec![
                        grant(&w.deployers, w.acme, "apps/web", Permission::Write),
                        grant(&w.deployers, w.acme, "base", Permission::Read),
                    ],
                },
                vec![("apps/web", "write"), ("base", "read")],
            ),
            (
                "overlapping teams: the strongest grant wins",
                AccessSnapshot {
                    robot_org_id: w.acme,
                    teams: vec![w.readers.clone(), w.deployers.clone(), w.admins.clone()],
                    grants: vec![
                        grant(&w.readers, w.acme, "web", Permission::Read),
                        grant(&w.deployers, w.acme, "web", Permission::Write),
                        grant(&w.admins, w.acme, "web", Permission::Admin),
                        grant(&w.readers, w.acme, "docs", Permission::Read),
                    ],
                },
                vec![("docs", "read"), ("web", "admin")],
            ),
            (
                "a grant of a team the robot is not in (removed membership) gives nothing",
                AccessSnapshot {
                    robot_org_id: w.acme,
                    teams: vec![w.readers.clone()],
                    grants: vec![
                        grant(&w.readers, w.acme, "web", Permission::Read),
                        grant(&w.deployers, w.acme, "web", Permission::Write),
                    ],
                },
                vec![("web", "read")],
            ),
            (
                "another organization's team gives nothing, whatever its grants",
                AccessSnapshot {
                    robot_org_id: w.acme,
                    teams: vec![w.globex_team.clone()],
                    grants: vec![
                        grant(&w.globex_team, w.globex, "web", Permission::Admin),
                        grant(&w.globex_team, w.acme, "web", Permission::Admin),
                    ],
                },
                vec![],
            ),
            (
                "an own team's grant on another organization's repository gives nothing",
                AccessSnapshot {
                    robot_org_id: w.acme,
                    teams: vec![w.deployers.clone()],
                    grants: vec![grant(&w.deployers, w.globex, "web", Permission::Admin)],
                },
                vec![],
            ),
        ];
        for (what, snapshot, expected) in cases {
            let expected: Vec<(String, &str)> = expected.into_iter().map(|(r, p)| (r.to_owned(), p)).collect();
            assert_eq!(summary(&snapshot), expected, "{what}");
        }
    }

    /// `may` answers without resolving; it must answer as the resolution
    /// would, for every mix of own, foreign and departed teams.
    #[test]
    fn may_agrees_with_the_resolution() {
        let w = world();
        let departed = TeamRef {
            id: Uuid::from_u128(13),
            org_id: w.acme,
            name: name("departed"),
        };
        let grants = vec![
            grant(&w.readers, w.acme, "web", Permission::Read),
            grant(&w.deployers, w.acme, "web", Permission::Write),
            grant(&w.admins, w.acme, "base", Permission::Admin),
            grant(&w.readers, w.acme, "base", Permission::Read),
            // A foreign team's grant on one of ours, and ours on a foreign repository.
            grant(&w.globex_team, w.acme, "secret", Permission::Admin),
            grant(&w.deployers, w.globex, "other", Permission::Write),
            // The grant of a team the robot is not in.
            grant(&departed, w.acme, "left", Permission::Admin),
        ];
        let teams = [&w.readers, &w.deployers, &w.admins, &w.globex_team];
        let repositories = ["web", "base", "secret", "other", "left", "unknown"].map(repo);
        let mut allowed = 0;
        for members in 0..1u32 << teams.len() {
            let snapshot = AccessSnapshot {
                robot_org_id: w.acme,
                teams: (0..teams.len())
                    .filter(|bit| members & (1 << bit) != 0)
                    .map(|bit| teams[bit].clone())
                    .collect(),
                grants: grants.clone(),
            };
            let resolved = resolve(&snapshot);
            for org in [w.acme, w.globex] {
                for repository in &repositories {
                    for action in RepoAction::ALL {
                        let expected = org == snapshot.robot_org_id
                            && resolved
                                .iter()
                                .any(|e| &e.repository == repository && e.permission.allows(action));
                        assert_eq!(
                            may(&snapshot, org, repository.as_str(), action),
                            expected,
                            "teams {members:04b}, {org} {repository} {action:?}"
                        );
                        allowed += usize::from(expected);
                    }
                }
            }
        }
        assert!(allowed > 0, "some answers are yes");
    }

    #[test]
    fn revoking_grants_deleting_teams_and_leaving_teams_take_access_away() {
        let w = world();
        let full = AccessSnapshot {
            robot_org_id: w.acme,
            teams: vec![w.readers.clone(), w.deployers.clone()],
            grants: vec![
                grant(&w.readers, w.acme, "web", Permission::Read),
                grant(&w.deployers, w.acme, "web", Permission::Write),
            ],
        };
        let web = repo("web");
        assert!(may(&full, w.acme, web.as_str(), RepoAction::Push));

        let mut revoked = full.clone();
        revoked.grants.retain(|g| g.team_id != w.deployers.id);
        assert!(
            !may(&revoked, w.acme, web.as_str(), RepoAction::Push),
            "revoked write grant"
        );
        assert!(
            may(&revoked, w.acme, web.as_str(), RepoAction::Pull),
            "the read grant stays"
        );

        let mut left = full.clone();
        left.teams.retain(|t| t.id != w.deployers.id);
        assert!(
            !may(&left, w.acme, web.as_str(), RepoAction::Push),
            "removed from the team"
        );

        // A deleted team takes its grants with it (the store cascades both).
        let deleted = AccessSnapshot {
            robot_org_id: w.acme,
            teams: vec![],
            grants: vec![],
        };
        assert!(!may(&deleted, w.acme, web.as_str(), RepoAction::Pull));
        assert!(
            !may(&full, w.globex, web.as_str(), RepoAction::Pull),
            "same path, other organization"
        );
    }

    #[test]
    fn via_lists_every_team_strongest_first() {
        let w = world();
        let snapshot = AccessSnapshot {
            robot_org_id: w.acme,
            teams: vec![w.readers.clone(), w.deployers.clone()],
            grants: vec![
                grant(&w.readers, w.acme, "web", Permission::Read),
                grant(&w.deployers, w.acme, "web", Permission::Write),
            ],
        };
        let resolved = resolve(&snapshot);
        assert_eq!(
            resolved[0].via,
            [
                Via {
                    team: name("deployers"),
                    permission: Permission::Write
                },
                Via {
                    team: name("readers"),
                    permission: Permission::Read
                },
            ]
        );
    }

    #[test]
    fn registry_scopes_parse_and_grant_the_intersection() {
        let w = world();
        let acme = name("acme");
        let snapshot = AccessSnapshot {
            robot_org_id: w.acme,
            teams: vec![w.deployers.clone()],
            grants: vec![grant(&w.deployers, w.acme, "apps/web", Permission::Write)],
        };
        let scope = |text: &str| RegistryScope::parse(text).unwrap();
        let actions = |scope: RegistryScope| {
            scope
                .grant(&snapshot, &acme, w.acme)
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(actions(scope("repository:acme/apps/web:pull,push")), ["pull", "push"]);
        assert_eq!(
            actions(scope("repository:acme/apps/web:pull,push,delete")),
            ["pull", "push"],
            "delete needs admin"
        );
        assert_eq!(actions(scope("repository:acme/apps/web:*")), ["pull", "push"]);
        assert_eq!(actions(scope("repository:acme/apps/web:push")), ["push"]);
        assert!(actions(scope("repository:acme/base:pull")).is_empty(), "no grant");
        assert!(
            actions(scope("repository:globex/apps/web:pull")).is_empty(),
            "another organization"
        );
        assert!(actions(scope("registry:catalog:*")).is_empty(), "only repositories");
        assert!(
            actions(scope("repository:acme:pull")).is_empty(),
            "an organization is not a repository"
        );
        let with_port = scope("repository:localhost:5000/acme/web:pull");
        assert_eq!(
            (with_port.name.as_str(), with_port.actions.as_slice()),
            ("localhost:5000/acme/web", &["pull".to_owned()][..])
        );
        for bad in ["", "repository", "repository:", ":acme/web:pull", "repository::pull"] {
            assert_eq!(RegistryScope::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn repository_paths_nest_names() {
        for ok in ["web", "apps/web", "a/b/c-d/e1"] {
            assert_eq!(RepoPath::parse(ok).map(|p| p.to_string()), Ok(ok.to_owned()));
        }
        for bad in [
            "",
            "/web",
            "web/",
            "apps//web",
            "Apps/web",
            "apps/we b",
            "apps/web.git",
            "..",
            &"a/".repeat(100),
        ] {
            assert!(RepoPath::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(RepoPath::check_full_name("acme/apps/web"), Some(("acme", "apps/web")));
        for bad in [
            "acme",
            "acme/",
            "/web",
            "Acme/web",
            "acme/apps//web",
            "acme/-web",
            "acme/web-",
        ] {
            assert_eq!(RepoPath::check_full_name(bad), None, "{bad:?}");
        }
    }
}
