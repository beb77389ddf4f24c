//! Changes made on someone's behalf, shared by the REST API and the console:
//! each does the change, logs it, audits it and (for tokens) tells the
//! organization's webhooks. Handlers authorize and validate first; this is
//! what follows, the same whichever door the request came through.

use robots_core::access::{Permission, RepoPath};
use robots_core::{Name, Role, SecretKind, SecretToken};
use robots_store::{
    FederatedCredential, FederatedCredentialSpec, Member, MemberKind, NewRobot, NewToken, Org, Repository, Robot,
    RobotRef, StoreError, Team, TeamGrant, Trail,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{Actor, Change};
use crate::auth::UserSession;
use crate::state::AppState;

/// A token just created, with its secret: to show its creator, this once.
#[derive(Debug)]
pub struct CreatedToken {
    pub access_id: Uuid,
    pub name: Name,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub secret: SecretToken,
}

impl AppState {
    async fn audit_change(
        &self,
        caller: &UserSession,
        org: &Org,
        action: &'static str,
        target: String,
        detail: serde_json::Value,
    ) {
        tracing::info!(org = %org.name, by = %caller.user.name, via = caller.via.as_str(), action, %target, "change");
        self.audit(
            Actor::User(caller),
            Change::new(Some(org.id), action, target).detail(detail),
        )
        .await;
    }

    pub async fn create_org_as(
        &self,
        caller: &UserSession,
        name: &Name,
        display_name: &str,
    ) -> Result<Org, StoreError> {
        let org = self
            .store()
            .create_org(name, display_name, caller.user.id, self.now())
            .await?;
        self.audit_change(
            caller,
            &org,
            "org.created",
            format!("org {}", org.name),
            json!({"display_name": display_name}),
        )
        .await;
        Ok(org)
    }

    pub async fn delete_org_as(&self, caller: &UserSession, org: &Org) -> Result<(), StoreError> {
        self.store().delete_org(org.id).await?;
        tracing::info!(org = %org.name, by = %caller.user.name, "organization deleted");
        // Its own log goes with it; the instance's keeps the deletion.
        self.audit(
            Actor::User(caller),
            Change::new(None, "org.deleted", format!("org {}", org.name)),
        )
        .await;
        Ok(())
    }

    pub async fn set_member_as(
        &self,
        caller: &UserSession,
        org: &Org,
        username: &Name,
        role: Role,
    ) -> Result<(Member, bool), StoreError> {
        let (member, created) = self.store().set_member(org.id, username, role, self.now()).await?;
        let detail = json!({"role": member.role, "added": created});
        self.audit_change(caller, org, "member.set", format!("user {}", member.username), detail)
            .await;
        Ok((member, created))
    }

    pub async fn remove_member_as(&self, caller: &UserSession, org: &Org, username: &Name) -> Result<bool, StoreError> {
        let removed = self.store().remove_member(org.id, username, self.now()).await?;
        if removed {
            self.audit_change(caller, org, "member.removed", format!("user {username}"), json!({}))
                .await;
        }
        Ok(removed)
    }

    /// Creates a robot, and adds it to `teams` in the same step.
    pub async fn create_robot_as(
        &self,
        caller: &UserSession,
        org: &Org,
        name: &Name,
        description: &str,
        teams: &[Team],
    ) -> Result<Robot, StoreError> {
        let new = NewRobot {
            org_id: org.id,
            name,
            description,
            created_by: caller.user.id,
        };
        let robot = self
            .store()
            .create_robot(&new, self.now(), self.config().max_robots_per_org)
            .await?;
        let target = format!("robot {}/{}", org.name, robot.name);
        let team_names: Vec<&str> = teams.iter().map(|t| t.name.as_str()).collect();
        self.audit_change(
            caller,
            org,
            "robot.created",
            target,
            json!({"description": description, "teams": team_names}),
        )
        .await;
        for team in teams {
            self.add_team_member_as(caller, org, team, MemberKind::Robot, &robot.name)
                .await?;
        }
        Ok(robot)
    }

    pub async fn update_robot_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &Robot,
        new_name: Option<&Name>,
        description: Option<&str>,
    ) -> Result<Option<Robot>, StoreError> {
        let updated = self
            .store()
            .update_robot(robot.id, new_name, description, self.now())
            .await?;
        if let Some(updated) = &updated {
            let detail = json!({"name": updated.name, "description": updated.description});
            self.audit_change(
                caller,
                org,
                "robot.updated",
                format!("robot {}/{}", org.name, robot.name),
                detail,
            )
            .await;
        }
        Ok(updated)
    }

    pub async fn delete_robot_as(&self, caller: &UserSession, org: &Org, robot: &Robot) -> Result<(), StoreError> {
        self.store().delete_robot(robot.id).await?;
        let detail = json!({"tokens": robot.token_count});
        self.audit_change(
            caller,
            org,
            "robot.deleted",
            format!("robot {}/{}", org.name, robot.name),
            detail,
        )
        .await;
        Ok(())
    }

    /// Disables (`true`) or enables a robot; disabling keeps the first time.
    pub async fn set_robot_disabled_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &Robot,
        disable: bool,
    ) -> Result<(), StoreError> {
        let at = disable.then(|| robot.disabled_at.unwrap_or_else(|| self.now()));
        self.store().set_robot_disabled(robot.id, at).await?;
        let action = if disable { "robot.disabled" } else { "robot.enabled" };
        self.audit_change(
            caller,
            org,
            action,
            format!("robot {}/{}", org.name, robot.name),
            json!({}),
        )
        .await;
        Ok(())
    }

    pub async fn create_team_as(
        &self,
        caller: &UserSession,
        org: &Org,
        name: &Name,
        description: &str,
    ) -> Result<Team, StoreError> {
        let team = self.store().create_team(org.id, name, description, self.now()).await?;
        self.audit_change(
            caller,
            org,
            "team.created",
            format!("team {}", team.name),
            json!({"description": description}),
        )
        .await;
        Ok(team)
    }

    pub async fn update_team_as(
        &self,
        caller: &UserSession,
        org: &Org,
        team: &Team,
        new_name: Option<&Name>,
        description: Option<&str>,
    ) -> Result<Option<Team>, StoreError> {
        let updated = self.store().update_team(team, new_name, description).await?;
        if let Some(updated) = &updated {
            let detail = json!({"name": updated.name, "description": updated.description});
            self.audit_change(caller, org, "team.updated", format!("team {}", team.name), detail)
                .await;
        }
        Ok(updated)
    }

    pub async fn delete_team_as(&self, caller: &UserSession, org: &Org, team: &Team) -> Result<(), StoreError> {
        self.store().delete_team(team.id).await?;
        let detail = json!({"users": team.user_count, "robots": team.robot_count, "grants": team.grant_count});
        self.audit_change(caller, org, "team.deleted", format!("team {}", team.name), detail)
            .await;
        Ok(())
    }

    /// Adds a user (of the organization) or a robot (of the organization);
    /// `true` if new.
    pub async fn add_team_member_as(
        &self,
        caller: &UserSession,
        org: &Org,
        team: &Team,
        kind: MemberKind,
        name: &Name,
    ) -> Result<bool, StoreError> {
        let (added, action, detail) = match kind {
            MemberKind::User => (
                self.store().add_team_user(team, name, self.now()).await?,
                "team.user_added",
                json!({"user": name}),
            ),
            MemberKind::Robot => (
                self.store().add_team_robot(team, name, self.now()).await?,
                "team.robot_added",
                json!({"robot": name}),
            ),
        };
        if added {
            self.audit_change(caller, org, action, format!("team {}", team.name), detail)
                .await;
        }
        Ok(added)
    }

    pub async fn remove_team_member_as(
        &self,
        caller: &UserSession,
        org: &Org,
        team: &Team,
        kind: MemberKind,
        name: &Name,
    ) -> Result<bool, StoreError> {
        let (removed, action, detail) = match kind {
            MemberKind::User => (
                self.store().remove_team_user(team.id, name).await?,
                "team.user_removed",
                json!({"user": name}),
            ),
            MemberKind::Robot => (
                self.store().remove_team_robot(team, name).await?,
                "team.robot_removed",
                json!({"robot": name}),
            ),
        };
        if removed {
            self.audit_change(caller, org, action, format!("team {}", team.name), detail)
                .await;
        }
        Ok(removed)
    }

    pub async fn set_grant_as(
        &self,
        caller: &UserSession,
        org: &Org,
        team: &Team,
        repository: &Repository,
        permission: Permission,
    ) -> Result<(TeamGrant, bool), StoreError> {
        let result = self.store().set_grant(team, repository, permission, self.now()).await?;
        let detail = json!({"repository": repository.name, "permission": permission});
        self.audit_change(caller, org, "grant.set", format!("team {}", team.name), detail)
            .await;
        Ok(result)
    }

    pub async fn revoke_grant_as(
        &self,
        caller: &UserSession,
        org: &Org,
        team: &Team,
        repository: &Repository,
    ) -> Result<bool, StoreError> {
        let revoked = self.store().revoke_grant(team.id, repository.id).await?;
        if revoked {
            let detail = json!({"repository": repository.name});
            self.audit_change(caller, org, "grant.revoked", format!("team {}", team.name), detail)
                .await;
        }
        Ok(revoked)
    }

    pub async fn create_repository_as(
        &self,
        caller: &UserSession,
        org: &Org,
        path: &RepoPath,
    ) -> Result<Repository, StoreError> {
        let repository = self
            .store()
            .create_repository(org.id, path, caller.user.id, self.now())
            .await?;
        self.audit_change(
            caller,
            org,
            "repository.created",
            format!("repository {}/{}", org.name, repository.name),
            json!({}),
        )
        .await;
        Ok(repository)
    }

    pub async fn delete_repository_as(
        &self,
        caller: &UserSession,
        org: &Org,
        repository: &Repository,
    ) -> Result<(), StoreError> {
        self.store().delete_repository(repository.id).await?;
        self.audit_change(
            caller,
            org,
            "repository.deleted",
            format!("repository {}/{}", org.name, repository.name),
            json!({}),
        )
        .await;
        Ok(())
    }

    /// Creates a token. The token, its audit event and its webhook
    /// deliveries are written in one transaction.
    pub async fn create_token_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &RobotRef,
        name: &Name,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<CreatedToken, StoreError> {
        let now = self.now();
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let access_id = Uuid::new_v4();
        let detail = json!({
            "robot": robot.name, "name": name, "access_id": access_id,
            "expires_at": expires_at.map(crate::api::tokens::rfc3339),
        });
        let audit = crate::audit::event(
            &Actor::User(caller),
            Change::new(Some(org.id), "token.created", format!("token {access_id}")).detail(detail.clone()),
            now,
        );
        let payload = crate::webhooks::payload(org, "token.created", detail, now);
        self.store()
            .create_token(
                &NewToken {
                    access_id,
                    robot_id: robot.id,
                    name,
                    secret_hash: &secret.hash(),
                    created_by: Some(caller.user.id),
                    expires_at,
                    federated_credential: None,
                },
                now,
                &Trail {
                    audit: &audit,
                    webhook: Some(("token.created", &payload)),
                },
                self.config().max_tokens_per_robot,
            )
            .await?;
        tracing::info!(
            org = %org.name, robot = %robot.name, token = %name, %access_id,
            by = %caller.user.name, via = caller.via.as_str(), "robot token created"
        );
        Ok(CreatedToken {
            access_id,
            name: name.clone(),
            created_at: now,
            expires_at,
            secret,
        })
    }

    /// Rotates a token: a successor (returned with its secret, to show once)
    /// takes its name; the old one keeps working for `grace`, then stops.
    /// `Ok(None)`: no such token.
    pub async fn rotate_token_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &Robot,
        old: &robots_store::TokenInfo,
        grace: std::time::Duration,
        expires_at: Option<time::OffsetDateTime>,
    ) -> Result<
        Option<(
            robots_store::TokenInfo,
            robots_store::TokenInfo,
            robots_core::SecretToken,
        )>,
        StoreError,
    > {
        let now = self.now();
        let secret = robots_core::SecretToken::generate(robots_core::SecretKind::RobotToken);
        let successor = robots_store::NewToken {
            access_id: Uuid::new_v4(),
            robot_id: robot.id,
            name: &old.name,
            secret_hash: &secret.hash(),
            created_by: Some(caller.user.id),
            expires_at,
            federated_credential: None,
        };
        let Some((rotating_out, new)) = self
            .store()
            .rotate_token(robot.id, old.access_id, &successor, now + grace, now)
            .await?
        else {
            return Ok(None);
        };
        let detail = json!({
            "robot": robot.name, "name": old.name, "access_id": old.access_id, "successor": new.access_id,
            "old_stops_at": rotating_out.expires_at.map(crate::api::tokens::rfc3339),
        });
        self.audit_change(
            caller,
            org,
            "token.rotated",
            format!("token {}", old.access_id),
            detail.clone(),
        )
        .await;
        self.notify(org, "token.rotated", detail).await;
        Ok(Some((rotating_out, new, secret)))
    }

    pub async fn set_token_policy_as(
        &self,
        caller: &UserSession,
        org: &Org,
        policy: robots_store::TokenPolicy,
    ) -> Result<(), StoreError> {
        self.store().set_token_policy(org.id, policy).await?;
        let detail = json!({"token_policy": {
            "max_lifetime": policy.max_lifetime.map(robots_core::duration::format_duration),
            "expiry_required": policy.expiry_required,
        }});
        self.audit_change(caller, org, "org.updated", format!("org {}", org.name), detail)
            .await;
        Ok(())
    }

    /// Adds a webhook; returns it with its signing secret (to show once).
    pub async fn create_webhook_as(
        &self,
        caller: &UserSession,
        org: &Org,
        url: &str,
        events: &[String],
    ) -> Result<(robots_store::Webhook, String), StoreError> {
        use base64::Engine;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(robots_core::secret::random_bytes::<32>());
        let webhook = self
            .store()
            .create_webhook(org.id, url, &secret, events, caller.user.id, self.now())
            .await?;
        self.audit_change(
            caller,
            org,
            "webhook.created",
            format!("webhook {}", webhook.id),
            json!({"url": url, "events": events}),
        )
        .await;
        Ok((webhook, secret))
    }

    pub async fn delete_webhook_as(&self, caller: &UserSession, org: &Org, id: Uuid) -> Result<bool, StoreError> {
        let deleted = self.store().delete_webhook(org.id, id).await?;
        if deleted {
            self.audit_change(caller, org, "webhook.deleted", format!("webhook {id}"), json!({}))
                .await;
        }
        Ok(deleted)
    }

    /// Deletes a token; `false` if the robot has no such token.
    pub async fn delete_token_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &Robot,
        access_id: Uuid,
    ) -> Result<bool, StoreError> {
        let deleted = self.store().delete_token(robot.id, access_id).await?;
        if deleted {
            self.token_deleted(caller, org, robot, access_id).await;
        }
        Ok(deleted)
    }

    pub async fn create_federated_credential_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &RobotRef,
        spec: &FederatedCredentialSpec<'_>,
    ) -> Result<FederatedCredential, StoreError> {
        let credential = self
            .store()
            .create_federated_credential(
                robot.id,
                spec,
                caller.user.id,
                self.now(),
                self.config().max_federated_credentials_per_robot,
            )
            .await?;
        self.audit_change(
            caller,
            org,
            "federated_credential.created",
            format!("robot {}/{}", org.name, robot.name),
            credential_detail(&credential),
        )
        .await;
        Ok(credential)
    }

    /// Replaces a credential's terms; tokens minted under the old ones are revoked.
    pub async fn update_federated_credential_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &RobotRef,
        credential: &FederatedCredential,
        spec: &FederatedCredentialSpec<'_>,
    ) -> Result<Option<FederatedCredential>, StoreError> {
        if !self
            .store()
            .update_federated_credential(credential.id, spec, self.now())
            .await?
        {
            return Ok(None);
        }
        let updated = self.store().get_federated_credential(robot.id, spec.name).await?;
        if let Some(updated) = &updated {
            self.audit_change(
                caller,
                org,
                "federated_credential.updated",
                format!("robot {}/{}", org.name, robot.name),
                credential_detail(updated),
            )
            .await;
        }
        Ok(updated)
    }

    /// Deletes a credential and the tokens it minted.
    pub async fn delete_federated_credential_as(
        &self,
        caller: &UserSession,
        org: &Org,
        robot: &RobotRef,
        credential: &FederatedCredential,
    ) -> Result<bool, StoreError> {
        let deleted = self.store().delete_federated_credential(credential.id).await?;
        if deleted {
            self.audit_change(
                caller,
                org,
                "federated_credential.deleted",
                format!("robot {}/{}", org.name, robot.name),
                credential_detail(credential),
            )
            .await;
        }
        Ok(deleted)
    }

    /// Mints the short-lived token of an accepted token exchange; the token
    /// and its audit event (with the ID token's subject and `jti`) are
    /// written together.
    pub async fn exchange_token(
        &self,
        org: &Org,
        robot: &RobotRef,
        accepted: &crate::federation::Accepted,
        lifetime: std::time::Duration,
        client: &crate::state::ClientInfo,
    ) -> Result<CreatedToken, StoreError> {
        let now = self.now();
        let secret = SecretToken::generate(SecretKind::RobotToken);
        let access_id = Uuid::new_v4();
        let suffix: String = access_id.simple().to_string().chars().take(12).collect();
        let name = Name::parse(&format!("oidc-{suffix}")).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let expires_at = now + lifetime;
        let detail = json!({
            "robot": robot.name, "access_id": access_id, "credential": accepted.credential.name,
            "issuer": accepted.credential.issuer, "subject": accepted.subject, "jti": accepted.jti,
            "expires_at": crate::api::tokens::rfc3339(expires_at),
        });
        let audit = crate::audit::event(
            &Actor::Federated {
                subject: accepted.subject.clone(),
                client,
            },
            Change::new(
                Some(org.id),
                "token.exchanged",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(detail),
            now,
        );
        self.store()
            .create_token(
                &NewToken {
                    access_id,
                    robot_id: robot.id,
                    name: &name,
                    secret_hash: &secret.hash(),
                    created_by: None,
                    expires_at: Some(expires_at),
                    federated_credential: Some(accepted.credential.id),
                },
                now,
                &Trail {
                    audit: &audit,
                    webhook: None,
                },
                u32::MAX,
            )
            .await?;
        tracing::info!(
            org = %org.name, robot = %robot.name, credential = %accepted.credential.name,
            subject = %accepted.subject, %access_id, "token exchanged for an OIDC ID token"
        );
        Ok(CreatedToken {
            access_id,
            name,
            created_at: now,
            expires_at: Some(expires_at),
            secret,
        })
    }
}

/// A credential as the audit log records it (no secrets: there are none).
fn credential_detail(credential: &FederatedCredential) -> serde_json::Value {
    json!({
        "name": credential.name, "issuer": credential.issuer, "audience": credential.audience,
        "subject": credential.subject, "claims": credential.claims,
    })
}
