//! The Admin Console's federated credentials: on a robot's page, which CI
//! jobs may act as it without a stored secret, adding, changing and
//! removing them, and the recent exchanges (when, from which subject).

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use robots_service::{Authorized, CredentialInput, CredentialPatch, ManageRobots, ReadAudit};
use robots_store::{FederatedCredential, Org};
use serde::Deserialize;

use super::chrome::{Chrome, ConfirmPage, Context, Stamp, org_page, redirect_with_notice};
use super::session::CsrfOnly;
use super::{ConsoleForm, ConsoleResult, ConsoleUser, FieldError, field_error, ok};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/orgs/{org}/admin/robots/{robot}/federated/-/new",
            get(new_credential).post(create_credential),
        )
        .route(
            "/orgs/{org}/admin/robots/{robot}/federated/{name}/edit",
            get(edit_credential).post(update_credential),
        )
        .route(
            "/orgs/{org}/admin/robots/{robot}/federated/{name}/delete",
            get(confirm_delete).post(delete_credential),
        )
}

/// A credential as the robot page lists it.
#[derive(Debug)]
pub(super) struct CredentialRow {
    pub name: String,
    pub issuer: String,
    pub audience: String,
    pub subject: String,
    pub conditions: Vec<String>,
}

impl From<FederatedCredential> for CredentialRow {
    fn from(credential: FederatedCredential) -> Self {
        Self {
            name: credential.name.into(),
            issuer: credential.issuer,
            audience: credential.audience,
            subject: credential.subject,
            conditions: credential
                .claims
                .into_iter()
                .map(|(claim, pattern)| format!("{claim} = {pattern}"))
                .collect(),
        }
    }
}

/// An exchange (or a refused one) as the robot page lists it.
#[derive(Debug)]
pub(super) struct ExchangeRow {
    pub at: Stamp,
    pub accepted: bool,
    /// The ID token's subject, when accepted; else why it was refused.
    pub what: String,
    pub credential: String,
}

/// What the robot page shows about federation: credentials and, for those
/// who may read the audit log (admins), the last exchanges, refused ones
/// included.
pub(super) async fn robot_section<R>(
    state: &AppState,
    at: &Authorized<'_, R>,
    robot: &str,
) -> Result<(Vec<CredentialRow>, Vec<ExchangeRow>), ApiError> {
    let (robot, credentials) = state.service().list_federated_credentials(at, robot).await?;
    let credentials = credentials.into_iter().map(Into::into).collect();
    let Ok(admin) = at.with::<ReadAudit>() else {
        return Ok((credentials, Vec::new()));
    };
    let org = at.org();
    // Exchanges are the token events aimed at the robot itself.
    let filter = robots_store::AuditQuery {
        action: Some("token.".to_owned()),
        target: Some(format!("robot {}/{}", org.name, robot.name)),
        ..robots_store::AuditQuery::default()
    };
    let events = state.service().audit_log(&admin, &filter, 10).await?.items;
    let now = state.now();
    let exchanges = events
        .into_iter()
        .filter(|event| event.action == "token.exchanged" || event.action == "token.exchange_refused")
        .map(|event| {
            let detail: serde_json::Value = serde_json::from_str(&event.detail).unwrap_or_default();
            let text = |key: &str| detail[key].as_str().unwrap_or_default().to_owned();
            let accepted = event.action == "token.exchanged";
            ExchangeRow {
                at: Stamp::new(event.at, now),
                accepted,
                what: if accepted { text("subject") } else { text("reason") },
                credential: text("credential"),
            }
        })
        .collect();
    Ok((credentials, exchanges))
}

#[derive(Template)]
#[template(path = "federated_form.html")]
struct CredentialFormPage {
    chrome: Chrome,
    org_name: String,
    robot_name: String,
    /// `None` when adding; the credential's current name when editing.
    editing: Option<String>,
    form: CredentialForm,
    errors: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for CredentialFormPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialFormPage")
            .field("robot_name", &self.robot_name)
            .finish_non_exhaustive()
    }
}

impl CredentialFormPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct CredentialForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    subject: String,
    /// One `claim = pattern` per line.
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    description: String,
}

impl CredentialForm {
    fn of(credential: &FederatedCredential) -> Self {
        Self {
            name: credential.name.to_string(),
            issuer: credential.issuer.clone(),
            audience: credential.audience.clone(),
            subject: credential.subject.clone(),
            conditions: credential
                .claims
                .iter()
                .map(|(claim, pattern)| format!("{claim} = {pattern}"))
                .collect::<Vec<_>>()
                .join("\n"),
            description: credential.description.clone(),
        }
    }

    /// The conditions, one `claim = pattern` per line; the first line
    /// that is not one, as the error beside the field.
    fn claims(&self) -> Result<BTreeMap<String, String>, FieldError> {
        let mut claims = BTreeMap::new();
        for line in self.conditions.lines().map(str::trim).filter(|line| !line.is_empty()) {
            let Some((claim, pattern)) = line.split_once('=') else {
                return Err(FieldError::invalid(
                    "conditions",
                    format!("{line:?} is not a condition: write one claim = pattern per line."),
                ));
            };
            claims.insert(claim.trim().to_owned(), pattern.trim().to_owned());
        }
        Ok(claims)
    }
}

fn robot_url(org: &Org, robot: &str) -> String {
    format!("/orgs/{}/admin/robots/{robot}", org.name)
}

async fn new_credential(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(&state, &user, &org, "robots").await?;
    let robot = state.service().robot(&at, &robot).await?;
    Ok(ok(&CredentialFormPage {
        chrome,
        org_name: at.org().name.to_string(),
        robot_name: robot.name.to_string(),
        editing: None,
        form: CredentialForm {
            issuer: "https://token.actions.githubusercontent.com".to_owned(),
            audience: state.config().public_url.clone(),
            ..CredentialForm::default()
        },
        errors: BTreeMap::new(),
    }))
}

async fn create_credential(
    State(state): State<AppState>,
    Path((org, robot)): Path<(String, String)>,
    form: ConsoleForm<CredentialForm>,
) -> ConsoleResult {
    save(&state, &org, &robot, None, form).await
}

async fn edit_credential(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot, name)): Path<(String, String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(&state, &user, &org, "robots").await?;
    let (robot, credential) = state.service().federated_credential(&at, &robot, &name).await?;
    Ok(ok(&CredentialFormPage {
        chrome,
        org_name: at.org().name.to_string(),
        robot_name: robot.name.to_string(),
        editing: Some(credential.name.to_string()),
        form: CredentialForm::of(&credential),
        errors: BTreeMap::new(),
    }))
}

async fn update_credential(
    State(state): State<AppState>,
    Path((org, robot, name)): Path<(String, String, String)>,
    form: ConsoleForm<CredentialForm>,
) -> ConsoleResult {
    save(&state, &org, &robot, Some(&name), form).await
}

/// Adds a credential (`editing: None`) or changes the one named; an invalid
/// form comes back with the errors next to their fields and nothing typed lost.
async fn save(
    state: &AppState,
    org: &str,
    robot: &str,
    editing: Option<&str>,
    form: ConsoleForm<CredentialForm>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(state, &form.user, org, "robots").await?;
    let org = at.org();
    let invalid = |refused: FieldError, field: &'static str| {
        refused.render(&CredentialFormPage {
            chrome: chrome.clone(),
            org_name: org.name.to_string(),
            robot_name: robot.to_owned(),
            editing: editing.map(str::to_owned),
            form: form.data.clone(),
            errors: BTreeMap::from([(field, refused.message.clone())]),
        })
    };
    let claims = match form.data.claims() {
        Ok(claims) => claims,
        Err(refused) => return Ok(invalid(refused, "conditions")),
    };
    let typed = &form.data;
    let service = state.service();
    let saved = match editing {
        None => {
            let input = CredentialInput {
                name: &typed.name,
                description: &typed.description,
                issuer: &typed.issuer,
                audience: &typed.audience,
                subject: &typed.subject,
                claims,
            };
            service
                .create_federated_credential(&at, robot, input)
                .await
                .map(|credential| {
                    (
                        credential,
                        "was added: jobs it matches can now exchange their ID tokens",
                    )
                })
        }
        Some(name) => {
            let patch = CredentialPatch {
                name: Some(&typed.name),
                description: Some(&typed.description),
                issuer: Some(&typed.issuer),
                audience: Some(&typed.audience),
                subject: Some(&typed.subject),
                claims: Some(claims),
            };
            service
                .update_federated_credential(&at, robot, name, patch)
                .await
                .map(|credential| (credential, "was changed; tokens it granted before were revoked"))
        }
    };
    match saved {
        Ok((credential, what)) => Ok(redirect_with_notice(
            &robot_url(org, robot),
            &format!("Federated credential {} {what}.", credential.name),
        )),
        Err(error) => {
            let refused = field_error(error)?;
            let field = match refused.field.as_str() {
                "name" => "name",
                "issuer" => "issuer",
                "audience" => "audience",
                "subject" => "subject",
                "description" => "description",
                _ => "conditions",
            };
            Ok(invalid(refused, field))
        }
    }
}

async fn confirm_delete(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot, name)): Path<(String, String, String)>,
) -> ConsoleResult {
    let (at, chrome) = org_page::<ManageRobots>(&state, &user, &org, "robots").await?;
    let (robot, credential) = state.service().federated_credential(&at, &robot, &name).await?;
    let (org, robot) = (at.org(), robot.name.as_str());
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Remove federated credential {}?", credential.name),
        consequence: format!(
            "Jobs from {} can no longer act as {}, and the tokens they were given stop working at once.",
            credential.issuer, robot
        ),
        action: format!("{}/federated/{}/delete", robot_url(org, robot), credential.name),
        button: "Remove credential".into(),
        cancel_url: robot_url(org, robot),
    }))
}

async fn delete_credential(
    State(state): State<AppState>,
    Path((org, robot, name)): Path<(String, String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let at = state
        .service()
        .authorize::<ManageRobots>(&form.user.session, &org)
        .await?;
    let credential = state.service().delete_federated_credential(&at, &robot, &name).await?;
    Ok(redirect_with_notice(
        &robot_url(at.org(), &robot),
        &format!("Federated credential {} was removed.", credential.name),
    ))
}
