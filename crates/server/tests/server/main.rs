//! The server, driven from outside against a real server on a free port:
//! the REST API over HTTP (on SQLite and on PostgreSQL), and the Admin
//! Console in a real headless Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod federation;
mod support;
mod webdriver;

mod api {
    mod access;
    mod audit;
    mod authentication;
    mod caps;
    mod credentials;
    mod instance_policy;
    mod lifecycle;
    mod limits;
    mod matrix;
    mod notices;
    pub mod openapi;
    mod outage;
    mod personal_tokens;
    mod replicas;
    mod resources;
    pub mod secrets;
    mod self_rotation;
    mod setup;
    mod transport;
    mod unused_tokens;
    pub mod webhooks;
}

pub mod verification {
    mod endpoints;
    mod jwt;
    mod nginx;
    pub mod registry;
    mod reuse;
}

mod console {
    mod accessibility;
    mod federation;
    mod flows;
    mod lifecycle;
    mod pages;
    mod security;
}
