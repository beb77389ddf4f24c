//! Keyless robots: a robot's federated credentials, which say which CI jobs
//! may trade their OIDC ID token for a short-lived token of the robot (the
//! trade itself is [`crate::exchange`]).

use std::collections::BTreeMap;

use robots_core::{Name, pattern, text};
use robots_store::{FederatedCredential, FederatedCredentialSpec, RobotRef};
use serde_json::json;

use crate::audit::Change;
use crate::error::named;
use crate::robots::parse_name;
use crate::{Authorized, ManageRobots, Service, ServiceError, ServiceResult};

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
            .and_then(|()| {
                let url = url::Url::parse(issuer).map_err(|_| "is not a URL".to_owned())?;
                self.config.outbound.check_url(&url)
            })
            .map_err(|why| ServiceError::invalid("issuer", why))?;
        let audience = input.audience.trim();
        if audience.is_empty() || audience.len() > pattern::MAX_PATTERN_LEN || audience.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "audience",
                "must be the audience the issuer puts in `aud` (1 to 512 printable characters)",
            ));
        }
        let subject = input.subject.trim();
        pattern::check_subject(subject).map_err(|why| ServiceError::invalid("subject", why))?;
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
        let record = self.record(
            at.actor(),
            Change::new(
                Some(org.id),
                "federated_credential.created",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(credential_detail(&spec.as_spec())),
        );
        let credential = self
            .store
            .create_federated_credential(
                robot.id,
                &spec.as_spec(),
                at.caller().user.id,
                self.now(),
                self.config.max_federated_credentials_per_robot,
                &record,
            )
            .await
            .map_err(named(|| {
                format!("{} already has a federated credential named {}", robot.name, spec.name)
            }))?;
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
        let record = self.record(
            at.actor(),
            Change::new(
                Some(org.id),
                "federated_credential.updated",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(credential_detail(&spec.as_spec())),
        );
        if !self
            .store
            .update_federated_credential(current.id, &spec.as_spec(), self.now(), &record)
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
        let record = self.record(
            at.actor(),
            Change::new(
                Some(org.id),
                "federated_credential.deleted",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(credential_detail(&FederatedCredentialSpec {
                name: &credential.name,
                description: &credential.description,
                issuer: &credential.issuer,
                audience: &credential.audience,
                subject: &credential.subject,
                claims: &credential.claims,
            })),
        );
        if !self.store.delete_federated_credential(credential.id, &record).await? {
            return Err(ServiceError::NotFound(format!(
                "robot {} has no federated credential named {name:?}",
                robot.name
            )));
        }
        Ok(credential)
    }
}

/// A credential as the audit log records it (no secrets: there are none).
fn credential_detail(credential: &FederatedCredentialSpec<'_>) -> serde_json::Value {
    json!({
        "name": credential.name, "issuer": credential.issuer, "audience": credential.audience,
        "subject": credential.subject, "claims": credential.claims,
    })
}
