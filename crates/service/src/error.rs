//! What an operation answers when it does not happen: a typed reason with a
//! stable snake_case code (scripts and the command line branch on it), a
//! message for people, and the field at fault when there is one. Every
//! surface renders these the same way; a failure of the machinery is
//! [`ServiceError::Internal`], whose cause is logged and never shown.

use robots_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// It does not exist, or the caller may not know that it does.
    #[error("{0}")]
    NotFound(String),
    /// The caller may see it, but not do this (or not give this field).
    #[error("{message}")]
    Forbidden {
        message: String,
        field: Option<&'static str>,
    },
    /// No credentials, or none that are valid.
    #[error("missing or invalid credentials: log in, or send a robot's Access ID and Token")]
    Unauthenticated,
    /// A password login that failed: the same answer for an unknown user.
    #[error("wrong username or password")]
    WrongLogin,
    /// Too many failures from this client or for this credential.
    #[error("too many failed attempts; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: std::time::Duration },
    /// Robots authenticate to other systems; they manage nothing.
    #[error("{0}")]
    RobotForbidden(String),
    /// A personal access token without the scope the request needs.
    #[error("this personal access token lacks the scope {} ({}): create one that has it", .0.as_str(), .0.describe())]
    InsufficientScope(robots_core::Scope),
    /// What only a person, logged in, may do, asked with a personal access token.
    #[error("a personal access token cannot {0}: that takes a person, logged in")]
    SessionRequired(&'static str),
    /// Robots belong to organizations, never to people.
    #[error(
        "{0} is a personal account. Only organizations can have robot accounts; \
         personal accounts can't create robot accounts. Create an organization first."
    )]
    PersonalAccount(String),
    /// A value breaks a rule; the message says which.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The name is in use.
    #[error("{message}")]
    NameTaken { field: &'static str, message: String },
    #[error("that e-mail address is already in use")]
    EmailTaken,
    #[error("an organization must keep at least one admin: make someone else an admin first")]
    LastAdmin,
    /// Deleting a user who is the only admin of these organizations.
    #[error(
        "{} is the only admin of {}: make someone else an admin there first, or delete {}",
        user,
        orgs.join(", "),
        if orgs.len() == 1 { "it" } else { "them" }
    )]
    SoleAdminOf { user: String, orgs: Vec<String> },
    #[error("the installation must keep an instance administrator: make someone else one first")]
    LastInstanceAdmin,
    #[error("there is no user with that name")]
    UserNotFound,
    #[error("only members of the organization can join its teams: add them to the organization first")]
    NotAnOrgMember,
    #[error("this server allows at most {limit} {what}; delete some first, or ask its operator to raise the limit")]
    LimitReached { what: &'static str, limit: u32 },
    #[error("this token was rotated already: rotate its successor{} instead", successor.map(|id| format!(" ({id})")).unwrap_or_default())]
    AlreadyRotated { successor: Option<uuid::Uuid> },
    #[error("the setup code is not valid")]
    InvalidSetupCode,
    #[error("setup is already complete: log in, or ask an instance administrator for an account")]
    SetupComplete,
    /// The server cannot do it right now (busy, or its database is out of
    /// reach); the same request may succeed after `retry_after`.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: std::time::Duration,
    },
    /// Something failed that is not the caller's doing; the text is the
    /// cause, for the log only.
    #[error("an internal error occurred")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// 403: a member who needs a right they do not have.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }

    /// The stable code: part of the API's contract.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) | Self::UserNotFound => "not_found",
            Self::Forbidden { .. } | Self::InvalidSetupCode => "forbidden",
            Self::Unauthenticated => "unauthenticated",
            Self::WrongLogin => "invalid_login",
            Self::RateLimited { .. } => "rate_limited",
            Self::RobotForbidden(_) => "robot_forbidden",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::SessionRequired(_) => "session_required",
            Self::PersonalAccount(_) => "personal_account",
            Self::Invalid { .. } => "invalid_field",
            Self::NameTaken { .. } => "name_taken",
            Self::EmailTaken => "email_taken",
            Self::LastAdmin | Self::SoleAdminOf { .. } => "last_admin",
            Self::LastInstanceAdmin => "last_instance_admin",
            Self::NotAnOrgMember => "not_an_org_member",
            Self::LimitReached { .. } => "limit_reached",
            Self::AlreadyRotated { .. } => "already_rotated",
            Self::SetupComplete => "setup_complete",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The input field at fault, if one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::Forbidden { field, .. } => *field,
            Self::NameTaken { field, .. } => Some(field),
            Self::EmailTaken => Some("email"),
            Self::UserNotFound | Self::NotAnOrgMember => Some("username"),
            Self::InvalidSetupCode => Some("code"),
            _ => None,
        }
    }

    /// For [`Self::Invalid`], the rule without the field's name in front.
    pub fn rule(&self) -> String {
        match self {
            Self::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// A name conflict explained in the caller's terms.
    pub(crate) fn name_taken(message: impl Into<String>) -> Self {
        Self::NameTaken {
            field: "name",
            message: message.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NameTaken => Self::name_taken("that name is already taken"),
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::LastAdmin => Self::LastAdmin,
            StoreError::SoleAdminOf(orgs) => Self::SoleAdminOf {
                user: String::new(),
                orgs,
            },
            StoreError::LastInstanceAdmin => Self::LastInstanceAdmin,
            StoreError::UserNotFound => Self::UserNotFound,
            StoreError::RobotNotFound => {
                Self::NotFound("there is no robot account with that name in this organization".into())
            }
            StoreError::NotAnOrgMember => Self::NotAnOrgMember,
            StoreError::LimitReached { what, limit } => Self::LimitReached { what, limit },
            StoreError::TokenAlreadyRotated => Self::AlreadyRotated { successor: None },
            StoreError::InvalidSetupCode => Self::InvalidSetupCode,
            StoreError::SetupComplete => Self::SetupComplete,
            unavailable if unavailable.is_unavailable() => {
                tracing::warn!(error = %unavailable, "the database is out of reach");
                Self::Unavailable {
                    message: "the database is out of reach just now; try again shortly".into(),
                    retry_after: std::time::Duration::from_secs(5),
                }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Maps a store error, naming what a name conflict was about.
pub(crate) fn named(what: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> ServiceError {
    move |error| match error {
        StoreError::NameTaken => ServiceError::name_taken(what()),
        other => other.into(),
    }
}
