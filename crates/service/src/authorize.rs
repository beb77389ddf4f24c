//! Authorization as a value. An operation on an organization takes an
//! [`Authorized<R>`]: proof that the caller holds the right `R` there. Its
//! fields are private and [`Service::authorize`] is the only way to make
//! one, so no surface can reach an operation having skipped the check, and
//! the type says which right each operation needs.
//!
//! The decision itself is `robots_core::policy::authorize`, a table-tested
//! function; this adds what it means to the caller: someone who is not a
//! member cannot tell the organization exists (404), a member who needs to
//! be an admin is told so (403), and a personal account's name is
//! explained (422). A caller with a personal access token also needs the
//! right's scope, in an organization the token may reach
//! ([`crate::personal_tokens`]).

use std::marker::PhantomData;

use robots_core::policy::{self, Denial, OrgAction};
use robots_core::{Name, Role, Scope};
use robots_store::{AccountLookup, InstancePolicy, Org, TokenPolicy};

use crate::{Actor, Service, ServiceError, ServiceResult, UserSession};

/// A right inside an organization.
pub trait Right {
    const ACTION: OrgAction;
    /// The scope a personal access token needs for it.
    const SCOPE: Scope;
    /// What only admins may do, for the refusal: "only admins of acme can …".
    const ADMINS_ONLY: &'static str;
}

macro_rules! rights {
    ($($(#[$doc:meta])* $name:ident => $action:ident, $scope:ident, $admins_only:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl Right for $name {
            const ACTION: OrgAction = OrgAction::$action;
            const SCOPE: Scope = Scope::$scope;
            const ADMINS_ONLY: &'static str = $admins_only;
        }
    )*};
}

rights! {
    /// See the organization, its members, teams and repositories.
    Read => Read, OrgsRead, "do that";
    /// See its robots and their tokens (never a secret).
    ReadRobots => Read, RobotsRead, "do that";
    /// Create, change and delete robots and their federated credentials.
    ManageRobots => ManageRobots, RobotsWrite, "create, change or delete robot accounts";
    /// Create, rotate and delete robot tokens.
    ManageTokens => ManageRobots, TokensWrite, "create, rotate or delete robot tokens";
    /// Members and roles, the organization's settings.
    ManageMembers => ManageMembers, OrgsWrite, "change its members and settings";
    /// Its webhooks and their deliveries.
    ManageWebhooks => ManageMembers, WebhooksWrite, "see or change its webhooks";
    /// Its audit log.
    ReadAudit => ManageMembers, AuditRead, "read its audit log";
    /// Teams, their members, repositories and grants.
    ManageAccess => ManageAccess, TeamsWrite, "change teams, repositories and grants";
    /// Leave it: any member may.
    Leave => Leave, OrgsWrite, "do that";
    DeleteOrg => DeleteOrg, OrgsWrite, "delete it";
}

/// Proof that `caller` holds right `R` in `org`.
#[derive(Debug)]
pub struct Authorized<'a, R> {
    caller: &'a UserSession,
    org: Org,
    role: Role,
    /// The instance's floor under the organization's token policy.
    instance: InstancePolicy,
    right: PhantomData<R>,
}

impl<'a, R> Authorized<'a, R> {
    pub fn caller(&self) -> &'a UserSession {
        self.caller
    }

    pub fn org(&self) -> &Org {
        &self.org
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The token policy that holds here: the organization's, with the
    /// instance's floor under it.
    pub fn policy(&self) -> TokenPolicy {
        self.instance.floor(self.org.token_policy)
    }

    pub(crate) fn instance(&self) -> &InstancePolicy {
        &self.instance
    }

    /// Whether the caller may also do `action` here: for a page deciding
    /// which buttons to show. The operations themselves still take their
    /// own proof.
    pub fn may(&self, action: OrgAction) -> bool {
        policy::authorize(Some(self.role), action).is_ok()
    }

    /// The same caller with another right in the same organization, when
    /// the role holds it (no second lookup).
    pub fn with<S: Right>(&self) -> ServiceResult<Authorized<'a, S>> {
        decide::<S>(self.caller, &self.org, Some(self.role), &self.instance)?;
        Ok(Authorized {
            caller: self.caller,
            org: self.org.clone(),
            role: self.role,
            instance: self.instance,
            right: PhantomData,
        })
    }

    pub(crate) fn actor(&self) -> Actor<'a> {
        Actor::User(self.caller)
    }
}

/// Proof that the caller administers this installation (signing keys,
/// users, the instance's own audit log).
#[derive(Debug, Clone, Copy)]
pub struct InstanceAdmin<'a> {
    caller: &'a UserSession,
}

impl<'a> InstanceAdmin<'a> {
    pub fn caller(&self) -> &'a UserSession {
        self.caller
    }

    pub(crate) fn actor(&self) -> Actor<'a> {
        Actor::User(self.caller)
    }
}

fn not_found(org: &str) -> ServiceError {
    ServiceError::NotFound(format!("no organization named {org:?} that you can see"))
}

fn decide<R: Right>(
    caller: &UserSession,
    org: &Org,
    role: Option<Role>,
    instance: &InstancePolicy,
) -> ServiceResult<()> {
    if role.is_none() {
        return Err(not_found(org.name.as_str()));
    }
    if let Some(token) = &caller.personal_token {
        token.admit(org, instance, R::SCOPE)?;
    }
    match policy::authorize(role, R::ACTION) {
        Ok(()) => Ok(()),
        Err(Denial::NotFound) => Err(not_found(org.name.as_str())),
        Err(Denial::AdminRequired) => Err(ServiceError::forbidden(format!(
            "only admins of {} can {}",
            org.name,
            R::ADMINS_ONLY
        ))),
    }
}

impl Service {
    /// Checks that `caller` is an instance administrator; `what` says what
    /// only they may do, for the refusal.
    pub fn instance_admin<'a>(&self, caller: &'a UserSession, what: &str) -> ServiceResult<InstanceAdmin<'a>> {
        caller.require_session("administer the installation")?;
        if caller.user.instance_admin {
            Ok(InstanceAdmin { caller })
        } else {
            Err(ServiceError::forbidden(format!("only instance administrators {what}")))
        }
    }

    /// Resolves `org` for `caller` and checks right `R`.
    pub async fn authorize<'a, R: Right>(
        &self,
        caller: &'a UserSession,
        org: &str,
    ) -> ServiceResult<Authorized<'a, R>> {
        if Name::parse(org).is_err() {
            return Err(not_found(org));
        }
        let (found, role) = match self.store.lookup_account(org, caller.user.id).await? {
            None => return Err(not_found(org)),
            Some(AccountLookup::User) => return Err(ServiceError::PersonalAccount(org.to_owned())),
            Some(AccountLookup::Org { org, role }) => (org, role),
        };
        let instance = self.store.instance_policy().await?;
        decide::<R>(caller, &found, role, &instance)?;
        Ok(Authorized {
            caller,
            org: found,
            role: role.unwrap_or(Role::Member),
            instance,
            right: PhantomData,
        })
    }
}
