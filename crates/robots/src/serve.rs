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
    #[arg(
        long,
        env = "ROBOTS_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
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

    /// Log filter, e.g. info, debug, or robots_server=debug,info.
    #[arg(
        long,
        env = "ROBOTS_LOG",
        default_value = "info",
        value_name = "FILTER"
    )]
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
    let state = AppState::new(store.clone(), Arc::new(SystemClock), config);
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
