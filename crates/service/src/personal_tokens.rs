//! Personal access tokens: a user's credentials for the automation that
//! manages robots on their behalf (Terraform, a platform team's scripts, a
//! rotation job), so that it needs neither a password nor a session.
//!
//! A token holds scopes and may be limited to some organizations. A request
//! made with one is allowed only if a scope allows it **and** its owner's
//! role does ([`crate::authorize`]): a token never exceeds its owner, and
//! the owner's removal from an organization, or deletion, takes effect on
//! the token's next request. It always expires. Organizations may refuse
//! personal access tokens, or cap their lifetime, in their token policy.
//! Tokens are made, listed and revoked by their owner, logged in: a token
//! cannot mint another.

use std::time::Duration;

use robots_core::{Name, Scope, Scopes, SecretHash, SecretKind, SecretToken};
use robots_store::{AccountLookup, InstancePolicy, NewPersonalToken, Org, PersonalToken, TokenOrg};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{Actor, Change};
use crate::lifetime::{self, Expiry};
use crate::{ClientInfo, Service, ServiceError, ServiceResult, UserSession, Via};

/// The personal access token a request came with, and what it allows.
#[derive(Debug, Clone)]
pub struct PersonalTokenGrant {
    pub id: Uuid,
    pub name: Name,
    pub scopes: Scopes,
    /// The organizations it may reach; `None`: every one its owner is in.
    pub orgs: Option<Vec<TokenOrg>>,
    /// From creation to expiry, for organizations that cap lifetimes.
    pub lifetime: Duration,
}

impl PersonalTokenGrant {
    /// Whether this token may act in `org` with `scope`: the organization
    /// must be one it is limited to, accept personal access tokens, and
    /// allow tokens to live as long as this one does.
    pub(crate) fn admit(&self, org: &Org, instance: &InstancePolicy, scope: Scope) -> ServiceResult<()> {
        if !self.reaches(org.id) {
            return Err(ServiceError::forbidden(format!(
                "this personal access token is not for {}: it is limited to other organizations",
                org.name
            )));
        }
        let policy = instance.floor(org.token_policy);
        if !policy.personal_tokens_allowed {
            return Err(ServiceError::forbidden(format!(
                "{} does not accept personal access tokens (its token policy): log in instead",
                org.name
            )));
        }
        if let Some(max) = instance.personal_token_max_lifetime.filter(|&max| self.lifetime > max) {
            return Err(ServiceError::forbidden(format!(
                "this installation allows personal access tokens to live at most {}, and this one lives {}: \
                 create one that expires sooner",
                robots_core::duration::format_duration(max),
                robots_core::duration::format_duration(self.lifetime),
            )));
        }
        if let Some(max) = policy.max_lifetime.filter(|&max| self.lifetime > max) {
            return Err(ServiceError::forbidden(format!(
                "{} allows tokens to live at most {}, and this personal access token lives {}: \
                 create one that expires sooner",
                org.name,
                robots_core::duration::format_duration(max),
                robots_core::duration::format_duration(self.lifetime),
            )));
        }
        self.require(scope)
    }

    /// Whether the organization `org` is one this token may reach.
    pub fn reaches(&self, org: Uuid) -> bool {
        self.orgs
            .as_ref()
            .is_none_or(|orgs| orgs.iter().any(|known| known.id == org))
    }

    fn require(&self, scope: Scope) -> ServiceResult<()> {
        if self.scopes.allow(scope) {
            Ok(())
        } else {
            Err(ServiceError::InsufficientScope(scope))
        }
    }
}

impl UserSession {
    /// Refuses a request made with a personal access token: for what only
    /// a person, logged in, may do (`what`: "change a password").
    pub fn require_session(&self, what: &'static str) -> ServiceResult<()> {
        match self.personal_token {
            Some(_) => Err(ServiceError::SessionRequired(what)),
            None => Ok(()),
        }
    }

    /// Refuses a request made with a personal access token without `scope`
    /// (a session holds every scope its owner's roles allow).
    pub fn require_scope(&self, scope: Scope) -> ServiceResult<()> {
        self.personal_token
            .as_ref()
            .map_or(Ok(()), |grant| grant.require(scope))
    }
}

/// What a new token is to be.
#[derive(Debug, Clone, Copy)]
pub struct PersonalTokenInput<'a> {
    pub name: &'a str,
    pub scopes: &'a [String],
    /// Organization names; `None`: not limited.
    pub orgs: Option<&'a [String]>,
    pub expiry: Expiry<'a>,
}

/// A token just made, with its secret: to hand its owner, this once.
#[derive(Debug)]
pub struct CreatedPersonalToken {
    pub token: SecretToken,
    pub info: PersonalToken,
}

/// A token's use is written at most this often (or when its address
/// changes): enough to answer "is it used, and from where".
const NOTE_USE_EVERY: time::Duration = time::Duration::MINUTE;

impl Service {
    /// Makes a personal access token for the caller, logged in.
    pub async fn create_personal_token(
        &self,
        caller: &UserSession,
        input: PersonalTokenInput<'_>,
    ) -> ServiceResult<CreatedPersonalToken> {
        caller.require_session("create personal access tokens")?;
        let name = Name::parse(input.name.trim()).map_err(|error| ServiceError::invalid("name", error))?;
        if input.scopes.is_empty() {
            return Err(ServiceError::invalid(
                "scopes",
                format!("give at least one of: {}", every_scope()),
            ));
        }
        let scopes = Scopes::parse(input.scopes.iter().map(|scope| scope.trim())).map_err(|unknown| {
            ServiceError::invalid(
                "scopes",
                format!("{unknown:?} is not a scope; the scopes are {}", every_scope()),
            )
        })?;
        let orgs = match input.orgs {
            None => None,
            Some([]) => {
                return Err(ServiceError::invalid(
                    "orgs",
                    "name at least one organization, or leave the list out for every one you belong to",
                ));
            }
            Some(names) => Some(self.orgs_of_member(caller, names).await?),
        };
        let now = self.now();
        let instance = self.store.instance_policy().await?;
        let expires_at = lifetime::personal_token(input.expiry, orgs.as_deref().unwrap_or_default(), &instance, now)?;
        let token = SecretToken::generate(SecretKind::PersonalToken);
        let new = NewPersonalToken {
            id: Uuid::now_v7(),
            user_id: caller.user.id,
            name: name.clone(),
            hash: token.hash(),
            scopes,
            orgs: orgs.as_ref().map(|orgs| orgs.iter().map(|org| org.id).collect()),
            created_at: now,
            expires_at,
        };
        let record = self.record(
            Actor::User(caller),
            Change::new(None, "personal_token.created", format!("user {}", caller.user.name)).detail(json!({
                "name": name.as_str(),
                "id": new.id,
                "scopes": scopes.to_string(),
                "orgs": orgs.as_ref().map(|orgs| orgs.iter().map(|org| org.name.as_str()).collect::<Vec<_>>()),
                "expires_at": crate::events::rfc3339(expires_at),
            })),
        );
        self.store
            .create_personal_token(&new, &record)
            .await
            .map_err(crate::error::named(|| {
                format!("you already have a personal access token named {name}")
            }))?;
        let info = PersonalToken {
            id: new.id,
            user_id: new.user_id,
            name,
            scopes,
            orgs: orgs.map(|orgs| {
                orgs.into_iter()
                    .map(|org| TokenOrg {
                        id: org.id,
                        name: org.name,
                    })
                    .collect()
            }),
            created_at: now,
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            last_used_user_agent: None,
        };
        Ok(CreatedPersonalToken { token, info })
    }

    /// The organizations `names` name, each one the caller is a member of.
    async fn orgs_of_member(&self, caller: &UserSession, names: &[String]) -> ServiceResult<Vec<Org>> {
        let mut orgs: Vec<Org> = Vec::with_capacity(names.len());
        for name in names {
            let name = name.trim();
            let unknown =
                || ServiceError::invalid("orgs", format!("no organization named {name:?} that you belong to"));
            if Name::parse(name).is_err() {
                return Err(unknown());
            }
            match self.store.lookup_account(name, caller.user.id).await? {
                Some(AccountLookup::Org { org, role: Some(_) }) => {
                    if !orgs.iter().any(|known| known.id == org.id) {
                        orgs.push(org);
                    }
                }
                _ => return Err(unknown()),
            }
        }
        Ok(orgs)
    }

    /// The caller's tokens, expired ones too.
    pub async fn personal_tokens(&self, caller: &UserSession) -> ServiceResult<Vec<PersonalToken>> {
        caller.require_session("list personal access tokens")?;
        Ok(self.store.list_personal_tokens(caller.user.id).await?)
    }

    /// Revokes one of the caller's tokens, named by id or name; it stops
    /// working on every replica at once.
    pub async fn revoke_personal_token(&self, caller: &UserSession, token: &str) -> ServiceResult<PersonalToken> {
        caller.require_session("revoke personal access tokens")?;
        let token = token.trim();
        let found = self
            .store
            .list_personal_tokens(caller.user.id)
            .await?
            .into_iter()
            .find(|known| known.name.as_str() == token || known.id.to_string() == token)
            .ok_or_else(|| ServiceError::NotFound(format!("you have no personal access token {token:?}")))?;
        let record = self.record(
            Actor::User(caller),
            Change::new(None, "personal_token.revoked", format!("user {}", caller.user.name)).detail(json!({
                "name": found.name.as_str(),
                "id": found.id,
            })),
        );
        if !self
            .store
            .delete_personal_token(caller.user.id, found.id, &record)
            .await?
        {
            return Err(ServiceError::NotFound(format!(
                "you have no personal access token {token:?}"
            )));
        }
        Ok(found)
    }

    /// The user a personal access token acts for, if it is live; notes the
    /// use (at most once a minute per token and address).
    pub async fn authenticate_personal_token(
        &self,
        hash: &SecretHash,
        client: ClientInfo,
        via: Via,
    ) -> ServiceResult<Option<UserSession>> {
        let now = self.now();
        let Some((user, token)) = self.store.find_personal_token(hash, now).await? else {
            return Ok(None);
        };
        let address = client.ip.map(|ip| ip.to_string());
        let stale = token.last_used_at.is_none_or(|at| now - at >= NOTE_USE_EVERY);
        if (stale || token.last_used_ip != address)
            && let Err(error) = self
                .store
                .note_personal_token_use(token.id, now, address.as_deref(), client.user_agent.as_deref())
                .await
        {
            tracing::warn!(%error, "could not note a personal access token's use");
        }
        let lifetime = Duration::try_from(token.expires_at - token.created_at).unwrap_or_default();
        Ok(Some(UserSession {
            user,
            session: *hash,
            expires_at: token.expires_at,
            client,
            via,
            personal_token: Some(PersonalTokenGrant {
                id: token.id,
                name: token.name,
                scopes: token.scopes,
                orgs: token.orgs,
                lifetime,
            }),
        }))
    }
}

fn every_scope() -> String {
    Scope::ALL.map(Scope::as_str).join(", ")
}
