//! The REST API, driven over real HTTP against a real server on a free
//! port, on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod authentication;
mod matrix;
mod resources;
mod secrets;
mod setup;
