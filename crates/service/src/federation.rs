//! Keyless robots: a robot's federated credentials (which CI jobs may trade
//! their OIDC ID token for a short-lived token of the robot), and the
//! exchange itself.
//!
//! Checking an ID token's signature needs the issuer's keys, fetched over
//! the network: that is the server's ([`IdTokenVerifier`]). Everything
//! around it is here: which robot, whether it may, how long the minted
//! token lives (the organization's policy caps it), and the audit trail of
//! every exchange, accepted or refused.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use robots_core::{Name, SecretKind, SecretToken, pattern, text};
use robots_store::{AccountLookup, FederatedCredential, FederatedCredentialSpec, NewToken, Org, RobotRef, Trail};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{Actor, Change, event};
use crate::error::named;
use crate::events::rfc3339;
use crate::robots::parse_name;
use crate::tokens::CreatedToken;
use crate::{Authorized, ClientInfo, ManageRobots, Service, ServiceError, ServiceResult, lifetime};

/// Claims an ID token always carries, checked by the exchange itself.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "sub", "exp", "nbf", "iat"];
const MAX_CONDITIONS: usize = 20;

/// A credential's terms as asked for.
#[derive(Debug, Clone, Default)]
pub struct CredentialInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub issuer: &'a str,
    pub audience: &'a str,
    pub subject: &'a str,
    /// Claim name → pattern on its value.
    pub claims: BTreeMap<String, String>,
}

/// A change to a credential's terms: `None` keeps a term as it is.
#[derive(Debug, Clone, Default)]
pub struct CredentialPatch<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub subject: Option<&'a str>,
    /// Replaces every condition on other claims.
    pub claims: Option<BTreeMap<String, String>>,
}

/// A credential's terms, checked.
#[derive(Debug, Clone)]
struct CheckedSpec {
    name: Name,
    description: String,
    issuer: String,
    audience: String,
    subject: String,
    claims: BTreeMap<String, String>,
}

impl CheckedSpec {
    fn as_spec(&self) -> FederatedCredentialSpec<'_> {
        FederatedCredentialSpec {
            name: &self.name,
            description: &self.description,
            issuer: &self.issuer,
            audience: &self.audience,
            subject: &self.subject,
            claims: &self.claims,
        }
    }
}

/// Whether `issuer` may be trusted as an OIDC issuer: https (http only when
/// the operator allows it, for development), a host, no query or fragment.
pub fn check_issuer_url(issuer: &str, allow_http: bool) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|_| "is not a URL".to_owned())?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(
                "must be an https:// URL (http:// only with --allow-insecure-issuers, for development)".to_owned(),
            );
        }
        _ => return Err("must be an https:// URL".to_owned()),
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err("must be an issuer URL: a host and an optional path, no query or fragment".to_owned());
    }
    Ok(())
}

impl Service {
    fn check_credential(&self, input: CredentialInput<'_>) -> ServiceResult<CheckedSpec> {
        let name = parse_name("name", input.name)?;
        let description = text::bounded_text(input.description, text::MAX_DESCRIPTION_CHARS)
            .map_err(|error| ServiceError::invalid("description", error))?;
        let issuer = input.issuer.trim();
        check_issuer_url(issuer, self.config.allow_insecure_issuers)
            .map_err(|why| ServiceError::invalid("issuer", why))?;
        let audience = input.audience.trim();
        if audience.is_empty() || audience.len() > pattern::MAX_PATTERN_LEN || audience.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "audience",
                "must be the audience the issuer puts in `aud` (1 to 512 printable characters)",
            ));
        }
        let subject = input.subject.trim();
        pattern::check_pattern(subject).map_err(|error| ServiceError::invalid("subject", error))?;
        if input.claims.len() > MAX_CONDITIONS {
            return Err(ServiceError::invalid(
                "claims",
                format!("at most {MAX_CONDITIONS} conditions"),
            ));
        }
        for (claim, wanted) in &input.claims {
            let field = format!("claims.{claim}");
            let well_formed = !claim.is_empty()
                && claim.len() <= 64
                && claim
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
            if !well_formed {
                return Err(ServiceError::invalid(
                    field,
                    "claim names are 1 to 64 letters, digits, `_`, `-`, `.` or `:`",
                ));
            }
            if RESERVED_CLAIMS.contains(&claim.as_str()) {
                return Err(ServiceError::invalid(
                    field,
                    "iss, aud and sub have fields of their own; exp, nbf and iat are always checked",
                ));
            }
            pattern::check_pattern(wanted).map_err(|error| ServiceError::invalid(field, error))?;
        }
        Ok(CheckedSpec {
            name,
            description,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            subject: subject.to_owned(),
            claims: input.claims,
        })
    }

    pub async fn list_federated_credentials<R>(
        &self,
        at: &Authorized<'_, R>,
        robot: &str,
    ) -> ServiceResult<(RobotRef, Vec<FederatedCredential>)> {
        let robot = self.robot_ref(at, robot).await?;
        let credentials = self.store.list_federated_credentials(robot.id).await?;
        Ok((robot, credentials))
    }

    pub async fn federated_credential<R>(
        &self,
        at: &Authorized<'_, R>,
        robot: &str,
        name: &str,
    ) -> ServiceResult<(RobotRef, FederatedCredential)> {
        let robot = self.robot_ref(at, robot).await?;
        let credential = self.credential_of(&robot, name).await?;
        Ok((robot, credential))
    }

    async fn credential_of(&self, robot: &RobotRef, name: &str) -> ServiceResult<FederatedCredential> {
        let not_found = || {
            ServiceError::NotFound(format!(
                "robot {} has no federated credential named {name:?}",
                robot.name
            ))
        };
        let parsed = Name::parse(name).map_err(|_| not_found())?;
        self.store
            .get_federated_credential(robot.id, &parsed)
            .await?
            .ok_or_else(not_found)
    }

    /// Adds a federated credential to a robot; at most
    /// [`crate::ServiceConfig::max_federated_credentials_per_robot`].
    pub async fn create_federated_credential(
        &self,
        at: &Authorized<'_, ManageRobots>,
        robot: &str,
        input: CredentialInput<'_>,
    ) -> ServiceResult<FederatedCredential> {
        let org = at.org();
        let robot = self.robot_ref(at, robot).await?;
        let spec = self.check_credential(input)?;
        let credential = self
            .store
            .create_federated_credential(
                robot.id,
                &spec.as_spec(),
                at.caller().user.id,
                self.now(),
                self.config.max_federated_credentials_per_robot,
            )
            .await
            .map_err(named(|| {
                format!("{} already has a federated credential named {}", robot.name, spec.name)
            }))?;
        self.audit(
            at.actor(),
            Change::new(
                Some(org.id),
                "federated_credential.created",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(credential_detail(&credential)),
        )
        .await;
        Ok(credential)
    }

    /// Changes a credential's terms. Tokens minted under the old terms are
    /// revoked.
    pub async fn update_federated_credential(
        &self,
        at: &Authorized<'_, ManageRobots>,
        robot: &str,
        name: &str,
        patch: CredentialPatch<'_>,
    ) -> ServiceResult<FederatedCredential> {
        let org = at.org();
        let robot = self.robot_ref(at, robot).await?;
        let current = self.credential_of(&robot, name).await?;
        let spec = self.check_credential(CredentialInput {
            name: patch.name.unwrap_or(current.name.as_str()),
            description: patch.description.unwrap_or(&current.description),
            issuer: patch.issuer.unwrap_or(&current.issuer),
            audience: patch.audience.unwrap_or(&current.audience),
            subject: patch.subject.unwrap_or(&current.subject),
            claims: patch.claims.unwrap_or_else(|| current.claims.clone()),
        })?;
        let gone = || {
            ServiceError::NotFound(format!(
                "robot {} has no federated credential named {name:?}",
                robot.name
            ))
        };
        if !self
            .store
            .update_federated_credential(current.id, &spec.as_spec(), self.now())
            .await
            .map_err(named(|| {
                format!("{} already has a federated credential named {}", robot.name, spec.name)
            }))?
        {
            return Err(gone());
        }
        let updated = self
            .store
            .get_federated_credential(robot.id, &spec.name)
            .await?
            .ok_or_else(gone)?;
        self.audit(
            at.actor(),
            Change::new(
                Some(org.id),
                "federated_credential.updated",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(credential_detail(&updated)),
        )
        .await;
        Ok(updated)
    }

    /// Deletes a credential and the tokens it minted.
    pub async fn delete_federated_credential(
        &self,
        at: &Authorized<'_, ManageRobots>,
        robot: &str,
        name: &str,
    ) -> ServiceResult<FederatedCredential> {
        let org = at.org();
        let robot = self.robot_ref(at, robot).await?;
        let credential = self.credential_of(&robot, name).await?;
        if !self.store.delete_federated_credential(credential.id).await? {
            return Err(ServiceError::NotFound(format!(
                "robot {} has no federated credential named {name:?}",
                robot.name
            )));
        }
        self.audit(
            at.actor(),
            Change::new(
                Some(org.id),
                "federated_credential.deleted",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(credential_detail(&credential)),
        )
        .await;
        Ok(credential)
    }
}

/// A credential as the audit log records it (no secrets: there are none).
fn credential_detail(credential: &FederatedCredential) -> serde_json::Value {
    json!({
        "name": credential.name, "issuer": credential.issuer, "audience": credential.audience,
        "subject": credential.subject, "claims": credential.claims,
    })
}

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
    NotAccepted,
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
        let refuse = |org: Option<&Org>, robot: Option<&RobotRef>, reason: String| {
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
            ExchangeRefused::NotAccepted
        };
        let internal = |error: ServiceError| {
            tracing::error!(%error, "token exchange failed");
            ExchangeRefused::Internal(error)
        };
        let Some((org, robot)) = self.robot_by_full_name(robot).await.map_err(internal)? else {
            return Err(refuse(None, None, "no such robot".to_owned()));
        };
        if robot.disabled_at.is_some() {
            return Err(refuse(Some(&org), Some(&robot), "the robot is disabled".to_owned()));
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
            ));
        }
        let accepted = match verifier.verify(id_token, &credentials, self.now()).await {
            Ok(accepted) => accepted,
            Err(refusal) => {
                let unreachable = matches!(refusal, Refusal::IssuerUnreachable(_));
                let refused = refuse(Some(&org), Some(&robot), refusal.to_string());
                return Err(if unreachable {
                    ExchangeRefused::IssuerUnreachable
                } else {
                    refused
                });
            }
        };
        let lifetime = lifetime::exchanged(org.token_policy, self.config.federated_token_ttl);
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
