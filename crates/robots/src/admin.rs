//! `robots admin …`: works on the database directly, for deploy scripts and
//! for the moment before any administrator exists.

use std::io::Read;

use clap::{Args, Subcommand};
use robots_core::{Name, password, text};
use std::path::PathBuf;

use robots_store::{NewUser, Store, StoreError};

use crate::config::{BoxError, DatabaseArgs};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user directly in the database.
    #[command(
        after_help = "Example:\n  echo \"$ADMIN_PASSWORD\" | robots admin create-user alice --email alice@example.com --password-stdin --instance-admin"
    )]
    CreateUser(CreateUserArgs),
    /// Write a consistent copy of the embedded database to FILE, while the server runs.
    #[command(
        after_help = "Example:\n  robots admin backup /var/backups/robots/robots-$(date +%F).db\n\n\
        The copy is a SQLite database, readable by its owner only. On PostgreSQL, use pg_dump \
        (docs/OPERATING.md)."
    )]
    Backup(BackupArgs),
    /// Replace the embedded database with a backup; the server must be stopped.
    #[command(
        after_help = "Example:\n  systemctl stop robots\n  robots admin restore /var/backups/robots/robots-2026-12-01.db\n  systemctl start robots\n\n\
        The backup is checked first (SQLite's integrity check, a schema this version knows); the \
        database it replaces is kept beside it as robots.db.before-restore-<time>."
    )]
    Restore(RestoreArgs),
    /// Copy everything from the embedded SQLite database into a new PostgreSQL database.
    #[command(
        after_help = "Example:\n  systemctl stop robots\n  robots admin migrate --to-file /etc/robots/database-url\n  \
        # then start the server with --database-url-file /etc/robots/database-url\n\n\
        Users, organizations, robots, token hashes, teams, grants, audit events, signing keys and \
        webhooks are copied in one transaction, and each table's count is checked before it \
        commits; tokens keep working unchanged. The target must be empty."
    )]
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup (a new file: never overwritten).
    file: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore (made by `robots admin backup`).
    file: PathBuf,
    /// Directory of the embedded database to replace [default:
    /// $XDG_DATA_HOME/robots, else ~/.local/share/robots].
    #[arg(long, env = "ROBOTS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite database to copy: sqlite://PATH [default: the one in the data directory].
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// The PostgreSQL database to copy into: postgres://user:password@host/db.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "to_file",
        conflicts_with = "to_file"
    )]
    to: Option<String>,
    /// Read the target's URL from a file (keeps the password out of the process list).
    #[arg(long, value_name = "FILE")]
    to_file: Option<PathBuf>,
    /// Directory of the embedded database [default: $XDG_DATA_HOME/robots, else ~/.local/share/robots].
    #[arg(long, env = "ROBOTS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// The username: lowercase letters, digits and hyphens.
    name: String,
    /// The user's e-mail address.
    #[arg(long)]
    email: String,
    /// Read the password from standard input (required: passwords never go on the command line).
    #[arg(long, required = true)]
    password_stdin: bool,
    /// Make the user an instance administrator (may create users).
    #[arg(long)]
    instance_admin: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

pub async fn run(command: AdminCommand) -> Result<(), BoxError> {
    match command {
        AdminCommand::CreateUser(args) => create_user(args).await,
        AdminCommand::Backup(args) => back_up(args).await,
        AdminCommand::Restore(args) => restore(args).await,
        AdminCommand::Migrate(args) => migrate(args).await,
    }
}

async fn back_up(args: BackupArgs) -> Result<(), BoxError> {
    if args.database.is_external()? {
        return Err(
            "backup copies the embedded SQLite database; back PostgreSQL up with pg_dump (docs/OPERATING.md)".into(),
        );
    }
    let (store, description) = args.database.open().await?;
    let started = std::time::Instant::now();
    let result = store.back_up_to(&args.file).await;
    store.close().await;
    result.map_err(|error| format!("backup failed: {error}"))?;
    let size = std::fs::metadata(&args.file).map(|meta| meta.len()).unwrap_or(0);
    println!(
        "backed up {description} to {} ({size} bytes, {} ms)",
        args.file.display(),
        started.elapsed().as_millis()
    );
    Ok(())
}

async fn restore(args: RestoreArgs) -> Result<(), BoxError> {
    let data_dir = DatabaseArgs {
        data_dir: args.data_dir,
        database_url: None,
        database_url_file: None,
    }
    .data_dir();
    let restored = robots_store::restore_backup(&data_dir, &args.file)
        .await
        .map_err(|error| format!("restore refused: {error}"))?;
    println!(
        "restored {} into {}",
        args.file.display(),
        data_dir.join("robots.db").display()
    );
    if let Some(previous) = &restored.previous {
        println!("the database it replaced is kept as {}", previous.display());
    }
    print_counts(&restored.counts);
    Ok(())
}

async fn migrate(args: MigrateArgs) -> Result<(), BoxError> {
    let to = match (&args.to, &args.to_file) {
        (Some(url), _) => url.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read --to-file {}: {error}", path.display()))?
            .trim()
            .to_owned(),
        (None, None) => return Err("say where to copy to: --to postgres://… or --to-file FILE".into()),
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err("--to must be a PostgreSQL URL: postgres://user:password@host/db".into());
    }
    let database = match &args.from {
        Some(url) => {
            let Some(path) = url.strip_prefix("sqlite://") else {
                return Err("--from must be a SQLite database: sqlite://PATH".into());
            };
            PathBuf::from(path)
        }
        None => DatabaseArgs {
            data_dir: args.data_dir,
            database_url: None,
            database_url_file: None,
        }
        .data_dir()
        .join("robots.db"),
    };
    if !database.is_file() {
        return Err(format!("there is no database at {}", database.display()).into());
    }
    // Anything a running server wrote after the copy would be left behind.
    let _stopped = robots_store::DataDirLock::acquire(database.parent().unwrap_or(std::path::Path::new(".")))
        .map_err(|error| format!("migration refused: {error}"))?;
    let source = Store::open_sqlite(&database)
        .await
        .map_err(|error| format!("cannot open the SQLite database: {error}"))?;
    let target = Store::open_url(&to)
        .await
        .map_err(|error| format!("cannot open the PostgreSQL database: {error}"))?;
    let started = std::time::Instant::now();
    let copied = source.copy_into(&target).await;
    source.close().await;
    target.close().await;
    let copied = copied.map_err(|error| format!("migration failed, nothing was copied: {error}"))?;
    println!(
        "copied into PostgreSQL in {} ms; every table's count matches:",
        started.elapsed().as_millis()
    );
    print_counts(&copied);
    println!("start the server with --database-url (or --database-url-file) naming that database");
    Ok(())
}

fn print_counts(counts: &[robots_store::TableCount]) {
    for count in counts {
        println!("  {:<22} {:>10}", count.table, count.rows);
    }
}

async fn create_user(args: CreateUserArgs) -> Result<(), BoxError> {
    let name = Name::parse(&args.name).map_err(|error| format!("username: {error}"))?;
    let email = args.email.trim().to_owned();
    if !text::is_plausible_email(&email) {
        return Err(format!("--email {email:?} is not an e-mail address").into());
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|error| format!("cannot read the password from standard input: {error}"))?;
    // `echo` adds a newline; a password never ends in one on purpose.
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    password::check_new_password(&password).map_err(|error| format!("password: {error}"))?;
    let password_hash = password::hash_password(&password)?;

    let (store, _) = args.database.open().await?;
    let user = store
        .create_user(
            &NewUser {
                name,
                email,
                password_hash,
                instance_admin: args.instance_admin,
            },
            time_now(),
        )
        .await
        .map_err(|error| match error {
            StoreError::NameTaken => format!("the name {:?} is already taken", args.name),
            StoreError::EmailTaken => format!("the e-mail address {:?} is already in use", args.email.trim()),
            other => other.to_string(),
        })?;
    store.close().await;
    println!(
        "created user {}{}",
        user.name,
        if user.instance_admin {
            " (instance administrator)"
        } else {
            ""
        }
    );
    Ok(())
}

fn time_now() -> time::OffsetDateTime {
    use robots_core::Clock;
    robots_core::SystemClock.now()
}
