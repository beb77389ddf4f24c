//! Teams: groups of an organization's people and robots, and the grants
//! that give them rights on its repositories. Robots get rights only
//! through teams.

use robots_core::Name;
use robots_core::access::Permission;
use robots_store::{MemberKind, Page, Repository, Team, TeamGrant, TeamMember};
use serde_json::json;

use crate::audit::Change;
use crate::error::named;
use crate::robots::{description, parse_name};
use crate::{Authorized, ManageAccess, Service, ServiceError, ServiceResult};

/// A team with its members and grants.
#[derive(Debug, Clone)]
pub struct TeamDetail {
    pub team: Team,
    pub members: Vec<TeamMember>,
    pub grants: Vec<TeamGrant>,
}

impl Service {
    /// A team of the organization.
    pub async fn team<R>(&self, at: &Authorized<'_, R>, name: &str) -> ServiceResult<Team> {
        let org = at.org();
        let not_found = || ServiceError::NotFound(format!("{} has no team named {name:?}", org.name));
        let parsed = Name::parse(name).map_err(|_| not_found())?;
        self.store.get_team(org.id, &parsed).await?.ok_or_else(not_found)
    }

    pub async fn team_detail<R>(&self, at: &Authorized<'_, R>, name: &str) -> ServiceResult<TeamDetail> {
        let team = self.team(at, name).await?;
        let members = self.store.list_team_members(team.id).await?;
        let grants = self.store.list_team_grants(team.id).await?;
        Ok(TeamDetail { team, members, grants })
    }

    pub async fn list_teams<R>(
        &self,
        at: &Authorized<'_, R>,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Page<Team>> {
        Ok(self.store.list_teams(at.org().id, after, limit).await?)
    }

    pub async fn count_teams<R>(&self, at: &Authorized<'_, R>) -> ServiceResult<i64> {
        Ok(self.store.count_teams(at.org().id).await?)
    }

    /// Every team with its grants, in one query: for a form that offers
    /// teams to join and says what each grants.
    pub async fn teams_with_grants<R>(&self, at: &Authorized<'_, R>) -> ServiceResult<Vec<(Team, Vec<TeamGrant>)>> {
        Ok(self.store.teams_with_grants(at.org().id).await?)
    }

    pub async fn create_team(&self, at: &Authorized<'_, ManageAccess>, name: &str, about: &str) -> ServiceResult<Team> {
        let org = at.org();
        let name = parse_name("name", name)?;
        let about = description(about)?;
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "team.created", format!("team {name}")).detail(json!({"description": about})),
        );
        let team = self
            .store
            .create_team(org.id, &name, &about, self.now(), &record)
            .await
            .map_err(named(|| format!("{} already has a team named {name}", org.name)))?;
        Ok(team)
    }

    pub async fn update_team(
        &self,
        at: &Authorized<'_, ManageAccess>,
        team: &str,
        new_name: Option<&str>,
        new_description: Option<&str>,
    ) -> ServiceResult<Team> {
        let org = at.org();
        let team = self.team(at, team).await?;
        let new_name = new_name.map(|name| parse_name("name", name)).transpose()?;
        let new_description = new_description.map(description).transpose()?;
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "team.updated", format!("team {}", team.name)).detail(json!({
                "name": new_name.as_ref().unwrap_or(&team.name),
                "description": new_description.as_deref().unwrap_or(&team.description),
            })),
        );
        let updated = self
            .store
            .update_team(&team, new_name.as_ref(), new_description.as_deref(), &record)
            .await
            .map_err(named(|| {
                format!(
                    "{} already has a team named {}",
                    org.name,
                    new_name.as_ref().map_or("", Name::as_str)
                )
            }))?
            .ok_or_else(|| ServiceError::NotFound("the team was deleted meanwhile".into()))?;
        Ok(updated)
    }

    /// Deletes a team with its grants: its robots lose what it gave them.
    pub async fn delete_team(&self, at: &Authorized<'_, ManageAccess>, team: &str) -> ServiceResult<Team> {
        let org = at.org();
        let team = self.team(at, team).await?;
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "team.deleted", format!("team {}", team.name))
                .detail(json!({"users": team.user_count, "robots": team.robot_count, "grants": team.grant_count})),
        );
        if !self.store.delete_team(team.id, &record).await? {
            return Err(ServiceError::NotFound("the team was deleted meanwhile".into()));
        }
        Ok(team)
    }

    /// Adds a person (a member of the organization) or a robot (of the
    /// organization) to a team; `true` if they were not in it.
    pub async fn add_team_member(
        &self,
        at: &Authorized<'_, ManageAccess>,
        team: &str,
        kind: MemberKind,
        name: &str,
    ) -> ServiceResult<bool> {
        let org = at.org();
        let team = self.team(at, team).await?;
        let target = format!("team {}", team.name);
        match kind {
            MemberKind::User => {
                let name = Name::parse(name.trim()).map_err(|_| ServiceError::UserNotFound)?;
                let change = Change::new(Some(org.id), "team.user_added", target).detail(json!({"user": name}));
                let record = self.record(at.actor(), change);
                Ok(self.store.add_team_user(&team, &name, self.now(), &record).await?)
            }
            MemberKind::Robot => {
                let robot = self.robot_ref(at, name.trim()).await?;
                let change = Change::new(Some(org.id), "team.robot_added", target).detail(json!({"robot": robot.name}));
                let record = self.record(at.actor(), change);
                Ok(self
                    .store
                    .add_team_robot(&team, &robot.name, self.now(), &record)
                    .await?)
            }
        }
    }

    /// Takes a person or a robot out of a team.
    pub async fn remove_team_member(
        &self,
        at: &Authorized<'_, ManageAccess>,
        team: &str,
        kind: MemberKind,
        name: &str,
    ) -> ServiceResult<()> {
        let org = at.org();
        let team = self.team(at, team).await?;
        let not_member = || ServiceError::NotFound(format!("{name} is not a member of team {}", team.name));
        let target = format!("team {}", team.name);
        let removed = match kind {
            MemberKind::User => {
                let name = Name::parse(name).map_err(|_| not_member())?;
                let change = Change::new(Some(org.id), "team.user_removed", target).detail(json!({"user": name}));
                let record = self.record(at.actor(), change);
                self.store.remove_team_user(team.id, &name, &record).await?
            }
            MemberKind::Robot => {
                let robot = self.robot_ref(at, name).await?;
                let change =
                    Change::new(Some(org.id), "team.robot_removed", target).detail(json!({"robot": robot.name}));
                let record = self.record(at.actor(), change);
                self.store.remove_team_robot(&team, &robot.name, &record).await?
            }
        };
        if !removed {
            return Err(not_member());
        }
        Ok(())
    }

    /// Gives a team `permission` on a repository, or changes it; `true` if
    /// the team had no grant on it.
    pub async fn set_grant(
        &self,
        at: &Authorized<'_, ManageAccess>,
        team: &str,
        repository: &str,
        permission: Permission,
    ) -> ServiceResult<(TeamGrant, bool)> {
        let org = at.org();
        let team = self.team(at, team).await?;
        let repository: Repository = self.repository(at, repository).await?;
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "grant.set", format!("team {}", team.name))
                .detail(json!({"repository": repository.name, "permission": permission})),
        );
        Ok(self
            .store
            .set_grant(&team, &repository, permission, self.now(), &record)
            .await?)
    }

    pub async fn revoke_grant(
        &self,
        at: &Authorized<'_, ManageAccess>,
        team: &str,
        repository: &str,
    ) -> ServiceResult<()> {
        let org = at.org();
        let team = self.team(at, team).await?;
        let repository = self.repository(at, repository).await?;
        let record = self.record(
            at.actor(),
            Change::new(Some(org.id), "grant.revoked", format!("team {}", team.name))
                .detail(json!({"repository": repository.name})),
        );
        if !self.store.revoke_grant(team.id, repository.id, &record).await? {
            return Err(ServiceError::NotFound(format!(
                "team {} has no grant on {}",
                team.name, repository.name
            )));
        }
        Ok(())
    }
}
