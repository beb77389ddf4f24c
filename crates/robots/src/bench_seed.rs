//! `robots admin seed-benchmark`: fills a database with a population of
//! tokens for `scripts/bench`. Hidden: it exists for measurements only.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use robots_core::access::{Permission, RepoPath};
use robots_core::{Clock, Name, SecretKind, SecretToken, SystemClock, password};
use robots_store::{NewRobot, NewUser};
use uuid::Uuid;

use crate::config::{BoxError, DatabaseArgs};

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many tokens to store.
    #[arg(long)]
    tokens: usize,
    /// Where to write the plaintext of the first `--keep` tokens (JSON lines, mode 0600).
    #[arg(long)]
    secrets_out: PathBuf,
    #[arg(long, default_value_t = 64)]
    keep: usize,
    /// The password of the `bencher` user (an instance administrator, admin of `bench`).
    #[arg(long, default_value = "benchmark-password")]
    password: String,
    #[command(flatten)]
    database: DatabaseArgs,
}

pub async fn seed(args: SeedArgs) -> Result<(), BoxError> {
    let (store, _) = args.database.open().await?;
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
    let org = store.create_org(&name("bench")?, "Benchmark", user.id, now).await?;
    let robot = store
        .create_robot(
            &NewRobot {
                org_id: org.id,
                name: &name("bot")?,
                description: "benchmark",
                created_by: user.id,
            },
            now,
        )
        .await?;
    let repository = store
        .create_repository(org.id, &RepoPath::parse("app")?, user.id, now)
        .await?;
    let team = store.create_team(org.id, &name("writers")?, "", now).await?;
    store.add_team_robot(&team, &robot.name, now).await?;
    store.set_grant(&team, &repository, Permission::Write, now).await?;

    let mut kept = Vec::new();
    let mut batch = Vec::with_capacity(10_000);
    for index in 0..args.tokens {
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let access_id = Uuid::new_v4();
        if kept.len() < args.keep {
            kept.push(serde_json::json!({"access_id": access_id, "token": secret.expose()}));
        }
        batch.push((access_id, name(&format!("t{index}"))?, secret.hash()));
        if batch.len() == 10_000 {
            store.bulk_create_tokens(robot.id, user.id, &batch, now).await?;
            batch.clear();
        }
    }
    store.bulk_create_tokens(robot.id, user.id, &batch, now).await?;
    let mut out = std::fs::OpenOptions::new();
    out.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut out, 0o600);
    let mut file = out.open(&args.secrets_out)?;
    for line in kept {
        writeln!(file, "{line}")?;
    }
    store.close().await;
    println!("seeded {} tokens for robot bench/bot", args.tokens);
    Ok(())
}
