//! Fills a database with a population of tokens for `scripts/bench`. An
//! example, not a subcommand: a release build of `robots` has no way to
//! create a user with a known password behind the operator's back.
//!
//!     cargo run --release -p robots --example seed_benchmark -- \
//!         --tokens 1000 --secrets-out secrets.jsonl --password "$PASSWORD" --data-dir DIR
//!
//! Tokens are spread over robots of [`TOKENS_PER_ROBOT`] each, as a real
//! population would be; the first robot, `bench/bot`, holds the tokens
//! written to `--secrets-out` and may write `bench/app`.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use robots_core::access::{Permission, RepoPath};
use robots_core::{Clock, Name, SecretKind, SecretToken, SystemClock, password};
use robots_store::{AuditEvent, NewRobot, NewUser, Store, Trail};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Parser)]
struct SeedArgs {
    /// How many tokens to store.
    #[arg(long)]
    tokens: usize,
    /// Where to write the plaintext of the first `--keep` tokens (JSON lines, mode 0600).
    #[arg(long)]
    secrets_out: PathBuf,
    #[arg(long, default_value_t = 64)]
    keep: usize,
    /// The password of the `bencher` user (an instance administrator, admin of `bench`).
    #[arg(long)]
    password: String,
    /// The data directory of a SQLite installation (as `robots serve --data-dir`).
    #[arg(long, required_unless_present = "database_url", conflicts_with = "database_url")]
    data_dir: Option<PathBuf>,
    /// A PostgreSQL database (as `robots serve --database-url`).
    #[arg(long)]
    database_url: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    seed(SeedArgs::parse()).await
}

/// How many tokens each seeded robot holds.
const TOKENS_PER_ROBOT: usize = 1_000;

async fn seed(args: SeedArgs) -> Result<(), BoxError> {
    let store = match (&args.data_dir, &args.database_url) {
        (Some(dir), _) => Store::open_data_dir(dir).await?,
        (None, Some(url)) => Store::open_url(url).await?,
        (None, None) => return Err("give --data-dir or --database-url".into()),
    };
    let now = SystemClock.now();
    let name = |text: &str| Name::parse(text).map_err(|error| format!("{text}: {error}"));
    let user = store
        .create_user(
            &NewUser {
                name: name("bencher")?,
                email: "bencher@example.com".into(),
                password_hash: password::hash_password(&args.password)?,
                instance_admin: true,
            },
            now,
        )
        .await?;
    let org_id = Uuid::now_v7();
    // What each seeded change leaves in the audit log.
    let record = |action: &str| AuditEvent {
        id: Uuid::now_v7(),
        org_id: Some(org_id),
        at: now,
        actor_kind: "system".into(),
        actor: None,
        action: action.into(),
        target: None,
        detail: r#"{"seeded": "scripts/bench"}"#.into(),
        ip: None,
        user_agent: None,
        via: "system".into(),
        request_id: None,
    };
    let org = store
        .create_org(
            org_id,
            &name("bench")?,
            "Benchmark",
            user.id,
            now,
            &record("org.created"),
        )
        .await?;
    let seeded = record("robot.created");
    let trail = Trail {
        audit: &seeded,
        webhook: None,
    };
    let robot = store
        .create_robot(
            &NewRobot {
                org_id: org.id,
                name: &name("bot")?,
                description: "benchmark",
                created_by: user.id,
            },
            &[],
            now,
            u32::MAX,
            &trail,
        )
        .await?;
    let app = RepoPath::parse("app")?;
    let repository = store
        .create_repository(org.id, &app, user.id, now, &record("repository.created"))
        .await?;
    let writers = name("writers")?;
    let team = store
        .create_team(org.id, &writers, "", now, &record("team.created"))
        .await?;
    store
        .add_team_robot(&team, &robot.name, now, &record("team.robot_added"))
        .await?;
    store
        .set_grant(&team, &repository, Permission::Write, now, &record("grant.set"))
        .await?;

    let mut kept = Vec::new();
    let mut robot_id = robot.id;
    let mut batch = Vec::with_capacity(TOKENS_PER_ROBOT);
    for index in 0..args.tokens {
        if index > 0 && index % TOKENS_PER_ROBOT == 0 {
            store.bulk_create_tokens(robot_id, user.id, &batch, now).await?;
            batch.clear();
            let next = NewRobot {
                org_id: org.id,
                name: &name(&format!("bot-{}", index / TOKENS_PER_ROBOT + 1))?,
                description: "benchmark",
                created_by: user.id,
            };
            let seeded = AuditEvent {
                id: Uuid::now_v7(),
                ..seeded.clone()
            };
            let trail = Trail {
                audit: &seeded,
                webhook: None,
            };
            robot_id = store.create_robot(&next, &[], now, u32::MAX, &trail).await?.id;
        }
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let access_id = Uuid::new_v4();
        if kept.len() < args.keep {
            kept.push(serde_json::json!({"access_id": access_id, "token": secret.expose()}));
        }
        batch.push((access_id, name(&format!("t{index}"))?, secret.hash()));
    }
    store.bulk_create_tokens(robot_id, user.id, &batch, now).await?;
    let mut out = std::fs::OpenOptions::new();
    out.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut out, 0o600);
    let mut file = out.open(&args.secrets_out)?;
    for line in kept {
        writeln!(file, "{line}")?;
    }
    store.close().await;
    println!(
        "seeded {} tokens over {} robots of organization bench",
        args.tokens,
        args.tokens.div_ceil(TOKENS_PER_ROBOT).max(1)
    );
    Ok(())
}
