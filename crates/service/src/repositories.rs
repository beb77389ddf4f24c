//! Repositories: what an organization's teams are granted rights on, by
//! path (`apps/web`), as registries name them under the organization.

use robots_core::access::RepoPath;
use robots_store::{Page, RepoAccess, Repository, TeamGrant};
use serde_json::json;

use crate::audit::Change;
use crate::error::named;
use crate::{Authorized, ManageAccess, Service, ServiceError, ServiceResult};

impl Service {
    /// A repository of the organization, by its path.
    pub async fn repository<R>(&self, at: &Authorized<'_, R>, path: &str) -> ServiceResult<Repository> {
        let org = at.org();
        let not_found = || ServiceError::NotFound(format!("{} has no repository named {path:?}", org.name));
        let parsed = RepoPath::parse(path).map_err(|_| not_found())?;
        self.store.get_repository(org.id, &parsed).await?.ok_or_else(not_found)
    }

    /// A repository with the grants on it and everyone they reach.
    pub async fn repository_detail<R>(
        &self,
        at: &Authorized<'_, R>,
        path: &str,
    ) -> ServiceResult<(Repository, Vec<TeamGrant>, Vec<RepoAccess>)> {
        let repository = self.repository(at, path).await?;
        let grants = self.store.list_repository_grants(repository.id).await?;
        let access = self.store.repository_access(repository.id).await?;
        Ok((repository, grants, access))
    }

    pub async fn list_repositories<R>(
        &self,
        at: &Authorized<'_, R>,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Page<Repository>> {
        Ok(self.store.list_repositories(at.org().id, after, limit).await?)
    }

    pub async fn count_repositories<R>(&self, at: &Authorized<'_, R>) -> ServiceResult<i64> {
        Ok(self.store.count_repositories(at.org().id).await?)
    }

    pub async fn create_repository(&self, at: &Authorized<'_, ManageAccess>, path: &str) -> ServiceResult<Repository> {
        let org = at.org();
        let path = RepoPath::parse(path.trim()).map_err(|error| ServiceError::invalid("name", error))?;
        let record = self.record(
            at.actor(),
            Change::new(
                Some(org.id),
                "repository.created",
                format!("repository {}/{path}", org.name),
            )
            .detail(json!({})),
        );
        let repository = self
            .store
            .create_repository(org.id, &path, at.caller().user.id, self.now(), &record)
            .await
            .map_err(named(|| format!("{} already has a repository named {path}", org.name)))?;
        Ok(repository)
    }

    /// Deletes a repository with the grants on it.
    pub async fn delete_repository(&self, at: &Authorized<'_, ManageAccess>, path: &str) -> ServiceResult<Repository> {
        let org = at.org();
        let repository = self.repository(at, path).await?;
        let record = self.record(
            at.actor(),
            Change::new(
                Some(org.id),
                "repository.deleted",
                format!("repository {}/{}", org.name, repository.name),
            ),
        );
        if !self.store.delete_repository(repository.id, &record).await? {
            return Err(ServiceError::NotFound(format!(
                "{} has no repository named {:?}",
                org.name,
                repository.name.as_str()
            )));
        }
        Ok(repository)
    }
}
