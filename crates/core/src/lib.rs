//! The domain of the robot accounts service: names, secrets, roles and the
//! rules of who may do what.
//!
//! Nothing here performs I/O or knows about HTTP or SQL. The store persists
//! these types, the server moves them over the wire, and both ask [`policy`]
//! for decisions, so the rules live in exactly one place and are unit-tested
//! without a database.

pub mod access;
pub mod clock;
pub mod credentials;
pub mod duration;
pub mod humanize;
pub mod name;
pub mod network;
pub mod password;
pub mod pattern;
pub mod policy;
pub mod secret;
pub mod text;

pub use clock::{Clock, ManualClock, SystemClock};
pub use name::{Name, NameError};
pub use policy::{AccountKind, Role, Scope, Scopes};
pub use secret::{SecretHash, SecretKind, SecretParseError, SecretToken};
