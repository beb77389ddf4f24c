//! Who is acting, and how a person comes to be acting: logging in with a
//! password (rate-limited, no oracle for which usernames exist) and out.

use robots_core::{Name, SecretHash, SecretKind, SecretToken, password};
use robots_store::User;
use time::OffsetDateTime;

use crate::audit::{Actor, Change};
use crate::limits::{AuthLimits, address_key};
use crate::{ClientInfo, Service, ServiceError, ServiceResult, Via};

/// A logged-in user and the session they used: the caller every operation
/// on a person's behalf takes.
#[derive(Debug, Clone)]
pub struct UserSession {
    pub user: User,
    pub session: SecretHash,
    pub expires_at: OffsetDateTime,
    /// Where the request came from, for the audit log.
    pub client: ClientInfo,
    pub via: Via,
    /// The personal access token the request came with, instead of a
    /// session: what it is limited to.
    pub personal_token: Option<crate::personal_tokens::PersonalTokenGrant>,
}

/// A session just opened, with its token: to hand its owner, this once.
#[derive(Debug)]
pub struct NewSession {
    pub token: SecretToken,
    pub expires_at: OffsetDateTime,
    pub user: User,
}

/// What a robot's credentials look like: an Access ID (a UUID) or a token.
/// Judged by shape alone, so the answer reveals nothing about validity.
pub fn looks_like_robot_credentials(username: &str, password: &str) -> bool {
    uuid::Uuid::try_parse(username.trim()).is_ok() || password.trim().starts_with(SecretKind::RobotToken.prefix())
}

impl Service {
    /// Checks a username and password and opens a session. Unknown users
    /// take as long as wrong passwords, and both get the same answer;
    /// failures are limited per address and per username (a user's known
    /// addresses are spared the per-username limit).
    pub async fn log_in(
        &self,
        username: &str,
        password: String,
        client: &ClientInfo,
        via: Via,
    ) -> ServiceResult<NewSession> {
        if password.trim().starts_with(SecretKind::PersonalToken.prefix()) {
            return Err(ServiceError::invalid(
                "password",
                "a personal access token does not log in: send it as a Bearer token to the API, \
                 or give it to robots login --token-stdin",
            ));
        }
        if looks_like_robot_credentials(username, &password) {
            return Err(ServiceError::RobotForbidden(
                "robot accounts cannot log in: send the Access ID and Token with each request instead \
                 (HTTP Basic, or the Token as a Bearer token)"
                    .into(),
            ));
        }
        let limits = &self.limits;
        let address = client.ip.map(address_key);
        let user_key = AuthLimits::user_key(username);
        let known_address = address.is_some_and(|address| limits.is_known_login(&user_key, address));
        // Each attempt takes its failure from the buckets before the
        // password is hashed, and a success gives it back: however many
        // guesses arrive at once, no more are hashed than the buckets allow.
        let now_ms = self.now_ms();
        let refused = |wait| {
            tracing::info!(username, client = ?client.ip, "login refused: rate-limited");
            Err(ServiceError::RateLimited { retry_after: wait })
        };
        let by_address = match address.map(|address| limits.login_address.reserve(address, now_ms)) {
            Some(Err(wait)) => return refused(wait),
            Some(Ok(failure)) => Some(failure),
            None => None,
        };
        let by_user = if known_address {
            None
        } else {
            match limits.login_user.reserve(user_key.clone(), now_ms) {
                Ok(failure) => Some(failure),
                Err(wait) => {
                    if let Some(address) = address {
                        limits.login_address.refund(&address, now_ms);
                    }
                    return refused(wait);
                }
            }
        };
        let found = match Name::parse(username.trim()) {
            Ok(name) => self.store.find_user_for_login(&name).await?,
            Err(_) => None,
        };
        let (user, stored_hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let valid = self
            .passwords
            .run(move || password::verify_password(&password, stored_hash.as_deref()))
            .await;
        let valid = match valid {
            Ok(valid) => valid,
            Err(busy) => {
                // Not judged: the attempt gives its places back.
                let now_ms = self.now_ms();
                if let (Some(address), Some(_)) = (address, by_address) {
                    limits.login_address.refund(&address, now_ms);
                }
                if by_user.is_some() {
                    limits.login_user.refund(&user_key, now_ms);
                }
                return Err(busy);
            }
        };
        let Some(user) = user.filter(|_| valid) else {
            tracing::info!(username, "login failed");
            // A known address spared the username's bucket its reservation;
            // its failure still counts there.
            let by_user = by_user.or_else(|| Some(limits.login_user.fail(user_key, self.now_ms())));
            let failures = [by_address, by_user];
            let retry_after = failures.iter().flatten().filter_map(|f| f.retry_after()).max();
            let attempted: String = username.chars().take(64).collect();
            self.audit_later(
                Actor::Anonymous(client),
                Change::new(None, "auth.login_failed", format!("user {attempted}")).detail(serde_json::json!({
                    "via": via.as_str(),
                    "retry_after_seconds": retry_after.map(|wait| wait.as_secs()),
                })),
            );
            return Err(match retry_after {
                Some(wait) => ServiceError::RateLimited { retry_after: wait },
                None => ServiceError::WrongLogin,
            });
        };
        let now_ms = self.now_ms();
        if let Some(address) = address {
            limits.login_address.refund(&address, now_ms);
            limits.remember_login(&user_key, address);
        }
        if by_user.is_some() {
            limits.login_user.refund(&user_key, now_ms);
        }
        let token = SecretToken::generate(SecretKind::Session);
        let now = self.now();
        let expires_at = now + self.config.session_ttl;
        self.store
            .create_session(&token.hash(), user.id, now, expires_at)
            .await?;
        tracing::info!(username = %user.name, "logged in");
        let session = UserSession {
            user: user.clone(),
            session: token.hash(),
            expires_at,
            client: client.clone(),
            via,
            personal_token: None,
        };
        self.audit(
            Actor::User(&session),
            Change::new(None, "session.created", format!("user {}", user.name)),
        )
        .await;
        Ok(NewSession {
            token,
            expires_at,
            user,
        })
    }

    /// Ends every session of the caller's but the one they use (a lost
    /// laptop, a shared machine); how many.
    pub async fn end_other_sessions(&self, caller: &UserSession) -> ServiceResult<u64> {
        caller.require_session("end sessions")?;
        let record = self.record(
            Actor::User(caller),
            Change::new(None, "session.others_ended", format!("user {}", caller.user.name)),
        );
        Ok(self
            .store
            .end_other_sessions(caller.user.id, &caller.session, &record)
            .await?)
    }

    /// Ends the caller's session, here and (through the change
    /// announcement) on every replica.
    pub async fn log_out(&self, caller: &UserSession) -> ServiceResult<()> {
        caller.require_session("log out (revoke it instead)")?;
        self.store.delete_session(&caller.session).await?;
        self.audit(
            Actor::User(caller),
            Change::new(None, "session.deleted", format!("user {}", caller.user.name)),
        )
        .await;
        Ok(())
    }
}
