//! People: the first administrator (with the setup code printed at first
//! start), and users created by administrators or, with open signup, by
//! themselves. Passwords are checked against the policy and hashed
//! (argon2id) here; only the hash goes to the store.

use robots_core::secret::SetupCode;
use robots_core::{Name, password, text};
use robots_store::{NewUser, User};

use crate::audit::{Actor, Change};
use crate::limits::AuthLimits;
use crate::robots::parse_name;
use crate::{ClientInfo, InstanceAdmin, Service, ServiceError, ServiceResult, UserSession};

/// Who may create user accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignupPolicy {
    /// Only instance administrators create users (the default).
    #[default]
    Closed,
    /// Anyone may create a (non-administrator) account.
    Open,
}

/// A person to create (its `Debug` leaves the password out).
#[derive(Clone, Copy)]
pub struct NewUserInput<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub instance_admin: bool,
}

impl std::fmt::Debug for NewUserInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUserInput")
            .field("username", &self.username)
            .field("instance_admin", &self.instance_admin)
            .finish_non_exhaustive()
    }
}

fn email(text: &str) -> ServiceResult<String> {
    let email = text.trim();
    if text::is_plausible_email(email) {
        Ok(email.to_owned())
    } else {
        Err(ServiceError::invalid("email", "is not an e-mail address"))
    }
}

impl Service {
    /// Checks the password policy, then hashes it: on the blocking pool,
    /// a bounded number at a time (see `passwords`).
    pub(crate) async fn hash_new_password(&self, password: &str) -> ServiceResult<String> {
        password::check_new_password(password).map_err(|error| ServiceError::invalid("password", error))?;
        let password = password.to_owned();
        self.passwords
            .run(move || password::hash_password(&password))
            .await?
            .map_err(|error| ServiceError::Internal(error.to_string()))
    }

    /// A new user's record, every field checked and the password hashed.
    async fn new_user(&self, input: NewUserInput<'_>) -> ServiceResult<NewUser> {
        let name: Name = parse_name("username", input.username)?;
        let email = email(input.email)?;
        let password_hash = self.hash_new_password(input.password).await?;
        Ok(NewUser {
            name,
            email,
            password_hash,
            instance_admin: input.instance_admin,
        })
    }

    /// Whether the installation still waits for its first administrator.
    pub async fn setup_required(&self) -> ServiceResult<bool> {
        Ok(self.store.count_users().await? == 0)
    }

    /// The code that lets the first administrator in, if no user exists
    /// yet (printed once at start-up).
    pub async fn prepare_first_run(&self) -> ServiceResult<Option<SetupCode>> {
        if !self.setup_required().await? {
            return Ok(None);
        }
        let code = SetupCode::generate();
        self.store.add_setup_code(&code.hash(), self.now()).await?;
        Ok(Some(code))
    }

    /// Creates the first administrator with the setup code; refused once
    /// any user exists.
    pub async fn complete_setup(
        &self,
        code: &str,
        input: NewUserInput<'_>,
        client: &ClientInfo,
    ) -> ServiceResult<User> {
        let code = SetupCode::parse(code).ok_or_else(|| {
            ServiceError::invalid("code", "is not a setup code; copy it from the server's start-up output")
        })?;
        // Anyone may call this, so nothing is hashed for them unless the
        // installation still waits and the code is one it printed.
        if !self.setup_required().await? {
            return Err(ServiceError::SetupComplete);
        }
        if !self.store.is_setup_code(&code.hash()).await? {
            return Err(ServiceError::InvalidSetupCode);
        }
        let user = self
            .new_user(NewUserInput {
                instance_admin: true,
                ..input
            })
            .await?;
        let user = self.store.complete_setup(&code.hash(), &user, self.now()).await?;
        tracing::info!(username = %user.name, "setup complete: first administrator created");
        self.audit(
            Actor::Anonymous(client),
            Change::new(None, "setup.completed", format!("user {}", user.name)),
        )
        .await;
        Ok(user)
    }

    /// Changes the caller's password, given the current one; every other
    /// session of theirs ends (whoever else was logged in as them is no
    /// longer). Wrong current passwords count against the login limits.
    /// Answers how many sessions ended.
    pub async fn change_password(&self, caller: &UserSession, current: &str, new: &str) -> ServiceResult<u64> {
        caller.require_session("change a password")?;
        password::check_new_password(new).map_err(|error| ServiceError::invalid("new_password", error))?;
        if new == current {
            return Err(ServiceError::invalid(
                "new_password",
                "must differ from the current password",
            ));
        }
        let limits = &self.limits;
        let user_key = AuthLimits::user_key(caller.user.name.as_str());
        let now_ms = self.now_ms();
        let reserved = limits
            .login_user
            .reserve(user_key.clone(), now_ms)
            .map_err(|retry_after| ServiceError::RateLimited { retry_after })?;
        let stored = self
            .store
            .find_user_for_login(&caller.user.name)
            .await?
            .map(|(_, hash)| hash);
        let current = current.to_owned();
        let valid = self
            .passwords
            .run(move || password::verify_password(&current, stored.as_deref()))
            .await;
        match valid {
            Ok(true) => limits.login_user.refund(&user_key, self.now_ms()),
            Ok(false) => {
                return Err(match reserved.retry_after() {
                    Some(retry_after) => ServiceError::RateLimited { retry_after },
                    None => ServiceError::invalid("current_password", "is not your current password"),
                });
            }
            Err(busy) => {
                limits.login_user.refund(&user_key, self.now_ms());
                return Err(busy);
            }
        }
        let hash = self.hash_new_password(new).await?;
        let record = self.record(
            Actor::User(caller),
            Change::new(None, "user.password_changed", format!("user {}", caller.user.name)),
        );
        let ended = self
            .store
            .set_password(caller.user.id, &hash, &caller.session, &record)
            .await?;
        tracing::info!(username = %caller.user.name, sessions_ended = ended, "password changed");
        Ok(ended)
    }

    /// Deletes a user, for an instance administrator: their sessions end,
    /// their memberships go. Refused while they are an organization's only
    /// admin, or the last instance administrator.
    pub async fn delete_user(&self, admin: &InstanceAdmin<'_>, username: &str) -> ServiceResult<User> {
        let not_found = || ServiceError::NotFound(format!("there is no user named {username:?}"));
        let name = Name::parse(username.trim()).map_err(|_| not_found())?;
        let user = self.store.find_user(&name).await?.ok_or_else(not_found)?;
        let record = self.record(
            admin.actor(),
            Change::new(None, "user.deleted", format!("user {}", user.name)),
        );
        match self.store.delete_user(user.id, self.now(), &record).await {
            Ok(true) => Ok(user),
            Ok(false) => Err(not_found()),
            Err(robots_store::StoreError::SoleAdminOf(orgs)) => Err(ServiceError::SoleAdminOf {
                user: user.name.to_string(),
                orgs,
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Creates a user: instance administrators may, and anyone when signup
    /// is open; only instance administrators make instance administrators.
    pub async fn create_user(
        &self,
        caller: Option<&UserSession>,
        input: NewUserInput<'_>,
        client: &ClientInfo,
    ) -> ServiceResult<User> {
        let caller_is_admin = caller.is_some_and(|session| session.user.instance_admin);
        if !caller_is_admin {
            match (caller, self.config.signup) {
                (None, SignupPolicy::Closed) => return Err(ServiceError::Unauthenticated),
                (Some(_), SignupPolicy::Closed) => {
                    return Err(ServiceError::forbidden("only instance administrators can create users"));
                }
                (_, SignupPolicy::Open) => {}
            }
        }
        if input.instance_admin && !caller_is_admin {
            return Err(ServiceError::Forbidden {
                message: "only instance administrators can create instance administrators".into(),
                field: Some("instance_admin"),
            });
        }
        let user = self.new_user(input).await?;
        let user = self.store.create_user(&user, self.now()).await?;
        tracing::info!(username = %user.name, by = ?caller.map(|c| &c.user.name), "user created");
        match caller {
            Some(admin) => {
                self.audit(
                    Actor::User(admin),
                    Change::new(None, "user.created", format!("user {}", user.name))
                        .detail(serde_json::json!({"instance_admin": user.instance_admin})),
                )
                .await
            }
            None => {
                self.audit(
                    Actor::Anonymous(client),
                    Change::new(None, "user.signed_up", format!("user {}", user.name)),
                )
                .await
            }
        }
        Ok(user)
    }
}
