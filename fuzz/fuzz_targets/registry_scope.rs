//! Docker registry scopes (`robots_core::access::RegistryScope`), the
//! repository paths inside them (`RepoPath`), and what a robot is granted
//! for a scope.
//!
//! Invariants, besides never panicking:
//! - a parsed scope has a type without `:`, a non-empty name, and trimmed,
//!   non-empty actions without `,`; written back canonically
//!   (`type:name:a,b`) it parses to the same scope;
//! - a repository path that parses is at most `MAX_REPO_PATH_LEN` long,
//!   every segment is a `Name`, and it displays as the text it came from;
//! - a grant is never wider than what was asked (`*` asks for all) nor than
//!   what the robot's teams hold, and only ever for a `repository` scope
//!   whose name is a valid `org/path` of the robot's own organization.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use robots_core::Name;
use robots_core::access::{
    AccessSnapshot, GrantRef, MAX_REPO_PATH_LEN, Permission, RegistryScope, RepoAction, RepoPath, TeamRef,
};
use uuid::Uuid;

const ACME: Uuid = Uuid::from_u128(1);
const OTHER: Uuid = Uuid::from_u128(2);

/// A robot of `acme` in one team that may push `apps/web` and pull `base`;
/// a team of another organization, which must count for nothing, holds
/// `admin` on `apps/web` too.
static SNAPSHOT: LazyLock<AccessSnapshot> = LazyLock::new(|| {
    let name = |text: &str| Name::parse(text).expect("a valid name");
    let path = |text: &str| RepoPath::parse(text).expect("a valid path");
    let builders = Uuid::from_u128(10);
    let intruders = Uuid::from_u128(11);
    AccessSnapshot {
        robot_org_id: ACME,
        teams: vec![
            TeamRef {
                id: builders,
                org_id: ACME,
                name: name("builders"),
            },
            TeamRef {
                id: intruders,
                org_id: OTHER,
                name: name("intruders"),
            },
        ],
        grants: vec![
            GrantRef {
                team_id: builders,
                repo_org_id: ACME,
                repository: path("apps/web"),
                permission: Permission::Write,
            },
            GrantRef {
                team_id: builders,
                repo_org_id: ACME,
                repository: path("base"),
                permission: Permission::Read,
            },
            GrantRef {
                team_id: intruders,
                repo_org_id: OTHER,
                repository: path("apps/web"),
                permission: Permission::Admin,
            },
        ],
    }
});

static ACME_NAME: LazyLock<Name> = LazyLock::new(|| Name::parse("acme").expect("a valid name"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_repo_path(text);
    check_words(text);
    let Some(scope) = RegistryScope::parse(text) else {
        return;
    };
    check_scope(text, &scope);
    check_grant(&scope);
});

fn check_scope(text: &str, scope: &RegistryScope) {
    assert!(text.len() <= 1024);
    assert!(!scope.resource_type.is_empty() && !scope.resource_type.contains(':'));
    assert!(!scope.name.is_empty());
    for action in &scope.actions {
        assert!(!action.is_empty() && !action.contains(',') && !action.contains(':'));
        assert_eq!(action.trim(), action);
    }
    let canonical = format!("{}:{}:{}", scope.resource_type, scope.name, scope.actions.join(","));
    assert_eq!(RegistryScope::parse(&canonical).as_ref(), Some(scope), "{canonical:?}");
}

fn check_grant(scope: &RegistryScope) {
    let granted = scope.grant(&SNAPSHOT, &ACME_NAME, ACME);
    if granted.is_empty() {
        return;
    }
    assert_eq!(scope.resource_type, "repository");
    let (org, path) = RepoPath::check_full_name(&scope.name).expect("granted names are org/path");
    assert_eq!(org, ACME_NAME.as_str());
    assert!(RepoPath::parse(path).is_ok());
    let held = match path {
        "apps/web" => Permission::Write,
        "base" => Permission::Read,
        other => panic!("granted {granted:?} on {other:?}, which no team of acme holds"),
    };
    let wants_all = scope.actions.iter().any(|a| a == "*");
    for action in &granted {
        assert!(held.allows(*action), "{action:?} beyond {held:?}");
        assert!(wants_all || scope.actions.iter().any(|a| a == action.as_str()));
    }
    let mut sorted = granted.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, granted, "each action once, weakest first");
}

fn check_repo_path(text: &str) {
    let Ok(path) = RepoPath::parse(text) else {
        return;
    };
    assert_eq!(path.as_str(), text);
    assert_eq!(path.to_string(), text);
    assert!(text.len() <= MAX_REPO_PATH_LEN);
    assert!(text.split('/').all(|segment| Name::parse(segment).is_ok()));
    let full = format!("acme/{text}");
    assert_eq!(RepoPath::check_full_name(&full), Some(("acme", path.as_str())));
}

fn check_words(text: &str) {
    if let Some(permission) = Permission::parse(text) {
        assert_eq!(permission.as_str(), text);
    }
    if let Some(action) = RepoAction::parse(text) {
        assert_eq!(action.as_str(), text);
    }
}
