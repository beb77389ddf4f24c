//! The real `robots` binary, run as users run it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cli;
mod faults;
mod operations;
mod parity;
mod serve;
