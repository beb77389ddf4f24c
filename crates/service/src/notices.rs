//! Telling people about their tokens before it is too late: the notices
//! owed 30, 7 and 1 days before a token expires (announced to webhooks as
//! `token.expiring`), and the mails that carry them, with those about
//! tokens disabled for going unused, to an organization's admins (robot
//! tokens) or a token's owner (personal access tokens).
//!
//! A recipient gets at most one mail a day, listing everything owed; each
//! notice goes out once however many replicas run. Sending the mail is the
//! server's (SMTP); what it says and to whom is decided here.

use std::fmt::Write as _;

use robots_core::Name;
use robots_store::{DueExpiry, NoticeKind, NoticeRecipient, NoticeToken, UnmailedNotice};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::Service;
use crate::events::{self, payload, rfc3339};

/// Days before expiry a token's owners are told, closest first.
pub const EXPIRY_NOTICE_DAYS: [i64; 3] = [1, 7, 30];

/// Notices older than this are not mailed any more: they were recorded
/// while no mail was configured, or mail failed for that long.
const MAIL_WINDOW: Duration = Duration::days(7);

/// How long notices and mail days are kept.
const KEPT: Duration = Duration::days(90);

/// How many due notices one pass records at most, of each kind of token.
const BATCH: i64 = 500;

/// One mail owed to an organization's admins or to a user. No secret is
/// ever in it: tokens are named by robot, name and Access ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeMail {
    /// The addresses it goes to, each in a message of its own.
    pub to: Vec<String>,
    pub subject: String,
    /// Plain text, lines of at most 998 bytes.
    pub body: String,
    recipient: Uuid,
    day: i64,
    notices: Vec<Uuid>,
}

impl Service {
    /// Records the expiry notices now due, announcing each to the
    /// organization's webhooks; answers how many this call recorded.
    /// Several replicas may run it at once: each notice is recorded (and
    /// announced) by one of them.
    pub async fn record_expiry_notices(&self) -> usize {
        let now = self.now();
        let due = match self.store.due_expiry_notices(now, EXPIRY_NOTICE_DAYS, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "could not look for expiring tokens");
                return 0;
            }
        };
        let mut recorded = 0;
        for due in due {
            let events = expiry_events(&due, now);
            match self.store.record_expiry_notice(&due, &events, now).await {
                Ok(true) => recorded += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not record an expiry notice"),
            }
        }
        if let Err(error) = self.store.purge_notices(now - KEPT).await {
            tracing::warn!(%error, "could not purge old token notices");
        }
        recorded
    }

    /// The mails due now, each claimed for today: the caller sends them
    /// and reports with [`Self::notice_mail_sent`] or
    /// [`Self::notice_mail_failed`]. `console` is the console's address, for
    /// links.
    pub async fn due_notice_mails(&self, console: &str) -> Vec<NoticeMail> {
        let now = self.now();
        let since = now - MAIL_WINDOW;
        let day = (now.unix_timestamp()).div_euclid(86_400);
        let recipients = match self.store.notice_recipients(since).await {
            Ok(recipients) => recipients,
            Err(error) => {
                tracing::warn!(%error, "could not look for notices to mail");
                return Vec::new();
            }
        };
        let mut mails = Vec::new();
        for recipient in recipients {
            match self.notice_mail(&recipient, since, day, now, console).await {
                Ok(Some(mail)) => mails.push(mail),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, recipient = %recipient.name, "could not prepare a notice mail"),
            }
        }
        mails
    }

    /// `recipient`'s mail for `day`, if anything is owed, they have an
    /// address, and no replica claimed the day before.
    async fn notice_mail(
        &self,
        recipient: &NoticeRecipient,
        since: OffsetDateTime,
        day: i64,
        now: OffsetDateTime,
        console: &str,
    ) -> Result<Option<NoticeMail>, robots_store::StoreError> {
        let notices = self.store.unmailed_notices(recipient.account_id, since).await?;
        let to = if recipient.is_org {
            self.store.org_admin_addresses(recipient.account_id).await?
        } else {
            self.store
                .user_address(recipient.account_id)
                .await?
                .into_iter()
                .collect()
        };
        if notices.is_empty() || to.is_empty() {
            return Ok(None);
        }
        if !self.store.claim_notice_mail(recipient.account_id, day).await? {
            return Ok(None);
        }
        let (subject, body) = if recipient.is_org {
            org_mail(&recipient.name, &notices, now, console)
        } else {
            personal_mail(&recipient.name, &notices, now, console)
        };
        Ok(Some(NoticeMail {
            to,
            subject,
            body,
            recipient: recipient.account_id,
            day,
            notices: notices.iter().map(|notice| notice.id).collect(),
        }))
    }

    /// The mail went out (to at least one of its addresses).
    pub async fn notice_mail_sent(&self, mail: &NoticeMail) {
        if let Err(error) = self.store.mark_notices_mailed(&mail.notices, self.now()).await {
            tracing::warn!(%error, "could not mark notices as mailed");
        }
    }

    /// The mail could not be sent: its day is given back, to be tried again.
    pub async fn notice_mail_failed(&self, mail: &NoticeMail) {
        if let Err(error) = self.store.release_notice_mail(mail.recipient, mail.day).await {
            tracing::warn!(%error, "could not release a notice mail's day");
        }
    }
}

/// The webhook events a notice is announced as: `token.expiring` at every
/// threshold, and `token.expiring_soon` at the 7-day one as well.
fn expiry_events(due: &DueExpiry, now: OffsetDateTime) -> Vec<(&'static str, String)> {
    let NoticeToken::Robot {
        org_name,
        robot_name,
        token_name,
        access_id,
        ..
    } = &due.token
    else {
        return Vec::new();
    };
    let data = json!({
        "robot": robot_name, "name": token_name, "access_id": access_id,
        "expires_at": rfc3339(due.expires_at), "within_days": due.within_days,
    });
    let mut events = vec![(
        events::TOKEN_EXPIRING,
        payload(org_name, events::TOKEN_EXPIRING, data.clone(), now),
    )];
    if due.within_days == 7 {
        events.push((
            events::TOKEN_EXPIRING_SOON,
            payload(org_name, events::TOKEN_EXPIRING_SOON, data, now),
        ));
    }
    events
}

fn org_mail(org: &Name, notices: &[UnmailedNotice], now: OffsetDateTime, console: &str) -> (String, String) {
    let (expiring, disabled): (Vec<_>, Vec<_>) = notices
        .iter()
        .partition(|notice| matches!(notice.kind, NoticeKind::Expiring { .. }));
    let subject = match (expiring.len(), disabled.len()) {
        (expiring, 0) => format!("{org}: {} expiring soon", tokens(expiring)),
        (0, disabled) => format!("{org}: {} disabled for going unused", tokens(disabled)),
        (expiring, disabled) => format!(
            "{org}: {} expiring soon, {disabled} disabled for going unused",
            tokens(expiring)
        ),
    };
    let mut body = format!("Robot tokens of the organization {org} need attention.\n");
    if !expiring.is_empty() {
        body.push_str("\nExpiring:\n");
        for notice in &expiring {
            list_item(&mut body, notice, &expiry_note(notice, now));
        }
        body.push_str(
            "\nRotate a token that is still needed before it expires: in the console, or with\n\
             `robots tokens rotate ROBOT ACCESS_ID`. Let the others expire.\n",
        );
    }
    if !disabled.is_empty() {
        body.push_str("\nDisabled because they went unused for as long as the organization's policy allows:\n");
        for notice in &disabled {
            let NoticeKind::Disabled { at } = notice.kind else {
                continue;
            };
            list_item(&mut body, notice, &format!("disabled {}", day_and_time(at)));
        }
        body.push_str(
            "\nThey are kept, and refused until enabled again: in the console, or with\n\
             `robots tokens enable ROBOT ACCESS_ID`. Delete the ones no longer needed.\n",
        );
    }
    let _ = write!(
        body,
        "\n{console}/orgs/{org}\n\n-- \nYou receive this as an admin of {org}, at most once a day.\n"
    );
    (subject, body)
}

fn personal_mail(user: &Name, notices: &[UnmailedNotice], now: OffsetDateTime, console: &str) -> (String, String) {
    let subject = match notices {
        [only] => format!("Your personal access token {} expires soon", only.token_name),
        _ => format!("{} of your personal access tokens expire soon", notices.len()),
    };
    let mut body = format!("Personal access tokens of {user} expire soon:\n\n");
    for notice in notices {
        list_item(&mut body, notice, &expiry_note(notice, now));
    }
    let _ = write!(
        body,
        "\nCreate a new token for what still needs one, then revoke the old one:\n\
         {console}/account/tokens\n\n-- \nYou receive this as the owner of these tokens, at most once a day.\n"
    );
    (subject, body)
}

fn tokens(count: usize) -> String {
    match count {
        1 => "1 robot token".to_owned(),
        _ => format!("{count} robot tokens"),
    }
}

/// `  - deployer/ci (Access ID …): expires …` or, for a personal token,
/// `  - terraform (id …): …`.
fn list_item(body: &mut String, notice: &UnmailedNotice, note: &str) {
    let _ = match &notice.robot_name {
        Some(robot) => writeln!(
            body,
            "  - {robot}/{} (Access ID {}): {note}",
            notice.token_name, notice.token_id
        ),
        None => writeln!(body, "  - {} (id {}): {note}", notice.token_name, notice.token_id),
    };
}

fn expiry_note(notice: &UnmailedNotice, now: OffsetDateTime) -> String {
    let Some(expires_at) = notice.expires_at else {
        return "does not expire".to_owned();
    };
    let left = expires_at - now;
    let when = if left <= Duration::ZERO {
        "expired".to_owned()
    } else if left < Duration::DAY {
        match left.whole_hours() {
            0 => "in less than an hour".to_owned(),
            1 => "in 1 hour".to_owned(),
            hours => format!("in {hours} hours"),
        }
    } else {
        match left.whole_days() {
            1 => "in 1 day".to_owned(),
            days => format!("in {days} days"),
        }
    };
    format!("expires {} ({when})", day_and_time(expires_at))
}

fn day_and_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(robot: Option<&str>, name: &str, kind: NoticeKind, expires_at: OffsetDateTime) -> UnmailedNotice {
        UnmailedNotice {
            id: Uuid::now_v7(),
            robot_name: robot.map(|robot| Name::parse(robot).unwrap()),
            token_name: Name::parse(name).unwrap(),
            token_id: Uuid::nil(),
            expires_at: Some(expires_at),
            kind,
        }
    }

    #[test]
    fn an_organizations_mail_lists_what_expires_and_what_was_disabled() {
        let now = time::macros::datetime!(2030-01-10 08:00 UTC);
        let org = Name::parse("acme").unwrap();
        let notices = [
            notice(
                Some("deployer"),
                "ci",
                NoticeKind::Expiring { within_days: 7 },
                now + Duration::days(6),
            ),
            notice(
                Some("deployer"),
                "nightly",
                NoticeKind::Expiring { within_days: 1 },
                now + Duration::hours(5),
            ),
            notice(
                Some("pusher"),
                "old",
                NoticeKind::Disabled { at: now },
                now + Duration::days(200),
            ),
        ];
        let (subject, body) = org_mail(&org, &notices, now, "https://robots.example.com");
        assert_eq!(
            subject,
            "acme: 2 robot tokens expiring soon, 1 disabled for going unused"
        );
        for line in [
            "  - deployer/ci (Access ID 00000000-0000-0000-0000-000000000000): expires 2030-01-16 08:00 UTC (in 6 days)",
            "  - deployer/nightly (Access ID 00000000-0000-0000-0000-000000000000): expires 2030-01-10 13:00 UTC (in 5 hours)",
            "  - pusher/old (Access ID 00000000-0000-0000-0000-000000000000): disabled 2030-01-10 08:00 UTC",
            "https://robots.example.com/orgs/acme",
        ] {
            assert!(body.lines().any(|have| have == line), "{line:?} not in:\n{body}");
        }
        assert!(body.lines().all(|line| line.len() <= 998));

        let (subject, _) = org_mail(&org, &notices[2..], now, "");
        assert_eq!(subject, "acme: 1 robot token disabled for going unused");
    }

    #[test]
    fn a_users_mail_names_their_token() {
        let now = time::macros::datetime!(2030-01-10 08:00 UTC);
        let user = Name::parse("alice").unwrap();
        let one = [notice(
            None,
            "terraform",
            NoticeKind::Expiring { within_days: 30 },
            now + Duration::days(29) + Duration::hours(23),
        )];
        let (subject, body) = personal_mail(&user, &one, now, "https://robots.example.com");
        assert_eq!(subject, "Your personal access token terraform expires soon");
        assert!(body.contains("(in 29 days)"), "{body}");
        assert!(body.contains("https://robots.example.com/account/tokens"), "{body}");
    }
}
