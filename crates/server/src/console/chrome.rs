//! What every logged-in page shows around its content: the sidebar with the
//! current context (personal account or an organization), its navigation,
//! and the account menu in the bottom-left corner.

use robots_core::Role;
use robots_core::humanize::relative;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ConsoleUser;
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

/// Everything the menu needs: the user's organizations (the first 200, by name).
pub async fn chrome(state: &AppState, user: &ConsoleUser, section: &'static str) -> Result<Chrome, ApiError> {
    let orgs = state.store().list_orgs_of_user(user.session.user.id, None, 200).await?;
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
