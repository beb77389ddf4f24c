//! What the API sends, built from the service's records: the shapes are
//! `robots_api_types` (shared with the command line); this is the one place
//! that fills them in. Field names are the contract; times are RFC 3339.

use robots_api_types as wire;
use robots_core::{Role, Scopes};
use robots_service::{NewSession, Phase, RobotPermissions, Standing, UserSession};
use robots_store::{
    AuditEvent, Delivery, FederatedCredential, Member, MemberKind, Org, Page, PersonalToken, RepoAccess, Repository,
    Robot, Team, TeamGrant, TeamMember, TokenInfo, TokenOrg, TokenOwner, TokenPolicy, User, Webhook,
};
use time::OffsetDateTime;

use crate::extract::encode_cursor;

/// A page of a list; `key` gives the pagination key of an item.
pub fn page<R, T>(page: Page<R>, key: impl Fn(&R) -> String, view: impl Fn(R) -> T) -> wire::List<T> {
    let next_cursor = if page.has_more {
        page.items.last().map(|last| encode_cursor(&key(last)))
    } else {
        None
    };
    wire::List {
        items: page.items.into_iter().map(view).collect(),
        next_cursor,
    }
}

/// A whole list, on one page.
pub fn all<T>(items: impl IntoIterator<Item = T>) -> wire::List<T> {
    wire::List {
        items: items.into_iter().collect(),
        next_cursor: None,
    }
}

pub fn user(user: User) -> wire::UserView {
    wire::UserView {
        id: user.id,
        username: user.name.into(),
        email: user.email,
        instance_admin: user.instance_admin,
        created_at: user.created_at,
    }
}

pub fn session(session: NewSession) -> wire::SessionView {
    wire::SessionView {
        token: session.token,
        expires_at: session.expires_at,
        user: user(session.user),
    }
}

pub fn whoami_user(session: UserSession) -> wire::WhoAmI {
    wire::WhoAmI::User {
        session_expires_at: session.expires_at,
        personal_token: session.personal_token.map(|token| wire::WhoAmIToken {
            name: token.name.into(),
            scopes: scope_names(token.scopes),
            orgs: token.orgs.map(org_names),
        }),
        user: user(session.user),
    }
}

fn scope_names(scopes: Scopes) -> Vec<String> {
    scopes.iter().map(|scope| scope.as_str().to_owned()).collect()
}

fn org_names(orgs: Vec<TokenOrg>) -> Vec<String> {
    orgs.into_iter().map(|org| org.name.into()).collect()
}

pub fn personal_token(token: PersonalToken, now: OffsetDateTime) -> wire::PersonalTokenView {
    wire::PersonalTokenView {
        id: token.id,
        name: token.name.into(),
        scopes: scope_names(token.scopes),
        orgs: token.orgs.map(org_names),
        created_at: token.created_at,
        expires_at: token.expires_at,
        expired: token.expires_at <= now,
        last_used_at: token.last_used_at,
        last_used_ip: token.last_used_ip,
        last_used_user_agent: token.last_used_user_agent,
    }
}

pub fn whoami_robot(owner: &TokenOwner) -> wire::WhoAmI {
    wire::WhoAmI::Robot {
        id: owner.robot_id,
        name: owner.robot_name.to_string(),
        org: owner.org_name.to_string(),
        access_id: owner.access_id,
        token_name: owner.token_name.to_string(),
        token_expires_at: owner.expires_at,
    }
}

pub fn token_policy(policy: TokenPolicy) -> wire::TokenPolicyView {
    wire::TokenPolicyView {
        max_lifetime: policy.max_lifetime.map(robots_core::duration::format_duration),
        expiry_required: policy.expiry_required,
        personal_tokens_allowed: policy.personal_tokens_allowed,
        disable_unused_after: policy.disable_unused_after.map(robots_core::duration::format_duration),
    }
}

pub fn org(org: Org, role: Role) -> wire::OrgView {
    wire::OrgView {
        id: org.id,
        name: org.name.into(),
        display_name: org.display_name,
        created_at: org.created_at,
        role,
        token_policy: token_policy(org.token_policy),
    }
}

pub fn member(member: Member) -> wire::MemberView {
    wire::MemberView {
        username: member.username.into(),
        email: member.email,
        role: member.role,
        joined_at: member.joined_at,
    }
}

pub fn robot(org: &str, robot: Robot) -> wire::RobotView {
    wire::RobotView {
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
        self_rotate: robot.self_rotate,
    }
}

pub fn token(token: TokenInfo, now: OffsetDateTime) -> wire::TokenView {
    let standing = Standing::of(&token, now);
    wire::TokenView {
        access_id: token.access_id,
        name: token.name.into(),
        created_at: token.created_at,
        created_by: token.created_by.map(Into::into),
        expires_at: token.expires_at,
        expired: standing.expired,
        expiring_soon: standing.expiring_soon,
        role: match standing.phase {
            Phase::Current => wire::TokenRole::Current,
            Phase::Successor => wire::TokenRole::Successor,
            Phase::RotatingOut => wire::TokenRole::RotatingOut,
        },
        replaced_by: token.replaced_by,
        rotated_from: token.rotated_from,
        last_used_at: token.last_used_at,
        last_used_ip: token.last_used_ip,
        last_used_user_agent: token.last_used_user_agent,
        federated_credential: token.federated_by.map(Into::into),
        disabled_at: token.disabled_at,
    }
}

pub fn permissions(org: &str, permissions: RobotPermissions) -> wire::PermissionsView {
    wire::PermissionsView {
        robot: permissions.robot.name.to_string(),
        org: org.to_owned(),
        teams: permissions.teams.into_iter().map(Into::into).collect(),
        items: permissions
            .effective
            .into_iter()
            .map(|effective| wire::EffectiveView {
                full_name: format!("{org}/{}", effective.repository),
                repository: effective.repository.into(),
                permission: effective.permission,
                actions: effective.permission.actions(),
                via: effective
                    .via
                    .into_iter()
                    .map(|via| wire::ViaView {
                        team: via.team.into(),
                        permission: via.permission,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn member_kind(kind: MemberKind) -> wire::MemberKind {
    match kind {
        MemberKind::User => wire::MemberKind::User,
        MemberKind::Robot => wire::MemberKind::Robot,
    }
}

pub fn team(org: &str, team: Team) -> wire::TeamView {
    wire::TeamView {
        id: team.id,
        org: org.to_owned(),
        name: team.name.into(),
        description: team.description,
        created_at: team.created_at,
        user_count: team.user_count,
        robot_count: team.robot_count,
        grant_count: team.grant_count,
        members: None,
        grants: None,
    }
}

pub fn team_member(member: TeamMember) -> wire::TeamMemberView {
    wire::TeamMemberView {
        kind: member_kind(member.kind),
        name: member.name.into(),
        added_at: member.added_at,
    }
}

pub fn grant(org: &str, grant: TeamGrant) -> wire::GrantView {
    wire::GrantView {
        team: grant.team.into(),
        full_name: format!("{org}/{}", grant.repository),
        repository: grant.repository.into(),
        permission: grant.permission,
        granted_at: grant.granted_at,
    }
}

pub fn repository(org: &str, repository: Repository) -> wire::RepositoryView {
    wire::RepositoryView {
        id: repository.id,
        org: org.to_owned(),
        full_name: format!("{org}/{}", repository.name),
        name: repository.name.into(),
        created_at: repository.created_at,
        created_by: repository.created_by.map(Into::into),
        grants: None,
        access: None,
    }
}

pub fn access(access: RepoAccess) -> wire::AccessView {
    wire::AccessView {
        kind: member_kind(access.kind),
        name: access.name.into(),
        permission: access.permission,
        team: access.team.into(),
    }
}

pub fn federated_credential(credential: FederatedCredential) -> wire::FederatedCredentialView {
    wire::FederatedCredentialView {
        id: credential.id,
        name: credential.name.into(),
        description: credential.description,
        issuer: credential.issuer,
        audience: credential.audience,
        subject: credential.subject,
        claims: credential.claims,
        created_at: credential.created_at,
        created_by: credential.created_by.map(Into::into),
        updated_at: credential.updated_at,
    }
}

pub fn audit_event(event: AuditEvent) -> wire::AuditView {
    wire::AuditView {
        id: event.id,
        at: event.at,
        actor_kind: event.actor_kind,
        actor: event.actor,
        action: event.action,
        target: event.target,
        detail: serde_json::from_str(&event.detail).unwrap_or(serde_json::Value::Null),
        ip: event.ip,
        user_agent: event.user_agent,
        via: event.via,
        request_id: event.request_id,
    }
}

pub fn webhook(webhook: Webhook, secret: Option<String>) -> wire::WebhookView {
    wire::WebhookView {
        id: webhook.id,
        url: webhook.url,
        events: webhook.events,
        created_at: webhook.created_at,
        failed_deliveries: webhook.failed_deliveries,
        last_error: webhook.last_error,
        secret,
    }
}

pub fn delivery(delivery: Delivery) -> wire::DeliveryView {
    wire::DeliveryView {
        id: delivery.id,
        event: delivery.event,
        created_at: delivery.created_at,
        attempts: delivery.attempts,
        status: match (delivery.delivered_at, delivery.next_attempt_at) {
            (Some(_), _) => wire::DeliveryStatus::Delivered,
            (None, Some(_)) => wire::DeliveryStatus::Retrying,
            (None, None) => wire::DeliveryStatus::Failed,
        },
        delivered_at: delivery.delivered_at,
        next_attempt_at: delivery.next_attempt_at,
        last_status: delivery.last_status,
        last_error: delivery.last_error,
    }
}
