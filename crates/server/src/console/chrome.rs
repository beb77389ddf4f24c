//! What every logged-in page shows around its content: the sidebar with the
//! current context (personal account or an organization), its navigation,
//! and the account menu in the bottom-left corner.

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use robots_core::Role;
use robots_core::humanize::relative;
use robots_service::{Authorized, Right};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{ConsoleError, ConsoleUser};
use crate::error::ApiError;
use crate::state::AppState;

/// An organization as the menu lists it.
#[derive(Debug, Clone)]
pub struct OrgEntry {
    pub name: String,
    /// The display name, or the name when there is none.
    pub label: String,
    pub role: &'static str,
}

#[derive(Debug, Clone)]
pub enum Context {
    Personal,
    Org(OrgEntry),
}

#[derive(Debug, Clone)]
pub struct Chrome {
    pub username: String,
    pub initial: char,
    pub csrf: String,
    pub orgs: Vec<OrgEntry>,
    pub context: Context,
    /// Which navigation entry is current ("robots", "members", "account", …).
    pub section: &'static str,
    pub in_admin_console: bool,
}

impl Chrome {
    pub fn is_personal(&self) -> bool {
        matches!(self.context, Context::Personal)
    }

    pub fn is_current_org(&self, name: &str) -> bool {
        matches!(&self.context, Context::Org(org) if org.name == name)
    }
}

/// Everything the menu needs: all of the user's organizations, by name.
pub async fn chrome(state: &AppState, user: &ConsoleUser, section: &'static str) -> Result<Chrome, ApiError> {
    // The account menu lists every organization of the user.
    let orgs = state.service().list_orgs(&user.session, None, u32::MAX).await?;
    let username = user.session.user.name.to_string();
    Ok(Chrome {
        initial: username.chars().next().unwrap_or('?'),
        username,
        csrf: user.csrf.clone(),
        orgs: orgs
            .items
            .into_iter()
            .map(|membership| OrgEntry {
                label: if membership.org.display_name.is_empty() {
                    membership.org.name.to_string()
                } else {
                    membership.org.display_name.clone()
                },
                name: membership.org.name.to_string(),
                role: role_name(membership.role),
            })
            .collect(),
        context: Context::Personal,
        section,
        in_admin_console: false,
    })
}

impl Chrome {
    /// Switches the context to `org` (which the user belongs to).
    pub fn in_org(mut self, org: &robots_store::Org, role: Role, admin_console: bool) -> Self {
        self.context = Context::Org(OrgEntry {
            name: org.name.to_string(),
            label: if org.display_name.is_empty() {
                org.name.to_string()
            } else {
                org.display_name.clone()
            },
            role: role_name(role),
        });
        self.in_admin_console = admin_console;
        self
    }
}

pub fn role_name(role: Role) -> &'static str {
    role.as_str()
}

/// A time as tables show it: relative, with the exact time for `title`.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub iso: String,
    pub human: String,
}

impl Stamp {
    pub fn new(at: OffsetDateTime, now: OffsetDateTime) -> Self {
        Self {
            iso: at.format(&Rfc3339).unwrap_or_default(),
            human: relative(at, now),
        }
    }
}

/// "3 days ago", or "never used".
pub fn last_used(at: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    at.map(|at| relative(at, now))
        .unwrap_or_else(|| "never used".to_owned())
}

/// Console lists show this many rows a page.
pub const PAGE_SIZE: u32 = 50;

/// Where a list page starts: after the last key of the page before, and at
/// which position (for "51–100 of 123"); and a notice left by a redirect.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub after: Option<String>,
    pub from: Option<u64>,
    pub notice: Option<String>,
}

impl PageQuery {
    pub fn after(&self) -> Option<&str> {
        self.after.as_deref().filter(|after| !after.is_empty())
    }

    /// A redirect's notice, if it is one a redirect would leave.
    pub fn notice(&self) -> Option<String> {
        self.notice.clone().filter(|notice| notice.len() <= 200)
    }
}

/// A list's count and the links to its other pages.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    /// "3 robots", or "Showing 51–100 of 123 robots".
    pub summary: String,
    pub first_url: Option<String>,
    pub next_url: Option<String>,
}

impl Pager {
    /// For a page of `shown` rows of `total` at `base` (a path without a
    /// query), with `next_key` the key to continue after when there is more.
    pub fn new(
        base: &str,
        query: &PageQuery,
        shown: usize,
        total: i64,
        next_key: Option<String>,
        (one, many): (&str, &str),
    ) -> Self {
        let noun = if total == 1 { one } else { many };
        let first = if query.after().is_some() {
            query.from.unwrap_or(1).max(1)
        } else {
            1
        };
        let last = first + shown as u64 - 1;
        let whole = first == 1 && next_key.is_none();
        Self {
            summary: if whole || shown == 0 {
                format!("{total} {noun}")
            } else {
                format!("Showing {first}–{last} of {total} {noun}")
            },
            first_url: (first > 1 || query.after().is_some()).then(|| base.to_owned()),
            next_url: next_key.map(|key| format!("{base}?after={}&from={}", encode(&key), last + 1)),
        }
    }
}

/// Percent-encodes everything but letters, digits and `-`, for a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(super) fn redirect_with_notice(path: &str, notice: &str) -> Response {
    Redirect::to(&format!("{path}?notice={}", encode(notice))).into_response()
}

/// A confirmation that names what will stop working.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(super) struct ConfirmPage {
    pub chrome: Chrome,
    pub title: String,
    pub consequence: String,
    pub action: String,
    pub button: String,
    pub cancel_url: String,
}

/// Authorizes a console page on an organization (the service's check, as
/// for the API), then builds the chrome in the organization's context.
pub(super) async fn org_page<'a, R: Right>(
    state: &AppState,
    user: &'a ConsoleUser,
    org: &str,
    section: &'static str,
) -> Result<(Authorized<'a, R>, Chrome), ConsoleError> {
    let at = state.service().authorize::<R>(&user.session, org).await?;
    let chrome = chrome(state, user, section)
        .await?
        .in_org(at.org(), at.role(), section != "overview");
    Ok((at, chrome))
}
