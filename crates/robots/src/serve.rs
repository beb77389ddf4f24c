//! `robots serve`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use robots_core::SystemClock;
use robots_core::duration::parse_duration;
use robots_server::client::IpRange;
use robots_server::{AppState, ServerConfig, SignupPolicy};
use robots_service::limits::{LimitConfig, RateLimit};

use crate::config::{BoxError, DatabaseArgs};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  robots serve\n  robots serve --listen 0.0.0.0:8080 --public-url https://robots.example.com\n  \
    ROBOTS_DATABASE_URL=postgres://robots@db/robots robots serve"
)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROBOTS_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,

    /// Serve Prometheus metrics at /metrics on this address (keep it off the
    /// public network: they name organizations and count failures).
    #[arg(long, env = "ROBOTS_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,

    /// How often the metrics counted in the database (tokens by state,
    /// webhook deliveries) are counted again.
    #[arg(long, env = "ROBOTS_METRICS_REFRESH", default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    metrics_refresh: Duration,

    #[command(flatten)]
    database: DatabaseArgs,

    /// The URL clients use to reach this server (default: http://LISTEN).
    #[arg(long, env = "ROBOTS_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,

    /// Who may create user accounts.
    #[arg(long, env = "ROBOTS_SIGNUP", value_enum, default_value_t = Signup::Closed)]
    signup: Signup,

    /// How long a login session lasts (e.g. 12h, 7d).
    #[arg(long, env = "ROBOTS_SESSION_TTL", default_value = "12h", value_parser = parse_duration, value_name = "DURATION")]
    session_ttl: Duration,

    /// `iss` of the tokens this server signs (a registry's auth.token.issuer) [default: the public URL].
    #[arg(long, env = "ROBOTS_ISSUER", value_name = "ISSUER")]
    issuer: Option<String>,

    /// Registry service name(s) to issue tokens for: a registry's auth.token.service.
    #[arg(
        long = "registry-service",
        env = "ROBOTS_REGISTRY_SERVICE",
        value_delimiter = ',',
        default_value = "registry",
        value_name = "NAME"
    )]
    registry_services: Vec<String>,

    /// Path of the Docker registry token service (the registry's auth.token.realm points here).
    #[arg(
        long,
        env = "ROBOTS_REGISTRY_TOKEN_PATH",
        default_value = "/v2/token",
        value_name = "PATH"
    )]
    registry_token_path: String,

    /// The registry's host (HOST or HOST:PORT, as `docker login` names it):
    /// the default of the credential formats (dockerconfigjson, k8s-secret,
    /// auth-json) a new token can be handed over in.
    #[arg(long, env = "ROBOTS_REGISTRY_HOST", value_name = "HOST")]
    registry_host: Option<String>,

    /// Lifetime of registry tokens.
    #[arg(long, env = "ROBOTS_REGISTRY_TOKEN_TTL", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    registry_token_ttl: Duration,

    /// Lifetime of OAuth2 access tokens (client credentials).
    #[arg(long, env = "ROBOTS_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration, value_name = "DURATION")]
    access_token_ttl: Duration,

    /// How long a signed token (registry, OAuth2) is given again to the same
    /// robot token asking for exactly the same grant, instead of signing a
    /// new one; at most a tenth of the token's lifetime. 0s turns it off.
    #[arg(long, env = "ROBOTS_TOKEN_REUSE_WINDOW", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    token_reuse_window: Duration,

    /// Audiences OAuth2 clients may ask for; the first is the default [default: the issuer].
    #[arg(
        long = "oauth-audience",
        env = "ROBOTS_OAUTH_AUDIENCE",
        value_delimiter = ',',
        value_name = "AUDIENCE"
    )]
    oauth_audiences: Vec<String>,

    /// Serve HTTPS with this PEM certificate chain (and --tls-key).
    #[arg(long, env = "ROBOTS_TLS_CERT", value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "ROBOTS_TLS_KEY", value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Reverse proxies (addresses or ranges, e.g. 127.0.0.1 or 10.0.0.0/8) whose
    /// X-Forwarded-For names the client, for rate limits and the audit log.
    #[arg(
        long = "trusted-proxy",
        env = "ROBOTS_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "RANGE"
    )]
    trusted_proxies: Vec<IpRange>,

    /// Failed robot authentications per client address: BURST/PER_MINUTE.
    /// Beyond it the address is answered 429 until it regains attempts.
    #[arg(
        long,
        env = "ROBOTS_LIMIT_ROBOT_FAILURES_PER_ADDRESS",
        default_value = "100/60",
        value_name = "LIMIT",
        help_heading = "Limits"
    )]
    limit_robot_failures_per_address: RateLimit,

    /// Failed robot authentications per Access ID. Beyond it failures are
    /// answered 429; the right Token still works.
    #[arg(
        long,
        env = "ROBOTS_LIMIT_ROBOT_FAILURES_PER_ACCESS_ID",
        default_value = "20/10",
        value_name = "LIMIT",
        help_heading = "Limits"
    )]
    limit_robot_failures_per_access_id: RateLimit,

    /// Failed password logins per client address.
    #[arg(
        long,
        env = "ROBOTS_LIMIT_LOGIN_FAILURES_PER_ADDRESS",
        default_value = "20/10",
        value_name = "LIMIT",
        help_heading = "Limits"
    )]
    limit_login_failures_per_address: RateLimit,

    /// Failed password logins per username. Beyond it, logins for that user
    /// are refused except from addresses it logged in from before.
    #[arg(
        long,
        env = "ROBOTS_LIMIT_LOGIN_FAILURES_PER_USER",
        default_value = "10/5",
        value_name = "LIMIT",
        help_heading = "Limits"
    )]
    limit_login_failures_per_user: RateLimit,

    /// Leaked-token reports (POST /v1/tokens/revoke) per client address:
    /// burst, then per minute; beyond it 429.
    #[arg(
        long,
        env = "ROBOTS_LIMIT_LEAK_REPORTS_PER_ADDRESS",
        default_value = "60/60",
        value_name = "LIMIT",
        help_heading = "Limits"
    )]
    limit_leak_reports_per_address: RateLimit,

    /// How long a token from an OIDC token exchange (keyless robots) lives;
    /// an organization's maximum token lifetime caps it.
    #[arg(long, env = "ROBOTS_FEDERATED_TOKEN_TTL", default_value = "15m", value_parser = parse_duration, value_name = "DURATION")]
    federated_token_ttl: Duration,

    /// Trust OIDC issuers at plain http:// URLs. For development and tests
    /// on one machine only: anyone on the path could forge ID tokens.
    #[arg(long, env = "ROBOTS_ALLOW_INSECURE_ISSUERS")]
    allow_insecure_issuers: bool,

    /// Let webhooks and OIDC issuers point at loopback, private, link-local
    /// (cloud metadata) and other non-public addresses. For labs and tests
    /// on one machine: otherwise an organization admin could make the
    /// server probe the networks around it.
    #[arg(long, env = "ROBOTS_OUTBOUND_ALLOW_PRIVATE")]
    outbound_allow_private: bool,

    /// Robots an organization may have.
    #[arg(
        long,
        env = "ROBOTS_MAX_ROBOTS_PER_ORG",
        default_value_t = 1_000,
        value_name = "N",
        help_heading = "Limits"
    )]
    max_robots_per_org: u32,

    /// Tokens a robot may have (tokens rotating out included).
    #[arg(
        long,
        env = "ROBOTS_MAX_TOKENS_PER_ROBOT",
        default_value_t = 100,
        value_name = "N",
        help_heading = "Limits"
    )]
    max_tokens_per_robot: u32,

    /// Largest request body, in bytes.
    #[arg(long, env = "ROBOTS_MAX_BODY_BYTES", default_value_t = 64 * 1024, value_name = "BYTES", help_heading = "Limits")]
    max_body_bytes: usize,

    /// How long a whole request may take; slower ones are answered 408.
    #[arg(long, env = "ROBOTS_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration, value_name = "DURATION", help_heading = "Limits")]
    request_timeout: Duration,

    /// Open connections at most; beyond, the longest-idle keep-alive
    /// connections are closed to admit new ones [default: three quarters of
    /// the limit on open files, which the server raises to its hard limit
    /// at start].
    #[arg(long, env = "ROBOTS_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(16..), value_name = "N", help_heading = "Limits")]
    max_connections: Option<u32>,

    /// A keep-alive connection idle this long is closed (longer than
    /// proxies' own upstream keep-alive, e.g. nginx's 60s).
    #[arg(long, env = "ROBOTS_KEEP_ALIVE_TIMEOUT", default_value = "75s", value_parser = parse_duration, value_name = "DURATION", help_heading = "Limits")]
    keep_alive_timeout: Duration,

    /// Threads serving connections; each connection stays on one
    /// [default: the CPUs this process may use].
    #[arg(long, env = "ROBOTS_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024), value_name = "N")]
    workers: Option<u16>,

    /// Mail notices (robot tokens and personal access tokens 30, 7 and 1 days
    /// before they expire, tokens disabled for going unused) through this
    /// relay: smtps://[USER:PASSWORD@]HOST[:PORT], smtp://… for STARTTLS, or
    /// smtp://HOST:PORT?tls=none for a relay on this host. Prefer the
    /// environment variable: every local user can read a command line.
    #[arg(
        long,
        env = "ROBOTS_SMTP_URL",
        hide_env_values = true,
        value_name = "URL",
        requires = "smtp_from",
        help_heading = "Mail"
    )]
    smtp_url: Option<SmtpUrl>,

    /// The sender of notice mails, e.g. "Robot Accounts <robots@example.com>".
    #[arg(
        long,
        env = "ROBOTS_SMTP_FROM",
        value_name = "ADDRESS",
        requires = "smtp_url",
        help_heading = "Mail"
    )]
    smtp_from: Option<String>,

    /// Trust only the CA certificates in this PEM file for the relay's TLS
    /// [default: the system's].
    #[arg(
        long,
        env = "ROBOTS_SMTP_CA_FILE",
        value_name = "PATH",
        requires = "smtp_url",
        help_heading = "Mail"
    )]
    smtp_ca_file: Option<PathBuf>,

    /// Log filter, e.g. info, debug, or robots_server=debug,info.
    #[arg(long, env = "ROBOTS_LOG", default_value = "info", value_name = "FILTER")]
    log: String,

    /// How log lines are written: text for people, json for log shippers
    /// (one object per line: timestamp, level, target, fields with the
    /// message, and the request's id in span).
    #[arg(long, env = "ROBOTS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    log_format: LogFormat,
}

/// `--smtp-url`, which may hold a password: never printed.
#[derive(Clone)]
struct SmtpUrl(String);

impl std::str::FromStr for SmtpUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self(url.to_owned()))
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpUrl(…)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Signup {
    /// Only instance administrators create users.
    Closed,
    /// Anyone may create an account.
    Open,
}

pub async fn run(args: ServeArgs) -> Result<(), BoxError> {
    init_logging(&args.log, args.log_format)?;
    let open_files = robots_server::connections::raise_open_files_limit();
    // Held until the process ends: a second server on the same directory,
    // or a restore under this one, is refused.
    let _data_dir_lock = args.database.lock_data_dir()?;
    let (store, description) = args.database.open().await?;
    tracing::info!(database = %description, "database ready");
    let mut config = ServerConfig::new(args.listen);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(Arc::new(tls_config(cert, key)?));
        config.public_url = format!("https://{}", args.listen);
    }
    if let Some(url) = args.public_url {
        config.public_url = url.trim_end_matches('/').to_owned();
    }
    // Over HTTPS (here or at a proxy) the browser must only send the session
    // cookie over HTTPS.
    config.secure_cookies = config.tls.is_some() || config.public_url.starts_with("https://");
    config.service.signup = match args.signup {
        Signup::Closed => SignupPolicy::Closed,
        Signup::Open => SignupPolicy::Open,
    };
    config.service.session_ttl = args.session_ttl;
    config.json_logs = args.log_format == LogFormat::Json;
    config.metrics_listen = args.metrics_listen;
    config.metrics_refresh = args.metrics_refresh.max(Duration::from_secs(1));
    config.issuer = args.issuer.unwrap_or_else(|| config.public_url.clone());
    if !args.registry_token_path.starts_with('/') {
        return Err("--registry-token-path must start with /".into());
    }
    if let Some(host) = &args.registry_host {
        robots_core::credentials::check_registry_host(host).map_err(|error| format!("--registry-host: {error}"))?;
    }
    config.service.registry_host = args.registry_host;
    config.registry_services = args.registry_services;
    config.registry_token_path = args.registry_token_path;
    config.registry_token_ttl = args.registry_token_ttl.max(Duration::from_secs(60));
    config.access_token_ttl = args.access_token_ttl.max(Duration::from_secs(60));
    config.oauth_audiences = args.oauth_audiences;
    config.token_reuse_window = args.token_reuse_window;
    config.trusted_proxies = args.trusted_proxies;
    config.service.max_robots_per_org = args.max_robots_per_org.max(1);
    config.service.federated_token_ttl = args.federated_token_ttl.max(Duration::from_secs(60));
    config.service.allow_insecure_issuers = args.allow_insecure_issuers;
    config.service.outbound.allow_private = args.outbound_allow_private;
    if args.outbound_allow_private {
        tracing::warn!("--outbound-allow-private: webhooks and OIDC issuers may point at private networks");
    }
    if args.allow_insecure_issuers {
        tracing::warn!(
            "--allow-insecure-issuers: OIDC issuers at http:// URLs are trusted; never do this in production"
        );
    }
    config.service.max_tokens_per_robot = args.max_tokens_per_robot.max(1);
    config.max_body_bytes = args.max_body_bytes.max(1024);
    config.request_timeout = args.request_timeout.max(Duration::from_secs(1));
    config.max_connections = args.max_connections.map_or_else(
        || robots_server::connections::max_connections_for(open_files),
        |max| max as usize,
    );
    config.keep_alive_timeout = args.keep_alive_timeout.max(Duration::from_secs(1));
    tracing::info!(
        open_files,
        max_connections = config.max_connections,
        keep_alive = ?config.keep_alive_timeout,
        "connection limits"
    );
    if let Some(workers) = args.workers {
        config.workers = workers.into();
    }
    config.service.limits = LimitConfig {
        robot_failures_per_address: args.limit_robot_failures_per_address,
        robot_failures_per_access_id: args.limit_robot_failures_per_access_id,
        login_failures_per_address: args.limit_login_failures_per_address,
        login_failures_per_user: args.limit_login_failures_per_user,
        leak_reports_per_address: args.limit_leak_reports_per_address,
    };
    if let (Some(url), Some(from)) = (&args.smtp_url, &args.smtp_from) {
        let mailer = robots_server::mail::Mailer::new(&url.0, from, args.smtp_ca_file.as_deref())?;
        tracing::info!(relay = %mailer.relay(), "notices are mailed");
        config.mailer = Some(mailer);
    }
    let state = AppState::new(store.clone(), Arc::new(SystemClock), config)
        .await
        .map_err(|error| format!("cannot load the signing keys: {error}"))?;
    let result = robots_server::run(state).await;
    store.close().await;
    result
}

/// The TLS configuration of `--tls-cert` and `--tls-key`, with errors that
/// name the file at fault.
fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, BoxError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("--tls-cert {}: {error}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("--tls-cert {}: no PEM certificate in the file", cert.display()).into());
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|error| format!("--tls-key {}: {error}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|error| {
            format!(
                "--tls-key {} does not fit --tls-cert {}: {error}",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn init_logging(filter: &str, format: LogFormat) -> Result<(), BoxError> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|error| format!("--log {filter:?} is not a log filter: {error}"))?;
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // The request span holds the id; the list of outer spans adds nothing.
        LogFormat::Json => lines.json().with_current_span(true).with_span_list(false).init(),
    }
    Ok(())
}
