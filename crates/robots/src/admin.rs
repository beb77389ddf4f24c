//! `robots admin …`: works on the database directly, for deploy scripts and
//! for the moment before any administrator exists.

use std::io::Read;

use clap::{Args, Subcommand};
use robots_core::{Name, password, text};
use robots_store::{NewUser, StoreError};

use crate::config::{BoxError, DatabaseArgs};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user directly in the database.
    #[command(
        after_help = "Example:\n  echo \"$ADMIN_PASSWORD\" | robots admin create-user alice --email alice@example.com --password-stdin --instance-admin"
    )]
    CreateUser(CreateUserArgs),
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
