//! Robot tokens: created (the one time a secret is shown), rotated without
//! downtime, deleted, reported as leaked. The organization's policy bounds
//! how long each may live ([`crate::lifetime`]).

use std::time::Duration;

use robots_core::duration::parse_duration;
use robots_core::{Name, SecretKind, SecretToken};
use robots_store::{AccountLookup, NewToken, Org, Page, Robot, TokenInfo, TokenOwner, Trail};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{Actor, Change, event};
use crate::error::named;
use crate::events::{self, payload_by, rfc3339};
use crate::robots::parse_name;
use crate::{Authorized, ClientInfo, Expiry, ManageTokens, Service, ServiceError, ServiceResult, lifetime};

/// A token just created, with its secret: to show its creator, this once.
#[derive(Debug)]
pub struct CreatedToken {
    pub access_id: Uuid,
    pub name: Name,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub secret: SecretToken,
}

/// A rotation's outcome: the successor, with its secret to show once, and
/// the token rotating out, which stops at its `expires_at`.
#[derive(Debug)]
pub struct Rotated {
    pub successor: TokenInfo,
    pub secret: SecretToken,
    pub rotating_out: TokenInfo,
}

/// What a rotation replaces, and who asks.
struct Rotation<'a> {
    org: &'a Org,
    /// The token policy that holds there (the instance's floor under it).
    policy: robots_store::TokenPolicy,
    robot: &'a Robot,
    old: &'a TokenInfo,
    actor: &'a Actor<'a>,
    /// The user making the successor; none when the robot rotates its own.
    created_by: Option<Uuid>,
}

/// A token expiring within this long is "expiring soon": flagged in lists,
/// and announced once to the organization's webhooks.
pub const EXPIRING_SOON: Duration = Duration::from_secs(7 * 86_400);

/// Where a token stands in a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not part of a rotation.
    Current,
    /// Took a rotated token's name.
    Successor,
    /// Replaced; works until its expiry.
    RotatingOut,
}

/// How a token stands now, as lists show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// Expired tokens stay listed (so it is clear what stopped), but never
    /// authenticate.
    pub expired: bool,
    /// Expires within [`EXPIRING_SOON`].
    pub expiring_soon: bool,
    pub phase: Phase,
}

impl Standing {
    pub fn of(token: &TokenInfo, now: OffsetDateTime) -> Self {
        let expired = token.expires_at.is_some_and(|at| at <= now);
        Self {
            expired,
            expiring_soon: !expired && token.expires_at.is_some_and(|at| at <= now + EXPIRING_SOON),
            phase: match (token.replaced_by, token.rotated_from) {
                (Some(_), _) => Phase::RotatingOut,
                (None, Some(_)) => Phase::Successor,
                (None, None) => Phase::Current,
            },
        }
    }
}

/// How long a rotated-out token keeps working unless told otherwise: long
/// enough to update every pipeline.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(24 * 3600);

fn no_such_token(robot: &Name, access_id: &str) -> ServiceError {
    ServiceError::NotFound(format!("robot {robot} has no token with Access ID {access_id}"))
}

/// The audit entry and webhook event of a change to a token, written with it.
struct TokenEvent {
    audit: robots_store::AuditEvent,
    payload: String,
    name: &'static str,
}

impl TokenEvent {
    fn new(
        actor: &Actor<'_>,
        org: &Org,
        name: &'static str,
        access_id: Uuid,
        detail: serde_json::Value,
        now: OffsetDateTime,
    ) -> Self {
        let change = Change::new(Some(org.id), name, format!("token {access_id}")).detail(detail.clone());
        let audit = event(actor, change, now);
        Self {
            payload: payload_by(org, name, detail, now, &audit),
            audit,
            name,
        }
    }

    fn trail(&self) -> Trail<'_> {
        Trail {
            audit: &self.audit,
            webhook: Some((self.name, &self.payload)),
        }
    }
}

impl Service {
    /// A robot's tokens, oldest first; with `expiring_before`, only those
    /// expiring before then.
    pub async fn list_tokens<R>(
        &self,
        at: &Authorized<'_, R>,
        robot: &str,
        expiring_before: Option<OffsetDateTime>,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<(Robot, Page<TokenInfo>)> {
        let robot = self.robot(at, robot).await?;
        let page = self.store.list_tokens(robot.id, expiring_before, after, limit).await?;
        Ok((robot, page))
    }

    /// Tokens of every robot of the organization expiring before `before`,
    /// soonest first, with their robot's name.
    pub async fn expiring_tokens<R>(
        &self,
        at: &Authorized<'_, R>,
        before: OffsetDateTime,
    ) -> ServiceResult<Vec<(Name, TokenInfo)>> {
        Ok(self.store.list_expiring_tokens(at.org().id, before).await?)
    }

    pub async fn token<R>(
        &self,
        at: &Authorized<'_, R>,
        robot: &str,
        access_id: &str,
    ) -> ServiceResult<(Robot, TokenInfo)> {
        let robot = self.robot(at, robot).await?;
        let token = self.token_of(&robot, access_id).await?;
        Ok((robot, token))
    }

    async fn token_of(&self, robot: &Robot, access_id: &str) -> ServiceResult<TokenInfo> {
        let id = Uuid::try_parse(access_id).map_err(|_| no_such_token(&robot.name, access_id))?;
        self.store
            .get_token(robot.id, id)
            .await?
            .ok_or_else(|| no_such_token(&robot.name, access_id))
    }

    /// Creates a token within the organization's policy and the per-robot
    /// cap; the token, its audit entry and its webhook deliveries are
    /// written in one transaction.
    pub async fn create_token(
        &self,
        at: &Authorized<'_, ManageTokens>,
        robot: &str,
        name: &str,
        expiry: Expiry<'_>,
    ) -> ServiceResult<CreatedToken> {
        let org = at.org();
        let robot = self.robot_ref(at, robot).await?;
        let name = parse_name("name", name)?;
        let now = self.now();
        let expires_at = lifetime::new_token(at.policy(), expiry, now)?;
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let access_id = Uuid::new_v4();
        let detail = json!({
            "robot": robot.name, "name": name, "access_id": access_id,
            "expires_at": expires_at.map(rfc3339),
        });
        let record = TokenEvent::new(&at.actor(), org, events::TOKEN_CREATED, access_id, detail, now);
        self.store
            .create_token(
                &NewToken {
                    access_id,
                    robot_id: robot.id,
                    name: &name,
                    secret_hash: &secret.hash(),
                    created_by: Some(at.caller().user.id),
                    expires_at,
                    federated_credential: None,
                },
                now,
                &record.trail(),
                self.config.max_tokens_per_robot,
            )
            .await
            .map_err(named(|| {
                format!(
                    "{} already has a token named {name}; token names are unique per robot",
                    robot.name
                )
            }))?;
        tracing::info!(
            org = %org.name, robot = %robot.name, token = %name, %access_id,
            by = %at.caller().user.name, via = at.caller().via.as_str(), "robot token created"
        );
        Ok(CreatedToken {
            access_id,
            name,
            created_at: now,
            expires_at,
            secret,
        })
    }

    /// Rotates a token: a successor takes its name, and the old one keeps
    /// working for the grace period (`24h` unless given), then stops. The
    /// successor's expiry follows [`lifetime::successor`].
    pub async fn rotate_token(
        &self,
        at: &Authorized<'_, ManageTokens>,
        robot: &str,
        access_id: &str,
        grace_period: Option<&str>,
        expiry: Expiry<'_>,
    ) -> ServiceResult<Rotated> {
        let org = at.org();
        let robot = self.robot(at, robot).await?;
        let old = self.token_of(&robot, access_id).await?;
        let rotation = Rotation {
            org,
            policy: at.policy(),
            robot: &robot,
            old: &old,
            actor: &at.actor(),
            created_by: Some(at.caller().user.id),
        };
        self.rotate(rotation, grace_period, expiry).await
    }

    /// A robot allowed to (`self_rotate`) rotates the token it
    /// authenticated with, and nothing else; the successor obeys the
    /// organization's policy, and the audit log and webhooks name the robot.
    pub async fn rotate_own_token(
        &self,
        owner: &TokenOwner,
        client: &ClientInfo,
        grace_period: Option<&str>,
        expiry: Expiry<'_>,
    ) -> ServiceResult<Rotated> {
        let full_name = format!("{}/{}", owner.org_name, owner.robot_name);
        let gone = || ServiceError::NotFound(format!("{full_name} no longer exists"));
        let robot = self.store.get_robot_by_id(owner.robot_id).await?.ok_or_else(gone)?;
        if !robot.self_rotate {
            return Err(ServiceError::forbidden(format!(
                "{full_name} may not rotate its own tokens: an admin of {} can allow it (self_rotate)",
                owner.org_name
            )));
        }
        let org = match self.store.lookup_account(owner.org_name.as_str(), Uuid::nil()).await? {
            Some(AccountLookup::Org { org, .. }) if org.id == owner.org_id => org,
            _ => return Err(gone()),
        };
        let old = self.token_of(&robot, &owner.access_id.to_string()).await?;
        if old.federated_by.is_some() {
            return Err(ServiceError::forbidden(
                "a token from a token exchange is not rotated: exchange a new ID token when it expires",
            ));
        }
        let policy = self.store.instance_policy().await?.floor(org.token_policy);
        let rotation = Rotation {
            org: &org,
            policy,
            robot: &robot,
            old: &old,
            actor: &Actor::Robot {
                name: full_name,
                client,
            },
            created_by: None,
        };
        self.rotate(rotation, grace_period, expiry).await
    }

    async fn rotate(
        &self,
        rotation: Rotation<'_>,
        grace_period: Option<&str>,
        expiry: Expiry<'_>,
    ) -> ServiceResult<Rotated> {
        let Rotation {
            org,
            policy,
            robot,
            old,
            actor,
            created_by,
        } = rotation;
        let grace = match grace_period {
            None => DEFAULT_GRACE_PERIOD,
            Some(text) => parse_duration(text).map_err(|error| ServiceError::invalid("grace_period", error))?,
        };
        if let Some(successor) = old.replaced_by {
            return Err(ServiceError::AlreadyRotated {
                successor: Some(successor),
            });
        }
        let now = self.now();
        let expires_at = lifetime::successor(policy, expiry, old, now)?;
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let successor = NewToken {
            access_id: Uuid::new_v4(),
            robot_id: robot.id,
            name: &old.name,
            secret_hash: &secret.hash(),
            created_by,
            expires_at,
            federated_credential: None,
        };
        let old_stops_at = old.expires_at.map_or(now + grace, |at| at.min(now + grace));
        let detail = json!({
            "robot": robot.name, "name": old.name, "access_id": old.access_id,
            "successor": successor.access_id, "old_stops_at": rfc3339(old_stops_at),
        });
        let record = TokenEvent::new(actor, org, events::TOKEN_ROTATED, old.access_id, detail, now);
        let (rotating_out, successor) = self
            .store
            .rotate_token(robot.id, old.access_id, &successor, now + grace, now, &record.trail())
            .await?
            .ok_or_else(|| no_such_token(&robot.name, &old.access_id.to_string()))?;
        tracing::info!(
            org = %org.name, robot = %robot.name, token = %old.name, access_id = %old.access_id,
            successor = %successor.access_id, "robot token rotated"
        );
        Ok(Rotated {
            successor,
            secret,
            rotating_out,
        })
    }

    /// Disables (`true`) or enables a token: a disabled token is refused
    /// until enabled again; nothing is deleted. Answers it as it is now.
    pub async fn set_token_disabled(
        &self,
        at: &Authorized<'_, ManageTokens>,
        robot: &str,
        access_id: &str,
        disable: bool,
    ) -> ServiceResult<TokenInfo> {
        let org = at.org();
        let robot = self.robot(at, robot).await?;
        let token = self.token_of(&robot, access_id).await?;
        let now = self.now();
        let name = if disable {
            events::TOKEN_DISABLED
        } else {
            events::TOKEN_ENABLED
        };
        let detail = json!({"robot": robot.name, "name": token.name, "access_id": token.access_id});
        let record = TokenEvent::new(&at.actor(), org, name, token.access_id, detail, now);
        self.store
            .set_token_disabled(robot.id, token.access_id, disable.then_some(now), None, &record.trail())
            .await?;
        self.token_of(&robot, access_id).await
    }

    /// Disables the tokens their organizations' `disable_unused_after`
    /// catches; answers how many. Several replicas may run it at once:
    /// each token is disabled, audited and announced by one of them.
    pub async fn disable_unused_tokens(&self) -> usize {
        let now = self.now();
        let unused = match self.store.unused_tokens(now, 500).await {
            Ok(unused) => unused,
            Err(error) => {
                tracing::warn!(%error, "could not look for unused tokens");
                return 0;
            }
        };
        let mut disabled = 0;
        for token in unused {
            let org = match self.store.lookup_account(token.org_name.as_str(), Uuid::nil()).await {
                Ok(Some(AccountLookup::Org { org, .. })) => org,
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "could not disable an unused token");
                    continue;
                }
            };
            let after = robots_core::duration::format_duration(token.after);
            let detail = json!({
                "robot": token.robot_name, "name": token.token_name, "access_id": token.access_id,
                "reason": format!("unused for {after}"), "unused_since": rfc3339(token.unused_since),
            });
            let record = TokenEvent::new(
                &Actor::System,
                &org,
                events::TOKEN_DISABLED,
                token.access_id,
                detail,
                now,
            );
            let cutoff = now - token.after;
            match self
                .store
                .set_token_disabled(
                    token.robot_id,
                    token.access_id,
                    Some(now),
                    Some(cutoff),
                    &record.trail(),
                )
                .await
            {
                Ok(true) => {
                    disabled += 1;
                    tracing::info!(org = %org.name, robot = %token.robot_name, token = %token.token_name,
                        access_id = %token.access_id, "disabled an unused robot token");
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not disable an unused token"),
            }
        }
        disabled
    }

    /// Deletes a token: it is refused from the next request on.
    pub async fn delete_token(
        &self,
        at: &Authorized<'_, ManageTokens>,
        robot: &str,
        access_id: &str,
    ) -> ServiceResult<TokenInfo> {
        let org = at.org();
        let robot = self.robot(at, robot).await?;
        let token = self.token_of(&robot, access_id).await?;
        let detail = json!({"robot": robot.name, "access_id": token.access_id});
        let record = TokenEvent::new(
            &at.actor(),
            org,
            events::TOKEN_DELETED,
            token.access_id,
            detail,
            self.now(),
        );
        if !self
            .store
            .delete_token(robot.id, token.access_id, &record.trail())
            .await?
        {
            return Err(no_such_token(&robot.name, access_id));
        }
        tracing::info!(
            org = %org.name, robot = %robot.name, access_id = %token.access_id,
            by = %at.caller().user.name, "robot token deleted"
        );
        Ok(token)
    }

    /// Anyone who finds a token may report it: a valid one is revoked at
    /// once. Answers nothing about what the text was, so this is no oracle.
    pub async fn revoke_leaked(&self, text: &str, client: &ClientInfo) -> ServiceResult<()> {
        // Anyone may report, so a flood from one address is turned away
        // (every report counts, real or not: the limit is no oracle). A
        // real leak reported from anywhere else is still revoked.
        if let Some(address) = client.ip.map(crate::limits::address_key) {
            self.limits
                .leak_reports
                .reserve(address, self.now_ms())
                .map_err(|retry_after| ServiceError::RateLimited { retry_after })?;
        }
        let Ok(secret) = SecretToken::parse_kind(SecretKind::RobotToken, text.trim()) else {
            return Ok(());
        };
        let hash = secret.hash();
        let Some(owner) = self.store.find_token_owner(&hash).await? else {
            return Ok(());
        };
        if owner.secret_hash != hash {
            return Ok(());
        }
        let org = Org {
            id: owner.org_id,
            name: owner.org_name.clone(),
            display_name: String::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            token_policy: Default::default(),
        };
        let detail = json!({"robot": owner.robot_name, "name": owner.token_name, "access_id": owner.access_id});
        let record = TokenEvent::new(
            &Actor::Anonymous(client),
            &org,
            events::TOKEN_REVOKED_AS_LEAKED,
            owner.access_id,
            detail,
            self.now(),
        );
        if self
            .store
            .delete_token(owner.robot_id, owner.access_id, &record.trail())
            .await?
        {
            tracing::warn!(
                org = %owner.org_name, robot = %owner.robot_name, access_id = %owner.access_id,
                "token reported as leaked and revoked"
            );
        }
        Ok(())
    }
}
