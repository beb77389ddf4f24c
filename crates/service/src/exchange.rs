//! The token exchange of keyless robots (RFC 8693): a CI job's OIDC ID
//! token, trusted by one of a robot's federated credentials, becomes a
//! short-lived token of that robot.
//!
//! Checking an ID token's signature needs the issuer's keys, fetched over
//! the network: that is the server's ([`IdTokenVerifier`]). Everything
//! around it is here: which robot, whether it may, how long the minted
//! token lives (the organization's policy caps it), and the audit trail of
//! every exchange, accepted or refused.

use std::fmt;
use std::future::Future;

use robots_core::{Name, SecretKind, SecretToken};
use robots_store::{AccountLookup, FederatedCredential, NewToken, Org, RobotRef, Trail};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{Actor, Change, event};
use crate::events::rfc3339;
use crate::tokens::CreatedToken;
use crate::{ClientInfo, Service, ServiceError, ServiceResult, lifetime};

/// Why an ID token was not accepted. Written to the audit log; never sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Malformed(&'static str),
    Algorithm(String),
    UntrustedIssuer(String),
    IssuerUnreachable(String),
    UnknownKey(String),
    BadSignature,
    Expired,
    NotYetValid,
    IssuedInTheFuture,
    /// No credential's conditions held: the first failure of each.
    Conditions(Vec<String>),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed ID token: {what}"),
            Self::Algorithm(alg) => write!(f, "algorithm {alg:?} is not accepted (RS256 or ES256 only)"),
            Self::UntrustedIssuer(issuer) => {
                write!(f, "no federated credential of this robot trusts issuer {issuer:?}")
            }
            Self::IssuerUnreachable(why) => write!(f, "the issuer's keys could not be fetched: {why}"),
            Self::UnknownKey(kid) => write!(f, "the issuer publishes no key {kid:?}"),
            Self::BadSignature => f.write_str("the signature does not verify"),
            Self::Expired => f.write_str("the ID token has expired"),
            Self::NotYetValid => f.write_str("the ID token is not valid yet (nbf)"),
            Self::IssuedInTheFuture => f.write_str("the ID token was issued in the future (iat)"),
            Self::Conditions(failures) => write!(f, "no credential's conditions hold: {}", failures.join("; ")),
        }
    }
}

impl Refusal {
    /// What kind of failure this is, as a credential check counts it.
    pub fn kind(&self) -> Rejection {
        match self {
            Self::BadSignature => Rejection::BadSignature,
            Self::Expired | Self::NotYetValid | Self::IssuedInTheFuture => Rejection::Expired,
            Self::Conditions(_) => Rejection::Conditions,
            Self::Malformed(_)
            | Self::Algorithm(_)
            | Self::UntrustedIssuer(_)
            | Self::IssuerUnreachable(_)
            | Self::UnknownKey(_) => Rejection::Unknown,
        }
    }
}

/// The kind of an exchange's refusal, for counting: the reason itself is
/// for the audit log alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No such robot, or no credential of it for this issuer and key, or
    /// not an ID token at all.
    Unknown,
    /// A key the issuer publishes did not sign it.
    BadSignature,
    /// Outside its validity window.
    Expired,
    /// The robot is disabled.
    Disabled,
    /// A valid ID token that none of the robot's credentials' conditions
    /// allow.
    Conditions,
}

/// A verified ID token and the credential it satisfied.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub credential: FederatedCredential,
    pub subject: String,
    pub jti: Option<String>,
    pub expires_at: i64,
}

/// Checks an ID token's signature and claims against a robot's
/// credentials: the first credential whose issuer, audience and conditions
/// hold wins.
pub trait IdTokenVerifier {
    fn verify(
        &self,
        id_token: &str,
        credentials: &[FederatedCredential],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Accepted, Refusal>> + Send;
}

/// A token minted by an exchange, with the robot it belongs to.
#[derive(Debug)]
pub struct Exchanged {
    pub token: CreatedToken,
    /// `org/robot`.
    pub robot: String,
    pub lifetime: std::time::Duration,
}

/// Why an exchange gave no token. Every refusal is in the organization's
/// audit log (when the robot exists) with its reason; the client hears
/// only that it was refused.
#[derive(Debug)]
pub enum ExchangeRefused {
    /// The ID token was not accepted for that robot.
    NotAccepted(Rejection),
    /// The issuer's keys could not be fetched: not the job's fault.
    IssuerUnreachable,
    /// Something failed on our side (logged).
    Internal(ServiceError),
}

impl Service {
    /// Trades a CI job's ID token for a short-lived token of `robot`
    /// (`org/name`), if one of its federated credentials trusts the token.
    /// The token lives [`crate::ServiceConfig::federated_token_ttl`], capped
    /// by the organization's policy; it and its audit entry (subject, `jti`)
    /// are written together.
    pub async fn exchange(
        &self,
        robot: &str,
        id_token: &str,
        verifier: &impl IdTokenVerifier,
        client: &ClientInfo,
    ) -> Result<Exchanged, ExchangeRefused> {
        let refuse = |org: Option<&Org>, robot: Option<&RobotRef>, reason: String, kind: Rejection| {
            tracing::info!(client = ?client.ip, %reason, "token exchange refused");
            if let Some(org) = org {
                self.audit_later(
                    Actor::Anonymous(client),
                    Change {
                        org: Some(org.id),
                        action: "token.exchange_refused",
                        target: robot.map(|robot| format!("robot {}/{}", org.name, robot.name)),
                        detail: json!({"reason": reason}),
                    },
                );
            }
            ExchangeRefused::NotAccepted(kind)
        };
        let internal = |error: ServiceError| {
            tracing::error!(%error, "token exchange failed");
            ExchangeRefused::Internal(error)
        };
        let Some((org, robot)) = self.robot_by_full_name(robot).await.map_err(internal)? else {
            return Err(refuse(None, None, "no such robot".to_owned(), Rejection::Unknown));
        };
        if robot.disabled_at.is_some() {
            return Err(refuse(
                Some(&org),
                Some(&robot),
                "the robot is disabled".to_owned(),
                Rejection::Disabled,
            ));
        }
        let credentials = self
            .store
            .list_federated_credentials(robot.id)
            .await
            .map_err(|error| internal(error.into()))?;
        if credentials.is_empty() {
            return Err(refuse(
                Some(&org),
                Some(&robot),
                "the robot has no federated credentials".to_owned(),
                Rejection::Unknown,
            ));
        }
        let accepted = match verifier.verify(id_token, &credentials, self.now()).await {
            Ok(accepted) => accepted,
            Err(refusal) => {
                let unreachable = matches!(refusal, Refusal::IssuerUnreachable(_));
                let refused = refuse(Some(&org), Some(&robot), refusal.to_string(), refusal.kind());
                return Err(if unreachable {
                    ExchangeRefused::IssuerUnreachable
                } else {
                    refused
                });
            }
        };
        let policy = self
            .store
            .instance_policy()
            .await
            .map_err(|error| internal(error.into()))?
            .floor(org.token_policy);
        let lifetime = lifetime::exchanged(policy, self.config.federated_token_ttl);
        let token = self
            .mint_exchanged(&org, &robot, &accepted, lifetime, client)
            .await
            .map_err(internal)?;
        Ok(Exchanged {
            token,
            robot: format!("{}/{}", org.name, robot.name),
            lifetime,
        })
    }

    /// `org/robot`, if both exist.
    async fn robot_by_full_name(&self, full_name: &str) -> ServiceResult<Option<(Org, RobotRef)>> {
        let Some((org, robot)) = full_name.split_once('/') else {
            return Ok(None);
        };
        let (Ok(org), Ok(robot)) = (Name::parse(org), Name::parse(robot)) else {
            return Ok(None);
        };
        let org = match self.store.lookup_account(org.as_str(), Uuid::nil()).await? {
            Some(AccountLookup::Org { org, .. }) => org,
            Some(AccountLookup::User) | None => return Ok(None),
        };
        Ok(self
            .store
            .get_robot_ref(org.id, &robot)
            .await?
            .map(|robot| (org, robot)))
    }

    async fn mint_exchanged(
        &self,
        org: &Org,
        robot: &RobotRef,
        accepted: &Accepted,
        lifetime: std::time::Duration,
        client: &ClientInfo,
    ) -> ServiceResult<CreatedToken> {
        let now = self.now();
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let access_id = Uuid::new_v4();
        let suffix: String = access_id.simple().to_string().chars().take(12).collect();
        let name = Name::parse(&format!("oidc-{suffix}")).map_err(|error| ServiceError::Internal(error.to_string()))?;
        let expires_at = now + lifetime;
        let detail = json!({
            "robot": robot.name, "access_id": access_id, "credential": accepted.credential.name,
            "issuer": accepted.credential.issuer, "subject": accepted.subject, "jti": accepted.jti,
            "expires_at": rfc3339(expires_at),
        });
        let audit = event(
            &Actor::Federated {
                subject: accepted.subject.clone(),
                client,
            },
            Change::new(
                Some(org.id),
                "token.exchanged",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(detail),
            now,
        );
        self.store
            .create_token(
                &NewToken {
                    access_id,
                    robot_id: robot.id,
                    name: &name,
                    secret_hash: &secret.hash(),
                    created_by: None,
                    expires_at: Some(expires_at),
                    federated_credential: Some(accepted.credential.id),
                },
                now,
                &Trail {
                    audit: &audit,
                    webhook: None,
                },
                u32::MAX,
            )
            .await?;
        tracing::info!(
            org = %org.name, robot = %robot.name, credential = %accepted.credential.name,
            subject = %accepted.subject, %access_id, "token exchanged for an OIDC ID token"
        );
        Ok(CreatedToken {
            access_id,
            name,
            created_at: now,
            expires_at: Some(expires_at),
            secret,
        })
    }
}
