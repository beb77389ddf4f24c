//! `robots serve`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use robots_core::SystemClock;
use robots_core::duration::parse_duration;
use robots_server::{AppState, ServerConfig, SignupPolicy};

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

    /// Lifetime of registry tokens.
    #[arg(long, env = "ROBOTS_REGISTRY_TOKEN_TTL", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    registry_token_ttl: Duration,

    /// Lifetime of OAuth2 access tokens (client credentials).
    #[arg(long, env = "ROBOTS_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration, value_name = "DURATION")]
    access_token_ttl: Duration,

    /// Audiences OAuth2 clients may ask for; the first is the default [default: the issuer].
    #[arg(
        long = "oauth-audience",
        env = "ROBOTS_OAUTH_AUDIENCE",
        value_delimiter = ',',
        value_name = "AUDIENCE"
    )]
    oauth_audiences: Vec<String>,

    /// Log filter, e.g. info, debug, or robots_server=debug,info.
    #[arg(long, env = "ROBOTS_LOG", default_value = "info", value_name = "FILTER")]
    log: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Signup {
    /// Only instance administrators create users.
    Closed,
    /// Anyone may create an account.
    Open,
}

pub async fn run(args: ServeArgs) -> Result<(), BoxError> {
    init_logging(&args.log)?;
    let (store, description) = args.database.open().await?;
    tracing::info!(database = %description, "database ready");
    let mut config = ServerConfig::new(args.listen);
    if let Some(url) = args.public_url {
        config.public_url = url.trim_end_matches('/').to_owned();
    }
    // Behind an HTTPS proxy the browser must only send the session cookie over HTTPS.
    config.secure_cookies = config.public_url.starts_with("https://");
    config.signup = match args.signup {
        Signup::Closed => SignupPolicy::Closed,
        Signup::Open => SignupPolicy::Open,
    };
    config.session_ttl = args.session_ttl;
    config.issuer = args.issuer.unwrap_or_else(|| config.public_url.clone());
    if !args.registry_token_path.starts_with('/') {
        return Err("--registry-token-path must start with /".into());
    }
    config.registry_services = args.registry_services;
    config.registry_token_path = args.registry_token_path;
    config.registry_token_ttl = args.registry_token_ttl.max(Duration::from_secs(60));
    config.access_token_ttl = args.access_token_ttl.max(Duration::from_secs(60));
    config.oauth_audiences = args.oauth_audiences;
    let state = AppState::new(store.clone(), Arc::new(SystemClock), config)
        .await
        .map_err(|error| format!("cannot load the signing keys: {error}"))?;
    let result = robots_server::run(state).await;
    store.close().await;
    result
}

fn init_logging(filter: &str) -> Result<(), BoxError> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|error| format!("--log {filter:?} is not a log filter: {error}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}
