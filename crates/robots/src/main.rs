//! `robots`: the server (`robots serve`), direct administration of its
//! database (`robots admin …`), and the command line over its REST API.

mod admin;
mod cli;
mod config;
mod serve;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "robots",
    version,
    about = "Robot accounts for organizations: machine identities for CI/CD and automation",
    long_about = None,
    propagate_version = true,
    after_help = "Getting started:\n  robots login --server http://127.0.0.1:8080\n  robots orgs create acme\n  \
        robots create ci-deployer --description \"Pushes images from CI\"\n  robots tokens create ci-deployer --name github-actions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: cli::GlobalArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: Admin Console, REST API and verification endpoints.
    Serve(Box<serve::ServeArgs>),
    /// Administer an installation directly through its database (no server needed).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    #[command(flatten)]
    Api(cli::ApiCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  robots completions bash > /etc/bash_completion.d/robots\n  \
        robots completions zsh > \"${fpath[1]}/_robots\"\n  robots completions fish > ~/.config/fish/completions/robots.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Exit 0 if the server is ready (its /readyz answers 200): a container's healthcheck.
    #[command(after_help = "Example (a Dockerfile):\n  HEALTHCHECK CMD [\"robots\", \"healthcheck\"]")]
    Healthcheck {
        /// The readiness URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz", value_name = "URL")]
        url: String,
    },
    /// Print the command reference as Markdown (docs/cli.md).
    #[command(hide = true)]
    Docs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One TLS crypto provider for every client in the process (ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(cli::client::exit::SERVER);
        }
    };
    runtime.block_on(async {
        let result = match cli.command {
            Command::Serve(args) => serve::run(*args).await.map_err(|error| error.to_string()),
            Command::Admin(command) => admin::run(command).await.map_err(|error| error.to_string()),
            Command::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "robots", &mut script);
                cli::output::emit(&String::from_utf8_lossy(&script));
                Ok(())
            }
            Command::Healthcheck { url } => healthcheck(&url).await,
            Command::Docs => {
                cli::output::emit(&cli::docs::markdown(&Cli::command()));
                Ok(())
            }
            Command::Api(command) => match cli::run(command, cli.global).await {
                Ok(()) => Ok(()),
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(error.exit_code());
                }
            },
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(cli::client::exit::SERVER)
            }
        }
    })
}

async fn healthcheck(url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|error| error.to_string())?;
    let answer = client
        .get(url)
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered {}", answer.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// `webhooks create --event` lists the events in its help: every one.
    #[test]
    fn the_webhook_help_names_every_event() {
        let help = cli::docs::markdown(&Cli::command());
        for event in robots_service::events::EVENTS {
            assert!(
                [",", ".", " ("]
                    .iter()
                    .any(|after| help.contains(&format!("{event}{after}"))),
                "{event}"
            );
        }
    }

    #[test]
    fn docs_cli_md_is_up_to_date() {
        let generated = cli::docs::markdown(&Cli::command());
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if committed != generated {
            if std::env::var_os("UPDATE_DOCS").is_some() {
                std::fs::write(path, &generated).unwrap();
            } else {
                panic!("docs/cli.md is stale: run `UPDATE_DOCS=1 cargo test -p robots docs_cli_md` and commit it");
            }
        }
    }
}
