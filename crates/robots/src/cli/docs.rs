//! `docs/cli.md`, generated from the same clap definitions the binary
//! parses, so the reference cannot drift from the program. A test compares
//! the committed file with what this produces.

use clap::Command;

/// The whole command reference as Markdown.
pub fn markdown(root: &Command) -> String {
    let mut out = String::from(
        "# The `robots` command line\n\n\
         Generated from the program's own definitions by `robots docs > docs/cli.md`; do not edit by hand.\n\n\
         Every command that talks to a server takes `--server URL` (or `ROBOTS_SERVER`; default: the server you \
         logged in to, else http://127.0.0.1:8080), `--org ORG` (or `ROBOTS_ORG`; default: your only organization) \
         and `-o table|json|yaml`. `robots login` saves a session in `~/.config/robots/session.json` \
         (mode 0600); `ROBOTS_TOKEN` overrides it.\n\n\
         ## Exit codes\n\n\
         | code | meaning |\n|---|---|\n\
         | 0 | success |\n\
         | 1 | server or network error (5xx, cannot connect), or a local file error |\n\
         | 2 | usage error: bad arguments, a deletion (or disabling) not confirmed, or input the API refused (400, 415, 422) |\n\
         | 3 | not logged in, bad credentials, or not allowed (401, 403) |\n\
         | 4 | not found, or not visible to you (404) |\n\
         | 5 | conflict: a name already taken, the last admin, a token rotated already (409) |\n\n\
         Errors go to standard error as the API's message and code, e.g. \
         `error: that name is already taken (name_taken)`.\n\n",
    );
    let mut root = root.clone();
    root.build();
    for command in root
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
    {
        write_command(&mut out, command, "robots");
    }
    out
}

fn write_command(out: &mut String, command: &Command, parent: &str) {
    let path = format!("{parent} {}", command.get_name());
    let subcommands: Vec<&Command> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .collect();
    out.push_str(&format!("## `{path}`\n\n"));
    if let Some(about) = command.get_long_about().or(command.get_about()) {
        out.push_str(&format!("{about}\n\n"));
    }
    if subcommands.is_empty() {
        let mut command = command.clone().bin_name(&path);
        let usage = command.render_usage().to_string();
        out.push_str(&format!("```\n{}\n```\n\n", usage.trim_start_matches("Usage: ")));
        let arguments: Vec<_> = command
            .get_arguments()
            .filter(|arg| {
                !arg.is_hide_set() && !arg.is_global_set() && arg.get_id() != "help" && arg.get_id() != "version"
            })
            .collect();
        if !arguments.is_empty() {
            for arg in arguments {
                let name = match (arg.get_short(), arg.get_long()) {
                    (Some(short), Some(long)) => format!("-{short}, --{long}"),
                    (None, Some(long)) => format!("--{long}"),
                    (Some(short), None) => format!("-{short}"),
                    (None, None) => arg
                        .get_value_names()
                        .and_then(|v| v.first())
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase()),
                };
                let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if !help.is_empty() && !help.ends_with(['.', ']', ')']) {
                    help.push('.');
                }
                let env = arg
                    .get_env()
                    .map(|e| format!(" (env `{}`)", e.to_string_lossy()))
                    .unwrap_or_default();
                let default = if arg.get_default_values().is_empty() || !arg.get_action().takes_values() {
                    String::new()
                } else {
                    format!(
                        " [default: {}]",
                        arg.get_default_values()
                            .iter()
                            .map(|v| v.to_string_lossy())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let values = arg
                    .get_possible_values()
                    .iter()
                    .filter(|v| !v.is_hide_set())
                    .map(|v| format!("`{}`", v.get_name()))
                    .collect::<Vec<_>>();
                let values = if values.is_empty() {
                    String::new()
                } else {
                    format!(" One of {}.", values.join(", "))
                };
                out.push_str(&format!("- `{name}`: {help}{values}{env}{default}\n"));
            }
            out.push('\n');
        }
        if let Some(after) = command.get_after_help() {
            out.push_str(&format!("```\n{}\n```\n\n", after.to_string().trim()));
        }
    }
    for sub in subcommands {
        write_command(out, sub, &path);
    }
}
