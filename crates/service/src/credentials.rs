//! The form a new token is handed over in, besides its Access ID and
//! Token (`format` on creation and rotation): checked before the token is
//! made, so a bad request costs no token.

use robots_core::credentials::{CredentialError, CredentialFormat, CredentialTarget};

use crate::{Service, ServiceError, ServiceResult};

/// What a caller asked for, as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct CredentialRequest<'a> {
    pub format: Option<&'a str>,
    /// The registry host [default: the server's `--registry-host`].
    pub registry: Option<&'a str>,
    /// For `k8s-secret`: the Secret's name [default: the robot's].
    pub secret_name: Option<&'a str>,
    /// For `k8s-secret`: its namespace [default: none, kubectl's current].
    pub namespace: Option<&'a str>,
}

impl Service {
    /// The format and target `request` asks for, for `robot`'s new token;
    /// `None` when it asks for none.
    pub fn credential_target(
        &self,
        robot: &str,
        request: &CredentialRequest<'_>,
    ) -> ServiceResult<Option<(CredentialFormat, CredentialTarget)>> {
        let Some(format) = request.format else {
            if let Some(field) = [
                ("registry", request.registry),
                ("secret_name", request.secret_name),
                ("namespace", request.namespace),
            ]
            .into_iter()
            .find_map(|(field, value)| value.map(|_| field))
            {
                return Err(ServiceError::invalid(field, "only goes with a format"));
            }
            return Ok(None);
        };
        let format = CredentialFormat::parse(format).ok_or_else(|| {
            let known: Vec<&str> = CredentialFormat::ALL.iter().map(|format| format.as_str()).collect();
            ServiceError::invalid(
                "format",
                format!("{format:?} is not a format; known: {}", known.join(", ")),
            )
        })?;
        let registry = request.registry.or(self.config.registry_host.as_deref());
        if format.needs_registry() && registry.is_none() {
            return Err(ServiceError::invalid(
                "registry",
                format!(
                    "{} names a registry: give its host (e.g. registry.example.com), or start the server with --registry-host",
                    format.as_str()
                ),
            ));
        }
        let target = CredentialTarget::new(registry, request.secret_name.unwrap_or(robot), request.namespace).map_err(
            |error| {
                let field = match error {
                    CredentialError::Registry(_) => "registry",
                    CredentialError::SecretName(_) => "secret_name",
                    CredentialError::Namespace(_) => "namespace",
                };
                ServiceError::invalid(field, error)
            },
        )?;
        Ok(Some((format, target)))
    }
}
