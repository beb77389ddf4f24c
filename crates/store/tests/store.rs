//! The store's contract, run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use robots_core::access::{Permission, RepoAction, RepoPath, may, resolve};
use robots_core::{Name, Role, Scopes, SecretHash, SecretKind, SecretToken};
use robots_store::testing::TestStore;
use robots_store::{
    AccountLookup, AuditEvent, AuditQuery, Backend, FederatedCredentialSpec, NewPersonalToken, NewRobot, NewToken,
    NewUser, NewWebhook, RobotPatch, Store, StoreError, TokenPolicy, TokenUse, Trail,
};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

/// Limits high enough not to matter, where a test is not about them.
const LIMIT: u32 = 1_000;

const NOW: OffsetDateTime = datetime!(2026-11-27 12:00 UTC);

/// Runs each listed `async fn(Store)` once per backend, as `sqlite::name`
/// and `postgres::name`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $test() { super::run(robots_store::Backend::Sqlite, super::$test).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $test() { super::run(robots_store::Backend::Postgres, super::$test).await })*
        }
    };
}

async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(TestStore { store, dir, .. }) = robots_store::testing::fresh(backend).await else {
        return;
    };
    test(store).await;
    drop(dir);
}

on_both_backends!(
    setup_code_creates_the_first_admin_once,
    a_wrong_setup_code_consumes_nothing,
    names_are_one_namespace_for_users_and_orgs,
    emails_are_unique,
    organizations_start_with_their_creator_as_admin,
    the_last_admin_cannot_leave_or_be_demoted,
    robots_are_unique_per_organization,
    tokens_per_robot_are_limited_with_nothing_left_behind,
    renaming_a_robot_keeps_its_tokens,
    tokens_are_found_by_hash_only,
    deleting_a_robot_deletes_its_tokens,
    deleting_an_org_deletes_everything_in_it,
    token_uses_never_move_backwards,
    sessions_expire,
    lists_paginate_by_name,
    teams_grant_robots_access_to_repositories,
    team_members_must_belong_to_the_organization,
    deleting_teams_repositories_and_robots_removes_access,
    federated_credentials_are_kept_changed_and_deleted_with_their_tokens,
    webhooks_added_or_removed_are_seen_by_the_next_change,
    webhooks_are_limited_and_list_their_latest_deliveries,
    robots_found_by_name_follow_renames_and_deletions,
    accounts_looked_up_follow_roles_policies_and_deletions,
    a_token_and_its_trail_are_written_together,
    a_robot_its_teams_and_its_trail_are_written_together,
    a_change_and_its_record_are_written_together,
    a_cancelled_creation_is_all_or_nothing,
    a_batch_of_uses_is_recorded_whole,
    tokens_are_counted_by_state_per_organization,
    personal_tokens_are_found_by_hash_until_they_expire_or_are_deleted,
);

async fn personal_tokens_are_found_by_hash_until_they_expire_or_are_deleted(store: Store) {
    let (alice, org_id, _) = org_with_robot(&store).await;
    let secret = SecretToken::generate(SecretKind::PersonalToken);
    let expires_at = NOW + Duration::from_secs(86_400);
    let new = |name: &str, hash: SecretHash, orgs: Option<Vec<Uuid>>| NewPersonalToken {
        id: Uuid::now_v7(),
        user_id: alice,
        name: self::name(name),
        hash,
        scopes: Scopes::parse(["robots:read", "tokens:write"]).unwrap(),
        orgs,
        created_at: NOW,
        expires_at,
    };
    let limited = new("terraform", secret.hash(), Some(vec![org_id]));
    store.create_personal_token(&limited, &noted()).await.unwrap();
    let (owner, found) = store.find_personal_token(&secret.hash(), NOW).await.unwrap().unwrap();
    assert_eq!(
        (owner.id, found.id, found.name.as_str()),
        (alice, limited.id, "terraform")
    );
    assert_eq!(found.scopes, limited.scopes);
    assert_eq!(
        found
            .orgs
            .unwrap()
            .iter()
            .map(|org| org.name.as_str())
            .collect::<Vec<_>>(),
        ["acme"]
    );
    assert!(
        store
            .find_personal_token(&secret.hash(), expires_at)
            .await
            .unwrap()
            .is_none()
    );
    // Names are per user; the hash is never found under another.
    let twin = new(
        "terraform",
        SecretToken::generate(SecretKind::PersonalToken).hash(),
        None,
    );
    assert!(matches!(
        store.create_personal_token(&twin, &noted()).await,
        Err(StoreError::NameTaken)
    ));
    let open = new("open", SecretToken::generate(SecretKind::PersonalToken).hash(), None);
    store.create_personal_token(&open, &noted()).await.unwrap();

    store
        .note_personal_token_use(limited.id, NOW, Some("203.0.113.7"), Some("terraform/1.9"))
        .await
        .unwrap();
    let listed = store.list_personal_tokens(alice).await.unwrap();
    assert_eq!(
        listed.iter().map(|token| token.name.as_str()).collect::<Vec<_>>(),
        ["open", "terraform"]
    );
    let used = listed.iter().find(|token| token.id == limited.id).unwrap();
    assert_eq!(used.last_used_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(used.last_used_user_agent.as_deref(), Some("terraform/1.9"));
    assert!(listed.iter().find(|token| token.id == open.id).unwrap().orgs.is_none());

    // Its organization gone, a limited token reaches none, not every one.
    assert!(store.delete_org(org_id, &noted()).await.unwrap());
    let (_, found) = store.find_personal_token(&secret.hash(), NOW).await.unwrap().unwrap();
    assert_eq!(found.orgs, Some(Vec::new()));

    assert!(store.delete_personal_token(alice, limited.id, &noted()).await.unwrap());
    assert!(!store.delete_personal_token(alice, limited.id, &noted()).await.unwrap());
    assert!(store.find_personal_token(&secret.hash(), NOW).await.unwrap().is_none());
}

async fn tokens_are_counted_by_state_per_organization(store: Store) {
    let (admin, _, robot_id) = org_with_robot(&store).await;
    let day = time::Duration::days(1);
    for (token, expires_at) in [
        ("forever", None),
        ("next-month", Some(NOW + day * 30)),
        ("next-week", Some(NOW + day * 3)),
        ("yesterday", Some(NOW - day)),
        ("last-year", Some(NOW - day * 365)),
    ] {
        let token_name = name(token);
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let hash = secret.hash();
        let new = NewToken {
            expires_at,
            ..new_token(robot_id, admin, &token_name, &hash)
        };
        let audit = token_created_event(None, new.access_id);
        let trail = Trail {
            audit: &audit,
            webhook: None,
        };
        store.create_token(&new, NOW - day * 400, &trail, LIMIT).await.unwrap();
    }
    let figures = store.token_figures(NOW, day * 7).await.unwrap();
    assert_eq!(
        figures,
        vec![robots_store::TokenFigures {
            org: "acme".into(),
            active: 2,
            expiring: 1,
            expired: 2,
        }]
    );
    assert_eq!(
        store.delivery_figures().await.unwrap(),
        robots_store::DeliveryFigures { pending: 0, failed: 0 }
    );
}

/// An audit event for a change a test makes (of no organization, so it
/// outlives any the test deletes).
fn noted() -> AuditEvent {
    change_event(None, "test.change")
}

async fn add_webhook(
    store: &Store,
    org_id: Uuid,
    url: &str,
    events: &[String],
    admin: Uuid,
    limit: u32,
) -> Result<robots_store::Webhook, StoreError> {
    let new = NewWebhook {
        id: Uuid::now_v7(),
        org_id,
        url,
        secret: "s",
        events,
        created_by: admin,
    };
    store.create_webhook(&new, NOW, limit, &noted()).await
}

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

fn new_user(username: &str) -> NewUser {
    NewUser {
        name: name(username),
        email: format!("{username}@example.com"),
        password_hash: "$argon2id$not-checked-here".into(),
        instance_admin: false,
    }
}

async fn user(store: &Store, username: &str) -> Uuid {
    store.create_user(&new_user(username), NOW).await.unwrap().id
}

/// The audit event of a change a test makes.
fn change_event(org_id: Option<Uuid>, action: &str) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        org_id,
        at: NOW,
        actor_kind: "user".into(),
        actor: Some("alice".into()),
        action: action.into(),
        target: None,
        detail: "{}".into(),
        ip: None,
        user_agent: None,
        via: "api".into(),
        request_id: None,
    }
}

/// Creates a robot in no team, with its audit event.
async fn create_robot(store: &Store, robot: &NewRobot<'_>, limit: u32) -> Result<robots_store::Robot, StoreError> {
    let audit = change_event(Some(robot.org_id), "robot.created");
    let trail = Trail {
        audit: &audit,
        webhook: None,
    };
    store.create_robot(robot, &[], NOW, limit, &trail).await
}

/// Deletes a token, with its audit event.
async fn delete_token(store: &Store, robot_id: Uuid, access_id: Uuid) -> Result<bool, StoreError> {
    let audit = change_event(None, "token.deleted");
    let trail = Trail {
        audit: &audit,
        webhook: None,
    };
    store.delete_token(robot_id, access_id, &trail).await
}

async fn add_robot(store: &Store, org_id: Uuid, admin: Uuid, robot: &str) -> robots_store::Robot {
    let new = NewRobot {
        org_id,
        name: &name(robot),
        description: "",
        created_by: admin,
    };
    create_robot(store, &new, LIMIT).await.unwrap()
}

async fn org_with_robot(store: &Store) -> (Uuid, Uuid, Uuid) {
    let admin = user(store, "alice").await;
    let org = store
        .create_org(Uuid::now_v7(), &name("acme"), "Acme", admin, NOW, &noted())
        .await
        .unwrap();
    let robot = create_robot(
        store,
        &NewRobot {
            org_id: org.id,
            name: &name("deployer"),
            description: "ships",
            created_by: admin,
        },
        LIMIT,
    )
    .await
    .unwrap();
    (admin, org.id, robot.id)
}

/// The audit event of a token creation, as the server writes it.
fn token_created_event(org_id: Option<Uuid>, access_id: Uuid) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        org_id,
        at: NOW,
        actor_kind: "user".into(),
        actor: Some("alice".into()),
        action: "token.created".into(),
        target: Some(format!("token {access_id}")),
        detail: "{}".into(),
        ip: None,
        user_agent: None,
        via: "api".into(),
        request_id: None,
    }
}

/// A new token of `robot_id` by `admin`, without expiry.
fn new_token<'a>(robot_id: Uuid, admin: Uuid, token_name: &'a Name, secret_hash: &'a SecretHash) -> NewToken<'a> {
    NewToken {
        access_id: Uuid::new_v4(),
        robot_id,
        name: token_name,
        secret_hash,
        created_by: Some(admin),
        expires_at: None,
        federated_credential: None,
    }
}

async fn add_token(store: &Store, robot_id: Uuid, admin: Uuid, token_name: &str) -> (Uuid, SecretToken) {
    let secret = SecretToken::generate(SecretKind::RobotToken);
    let access_id = Uuid::new_v4();
    let audit = token_created_event(None, access_id);
    store
        .create_token(
            &NewToken {
                access_id,
                robot_id,
                name: &name(token_name),
                secret_hash: &secret.hash(),
                created_by: Some(admin),
                expires_at: None,
                federated_credential: None,
            },
            NOW,
            &Trail {
                audit: &audit,
                webhook: None,
            },
            LIMIT,
        )
        .await
        .unwrap();
    (access_id, secret)
}

async fn setup_code_creates_the_first_admin_once(store: Store) {
    let first = SecretHash::of(b"first code");
    let second = SecretHash::of(b"second code");
    store.add_setup_code(&first, NOW).await.unwrap();
    store.add_setup_code(&second, NOW).await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 0);

    let admin = store.complete_setup(&second, &new_user("root"), NOW).await.unwrap();
    assert!(admin.instance_admin, "the first user administers the instance");
    assert_eq!(store.count_users().await.unwrap(), 1);

    // Every other code died with it.
    assert!(matches!(
        store.complete_setup(&first, &new_user("mallory"), NOW).await,
        Err(StoreError::SetupComplete)
    ));
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn a_wrong_setup_code_consumes_nothing(store: Store) {
    let code = SecretHash::of(b"the code");
    store.add_setup_code(&code, NOW).await.unwrap();
    assert!(matches!(
        store
            .complete_setup(&SecretHash::of(b"a guess"), &new_user("mallory"), NOW)
            .await,
        Err(StoreError::InvalidSetupCode)
    ));
    assert_eq!(store.count_users().await.unwrap(), 0);
    store.complete_setup(&code, &new_user("root"), NOW).await.unwrap();
}

async fn names_are_one_namespace_for_users_and_orgs(store: Store) {
    let alice = user(&store, "alice").await;
    assert!(matches!(
        store
            .create_org(Uuid::now_v7(), &name("alice"), "", alice, NOW, &noted())
            .await,
        Err(StoreError::NameTaken)
    ));
    store
        .create_org(Uuid::now_v7(), &name("acme"), "", alice, NOW, &noted())
        .await
        .unwrap();
    assert!(matches!(
        store.create_user(&new_user("acme"), NOW).await,
        Err(StoreError::NameTaken)
    ));
    assert!(matches!(
        store.lookup_account("alice", alice).await.unwrap(),
        Some(AccountLookup::User)
    ));
    assert!(store.lookup_account("nobody", alice).await.unwrap().is_none());
}

async fn emails_are_unique(store: Store) {
    user(&store, "alice").await;
    let mut twin = new_user("alice2");
    twin.email = "alice@example.com".into();
    assert!(matches!(
        store.create_user(&twin, NOW).await,
        Err(StoreError::EmailTaken)
    ));
    // Nothing half-written: the account name is still free.
    twin.email = "other@example.com".into();
    store.create_user(&twin, NOW).await.unwrap();
}

async fn organizations_start_with_their_creator_as_admin(store: Store) {
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let org = store
        .create_org(Uuid::now_v7(), &name("acme"), "Acme Inc.", alice, NOW, &noted())
        .await
        .unwrap();
    match store.lookup_account("acme", alice).await.unwrap() {
        Some(AccountLookup::Org { org: found, role }) => {
            assert_eq!(found, org);
            assert_eq!(role, Some(Role::Admin));
        }
        other => panic!("expected the org, got {other:?}"),
    }
    match store.lookup_account("acme", bob).await.unwrap() {
        Some(AccountLookup::Org { role, .. }) => assert_eq!(role, None),
        other => panic!("expected the org, got {other:?}"),
    }
    let orgs = store.list_orgs_of_user(alice, None, 10).await.unwrap();
    assert_eq!(orgs.items.len(), 1);
    assert_eq!(orgs.items[0].role, Role::Admin);
    assert!(store.list_orgs_of_user(bob, None, 10).await.unwrap().items.is_empty());
}

async fn the_last_admin_cannot_leave_or_be_demoted(store: Store) {
    let alice = user(&store, "alice").await;
    user(&store, "bob").await;
    let org = store
        .create_org(Uuid::now_v7(), &name("acme"), "", alice, NOW, &noted())
        .await
        .unwrap();

    assert!(matches!(
        store
            .set_member(org.id, &name("alice"), Role::Member, NOW, |_, _| noted())
            .await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store.remove_member(org.id, &name("alice"), NOW, &noted()).await,
        Err(StoreError::LastAdmin)
    ));

    let (bob, created) = store
        .set_member(org.id, &name("bob"), Role::Member, NOW, |_, _| noted())
        .await
        .unwrap();
    assert!(created);
    assert_eq!(bob.role, Role::Member);
    let (bob, created) = store
        .set_member(org.id, &name("bob"), Role::Admin, NOW, |_, _| noted())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(bob.role, Role::Admin);

    // With two admins, one may go.
    assert!(
        store
            .remove_member(org.id, &name("alice"), NOW, &noted())
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_member(org.id, &name("alice"), NOW, &noted())
            .await
            .unwrap()
    );
    assert!(matches!(
        store.remove_member(org.id, &name("bob"), NOW, &noted()).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store
            .set_member(org.id, &name("nobody"), Role::Member, NOW, |_, _| noted())
            .await,
        Err(StoreError::UserNotFound)
    ));
    let members = store.list_members(org.id, None, 10).await.unwrap();
    assert_eq!(
        members.items.iter().map(|m| m.username.as_str()).collect::<Vec<_>>(),
        ["bob"]
    );
}

async fn robots_are_unique_per_organization(store: Store) {
    let (admin, org_id, _) = org_with_robot(&store).await;
    let duplicate = NewRobot {
        org_id,
        name: &name("deployer"),
        description: "",
        created_by: admin,
    };
    assert!(matches!(
        create_robot(&store, &duplicate, LIMIT).await,
        Err(StoreError::NameTaken)
    ));

    let other = store
        .create_org(Uuid::now_v7(), &name("other"), "", admin, NOW, &noted())
        .await
        .unwrap();
    let same_name_elsewhere = NewRobot {
        org_id: other.id,
        ..duplicate
    };
    let robot = create_robot(&store, &same_name_elsewhere, LIMIT).await.unwrap();
    assert_eq!(robot.created_by, Some(name("alice")));
    assert_eq!(robot.token_count, 0);
    assert_eq!(robot.last_used_at, None);

    // `other` has one robot: a limit of one refuses the second.
    let second = NewRobot {
        name: &name("second"),
        ..same_name_elsewhere
    };
    assert!(matches!(
        create_robot(&store, &second, 1).await,
        Err(StoreError::LimitReached { limit: 1, .. })
    ));
    assert_eq!(store.list_robots(other.id, None, 10).await.unwrap().items.len(), 1);
    create_robot(&store, &second, 2).await.unwrap();
}

async fn tokens_per_robot_are_limited_with_nothing_left_behind(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    add_token(&store, robot_id, admin, "first").await;
    let secret = SecretToken::generate(SecretKind::RobotToken);
    let refused = NewToken {
        access_id: Uuid::new_v4(),
        robot_id,
        name: &name("second"),
        secret_hash: &secret.hash(),
        created_by: Some(admin),
        expires_at: None,
        federated_credential: None,
    };
    let audit = token_created_event(Some(org_id), refused.access_id);
    let trail = Trail {
        audit: &audit,
        webhook: None,
    };
    assert!(matches!(
        store.create_token(&refused, NOW, &trail, 1).await,
        Err(StoreError::LimitReached { limit: 1, .. })
    ));
    // Neither the token nor its audit event was written.
    assert!(store.find_token_owner(&secret.hash()).await.unwrap().is_none());
    let query = AuditQuery {
        target: Some(format!("token {}", refused.access_id)),
        ..AuditQuery::default()
    };
    assert!(
        store
            .list_audit(Some(org_id), &query, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    store.create_token(&refused, NOW, &trail, 2).await.unwrap();
}

async fn renaming_a_robot_keeps_its_tokens(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let (_, secret) = add_token(&store, robot_id, admin, "ci").await;
    let later = NOW + Duration::from_secs(60);
    let renamed = store
        .update_robot(
            robot_id,
            RobotPatch {
                name: Some(&name("shipper")),
                ..RobotPatch::default()
            },
            later,
            &noted(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, name("shipper"));
    assert_eq!(renamed.description, "ships", "an absent field is left alone");
    assert_eq!(renamed.updated_at, later);
    assert_eq!(renamed.token_count, 1);
    let owner = store.find_token_owner(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(owner.robot_name, name("shipper"));

    add_robot(&store, org_id, admin, "other").await;
    assert!(matches!(
        store
            .update_robot(
                robot_id,
                RobotPatch {
                    name: Some(&name("other")),
                    ..RobotPatch::default()
                },
                later,
                &noted()
            )
            .await,
        Err(StoreError::NameTaken)
    ));
    assert!(
        store
            .update_robot(
                Uuid::new_v4(),
                RobotPatch {
                    description: Some("x"),
                    ..RobotPatch::default()
                },
                later,
                &noted()
            )
            .await
            .unwrap()
            .is_none()
    );
}

async fn tokens_are_found_by_hash_only(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let (access_id, secret) = add_token(&store, robot_id, admin, "ci").await;
    let owner = store.find_token_owner(&secret.hash()).await.unwrap().unwrap();
    assert_eq!(owner.access_id, access_id);
    assert_eq!(owner.secret_hash, secret.hash());
    assert_eq!((owner.robot_id, owner.org_id), (robot_id, org_id));
    assert_eq!(
        (owner.robot_name.as_str(), owner.org_name.as_str()),
        ("deployer", "acme")
    );

    let stranger = SecretToken::generate(SecretKind::RobotToken);
    assert!(store.find_token_owner(&stranger.hash()).await.unwrap().is_none());

    // A token, its audit event and its webhook deliveries are written
    // together or not at all.
    let webhook = add_webhook(
        &store,
        org_id,
        "http://127.0.0.1:9/hook",
        &["token.created".to_owned()],
        admin,
        LIMIT,
    )
    .await
    .unwrap();
    let audited = |access_id: Uuid| {
        let store = store.clone();
        async move {
            let query = AuditQuery {
                target: Some(format!("token {access_id}")),
                ..AuditQuery::default()
            };
            store.list_audit(Some(org_id), &query, 10).await.unwrap().items.len()
        }
    };
    let queued = || {
        let store = store.clone();
        async move { store.list_deliveries(webhook.id, 10).await.unwrap().len() }
    };
    let duplicate = NewToken {
        access_id: Uuid::new_v4(),
        robot_id,
        name: &name("ci"),
        secret_hash: &stranger.hash(),
        created_by: Some(admin),
        expires_at: None,
        federated_credential: None,
    };
    let audit = token_created_event(Some(org_id), duplicate.access_id);
    let trail = Trail {
        audit: &audit,
        webhook: Some(("token.created", "{}")),
    };
    assert!(matches!(
        store.create_token(&duplicate, NOW, &trail, LIMIT).await,
        Err(StoreError::NameTaken)
    ));
    assert_eq!((audited(duplicate.access_id).await, queued().await), (0, 0));
    let second = NewToken {
        name: &name("deploy"),
        ..duplicate.clone()
    };
    store.create_token(&second, NOW, &trail, LIMIT).await.unwrap();
    assert_eq!((audited(second.access_id).await, queued().await), (1, 1));
    assert!(delete_token(&store, robot_id, second.access_id).await.unwrap());

    let listed = store.list_tokens(robot_id, None, None, 10).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].created_by, Some(name("alice")));

    assert!(delete_token(&store, robot_id, access_id).await.unwrap());
    assert!(!delete_token(&store, robot_id, access_id).await.unwrap());
    assert!(store.find_token_owner(&secret.hash()).await.unwrap().is_none());
}

/// Creates a token whose trail announces `token.created` to the org's webhooks.
async fn add_announced_token(store: &Store, org_id: Uuid, robot_id: Uuid, admin: Uuid, token_name: &str) {
    let (token_name, hash) = (name(token_name), SecretToken::generate(SecretKind::RobotToken).hash());
    let token = new_token(robot_id, admin, &token_name, &hash);
    let audit = token_created_event(Some(org_id), token.access_id);
    let trail = Trail {
        audit: &audit,
        webhook: Some(("token.created", "{}")),
    };
    store.create_token(&token, NOW, &trail, LIMIT).await.unwrap();
}

async fn webhooks_are_limited_and_list_their_latest_deliveries(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let events = ["token.created".to_owned()];
    let mut webhooks = Vec::new();
    for i in 0..2 {
        let url = format!("http://127.0.0.1:9/hook-{i}");
        webhooks.push(add_webhook(&store, org_id, &url, &events, admin, 2).await.unwrap().id);
    }
    let third = add_webhook(&store, org_id, "http://127.0.0.1:9/3", &events, admin, 2).await;
    assert!(
        matches!(third, Err(StoreError::LimitReached { limit: 2, .. })),
        "{third:?}"
    );
    assert_eq!(store.list_webhooks(org_id).await.unwrap().len(), 2);

    // Another organization's deliveries stay out of this one's list.
    let other = store
        .create_org(Uuid::now_v7(), &name("other"), "", admin, NOW, &noted())
        .await
        .unwrap();
    let elsewhere = add_webhook(&store, other.id, "http://127.0.0.1:9/o", &events, admin, 2).await;
    assert!(elsewhere.is_ok());
    let other_robot = create_robot(
        &store,
        &NewRobot {
            org_id: other.id,
            name: &name("builder"),
            description: "",
            created_by: admin,
        },
        LIMIT,
    )
    .await
    .unwrap();
    add_announced_token(&store, other.id, other_robot.id, admin, "there").await;

    for token in ["one", "two", "three"] {
        add_announced_token(&store, org_id, robot_id, admin, token).await;
    }
    let recent = store.recent_org_deliveries(org_id, 2).await.unwrap();
    assert_eq!(recent.len(), 4, "two for each of the two webhooks");
    for webhook in &webhooks {
        let latest = store.list_deliveries(*webhook, 2).await.unwrap();
        let listed: Vec<_> = recent
            .iter()
            .filter(|(w, _)| w == webhook)
            .map(|(_, d)| d.clone())
            .collect();
        assert_eq!(listed, latest, "the newest two, newest first");
        assert_eq!(store.list_deliveries(*webhook, 10).await.unwrap().len(), 3);
    }
}

async fn webhooks_added_or_removed_are_seen_by_the_next_change(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    // The organization's webhooks (none) are looked up, and remembered.
    add_announced_token(&store, org_id, robot_id, admin, "first").await;
    let webhook = add_webhook(
        &store,
        org_id,
        "http://127.0.0.1:9/hook",
        &["token.created".to_owned()],
        admin,
        LIMIT,
    )
    .await
    .unwrap();
    add_announced_token(&store, org_id, robot_id, admin, "second").await;
    assert_eq!(store.list_deliveries(webhook.id, 10).await.unwrap().len(), 1);
    assert!(store.delete_webhook(org_id, webhook.id, &noted()).await.unwrap());
    // Not queued for the deleted webhook (its deliveries would break the write).
    add_announced_token(&store, org_id, robot_id, admin, "third").await;
    let tokens = store.list_tokens(robot_id, None, None, 10).await.unwrap();
    assert_eq!(tokens.items.len(), 3);
}

/// Whether the token, its audit event and its deliveries (one per webhook
/// of `webhooks`) were all written (`Some(true)`) or none (`Some(false)`).
async fn token_trail_state(
    store: &Store,
    org_id: Uuid,
    access_id: Uuid,
    hash: &SecretHash,
    webhooks: &[Uuid],
) -> Option<bool> {
    let token = store.find_token_owner(hash).await.unwrap().is_some();
    let query = AuditQuery {
        target: Some(format!("token {access_id}")),
        ..AuditQuery::default()
    };
    let audited = store.list_audit(Some(org_id), &query, 10).await.unwrap().items.len();
    let mut deliveries = Vec::new();
    for webhook in webhooks {
        deliveries.push(store.list_deliveries(*webhook, 1000).await.unwrap().len());
    }
    match (token, audited) {
        (true, 1) => Some(true),
        (false, 0) => Some(false),
        _ => None,
    }
    .filter(|_| deliveries.iter().all(|count| *count == deliveries[0]))
}

async fn two_webhooks(store: &Store, org_id: Uuid, admin: Uuid) -> [Uuid; 2] {
    let mut ids = [Uuid::nil(); 2];
    for (i, id) in ids.iter_mut().enumerate() {
        let url = format!("http://127.0.0.1:9/hook-{i}");
        *id = add_webhook(store, org_id, &url, &["token.created".to_owned()], admin, LIMIT)
            .await
            .unwrap()
            .id;
    }
    ids
}

async fn a_change_and_its_record_are_written_together(store: Store) {
    let (_, org_id, robot_id) = org_with_robot(&store).await;
    let recorded = |id: Uuid| {
        let store = store.clone();
        async move {
            let events = store
                .list_audit(Some(org_id), &AuditQuery::default(), 100)
                .await
                .unwrap();
            events.items.iter().any(|event| event.id == id)
        }
    };
    let record = change_event(Some(org_id), "team.created");
    store.create_team(org_id, &name("ops"), "", NOW, &record).await.unwrap();
    assert!(recorded(record.id).await);

    // A record that cannot be written (its ID is taken) takes its change
    // down with it: nothing happens unrecorded.
    let refused = store.create_team(org_id, &name("dev"), "", NOW, &record).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(store.get_team(org_id, &name("dev")).await.unwrap().is_none());
    let refused = store
        .update_robot(
            robot_id,
            RobotPatch {
                name: Some(&name("renamed")),
                ..RobotPatch::default()
            },
            NOW,
            &record,
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(store.get_robot(org_id, &name("deployer")).await.unwrap().is_some());
    let bob = user(&store, "bob").await;
    let refused = store
        .set_member(org_id, &name("bob"), Role::Member, NOW, |_, _| record.clone())
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(store.count_members(org_id).await.unwrap(), 1, "{bob} did not join");

    // A change that does not happen leaves no record.
    let nothing = change_event(Some(org_id), "team.deleted");
    assert!(!store.delete_team(Uuid::now_v7(), &nothing).await.unwrap());
    let ops = store.get_team(org_id, &name("ops")).await.unwrap().unwrap();
    assert!(
        !store
            .remove_team_robot(&ops, &name("deployer"), &nothing)
            .await
            .unwrap()
    );
    assert!(!recorded(nothing.id).await);
}

async fn a_robot_its_teams_and_its_trail_are_written_together(store: Store) {
    let (admin, org_id, _) = org_with_robot(&store).await;
    let ops = store
        .create_team(org_id, &name("ops"), "", NOW, &noted())
        .await
        .unwrap();
    let web = store
        .create_team(org_id, &name("web"), "", NOW, &noted())
        .await
        .unwrap();
    let elsewhere = store
        .create_org(Uuid::now_v7(), &name("globex"), "", admin, NOW, &noted())
        .await
        .unwrap();
    let foreign = store
        .create_team(elsewhere.id, &name("spies"), "", NOW, &noted())
        .await
        .unwrap();
    let robot_events = || {
        let store = store.clone();
        async move {
            let query = AuditQuery {
                action: Some("robot.created".into()),
                ..AuditQuery::default()
            };
            store.list_audit(Some(org_id), &query, 10).await.unwrap().items.len()
        }
    };
    let before = robot_events().await;
    let audit = change_event(Some(org_id), "robot.created");
    let trail = Trail {
        audit: &audit,
        webhook: None,
    };
    let (half, whole) = (name("half"), name("whole"));
    let new = |robot| NewRobot {
        org_id,
        name: robot,
        description: "",
        created_by: admin,
    };

    // A team of another organization (or one deleted meanwhile) refuses the
    // whole creation: no robot without the rights it was made for.
    assert!(matches!(
        store
            .create_robot(&new(&half), &[ops.id, foreign.id], NOW, LIMIT, &trail)
            .await,
        Err(StoreError::TeamNotFound)
    ));
    assert!(store.get_robot(org_id, &name("half")).await.unwrap().is_none());
    assert_eq!(
        store.get_team(org_id, &name("ops")).await.unwrap().unwrap().robot_count,
        0
    );
    assert_eq!(robot_events().await, before);

    let robot = store
        .create_robot(&new(&whole), &[ops.id, web.id], NOW, LIMIT, &trail)
        .await
        .unwrap();
    assert_eq!(store.robot_teams(robot.id).await.unwrap(), [name("ops"), name("web")]);
    assert_eq!(robot_events().await, before + 1);
}

async fn a_token_and_its_trail_are_written_together(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let webhooks = two_webhooks(&store, org_id, admin).await;
    let secret = SecretToken::generate(SecretKind::RobotToken);
    let (token_name, hash) = (name("deploy"), secret.hash());
    let token = NewToken {
        expires_at: Some(NOW + Duration::from_secs(3600)),
        ..new_token(robot_id, admin, &token_name, &hash)
    };
    let mut audit = token_created_event(Some(org_id), token.access_id);
    audit.detail = r#"{"name":"deploy"}"#.into();
    audit.ip = Some("192.0.2.7".into());
    audit.user_agent = Some("robots-cli".into());
    let payload = r#"{"event":"token.created"}"#;
    let trail = Trail {
        audit: &audit,
        webhook: Some(("token.created", payload)),
    };
    store.create_token(&token, NOW, &trail, LIMIT).await.unwrap();

    let stored = store.get_token(robot_id, token.access_id).await.unwrap().unwrap();
    assert_eq!(stored.name, name("deploy"));
    assert_eq!(stored.created_at, NOW);
    assert_eq!(stored.created_by, Some(name("alice")));
    assert_eq!(stored.expires_at, token.expires_at);
    let query = AuditQuery {
        target: audit.target.clone(),
        ..AuditQuery::default()
    };
    let events = store.list_audit(Some(org_id), &query, 10).await.unwrap().items;
    assert_eq!(events, vec![audit.clone()]);
    // Each webhook gets its own delivery of the same payload.
    let due = store
        .claim_due_deliveries(NOW, NOW + Duration::from_secs(60), 10)
        .await
        .unwrap();
    let mut urls: Vec<_> = due.iter().map(|delivery| delivery.url.as_str()).collect();
    urls.sort();
    assert_eq!(urls, ["http://127.0.0.1:9/hook-0", "http://127.0.0.1:9/hook-1"]);
    assert!(
        due.iter()
            .all(|delivery| delivery.event == "token.created" && delivery.payload == payload)
    );
    assert_ne!(due[0].id, due[1].id);
    for webhook in webhooks {
        let deliveries = store.list_deliveries(webhook, 10).await.unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].created_at, NOW);
    }
}

/// A request can go away at any await point (its client hung up): a token
/// being created then is stored with its whole trail or not at all, and
/// the next write is not stuck behind a half-finished one.
async fn a_cancelled_creation_is_all_or_nothing(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let webhooks = two_webhooks(&store, org_id, admin).await;
    let mut outcomes = Vec::new();
    // Cut off after one poll (the write may be under way or not begun), then
    // at later and later points, until both ends were seen.
    for attempt in 0..400u64 {
        let cut_after = Duration::from_micros(if attempt % 2 == 0 { 0 } else { attempt * attempt * 10 });
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let (token_name, hash) = (name(&format!("t{attempt}")), secret.hash());
        let token = new_token(robot_id, admin, &token_name, &hash);
        let audit = token_created_event(Some(org_id), token.access_id);
        let trail = Trail {
            audit: &audit,
            webhook: Some(("token.created", "{}")),
        };
        let created = tokio::time::timeout(cut_after, store.create_token(&token, NOW, &trail, LIMIT)).await;
        if let Ok(result) = created {
            result.unwrap();
        }
        // The next write goes through (on SQLite, after undoing what the
        // cancelled one left open).
        add_announced_token(&store, org_id, robot_id, admin, &format!("after-{attempt}")).await;
        let state = token_trail_state(&store, org_id, token.access_id, &secret.hash(), &webhooks).await;
        outcomes.push(state.expect("the token and its trail are written together"));
        if attempt >= 20 && outcomes.contains(&false) && outcomes.contains(&true) {
            return;
        }
    }
    panic!("creations were not cut off both before and after they were written: {outcomes:?}");
}

async fn robots_found_by_name_follow_renames_and_deletions(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let find = |robot: &'static str| {
        let store = store.clone();
        async move { store.get_robot_ref(org_id, &name(robot)).await.unwrap() }
    };
    // Looked up (and remembered), then changed: every change is seen.
    assert_eq!(find("deployer").await.unwrap().id, robot_id);
    store
        .update_robot(
            robot_id,
            RobotPatch {
                name: Some(&name("shipper")),
                ..RobotPatch::default()
            },
            NOW,
            &noted(),
        )
        .await
        .unwrap();
    assert!(find("deployer").await.is_none());
    assert_eq!(find("shipper").await.unwrap().id, robot_id);
    assert!(find("shipper").await.unwrap().disabled_at.is_none());
    store.set_robot_disabled(robot_id, Some(NOW), &noted()).await.unwrap();
    assert_eq!(find("shipper").await.unwrap().disabled_at, Some(NOW));
    assert!(store.delete_robot(robot_id, &noted()).await.unwrap());
    assert!(find("shipper").await.is_none());
    let again = add_robot(&store, org_id, admin, "shipper").await;
    assert_eq!(find("shipper").await.unwrap().id, again.id);
}

async fn accounts_looked_up_follow_roles_policies_and_deletions(store: Store) {
    let (admin, org_id, _) = org_with_robot(&store).await;
    let bob = user(&store, "bob").await;
    let seen_by = |viewer: Uuid| {
        let store = store.clone();
        async move {
            match store.lookup_account("acme", viewer).await.unwrap() {
                Some(AccountLookup::Org { org, role }) => Some((org, role)),
                Some(AccountLookup::User) => panic!("acme is an organization"),
                None => None,
            }
        }
    };
    // Looked up (and remembered), then changed: every change is seen.
    assert_eq!(seen_by(bob).await.unwrap().1, None);
    store
        .set_member(org_id, &name("bob"), Role::Member, NOW, |_, _| noted())
        .await
        .unwrap();
    assert_eq!(seen_by(bob).await.unwrap().1, Some(Role::Member));
    store
        .set_member(org_id, &name("bob"), Role::Admin, NOW, |_, _| noted())
        .await
        .unwrap();
    assert_eq!(seen_by(bob).await.unwrap().1, Some(Role::Admin));
    assert!(store.remove_member(org_id, &name("bob"), NOW, &noted()).await.unwrap());
    assert_eq!(seen_by(bob).await.unwrap().1, None);

    assert!(
        store
            .update_org(org_id, Some("Acme Inc."), None, &[noted()])
            .await
            .unwrap()
    );
    assert_eq!(seen_by(admin).await.unwrap().0.display_name, "Acme Inc.");
    let policy = TokenPolicy {
        max_lifetime: Some(Duration::from_secs(3600)),
        expiry_required: true,
        personal_tokens_allowed: false,
        disable_unused_after: Some(Duration::from_secs(90 * 86_400)),
    };
    assert!(store.update_org(org_id, None, Some(policy), &[noted()]).await.unwrap());
    let (org, _) = seen_by(admin).await.unwrap();
    assert_eq!(
        (org.display_name.as_str(), org.token_policy),
        ("Acme Inc.", policy),
        "each field kept the other"
    );
    assert!(store.update_org(org_id, Some("Acme"), None, &[noted()]).await.unwrap());
    let open = TokenPolicy::default();
    assert!(
        store
            .update_org(org_id, Some(""), Some(open), &[noted(), noted()])
            .await
            .unwrap()
    );
    let (org, _) = seen_by(admin).await.unwrap();
    assert_eq!(
        (org.display_name.as_str(), org.token_policy),
        ("", open),
        "both at once"
    );
    assert!(
        store
            .update_org(org_id, Some("Acme"), Some(policy), &[noted(), noted()])
            .await
            .unwrap()
    );
    assert_eq!(seen_by(admin).await.unwrap().0.token_policy, policy);

    assert!(store.delete_org(org_id, &noted()).await.unwrap());
    assert!(seen_by(admin).await.is_none());
    // An update racing the deletion finds nothing, and records nothing
    // (its record would name an organization that no longer exists).
    assert!(
        !store
            .update_org(org_id, Some("late"), None, &[change_event(Some(org_id), "org.updated")])
            .await
            .unwrap()
    );
    let again = store
        .create_org(Uuid::now_v7(), &name("acme"), "", bob, NOW, &noted())
        .await
        .unwrap();
    assert_eq!(seen_by(bob).await.unwrap(), (again, Some(Role::Admin)));
    assert!(matches!(
        store.lookup_account("bob", admin).await.unwrap(),
        Some(AccountLookup::User)
    ));
}

async fn deleting_a_robot_deletes_its_tokens(store: Store) {
    let (admin, _, robot_id) = org_with_robot(&store).await;
    let (_, secret) = add_token(&store, robot_id, admin, "ci").await;
    assert!(store.delete_robot(robot_id, &noted()).await.unwrap());
    assert!(store.find_token_owner(&secret.hash()).await.unwrap().is_none());
    assert!(!store.delete_robot(robot_id, &noted()).await.unwrap());
}

async fn deleting_an_org_deletes_everything_in_it(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let (_, secret) = add_token(&store, robot_id, admin, "ci").await;
    assert!(store.delete_org(org_id, &noted()).await.unwrap());
    assert!(store.find_token_owner(&secret.hash()).await.unwrap().is_none());
    assert!(store.lookup_account("acme", admin).await.unwrap().is_none());
    assert!(store.list_orgs_of_user(admin, None, 10).await.unwrap().items.is_empty());
    // The name is free again.
    store
        .create_org(Uuid::now_v7(), &name("acme"), "", admin, NOW, &noted())
        .await
        .unwrap();
}

async fn token_uses_never_move_backwards(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let (access_id, _) = add_token(&store, robot_id, admin, "ci").await;
    let use_at = |minutes: u64, ip: &str| TokenUse {
        access_id,
        at: NOW + Duration::from_secs(60 * minutes),
        ip: Some(ip.into()),
        user_agent: Some("skopeo/1.9".into()),
    };
    store.record_token_uses(&[use_at(5, "10.0.0.5")]).await.unwrap();
    store.record_token_uses(&[use_at(3, "10.0.0.3")]).await.unwrap();
    let token = store.get_token(robot_id, access_id).await.unwrap().unwrap();
    assert_eq!(token.last_used_at, Some(NOW + Duration::from_secs(300)));
    assert_eq!(token.last_used_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(token.last_used_user_agent.as_deref(), Some("skopeo/1.9"));
    let robot = store.get_robot(org_id, &name("deployer")).await.unwrap().unwrap();
    assert_eq!(robot.last_used_at, Some(NOW + Duration::from_secs(300)));
}

/// A flush carries the uses of every token used since the last one: many,
/// written in chunks on SQLite; each lands on its own token, and within a
/// batch a later use wins over an earlier one of the same token.
async fn a_batch_of_uses_is_recorded_whole(store: Store) {
    let (admin, _, robot_id) = org_with_robot(&store).await;
    let tokens: Vec<_> = (0..300)
        .map(|i| {
            let hash = SecretToken::generate(SecretKind::RobotToken).hash();
            (Uuid::new_v4(), name(&format!("t{i}")), hash)
        })
        .collect();
    store.bulk_create_tokens(robot_id, admin, &tokens, NOW).await.unwrap();
    let use_of = |i: usize, minutes: u64| TokenUse {
        access_id: tokens[i].0,
        at: NOW + Duration::from_secs(60 * minutes),
        ip: Some(format!("10.0.{}.{}", i / 256, i % 256)),
        user_agent: Some(format!("agent-{i}-{minutes}")),
    };
    // 301 uses: chunks of 64, …, and a last one of one; token 7 twice.
    let mut uses: Vec<_> = (0..300).map(|i| use_of(i, 1 + i as u64 % 5)).collect();
    uses.insert(100, use_of(7, 9));
    store.record_token_uses(&uses).await.unwrap();
    let page = store.list_tokens(robot_id, None, None, 500).await.unwrap();
    assert_eq!(page.items.len(), 300);
    for token in page.items {
        let i = tokens.iter().position(|(id, _, _)| *id == token.access_id).unwrap();
        let minutes = if i == 7 { 9 } else { 1 + i as u64 % 5 };
        assert_eq!(
            token.last_used_at,
            Some(NOW + Duration::from_secs(60 * minutes)),
            "token {i}"
        );
        assert_eq!(token.last_used_ip, Some(format!("10.0.{}.{}", i / 256, i % 256)));
        assert_eq!(token.last_used_user_agent, Some(format!("agent-{i}-{minutes}")));
    }
}

async fn sessions_expire(store: Store) {
    let alice = user(&store, "alice").await;
    let session = SecretToken::generate(SecretKind::Session);
    let expires = NOW + Duration::from_secs(3600);
    store
        .create_session(&session.hash(), alice, NOW, expires)
        .await
        .unwrap();
    let (found, found_expiry) = store.find_session(&session.hash(), NOW).await.unwrap().unwrap();
    assert_eq!((found.id, found_expiry), (alice, expires));
    assert!(store.find_session(&session.hash(), expires).await.unwrap().is_none());
    assert_eq!(store.delete_expired_sessions(expires).await.unwrap(), 1);
    assert!(!store.delete_session(&session.hash()).await.unwrap());
}

async fn lists_paginate_by_name(store: Store) {
    let (admin, org_id, _) = org_with_robot(&store).await;
    for robot in ["a1", "b2", "c3", "e5"] {
        create_robot(
            &store,
            &NewRobot {
                org_id,
                name: &name(robot),
                description: "",
                created_by: admin,
            },
            LIMIT,
        )
        .await
        .unwrap();
    }
    let first = store.list_robots(org_id, None, 2).await.unwrap();
    assert_eq!(
        first.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["a1", "b2"]
    );
    assert!(first.has_more);
    let second = store.list_robots(org_id, Some("b2"), 2).await.unwrap();
    assert_eq!(
        second.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["c3", "deployer"]
    );
    assert!(second.has_more);
    let last = store.list_robots(org_id, Some("deployer"), 2).await.unwrap();
    assert_eq!(last.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["e5"]);
    assert!(!last.has_more);
}

fn repo(path: &str) -> RepoPath {
    RepoPath::parse(path).unwrap()
}

async fn teams_grant_robots_access_to_repositories(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let deployers = store
        .create_team(org_id, &name("deployers"), "push images", NOW, &noted())
        .await
        .unwrap();
    let readers = store
        .create_team(org_id, &name("readers"), "", NOW, &noted())
        .await
        .unwrap();
    assert!(matches!(
        store.create_team(org_id, &name("readers"), "", NOW, &noted()).await,
        Err(StoreError::NameTaken)
    ));
    let web = store
        .create_repository(org_id, &repo("apps/web"), admin, NOW, &noted())
        .await
        .unwrap();
    let base = store
        .create_repository(org_id, &repo("base"), admin, NOW, &noted())
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_repository(org_id, &repo("base"), admin, NOW, &noted())
            .await,
        Err(StoreError::NameTaken)
    ));

    // A new robot may do nothing.
    assert!(resolve(&store.robot_access(robot_id).await.unwrap()).is_empty());

    assert!(
        store
            .add_team_robot(&deployers, &name("deployer"), NOW, &noted())
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_team_robot(&deployers, &name("deployer"), NOW, &noted())
            .await
            .unwrap(),
        "already a member"
    );
    store
        .add_team_robot(&readers, &name("deployer"), NOW, &noted())
        .await
        .unwrap();
    let (grant, created) = store
        .set_grant(&deployers, &web, Permission::Write, NOW, &noted())
        .await
        .unwrap();
    assert!(created);
    assert_eq!(grant.permission, Permission::Write);
    store
        .set_grant(&readers, &web, Permission::Read, NOW, &noted())
        .await
        .unwrap();
    store
        .set_grant(&readers, &base, Permission::Read, NOW, &noted())
        .await
        .unwrap();

    let snapshot = store.robot_access(robot_id).await.unwrap();
    let effective = resolve(&snapshot);
    assert_eq!(effective.len(), 2);
    assert_eq!(
        (effective[0].repository.as_str(), effective[0].permission),
        ("apps/web", Permission::Write)
    );
    assert_eq!(effective[0].via.len(), 2);
    assert!(may(&snapshot, org_id, "apps/web", RepoAction::Push));
    assert!(!may(&snapshot, org_id, "apps/web", RepoAction::Delete));
    assert!(!may(&snapshot, org_id, "base", RepoAction::Push));

    // Changing a grant changes access; revoking it removes it.
    let (_, created) = store
        .set_grant(&deployers, &web, Permission::Admin, NOW, &noted())
        .await
        .unwrap();
    assert!(!created);
    assert!(may(
        &store.robot_access(robot_id).await.unwrap(),
        org_id,
        "apps/web",
        RepoAction::Delete
    ));
    assert!(store.revoke_grant(deployers.id, web.id, &noted()).await.unwrap());
    let snapshot = store.robot_access(robot_id).await.unwrap();
    assert!(!may(&snapshot, org_id, "apps/web", RepoAction::Push));
    assert!(
        may(&snapshot, org_id, "apps/web", RepoAction::Pull),
        "readers still read"
    );

    let access = store.repository_access(web.id).await.unwrap();
    assert_eq!(access.len(), 1);
    assert_eq!(
        (access[0].name.as_str(), access[0].team.as_str()),
        ("deployer", "readers")
    );
    assert_eq!(
        store.robot_teams(robot_id).await.unwrap(),
        [name("deployers"), name("readers")]
    );
    let team = store.get_team(org_id, &name("readers")).await.unwrap().unwrap();
    assert_eq!((team.robot_count, team.grant_count), (1, 2));
}

async fn team_members_must_belong_to_the_organization(store: Store) {
    let (admin, org_id, _) = org_with_robot(&store).await;
    let outsider = user(&store, "outsider").await;
    let team = store
        .create_team(org_id, &name("ops"), "", NOW, &noted())
        .await
        .unwrap();
    assert!(matches!(
        store.add_team_user(&team, &name("outsider"), NOW, &noted()).await,
        Err(StoreError::NotAnOrgMember)
    ));
    assert!(matches!(
        store.add_team_user(&team, &name("nobody"), NOW, &noted()).await,
        Err(StoreError::UserNotFound)
    ));
    assert!(store.add_team_user(&team, &name("alice"), NOW, &noted()).await.unwrap());

    // A robot of another organization cannot join.
    let other = store
        .create_org(Uuid::now_v7(), &name("globex"), "", outsider, NOW, &noted())
        .await
        .unwrap();
    create_robot(
        &store,
        &NewRobot {
            org_id: other.id,
            name: &name("spy"),
            description: "",
            created_by: outsider,
        },
        LIMIT,
    )
    .await
    .unwrap();
    assert!(matches!(
        store.add_team_robot(&team, &name("spy"), NOW, &noted()).await,
        Err(StoreError::RobotNotFound)
    ));

    let members = store.list_team_members(team.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, name("alice"));
    assert!(store.remove_team_user(team.id, &name("alice"), &noted()).await.unwrap());
    assert!(!store.remove_team_user(team.id, &name("alice"), &noted()).await.unwrap());
    let _ = admin;
}

async fn deleting_teams_repositories_and_robots_removes_access(store: Store) {
    let (admin, org_id, robot_id) = org_with_robot(&store).await;
    let team = store
        .create_team(org_id, &name("deployers"), "", NOW, &noted())
        .await
        .unwrap();
    let web = store
        .create_repository(org_id, &repo("web"), admin, NOW, &noted())
        .await
        .unwrap();
    store
        .add_team_robot(&team, &name("deployer"), NOW, &noted())
        .await
        .unwrap();
    store
        .set_grant(&team, &web, Permission::Write, NOW, &noted())
        .await
        .unwrap();
    assert!(!resolve(&store.robot_access(robot_id).await.unwrap()).is_empty());

    assert!(store.delete_team(team.id, &noted()).await.unwrap());
    assert!(
        resolve(&store.robot_access(robot_id).await.unwrap()).is_empty(),
        "a deleted team's grants are gone"
    );

    let team = store
        .create_team(org_id, &name("deployers"), "", NOW, &noted())
        .await
        .unwrap();
    store
        .add_team_robot(&team, &name("deployer"), NOW, &noted())
        .await
        .unwrap();
    store
        .set_grant(&team, &web, Permission::Write, NOW, &noted())
        .await
        .unwrap();
    assert!(store.delete_repository(web.id, &noted()).await.unwrap());
    assert!(resolve(&store.robot_access(robot_id).await.unwrap()).is_empty());
    assert!(store.list_team_grants(team.id).await.unwrap().is_empty());

    assert!(
        store
            .remove_team_robot(&team, &name("deployer"), &noted())
            .await
            .unwrap()
    );
    store
        .add_team_robot(&team, &name("deployer"), NOW, &noted())
        .await
        .unwrap();
    store.delete_robot(robot_id, &noted()).await.unwrap();
    assert!(store.list_team_members(team.id).await.unwrap().is_empty());
}

async fn federated_credentials_are_kept_changed_and_deleted_with_their_tokens(store: Store) {
    let (admin, _, robot_id) = org_with_robot(&store).await;
    let claims = std::collections::BTreeMap::from([("ref".to_owned(), "refs/heads/main".to_owned())]);
    let spec = FederatedCredentialSpec {
        name: &name("github"),
        description: "",
        issuer: "https://token.actions.githubusercontent.com",
        audience: "https://robots.example.com",
        subject: "repo:acme/app:*",
        claims: &claims,
    };
    let created = store
        .create_federated_credential(robot_id, &spec, admin, NOW, 2, &noted())
        .await
        .unwrap();
    assert_eq!(created.claims, claims);
    assert_eq!(created.created_by, Some(name("alice")));
    assert!(matches!(
        store
            .create_federated_credential(robot_id, &spec, admin, NOW, 2, &noted())
            .await,
        Err(StoreError::NameTaken)
    ));
    let other = FederatedCredentialSpec {
        name: &name("gitlab"),
        ..spec
    };
    store
        .create_federated_credential(robot_id, &other, admin, NOW, 2, &noted())
        .await
        .unwrap();
    let third = FederatedCredentialSpec {
        name: &name("third"),
        ..spec
    };
    assert!(matches!(
        store
            .create_federated_credential(robot_id, &third, admin, NOW, 2, &noted())
            .await,
        Err(StoreError::LimitReached { .. })
    ));
    let listed = store.list_federated_credentials(robot_id).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["github", "gitlab"]
    );

    // A token minted by an exchange: beyond the per-robot cap (0 here), and
    // shown with its credential.
    let mint = |token_name: &'static str, lifetime: i64| {
        let store = &store;
        let credential = created.id;
        async move {
            let secret = SecretToken::generate(SecretKind::RobotToken);
            let access_id = Uuid::new_v4();
            let audit = token_created_event(None, access_id);
            let token = NewToken {
                access_id,
                robot_id,
                name: &name(token_name),
                secret_hash: &secret.hash(),
                created_by: None,
                expires_at: Some(NOW + time::Duration::seconds(lifetime)),
                federated_credential: Some(credential),
            };
            let trail = Trail {
                audit: &audit,
                webhook: None,
            };
            store.create_token(&token, NOW, &trail, 0).await.unwrap();
            secret
        }
    };
    let first = mint("oidc-1", 900).await;
    let listed = store.list_tokens(robot_id, None, None, 10).await.unwrap();
    assert_eq!(listed.items[0].federated_by, Some(name("github")));
    assert_eq!(listed.items[0].created_by, None);

    // Changing the terms revokes what was minted under the old ones.
    let stricter = FederatedCredentialSpec {
        subject: "repo:acme/app:ref:refs/heads/main",
        ..spec
    };
    assert!(
        store
            .update_federated_credential(created.id, &stricter, NOW, &noted())
            .await
            .unwrap()
    );
    assert!(store.find_token_owner(&first.hash()).await.unwrap().is_none());
    let changed = store
        .get_federated_credential(robot_id, &name("github"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.subject, "repo:acme/app:ref:refs/heads/main");

    // Expired exchanged tokens are purged; live ones stay.
    mint("oidc-2", -7200).await;
    let live = mint("oidc-3", 600).await;
    assert_eq!(
        store
            .purge_exchanged_tokens(NOW - Duration::from_secs(3600))
            .await
            .unwrap(),
        1
    );
    assert!(store.find_token_owner(&live.hash()).await.unwrap().is_some());

    // Deleting the credential deletes its tokens.
    assert!(store.delete_federated_credential(created.id, &noted()).await.unwrap());
    assert!(store.find_token_owner(&live.hash()).await.unwrap().is_none());
    assert!(!store.delete_federated_credential(created.id, &noted()).await.unwrap());
}

/// The copy to PostgreSQL goes table by table in `TABLES`' order: it must
/// name every table of both schemas, or a table would be left behind.
#[tokio::test]
async fn the_copy_names_every_table_of_both_schemas() {
    use sqlx::Connection;
    let listed: std::collections::BTreeSet<String> = robots_store::TABLES.iter().map(|t| (*t).to_owned()).collect();

    let sqlite = robots_store::testing::fresh_sqlite().await;
    let path = sqlite.dir.as_ref().unwrap().path().join("robots.db");
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(
        tables.into_iter().collect::<std::collections::BTreeSet<_>>(),
        listed,
        "SQLite"
    );

    let Some(postgres) = robots_store::testing::fresh(Backend::Postgres).await else {
        return;
    };
    let mut connection = sqlx::PgConnection::connect(postgres.url.as_deref().unwrap())
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_%'",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(
        tables.into_iter().collect::<std::collections::BTreeSet<_>>(),
        listed,
        "PostgreSQL"
    );
}
