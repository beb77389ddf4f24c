//! A robot token written the way the tools that use it read it: a Docker
//! `config.json` / Kubernetes `.dockerconfigjson` document, a Kubernetes
//! Secret manifest, a Podman/containers `auth.json`, or shell variables.
//! Rendered only into the one answer that hands a new token over.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use uuid::Uuid;

use crate::SecretToken;

/// The shapes a new token can be handed over in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialFormat {
    /// `{"auths": {HOST: {"username", "password", "auth"}}}`: Docker's
    /// `config.json`, and the content of a `.dockerconfigjson` secret.
    DockerConfigJson,
    /// A Secret of type `kubernetes.io/dockerconfigjson`, for `kubectl apply -f`.
    KubernetesSecret,
    /// `{"auths": {HOST: {"auth"}}}`: Podman, Buildah and Skopeo's `auth.json`.
    AuthJson,
    /// `ROBOTS_ACCESS_ID=…` and `ROBOTS_TOKEN=…` lines, for a CI variable file.
    Env,
}

impl CredentialFormat {
    pub const ALL: [Self; 4] = [
        Self::DockerConfigJson,
        Self::KubernetesSecret,
        Self::AuthJson,
        Self::Env,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DockerConfigJson => "dockerconfigjson",
            Self::KubernetesSecret => "k8s-secret",
            Self::AuthJson => "auth-json",
            Self::Env => "env",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|format| format.as_str() == text)
    }

    /// Whether it names the registry the credentials are for.
    pub const fn needs_registry(self) -> bool {
        !matches!(self, Self::Env)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("{0:?} is not a registry host: give HOST or HOST:PORT, e.g. registry.example.com")]
    Registry(String),
    #[error(
        "{0:?} is not a Kubernetes object name: lowercase letters, digits, '-' and '.', at most 253, starting and ending with a letter or digit"
    )]
    SecretName(String),
    #[error(
        "{0:?} is not a Kubernetes namespace: lowercase letters, digits and '-', at most 63, starting and ending with a letter or digit"
    )]
    Namespace(String),
}

/// Where the credential is for and, for a Kubernetes Secret, its name and
/// namespace; checked before a token is made, so a bad one costs nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialTarget {
    registry: Option<String>,
    secret_name: String,
    namespace: Option<String>,
}

impl CredentialTarget {
    pub fn new(registry: Option<&str>, secret_name: &str, namespace: Option<&str>) -> Result<Self, CredentialError> {
        if let Some(registry) = registry {
            check_registry_host(registry)?;
        }
        if !is_dns_name(secret_name, 253, true) {
            return Err(CredentialError::SecretName(secret_name.to_owned()));
        }
        if let Some(namespace) = namespace.filter(|namespace| !is_dns_name(namespace, 63, false)) {
            return Err(CredentialError::Namespace(namespace.to_owned()));
        }
        Ok(Self {
            registry: registry.map(str::to_owned),
            secret_name: secret_name.to_owned(),
            namespace: namespace.map(str::to_owned),
        })
    }

    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The credential in `format`; `None` when the format names a registry
    /// and this target has none.
    pub fn render(&self, format: CredentialFormat, access_id: Uuid, token: &SecretToken) -> Option<Credential> {
        let secret = token.expose();
        let basic = BASE64.encode(format!("{access_id}:{secret}"));
        let registry = self.registry.as_deref();
        let (file_name, content) = match format {
            CredentialFormat::Env => (
                "robots.env".to_owned(),
                format!("ROBOTS_ACCESS_ID={access_id}\nROBOTS_TOKEN={secret}\n"),
            ),
            CredentialFormat::AuthJson => (
                "auth.json".to_owned(),
                format!("{{\"auths\":{{\"{}\":{{\"auth\":\"{basic}\"}}}}}}\n", registry?),
            ),
            CredentialFormat::DockerConfigJson => (
                "config.json".to_owned(),
                docker_config(registry?, access_id, secret, &basic),
            ),
            CredentialFormat::KubernetesSecret => {
                let document = BASE64.encode(docker_config(registry?, access_id, secret, &basic));
                let namespace = self
                    .namespace
                    .as_deref()
                    .map(|namespace| format!("  namespace: {namespace}\n"))
                    .unwrap_or_default();
                (
                    format!("{}.yaml", self.secret_name),
                    format!(
                        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\n{namespace}\
                         type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {document}\n",
                        self.secret_name
                    ),
                )
            }
        };
        Some(Credential {
            format,
            file_name,
            content,
        })
    }
}

/// A credential rendered: it holds the secret, so it is never `Debug`-printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub format: CredentialFormat,
    /// What to call the file it is saved as.
    pub file_name: String,
    content: String,
}

impl Credential {
    /// The document. Only for the one answer that hands the token over.
    pub fn expose(&self) -> &str {
        &self.content
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}, <redacted>)", self.format.as_str())
    }
}

fn docker_config(registry: &str, access_id: Uuid, secret: &str, basic: &str) -> String {
    format!(
        "{{\"auths\":{{\"{registry}\":{{\"username\":\"{access_id}\",\"password\":\"{secret}\",\"auth\":\"{basic}\"}}}}}}\n"
    )
}

/// Checks a registry host as a credential would name it (see [`is_registry_host`]).
pub fn check_registry_host(text: &str) -> Result<(), CredentialError> {
    if is_registry_host(text) {
        Ok(())
    } else {
        Err(CredentialError::Registry(text.to_owned()))
    }
}

/// `HOST` or `HOST:PORT`: a DNS name or IPv4 address (letters, digits,
/// '-', '.'), or a bracketed IPv6 address; nothing a JSON string or YAML
/// would need escaped.
fn is_registry_host(text: &str) -> bool {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => (host, Some(port)),
        _ => (text, None),
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty() && label.len() <= 63 && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    host_ok && port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0))
}

/// A Kubernetes DNS-1123 subdomain (`dots`) or label.
fn is_dns_name(text: &str, max: usize, dots: bool) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !text.is_empty()
        && text.len() <= max
        && edge(text.chars().next())
        && edge(text.chars().last())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKind;

    fn decode(text: &str) -> String {
        String::from_utf8(BASE64.decode(text).unwrap()).unwrap()
    }

    #[test]
    fn every_format_carries_the_access_id_and_token() {
        let token = SecretToken::generate(SecretKind::RobotToken);
        let access_id = Uuid::now_v7();
        let target = CredentialTarget::new(Some("registry.example.com:5000"), "deployer", Some("apps")).unwrap();
        let basic = format!("{access_id}:{}", token.expose());

        let env = target.render(CredentialFormat::Env, access_id, &token).unwrap();
        assert_eq!(
            env.expose(),
            format!("ROBOTS_ACCESS_ID={access_id}\nROBOTS_TOKEN={}\n", token.expose())
        );
        let auth = target.render(CredentialFormat::AuthJson, access_id, &token).unwrap();
        assert_eq!(
            auth.expose(),
            format!(
                "{{\"auths\":{{\"registry.example.com:5000\":{{\"auth\":\"{}\"}}}}}}\n",
                BASE64.encode(&basic)
            )
        );
        let docker = target
            .render(CredentialFormat::DockerConfigJson, access_id, &token)
            .unwrap();
        assert!(docker.expose().contains(&format!("\"username\":\"{access_id}\"")));
        assert!(
            docker
                .expose()
                .contains(&format!("\"password\":\"{}\"", token.expose()))
        );
        let secret = target
            .render(CredentialFormat::KubernetesSecret, access_id, &token)
            .unwrap();
        assert_eq!(secret.file_name, "deployer.yaml");
        let lines: Vec<&str> = secret.expose().lines().collect();
        assert_eq!(
            lines[..7],
            [
                "apiVersion: v1",
                "kind: Secret",
                "metadata:",
                "  name: deployer",
                "  namespace: apps",
                "type: kubernetes.io/dockerconfigjson",
                "data:"
            ]
        );
        let document = lines[7].strip_prefix("  .dockerconfigjson: ").unwrap();
        assert_eq!(decode(document), docker.expose());
        assert!(!format!("{secret:?}{docker:?}").contains(token.expose()));
    }

    #[test]
    fn formats_that_name_a_registry_need_one() {
        let token = SecretToken::generate(SecretKind::RobotToken);
        let target = CredentialTarget::new(None, "deployer", None).unwrap();
        assert!(target.render(CredentialFormat::Env, Uuid::nil(), &token).is_some());
        for format in [
            CredentialFormat::AuthJson,
            CredentialFormat::DockerConfigJson,
            CredentialFormat::KubernetesSecret,
        ] {
            assert!(format.needs_registry());
            assert!(target.render(format, Uuid::nil(), &token).is_none(), "{format:?}");
        }
    }

    #[test]
    fn names_and_hosts_are_checked() {
        for good in ["registry.example.com", "127.0.0.1:5000", "[::1]:5000", "localhost"] {
            assert!(is_registry_host(good), "{good}");
        }
        for bad in [
            "",
            "https://registry.example.com",
            "reg\"istry",
            "host:0",
            "host:99999",
            "a..b",
            "[zz]:1",
        ] {
            assert_eq!(
                CredentialTarget::new(Some(bad), "x", None),
                Err(CredentialError::Registry(bad.to_owned())),
                "{bad}"
            );
        }
        assert!(CredentialTarget::new(None, "pull.secret-1", Some("team-a")).is_ok());
        assert!(matches!(
            CredentialTarget::new(None, "Pull", None),
            Err(CredentialError::SecretName(_))
        ));
        assert!(matches!(
            CredentialTarget::new(None, "pull", Some("a.b")),
            Err(CredentialError::Namespace(_))
        ));
        assert_eq!(
            CredentialFormat::parse("k8s-secret"),
            Some(CredentialFormat::KubernetesSecret)
        );
        assert_eq!(CredentialFormat::parse("yaml"), None);
    }
}
