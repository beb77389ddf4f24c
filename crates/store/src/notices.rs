//! Notices about tokens: owed once a token crosses a threshold before it
//! expires or is disabled for going unused; announced to webhooks as they
//! are recorded, and mailed at most once a day to each recipient.
//!
//! Every step that must happen once across replicas is a row some replica
//! inserts first: a notice (unique per token and threshold) and a
//! recipient's mail day (unique per recipient and day).

use robots_core::Name;
use robots_core::clock::to_millis;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::{name, optional_time, time};
use crate::trail::{insert_deliveries, wants_event};
use crate::{Store, StoreError, in_write_tx, on_pool};

const DAY_MILLIS: i64 = 86_400_000;

/// A token that has crossed a threshold before its expiry and was not yet
/// told about at that threshold or a closer one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueExpiry {
    pub token: NoticeToken,
    /// The threshold crossed: this many days or fewer are left.
    pub within_days: i64,
    pub expires_at: OffsetDateTime,
}

/// What a notice is about, and so who hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeToken {
    /// A robot token: its organization's admins (and webhooks) hear of it.
    Robot {
        org_id: Uuid,
        org_name: Name,
        robot_name: Name,
        token_name: Name,
        access_id: Uuid,
    },
    /// A personal access token: its owner hears of it.
    Personal {
        user_id: Uuid,
        token_id: Uuid,
        token_name: Name,
    },
}

/// An organization or a user with notices not yet mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRecipient {
    pub account_id: Uuid,
    pub name: Name,
    /// An organization (its admins are mailed), or else a user.
    pub is_org: bool,
}

/// A notice not yet mailed, with what the mail says of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmailedNotice {
    pub id: Uuid,
    /// The robot, for a robot token's notice.
    pub robot_name: Option<Name>,
    pub token_name: Name,
    /// The Access ID of a robot token, the id of a personal one.
    pub token_id: Uuid,
    pub expires_at: Option<OffsetDateTime>,
    pub kind: NoticeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// This many days or fewer were left when it was recorded.
    Expiring { within_days: i64 },
    /// Disabled at this time by its organization's `disable_unused_after`
    /// (and still disabled).
    Disabled { at: OffsetDateTime },
}

/// The tightest of `thresholds` (days, ascending) a token expiring at
/// `expires` has crossed at `now`, counting only those shorter than its
/// whole lifetime: a one-day token needs no notice a day before.
const DUE_THRESHOLD: &str = "CASE
    WHEN expires_at <= $1 + $2 AND expires_at - created_at > $2 THEN $2
    WHEN expires_at <= $1 + $3 AND expires_at - created_at > $3 THEN $3
    WHEN expires_at - created_at > $4 THEN $4 END";

impl Store {
    /// Robot tokens and personal access tokens that crossed one of
    /// `thresholds` (three, in days, ascending) before their expiry and
    /// were not yet told of it (nor of a closer one): at most `limit` of
    /// each kind, soonest first. Tokens rotating out, minted by an
    /// exchange or disabled are left alone.
    pub async fn due_expiry_notices(
        &self,
        now: OffsetDateTime,
        thresholds: [i64; 3],
        limit: i64,
    ) -> Result<Vec<DueExpiry>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct RobotRow {
            org_id: Uuid,
            org_name: String,
            robot_name: String,
            access_id: Uuid,
            token_name: String,
            expires_at: i64,
            within: i64,
        }
        #[derive(sqlx::FromRow)]
        struct PersonalRow {
            user_id: Uuid,
            id: Uuid,
            name: String,
            expires_at: i64,
            within: i64,
        }
        let [closest, middle, farthest] = thresholds.map(|days| days * DAY_MILLIS);
        let robot_sql = format!(
            "SELECT * FROM (
                 SELECT a.id AS org_id, a.name AS org_name, r.name AS robot_name, t.access_id,
                        t.name AS token_name, t.expires_at, {threshold} AS within
                 FROM robot_tokens t JOIN robots r ON r.id = t.robot_id JOIN accounts a ON a.id = r.org_id
                 WHERE t.expires_at > $1 AND t.expires_at <= $1 + $4
                   AND t.replaced_by IS NULL AND t.federated_credential_id IS NULL AND t.disabled_at IS NULL
             ) due
             WHERE within IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM token_notices n
                 WHERE n.access_id = due.access_id AND n.reason = 'expiring' AND n.within_days * {DAY_MILLIS} <= due.within)
             ORDER BY expires_at LIMIT $5",
            threshold = DUE_THRESHOLD.replace("expires_at", "t.expires_at").replace("created_at", "t.created_at"),
        );
        let personal_sql = format!(
            "SELECT * FROM (
                 SELECT p.user_id, p.id, p.name, p.expires_at, {threshold} AS within
                 FROM personal_tokens p
                 WHERE p.expires_at > $1 AND p.expires_at <= $1 + $4
             ) due
             WHERE within IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM token_notices n
                 WHERE n.personal_token_id = due.id AND n.reason = 'expiring' AND n.within_days * {DAY_MILLIS} <= due.within)
             ORDER BY expires_at LIMIT $5",
            threshold = DUE_THRESHOLD.replace("expires_at", "p.expires_at").replace("created_at", "p.created_at"),
        );
        let now = to_millis(now);
        let (robots, personal): (Vec<RobotRow>, Vec<PersonalRow>) = on_pool!(self, pool => {
            let robots = sqlx::query_as(sqlx::AssertSqlSafe(robot_sql))
                .bind(now).bind(closest).bind(middle).bind(farthest).bind(limit)
                .fetch_all(pool)
                .await?;
            let personal = sqlx::query_as(sqlx::AssertSqlSafe(personal_sql))
                .bind(now).bind(closest).bind(middle).bind(farthest).bind(limit)
                .fetch_all(pool)
                .await?;
            (robots, personal)
        });
        let mut due = Vec::with_capacity(robots.len() + personal.len());
        for row in robots {
            due.push(DueExpiry {
                token: NoticeToken::Robot {
                    org_id: row.org_id,
                    org_name: name(row.org_name)?,
                    robot_name: name(row.robot_name)?,
                    token_name: name(row.token_name)?,
                    access_id: row.access_id,
                },
                within_days: row.within / DAY_MILLIS,
                expires_at: time(row.expires_at),
            });
        }
        for row in personal {
            due.push(DueExpiry {
                token: NoticeToken::Personal {
                    user_id: row.user_id,
                    token_id: row.id,
                    token_name: name(row.name)?,
                },
                within_days: row.within / DAY_MILLIS,
                expires_at: time(row.expires_at),
            });
        }
        Ok(due)
    }

    /// Records that `due` was told about, and queues `events` (name,
    /// payload) for the organization's webhooks that want them, in one
    /// transaction; false (and nothing queued) when another replica
    /// recorded it first.
    pub async fn record_expiry_notice(
        &self,
        due: &DueExpiry,
        events: &[(&str, String)],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (org_id, user_id, access_id, personal_token_id) = match &due.token {
            NoticeToken::Robot { org_id, access_id, .. } => (Some(*org_id), None, Some(*access_id), None),
            NoticeToken::Personal { user_id, token_id, .. } => (None, Some(*user_id), None, Some(*token_id)),
        };
        let webhooks = match org_id {
            Some(org_id) => self.org_webhooks(org_id).await?,
            None => Default::default(),
        };
        let recorded = in_write_tx!(self, tx => {
            let recorded = sqlx::query(
                "INSERT INTO token_notices (id, org_id, user_id, access_id, personal_token_id, reason, within_days, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'expiring', $6, $7) ON CONFLICT DO NOTHING")
                .bind(Uuid::now_v7())
                .bind(org_id)
                .bind(user_id)
                .bind(access_id)
                .bind(personal_token_id)
                .bind(due.within_days)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if recorded {
                for (event, payload) in events {
                    let wanting = webhooks.iter().filter(|(_, wanted)| wants_event(wanted, event)).map(|(id, _)| *id);
                    insert_deliveries!(tx, wanting, *event, payload.as_str(), now);
                }
            }
            tx.commit().await?;
            recorded
        });
        Ok(recorded)
    }

    /// Organizations and users with notices recorded since `since` and not
    /// yet mailed.
    pub async fn notice_recipients(&self, since: OffsetDateTime) -> Result<Vec<NoticeRecipient>, StoreError> {
        let rows: Vec<(Uuid, String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.name, a.kind FROM accounts a
             WHERE a.id IN (SELECT COALESCE(n.org_id, n.user_id) FROM token_notices n
                            WHERE n.mailed_at IS NULL AND n.created_at >= $1)
             ORDER BY a.name")
            .bind(to_millis(since))
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(account_id, raw_name, kind)| {
                Ok(NoticeRecipient {
                    account_id,
                    name: name(raw_name)?,
                    is_org: kind == "org",
                })
            })
            .collect()
    }

    /// Claims `recipient`'s mail for `day` (days since 1970, UTC): true for
    /// the one caller (of every replica) that may send it.
    pub async fn claim_notice_mail(&self, recipient: Uuid, day: i64) -> Result<bool, StoreError> {
        let claimed = in_write_tx!(self, tx => {
            let claimed = sqlx::query("INSERT INTO notice_mails (recipient, day) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(recipient)
                .bind(day)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            tx.commit().await?;
            claimed
        });
        Ok(claimed)
    }

    /// Gives back a claimed mail day whose mail could not be sent, so that
    /// it is tried again.
    pub async fn release_notice_mail(&self, recipient: Uuid, day: i64) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            sqlx::query("DELETE FROM notice_mails WHERE recipient = $1 AND day = $2")
                .bind(recipient)
                .bind(day)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// `recipient`'s notices recorded since `since` and not yet mailed,
    /// soonest expiry first. A notice whose token was deleted went with it;
    /// one about a disabling the token has since been enabled from, or
    /// about the expiry of a token since rotated or disabled, is left out.
    pub async fn unmailed_notices(
        &self,
        recipient: Uuid,
        since: OffsetDateTime,
    ) -> Result<Vec<UnmailedNotice>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Uuid,
            robot_name: Option<String>,
            token_name: String,
            token_id: Uuid,
            expires_at: Option<i64>,
            reason: String,
            within_days: Option<i64>,
            created_at: i64,
        }
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT n.id, r.name AS robot_name, t.name AS token_name, t.access_id AS token_id, t.expires_at,
                    n.reason, n.within_days, n.created_at
             FROM token_notices n JOIN robot_tokens t ON t.access_id = n.access_id JOIN robots r ON r.id = t.robot_id
             WHERE n.org_id = $1 AND n.mailed_at IS NULL AND n.created_at >= $2
               AND CASE n.reason WHEN 'disabled' THEN t.disabled_at = n.created_at
                                 ELSE t.disabled_at IS NULL AND t.replaced_by IS NULL END
             UNION ALL
             SELECT n.id, NULL, p.name, p.id, p.expires_at, n.reason, n.within_days, n.created_at
             FROM token_notices n JOIN personal_tokens p ON p.id = n.personal_token_id
             WHERE n.user_id = $1 AND n.mailed_at IS NULL AND n.created_at >= $2
             ORDER BY expires_at, token_name")
            .bind(recipient)
            .bind(to_millis(since))
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|row| {
                let kind = match (row.reason.as_str(), row.within_days) {
                    ("disabled", _) => NoticeKind::Disabled {
                        at: time(row.created_at),
                    },
                    ("expiring", Some(within_days)) => NoticeKind::Expiring { within_days },
                    (reason, _) => return Err(StoreError::Corrupt(format!("token notice reason {reason:?}"))),
                };
                Ok(UnmailedNotice {
                    id: row.id,
                    robot_name: row.robot_name.map(name).transpose()?,
                    token_name: name(row.token_name)?,
                    token_id: row.token_id,
                    expires_at: optional_time(row.expires_at),
                    kind,
                })
            })
            .collect()
    }

    /// Marks notices as mailed at `at`.
    pub async fn mark_notices_mailed(&self, ids: &[Uuid], at: OffsetDateTime) -> Result<(), StoreError> {
        in_write_tx!(self, tx => {
            for id in ids {
                sqlx::query("UPDATE token_notices SET mailed_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(to_millis(at))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The e-mail addresses of an organization's admins, by username.
    pub async fn org_admin_addresses(&self, org_id: Uuid) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT u.email FROM org_members m JOIN users u ON u.id = m.user_id JOIN accounts a ON a.id = u.id
             WHERE m.org_id = $1 AND m.role = 'admin' ORDER BY a.name")
            .bind(org_id)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(|(email,)| email).collect())
    }

    /// A user's e-mail address.
    pub async fn user_address(&self, user_id: Uuid) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|(email,)| email))
    }

    /// Forgets notices recorded and mail days before `before`: they are
    /// past being sent.
    pub async fn purge_notices(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let purged = in_write_tx!(self, tx => {
            let purged = sqlx::query("DELETE FROM token_notices WHERE created_at < $1")
                .bind(to_millis(before))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM notice_mails WHERE day < $1")
                .bind(to_millis(before).div_euclid(DAY_MILLIS))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            purged
        });
        Ok(purged)
    }
}
