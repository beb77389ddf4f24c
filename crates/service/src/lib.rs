//! The rules of the robot accounts service, in one place.
//!
//! Every operation a person can make — on organizations, members, robots,
//! tokens, teams, repositories, grants, webhooks and federated credentials —
//! is a method of [`Service`] that takes the authenticated caller and plain
//! input, and itself:
//!
//! 1. **authorizes**: operations on an organization take an
//!    [`Authorized`] value, which only [`Service::authorize`] can make, so
//!    an operation cannot be reached without the right having been proven;
//! 2. **validates**: names, lengths, token lifetimes against the
//!    organization's policy ([`lifetime`]), caps;
//! 3. **changes** the store, with the audit entry (and the webhook event)
//!    written in the same transaction where the store offers one;
//! 4. answers a domain value or a [`ServiceError`] with a stable code.
//!
//! The REST API, the Admin Console and the verification endpoints parse
//! their input, call this, and render the answer. Nothing here knows about
//! HTTP, HTML or the command line, so a rule cannot differ between doors.

pub mod audit;
mod authorize;
mod credentials;
mod error;
pub mod events;
pub mod exchange;
pub mod federation;
mod instance;
pub mod keys;
pub mod lifetime;
pub mod limits;
mod members;
mod notices;
mod orgs;
pub mod outbound;
mod passwords;
mod personal_tokens;
mod repositories;
mod robots;
mod sessions;
mod teams;
mod tokens;
mod users;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use limits::{AuthLimits, LimitConfig};
use passwords::PasswordWork;
use robots_core::Clock;
use robots_store::Store;
use time::OffsetDateTime;

pub use audit::{Actor, AuditBuffer, Change, ClientInfo, Via};
pub use authorize::{
    Authorized, DeleteOrg, InstanceAdmin, Leave, ManageAccess, ManageMembers, ManageRobots, ManageTokens,
    ManageWebhooks, Read, ReadAudit, ReadRobots, Right,
};
pub use credentials::CredentialRequest;
pub use error::{ServiceError, ServiceResult};
pub use exchange::{Accepted, ExchangeRefused, Exchanged, IdTokenVerifier, Refusal, Rejection};
pub use federation::{CredentialInput, CredentialPatch};
pub use instance::InstancePolicyInput;
pub use lifetime::{Expiry, LifetimeChoice, LifetimeChoices};
pub use members::MemberChange;
pub use notices::{EXPIRY_NOTICE_DAYS, NoticeMail};
pub use orgs::{OrgUpdate, PolicyInput};
pub use personal_tokens::{CreatedPersonalToken, PersonalTokenGrant, PersonalTokenInput};
pub use robots::{NewRobotInput, RobotPermissions, RobotUpdate};
pub use sessions::{NewSession, UserSession, looks_like_robot_credentials};
pub use teams::TeamDetail;
pub use tokens::{CreatedToken, DEFAULT_GRACE_PERIOD, EXPIRING_SOON, Phase, Rotated, Standing};
pub use users::{NewUserInput, SignupPolicy};
pub use webhooks::CreatedWebhook;

/// What the operator sets: caps and lifetimes that hold for every
/// organization on this installation.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// At most this many robots per organization.
    pub max_robots_per_org: u32,
    /// At most this many current tokens per robot (tokens rotating out and
    /// those minted by token exchanges do not count).
    pub max_tokens_per_robot: u32,
    pub max_federated_credentials_per_robot: u32,
    /// At most this many webhooks per organization.
    pub max_webhooks_per_org: u32,
    /// Password hashes (argon2id, 19 MiB each) running at once, server-wide.
    pub max_password_hashes: usize,
    /// How long a login waits for a turn to hash before it is answered 503.
    pub password_hash_wait: Duration,
    /// How long a token from an OIDC token exchange lives (the
    /// organization's maximum lifetime caps it).
    pub federated_token_ttl: Duration,
    /// Trust `http://` OIDC issuers: development and tests only.
    pub allow_insecure_issuers: bool,
    /// Where the server's own requests may go.
    pub outbound: outbound::Outbound,
    /// Who may create user accounts.
    pub signup: SignupPolicy,
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// Limits on failed authentication.
    pub limits: LimitConfig,
    /// The registry host credential formats name when a request names
    /// none (`--registry-host`).
    pub registry_host: Option<String>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            max_robots_per_org: 1_000,
            max_tokens_per_robot: 100,
            max_federated_credentials_per_robot: 20,
            max_webhooks_per_org: 20,
            max_password_hashes: std::thread::available_parallelism().map_or(2, |cores| cores.get().max(2)),
            password_hash_wait: Duration::from_secs(2),
            federated_token_ttl: Duration::from_secs(15 * 60),
            allow_insecure_issuers: false,
            outbound: outbound::Outbound::default(),
            signup: SignupPolicy::Closed,
            session_ttl: Duration::from_secs(12 * 3600),
            limits: LimitConfig::default(),
            registry_host: None,
        }
    }
}

/// Every operation of the service; one per process, shared by every
/// surface.
#[derive(Debug)]
pub struct Service {
    store: Store,
    clock: Arc<dyn Clock>,
    config: ServiceConfig,
    /// Audit events written in batches (failed authentications).
    buffered: AuditBuffer,
    /// Failed authentications, counted per address and credential.
    limits: AuthLimits,
    /// Password hashes, a bounded number at a time.
    passwords: PasswordWork,
}

impl Service {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: ServiceConfig) -> Self {
        Self {
            limits: AuthLimits::new(&config.limits),
            passwords: PasswordWork::new(config.max_password_hashes, config.password_hash_wait),
            store,
            clock,
            config,
            buffered: AuditBuffer::default(),
        }
    }

    /// The store, for the verification path and the background tasks,
    /// which read what this layer wrote.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Milliseconds on the injected clock, for the limiters.
    pub fn now_ms(&self) -> i64 {
        robots_core::clock::to_millis(self.now())
    }

    /// The buckets of failed authentications; the verification endpoints
    /// count robots' failures in them too.
    /// Where the server's own requests may go.
    pub fn outbound(&self) -> outbound::Outbound {
        self.config.outbound
    }

    /// Password hashes computed since start.
    pub fn password_hashes_done(&self) -> u64 {
        self.passwords.hashes_done()
    }

    pub fn limits(&self) -> &AuthLimits {
        &self.limits
    }
}
