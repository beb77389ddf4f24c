//! Prints a freshly generated secret in the real format, valid on no server:
//! `cargo run -p robots-core --example new_secret -- robot|session|personal`.
//! `scripts/fuzz` seeds its corpus with these, so no token-shaped string is
//! ever committed.

use robots_core::{SecretKind, SecretToken};

fn main() {
    let kind = match std::env::args().nth(1).as_deref() {
        Some("robot") => SecretKind::RobotToken,
        Some("session") => SecretKind::Session,
        Some("personal") => SecretKind::PersonalToken,
        _ => {
            eprintln!("usage: new_secret robot|session|personal");
            std::process::exit(2);
        }
    };
    println!("{}", SecretToken::generate(kind).expose());
}
