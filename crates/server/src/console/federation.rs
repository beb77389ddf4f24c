//! The Admin Console's federated credentials: on a robot's page, which CI
//! jobs may act as it without a stored secret, adding, changing and
//! removing them, and the recent exchanges (when, from which subject).

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use robots_core::Name;
use robots_core::policy::OrgAction;
use robots_store::{FederatedCredential, Org, RobotRef, StoreError};
use serde::Deserialize;
use uuid::Uuid;

use super::chrome::{Chrome, Context, Stamp};
use super::orgs::org_page;
use super::robots::{ConfirmPage, redirect_with_notice};
use super::session::CsrfOnly;
use super::{ConsoleForm, ConsoleResult, ConsoleUser, ok, render};
use crate::api::federation::{CheckedSpec, find_credential};
use crate::api::find_robot_ref;
use crate::api::lifecycle::{AuditParamsPublic, audit_page};
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

/// What the robot page shows about federation: credentials and the last
/// exchanges, refused ones included (admins only see refusals' reasons).
pub(super) async fn robot_section(
    state: &AppState,
    org: &Org,
    robot_id: Uuid,
    robot_name: &Name,
) -> Result<(Vec<CredentialRow>, Vec<ExchangeRow>), ApiError> {
    let credentials = state.store().list_federated_credentials(robot_id).await?;
    // Exchanges are the token events aimed at the robot itself.
    let params = AuditParamsPublic {
        action: Some("token.".to_owned()),
        target: Some(format!("robot {}/{}", org.name, robot_name)),
        limit: 10,
        ..AuditParamsPublic::default()
    };
    let (events, _) = audit_page(state, Some(org.id), &params).await?;
    let now = state.now();
    let exchanges = events
        .into_iter()
        .filter(|event| event.action == "token.exchanged" || event.action == "token.exchange_refused")
        .map(|event| {
            let text = |key: &str| event.detail[key].as_str().unwrap_or_default().to_owned();
            let accepted = event.action == "token.exchanged";
            ExchangeRow {
                at: Stamp::new(event.at, now),
                accepted,
                what: if accepted { text("subject") } else { text("reason") },
                credential: text("credential"),
            }
        })
        .collect();
    Ok((credentials.into_iter().map(Into::into).collect(), exchanges))
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

    /// Checks the form as the API checks a request; errors by field.
    fn check(&self, state: &AppState) -> Result<CheckedSpec, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let name = Name::parse(self.name.trim())
            .map_err(|error| errors.insert("name", format!("The name {error}.")))
            .ok();
        let mut claims = BTreeMap::new();
        for line in self.conditions.lines().map(str::trim).filter(|line| !line.is_empty()) {
            match line.split_once('=') {
                Some((claim, pattern)) => {
                    claims.insert(claim.trim().to_owned(), pattern.trim().to_owned());
                }
                None => {
                    errors.insert(
                        "conditions",
                        format!("{line:?} is not a condition: write one claim = pattern per line."),
                    );
                }
            }
        }
        let Some(name) = name else { return Err(errors) };
        if !errors.is_empty() {
            return Err(errors);
        }
        CheckedSpec::check(
            state,
            name,
            &self.description,
            &self.issuer,
            &self.audience,
            &self.subject,
            claims,
        )
        .map_err(|error| {
            let field = match error.field().unwrap_or_default() {
                "issuer" => "issuer",
                "audience" => "audience",
                "subject" => "subject",
                "description" => "description",
                _ => "conditions",
            };
            // "issuer: must be …" reads, next to the issuer field, as "Must be …".
            let message = error.message();
            let why = message.split_once(": ").map_or(message, |(_, why)| why);
            let mut chars = why.chars();
            let sentence = chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default();
            BTreeMap::from([(field, format!("{sentence}."))])
        })
    }
}

fn robot_url(org: &Org, robot: &RobotRef) -> String {
    format!("/orgs/{}/admin/robots/{}", org.name, robot.name)
}

async fn new_credential(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot)): Path<(String, String)>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    Ok(ok(&CredentialFormPage {
        chrome,
        org_name: org.name.to_string(),
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
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let credential = find_credential(&state, &robot, &name).await?;
    Ok(ok(&CredentialFormPage {
        chrome,
        org_name: org.name.to_string(),
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
    let (org, _, chrome) = org_page(state, &form.user, org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot_ref(state, &org, robot).await?;
    let current = match editing {
        Some(name) => Some(find_credential(state, &robot, name).await?),
        None => None,
    };
    let invalid = |errors| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &CredentialFormPage {
                chrome: chrome.clone(),
                org_name: org.name.to_string(),
                robot_name: robot.name.to_string(),
                editing: current.as_ref().map(|credential| credential.name.to_string()),
                form: form.data.clone(),
                errors,
            },
        )
    };
    let spec = match form.data.check(state) {
        Ok(spec) => spec,
        Err(errors) => return Ok(invalid(errors)),
    };
    let session = &form.user.session;
    let saved = match &current {
        None => state
            .create_federated_credential_as(session, &org, &robot, &spec.as_spec())
            .await
            .map(|_| "was added: jobs it matches can now exchange their ID tokens"),
        Some(credential) => state
            .update_federated_credential_as(session, &org, &robot, credential, &spec.as_spec())
            .await
            .map(|_| "was changed; tokens it granted before were revoked"),
    };
    match saved {
        Ok(what) => Ok(redirect_with_notice(
            &robot_url(&org, &robot),
            &format!("Federated credential {} {what}.", spec.name),
        )),
        Err(StoreError::NameTaken) => Ok(invalid(BTreeMap::from([(
            "name",
            format!("{} already has a federated credential named {}.", robot.name, spec.name),
        )]))),
        Err(error) => Err(ApiError::from(error).into()),
    }
}

async fn confirm_delete(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((org, robot, name)): Path<(String, String, String)>,
) -> ConsoleResult {
    let (org, _, chrome) = org_page(&state, &user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let credential = find_credential(&state, &robot, &name).await?;
    Ok(ok(&ConfirmPage {
        chrome,
        title: format!("Remove federated credential {}?", credential.name),
        consequence: format!(
            "Jobs from {} can no longer act as {}, and the tokens they were given stop working at once.",
            credential.issuer, robot.name
        ),
        action: format!("{}/federated/{}/delete", robot_url(&org, &robot), credential.name),
        button: "Remove credential".into(),
        cancel_url: robot_url(&org, &robot),
    }))
}

async fn delete_credential(
    State(state): State<AppState>,
    Path((org, robot, name)): Path<(String, String, String)>,
    form: ConsoleForm<CsrfOnly>,
) -> ConsoleResult {
    let (org, _, _) = org_page(&state, &form.user, &org, OrgAction::ManageRobots, "robots").await?;
    let robot = find_robot_ref(&state, &org, &robot).await?;
    let credential = find_credential(&state, &robot, &name).await?;
    state
        .delete_federated_credential_as(&form.user.session, &org, &robot, &credential)
        .await?;
    Ok(redirect_with_notice(
        &robot_url(&org, &robot),
        &format!("Federated credential {} was removed.", credential.name),
    ))
}
