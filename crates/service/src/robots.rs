//! Robot accounts: created (with the teams that give them their rights),
//! renamed, disabled and enabled, deleted; and what each may do.

use robots_core::access::{EffectivePermission, resolve};
use robots_core::{Name, text};
use robots_store::{NewRobot, Page, Robot, RobotPatch, RobotRef, Trail};
use serde_json::json;

use crate::audit::{Change, event};
use crate::error::named;
use crate::{Authorized, ManageRobots, Service, ServiceError, ServiceResult};

/// A robot to create.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewRobotInput<'a> {
    pub name: &'a str,
    pub description: &'a str,
    /// Teams of the organization it joins in the same step.
    pub teams: &'a [&'a str],
}

/// A change to a robot, as asked for; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct RobotUpdate<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    /// Whether it may rotate the token it authenticates with.
    pub self_rotate: Option<bool>,
}

/// What a robot may do, and through which teams.
#[derive(Debug, Clone)]
pub struct RobotPermissions {
    pub robot: Robot,
    /// The teams it belongs to, by name.
    pub teams: Vec<Name>,
    /// One entry per repository it reaches.
    pub effective: Vec<EffectivePermission>,
}

pub(crate) fn parse_name(field: &str, text: &str) -> ServiceResult<Name> {
    Name::parse(text.trim()).map_err(|error| ServiceError::invalid(field, error))
}

pub(crate) fn description(text: &str) -> ServiceResult<String> {
    text::bounded_text(text, text::MAX_DESCRIPTION_CHARS).map_err(|error| ServiceError::invalid("description", error))
}

fn no_such_robot(org: &Name, robot: &str) -> ServiceError {
    ServiceError::NotFound(format!("{org} has no robot account named {robot:?}"))
}

impl Service {
    /// A robot of the organization, with its token aggregates.
    pub async fn robot<R>(&self, at: &Authorized<'_, R>, name: &str) -> ServiceResult<Robot> {
        let org = at.org();
        let parsed = Name::parse(name).map_err(|_| no_such_robot(&org.name, name))?;
        self.store
            .get_robot(org.id, &parsed)
            .await?
            .ok_or_else(|| no_such_robot(&org.name, name))
    }

    /// A robot of the organization, without its aggregates (remembered
    /// between requests; for changes).
    pub(crate) async fn robot_ref<R>(&self, at: &Authorized<'_, R>, name: &str) -> ServiceResult<RobotRef> {
        let org = at.org();
        let parsed = Name::parse(name).map_err(|_| no_such_robot(&org.name, name))?;
        self.store
            .get_robot_ref(org.id, &parsed)
            .await?
            .ok_or_else(|| no_such_robot(&org.name, name))
    }

    pub async fn list_robots<R>(
        &self,
        at: &Authorized<'_, R>,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Page<Robot>> {
        Ok(self.store.list_robots(at.org().id, after, limit).await?)
    }

    /// How many robots the organization has, for a list's count.
    pub async fn count_robots<R>(&self, at: &Authorized<'_, R>) -> ServiceResult<i64> {
        Ok(self.store.count_robots(at.org().id).await?)
    }

    /// Creates a robot and adds it to its teams, in one transaction with
    /// its audit entry; at most [`crate::ServiceConfig::max_robots_per_org`].
    pub async fn create_robot(
        &self,
        at: &Authorized<'_, ManageRobots>,
        input: NewRobotInput<'_>,
    ) -> ServiceResult<Robot> {
        let org = at.org();
        let name = parse_name("name", input.name)?;
        let description = description(input.description)?;
        let mut teams = Vec::with_capacity(input.teams.len());
        for team in input.teams {
            teams.push(self.team(at, team).await?);
        }
        let team_names: Vec<&str> = teams.iter().map(|team| team.name.as_str()).collect();
        let audit = event(
            &at.actor(),
            Change::new(Some(org.id), "robot.created", format!("robot {}/{name}", org.name))
                .detail(json!({"description": description, "teams": team_names})),
            self.now(),
        );
        let team_ids: Vec<_> = teams.iter().map(|team| team.id).collect();
        let robot = self
            .store
            .create_robot(
                &NewRobot {
                    org_id: org.id,
                    name: &name,
                    description: &description,
                    created_by: at.caller().user.id,
                },
                &team_ids,
                self.now(),
                self.config.max_robots_per_org,
                &Trail {
                    audit: &audit,
                    webhook: None,
                },
            )
            .await
            .map_err(named(|| {
                format!("{} already has a robot account named {name}", org.name)
            }))?;
        tracing::info!(org = %org.name, robot = %robot.name, by = %at.caller().user.name, "robot created");
        Ok(robot)
    }

    /// Renames, re-describes and/or allows or forbids a robot to rotate
    /// its own tokens.
    pub async fn update_robot(
        &self,
        at: &Authorized<'_, ManageRobots>,
        robot: &str,
        update: RobotUpdate<'_>,
    ) -> ServiceResult<Robot> {
        let org = at.org();
        let robot = self.robot(at, robot).await?;
        let new_name = update.name.map(|name| parse_name("name", name)).transpose()?;
        let new_description = update.description.map(description).transpose()?;
        let record = self.record(
            at.actor(),
            Change::new(
                Some(org.id),
                "robot.updated",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(json!({
                "name": new_name.as_ref().unwrap_or(&robot.name),
                "description": new_description.as_deref().unwrap_or(&robot.description),
                "self_rotate": update.self_rotate.unwrap_or(robot.self_rotate),
            })),
        );
        let updated = self
            .store
            .update_robot(
                robot.id,
                RobotPatch {
                    name: new_name.as_ref(),
                    description: new_description.as_deref(),
                    self_rotate: update.self_rotate,
                },
                self.now(),
                &record,
            )
            .await
            .map_err(named(|| {
                format!(
                    "{} already has a robot account named {}",
                    org.name,
                    new_name.as_ref().map_or("", Name::as_str)
                )
            }))?
            .ok_or_else(|| no_such_robot(&org.name, robot.name.as_str()))?;
        Ok(updated)
    }

    /// Deletes a robot with its tokens: they stop working at once.
    pub async fn delete_robot(&self, at: &Authorized<'_, ManageRobots>, robot: &str) -> ServiceResult<Robot> {
        let org = at.org();
        let robot = self.robot(at, robot).await?;
        let record = self.record(
            at.actor(),
            Change::new(
                Some(org.id),
                "robot.deleted",
                format!("robot {}/{}", org.name, robot.name),
            )
            .detail(json!({"tokens": robot.token_count})),
        );
        if !self.store.delete_robot(robot.id, &record).await? {
            return Err(no_such_robot(&org.name, robot.name.as_str()));
        }
        Ok(robot)
    }

    /// Disables (`true`) or enables a robot; disabling again keeps the
    /// first time. Answers the robot as it is now.
    pub async fn set_robot_disabled(
        &self,
        at: &Authorized<'_, ManageRobots>,
        robot: &str,
        disable: bool,
    ) -> ServiceResult<Robot> {
        let org = at.org();
        let robot = self.robot(at, robot).await?;
        let since = disable.then(|| robot.disabled_at.unwrap_or_else(|| self.now()));
        let action = if disable { "robot.disabled" } else { "robot.enabled" };
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), action, format!("robot {}/{}", org.name, robot.name)),
        );
        if !self.store.set_robot_disabled(robot.id, since, &record).await? {
            return Err(no_such_robot(&org.name, robot.name.as_str()));
        }
        self.robot(at, robot.name.as_str()).await
    }

    /// What a robot may do: its teams and, per repository, its effective
    /// permission with the teams behind it.
    pub async fn robot_permissions<R>(&self, at: &Authorized<'_, R>, robot: &str) -> ServiceResult<RobotPermissions> {
        let robot = self.robot(at, robot).await?;
        let snapshot = self.store.robot_access(robot.id).await?;
        let teams = self.store.robot_teams(robot.id).await?;
        Ok(RobotPermissions {
            effective: resolve(&snapshot),
            teams,
            robot,
        })
    }
}
