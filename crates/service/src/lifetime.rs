//! How long a robot token may live: the organization's token policy
//! applied, the same way, to every token that comes into being — created,
//! rotated in, or minted by a token exchange — and to the choices a form
//! offers.
//!
//! - Created: the expiry asked for (a time, or a lifetime from now), or
//!   none; refused when the policy requires an expiry or caps the lifetime
//!   and the request does not fit.
//! - Rotated in: the expiry asked for, else the old token's original
//!   lifetime measured from now, capped by the policy's maximum; a token
//!   that never expired gets the maximum, or (with no maximum) none unless
//!   the policy requires an expiry, in which case the request must say.
//! - Exchanged: the operator's lifetime for exchanged tokens, capped by
//!   the policy's maximum.

use std::time::Duration;

use robots_core::duration::{format_duration, parse_duration};
use robots_store::{InstancePolicy, Org, TokenInfo, TokenPolicy};
use time::OffsetDateTime;

use crate::{ServiceError, ServiceResult};

/// The expiry a request asks for: a point in time or a lifetime from now
/// (at most one), or neither (the operation's default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Expiry<'a> {
    pub at: Option<OffsetDateTime>,
    /// A lifetime from now, as text: `30d`, `12h`; or [`NEVER`].
    pub within: Option<&'a str>,
}

/// What an [`Expiry`] asks for, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requested {
    /// Nothing: the operation's default.
    Default,
    Never,
    At(OffsetDateTime),
}

pub(crate) const EXPIRES_AT: &str = "expires_at";
pub(crate) const EXPIRES_IN: &str = "expires_in";

impl<'a> Expiry<'a> {
    /// Never, said explicitly.
    pub fn never() -> Self {
        Self {
            at: None,
            within: Some(NEVER),
        }
    }

    /// A lifetime from now (`30d`), or [`NEVER`].
    pub fn within(text: &'a str) -> Self {
        Self {
            at: None,
            within: Some(text),
        }
    }

    fn requested(&self, now: OffsetDateTime) -> ServiceResult<Requested> {
        let requested = match (self.at, self.within.map(str::trim)) {
            (Some(_), Some(_)) => {
                return Err(ServiceError::invalid(
                    EXPIRES_IN,
                    "give expires_at or expires_in, not both",
                ));
            }
            (Some(at), None) => Requested::At(at),
            (None, Some(NEVER)) => Requested::Never,
            (None, Some(text)) => {
                let lifetime = parse_duration(text).map_err(|error| ServiceError::invalid(EXPIRES_IN, error))?;
                if lifetime.is_zero() {
                    return Err(ServiceError::invalid(EXPIRES_IN, "must be longer than 0s"));
                }
                Requested::At(now + lifetime)
            }
            (None, None) => Requested::Default,
        };
        if matches!(requested, Requested::At(at) if at <= now) {
            return Err(ServiceError::invalid(EXPIRES_AT, "must be in the future"));
        }
        Ok(requested)
    }
}

/// The expiry of a new token: as asked, or none.
pub fn new_token(
    policy: TokenPolicy,
    requested: Expiry<'_>,
    now: OffsetDateTime,
) -> ServiceResult<Option<OffsetDateTime>> {
    let expires_at = match requested.requested(now)? {
        Requested::At(at) => Some(at),
        Requested::Never | Requested::Default => None,
    };
    within_policy(policy, expires_at, now)?;
    Ok(expires_at)
}

/// The expiry of the token that replaces `old` in a rotation.
pub fn successor(
    policy: TokenPolicy,
    requested: Expiry<'_>,
    old: &TokenInfo,
    now: OffsetDateTime,
) -> ServiceResult<Option<OffsetDateTime>> {
    match requested.requested(now)? {
        Requested::At(at) => {
            within_policy(policy, Some(at), now)?;
            return Ok(Some(at));
        }
        Requested::Never => {
            within_policy(policy, None, now)?;
            return Ok(None);
        }
        Requested::Default => {}
    }
    let original = old
        .expires_at
        .map(|at| at - old.created_at)
        .filter(|lifetime| lifetime.is_positive())
        .and_then(|lifetime| Duration::try_from(lifetime).ok());
    let lifetime = match (original, policy.max_lifetime) {
        (Some(original), Some(max)) => Some(original.min(max)),
        (Some(original), None) => Some(original),
        (None, Some(max)) => Some(max),
        (None, None) => None,
    };
    let expires_at = lifetime.map(|lifetime| now + lifetime);
    within_policy(policy, expires_at, now)?;
    Ok(expires_at)
}

/// How long a token minted by a token exchange lives.
pub fn exchanged(policy: TokenPolicy, ttl: Duration) -> Duration {
    policy.max_lifetime.map_or(ttl, |max| ttl.min(max))
}

fn within_policy(policy: TokenPolicy, expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> ServiceResult<()> {
    match (expires_at, policy.max_lifetime) {
        (None, _) if policy.expiry_required => Err(ServiceError::invalid(
            EXPIRES_AT,
            "this organization requires every token to expire: give expires_at or expires_in",
        )),
        (None, Some(max)) => Err(ServiceError::invalid(
            EXPIRES_AT,
            format!(
                "this organization allows tokens to live at most {}: give expires_at or expires_in",
                format_duration(max)
            ),
        )),
        (Some(at), Some(max)) if at > now + max => Err(ServiceError::invalid(
            EXPIRES_AT,
            format!(
                "this organization allows tokens to live at most {}",
                format_duration(max)
            ),
        )),
        _ => Ok(()),
    }
}

/// A policy's maximum lifetime as given (`90d`); absent: none. A form's
/// blank is its surface's to read as absent.
pub(crate) fn parse_maximum(field: &str, text: Option<&str>) -> ServiceResult<Option<Duration>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let max = parse_duration(text).map_err(|error| ServiceError::invalid(field, error))?;
    if max.is_zero() {
        return Err(ServiceError::invalid(field, "must be longer than 0s"));
    }
    Ok(Some(max))
}

/// How long a personal access token lives unless its maker says.
pub const PERSONAL_TOKEN_DEFAULT: Duration = Duration::from_secs(30 * DAY);

/// The longest a personal access token may live: they always expire.
pub const PERSONAL_TOKEN_MAX: Duration = Duration::from_secs(366 * DAY);

/// The expiry of a new personal access token limited to `orgs` (none: not
/// limited): as asked, else [`PERSONAL_TOKEN_DEFAULT`] or the shortest cap
/// of those organizations; within [`PERSONAL_TOKEN_MAX`], the instance's
/// maximum for personal access tokens, and the organizations' policies
/// (with the instance's floor under them).
pub fn personal_token(
    requested: Expiry<'_>,
    orgs: &[Org],
    instance: &InstancePolicy,
    now: OffsetDateTime,
) -> ServiceResult<OffsetDateTime> {
    let most = instance
        .personal_token_max_lifetime
        .map_or(PERSONAL_TOKEN_MAX, |max| max.min(PERSONAL_TOKEN_MAX));
    for org in orgs {
        if !org.token_policy.personal_tokens_allowed {
            return Err(ServiceError::invalid(
                "orgs",
                format!("{} does not accept personal access tokens (its token policy)", org.name),
            ));
        }
    }
    let tightest = orgs
        .iter()
        .filter_map(|org| {
            instance
                .floor(org.token_policy)
                .max_lifetime
                .map(|max| (max, &org.name))
        })
        .min();
    let expires_at = match requested.requested(now)? {
        Requested::Never => {
            return Err(ServiceError::invalid(
                EXPIRES_IN,
                format!(
                    "personal access tokens always expire: give a lifetime of at most {}",
                    format_duration(most)
                ),
            ));
        }
        Requested::Default => {
            now + tightest
                .map_or(most, |(max, _)| max.min(most))
                .min(PERSONAL_TOKEN_DEFAULT)
        }
        Requested::At(at) => at,
    };
    if expires_at > now + most {
        return Err(ServiceError::invalid(
            EXPIRES_AT,
            format!("personal access tokens live at most {}", format_duration(most)),
        ));
    }
    if let Some((max, org)) = tightest.filter(|(max, _)| expires_at > now + *max) {
        return Err(ServiceError::invalid(
            EXPIRES_AT,
            format!("{org} allows tokens to live at most {}", format_duration(max)),
        ));
    }
    Ok(expires_at)
}

/// One lifetime a form offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifetimeChoice {
    /// What the form sends: a duration (`30d`), or `never`.
    pub value: String,
    pub label: String,
}

/// The lifetimes a form offers under a policy, the one chosen unless the
/// user picks another, and the policy in a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifetimeChoices {
    pub choices: Vec<LifetimeChoice>,
    pub default: String,
    /// `None` when the organization sets no rule.
    pub policy: Option<String>,
}

/// The value a form sends for a token that never expires.
pub const NEVER: &str = "never";

/// The lifetime offered first when the policy sets no maximum.
const DEFAULT_DAYS: u64 = 90;

const DAY: u64 = 86_400;

/// The lifetimes a token form offers: only what the policy allows.
pub fn choices(policy: TokenPolicy) -> LifetimeChoices {
    let mut days: Vec<u64> = vec![7, 30, 90, 180, 365];
    let max_seconds = policy.max_lifetime.map(|max| max.as_secs());
    if let Some(max) = max_seconds {
        days.retain(|days| days * DAY <= max);
    }
    let mut choices: Vec<LifetimeChoice> = days
        .iter()
        .map(|&days| LifetimeChoice {
            value: format!("{days}d"),
            label: if days == 365 {
                "In a year".to_owned()
            } else {
                format!("In {days} days")
            },
        })
        .collect();
    // A maximum that is not one of the usual lifetimes is offered too:
    // it is the longest the organization allows.
    if let Some(max) = max_seconds.filter(|max| !days.iter().any(|days| days * DAY == *max)) {
        choices.push(LifetimeChoice {
            value: format_duration(Duration::from_secs(max)),
            label: format!("In {} (the longest allowed)", spoken(max)),
        });
    }
    let never_allowed = max_seconds.is_none() && !policy.expiry_required;
    if never_allowed {
        choices.push(LifetimeChoice {
            value: NEVER.to_owned(),
            label: "Never".to_owned(),
        });
    }
    let default = match max_seconds {
        Some(_) => choices
            .iter()
            .rfind(|choice| choice.value != NEVER)
            .map(|choice| choice.value.clone())
            .unwrap_or_default(),
        None => format!("{DEFAULT_DAYS}d"),
    };
    let policy = match (max_seconds, policy.expiry_required) {
        (Some(max), _) => Some(format!(
            "This organization allows tokens to live at most {}.",
            spoken(max)
        )),
        (None, true) => Some("This organization requires every token to expire.".to_owned()),
        (None, false) => None,
    };
    LifetimeChoices {
        choices,
        default,
        policy,
    }
}

/// `30 days`, `12 hours`, `1d12h`: a duration as a sentence says it.
fn spoken(seconds: u64) -> String {
    let plural = |count: u64, unit: &str| format!("{count} {unit}{}", if count == 1 { "" } else { "s" });
    if seconds.is_multiple_of(DAY) {
        plural(seconds / DAY, "day")
    } else if seconds.is_multiple_of(3600) {
        plural(seconds / 3600, "hour")
    } else {
        format_duration(Duration::from_secs(seconds))
    }
}

#[cfg(test)]
mod tests {
    use robots_core::Name;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn policy(max_days: Option<u64>, expiry_required: bool) -> TokenPolicy {
        TokenPolicy {
            max_lifetime: max_days.map(|days| Duration::from_secs(days * DAY)),
            expiry_required,
            ..TokenPolicy::default()
        }
    }

    fn within(text: &str) -> Expiry<'_> {
        Expiry::within(text)
    }

    fn days(n: i64) -> time::Duration {
        time::Duration::days(n)
    }

    fn token(created: OffsetDateTime, expires: Option<OffsetDateTime>) -> TokenInfo {
        TokenInfo {
            access_id: Uuid::nil(),
            robot_id: Uuid::nil(),
            name: Name::parse("ci").unwrap(),
            created_at: created,
            created_by: None,
            expires_at: expires,
            last_used_at: None,
            last_used_ip: None,
            last_used_user_agent: None,
            replaced_by: None,
            rotated_from: None,
            federated_by: None,
            disabled_at: None,
        }
    }

    fn field(result: ServiceResult<Option<OffsetDateTime>>) -> String {
        match result {
            Err(ServiceError::Invalid { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_new_token_fits_the_policy_or_is_refused() {
        let open = policy(None, false);
        assert_eq!(new_token(open, Expiry::never(), NOW), Ok(None));
        assert_eq!(new_token(open, Expiry::default(), NOW), Ok(None));
        assert_eq!(new_token(open, within("7d"), NOW), Ok(Some(NOW + days(7))));
        let capped = policy(Some(30), false);
        assert_eq!(new_token(capped, within("30d"), NOW), Ok(Some(NOW + days(30))));
        assert_eq!(field(new_token(capped, within("31d"), NOW)), "expires_at");
        assert_eq!(field(new_token(capped, Expiry::never(), NOW)), "expires_at");
        let required = policy(None, true);
        assert_eq!(field(new_token(required, Expiry::never(), NOW)), "expires_at");
        assert_eq!(new_token(required, within("400d"), NOW), Ok(Some(NOW + days(400))));
        let both = Expiry {
            at: Some(NOW + days(1)),
            within: Some("1d"),
        };
        assert_eq!(field(new_token(open, both, NOW)), "expires_in");
        assert_eq!(field(new_token(open, within("0s"), NOW)), "expires_in");
        assert_eq!(field(new_token(open, within("soon"), NOW)), "expires_in");
        let past = Expiry {
            at: Some(NOW - days(1)),
            within: None,
        };
        assert_eq!(field(new_token(open, past, NOW)), "expires_at");
    }

    #[test]
    fn a_successor_keeps_its_predecessors_lifetime_within_the_policy() {
        let created = NOW - days(10);
        let ninety = token(created, Some(created + days(90)));
        let forever = token(created, None);
        // Asked for: as for a new token.
        assert_eq!(
            successor(policy(Some(30), false), within("7d"), &ninety, NOW),
            Ok(Some(NOW + days(7)))
        );
        assert_eq!(
            field(successor(policy(Some(30), false), within("60d"), &ninety, NOW)),
            "expires_at"
        );
        // Not asked for: the original lifetime from now, capped.
        let default = Expiry::default();
        assert_eq!(
            successor(policy(None, false), default, &ninety, NOW),
            Ok(Some(NOW + days(90)))
        );
        assert_eq!(
            successor(policy(Some(30), true), default, &ninety, NOW),
            Ok(Some(NOW + days(30)))
        );
        assert_eq!(
            successor(policy(Some(30), false), default, &forever, NOW),
            Ok(Some(NOW + days(30)))
        );
        assert_eq!(successor(policy(None, false), default, &forever, NOW), Ok(None));
        assert_eq!(
            field(successor(policy(None, true), default, &forever, NOW)),
            "expires_at"
        );
        // Never, asked for explicitly, where the policy allows it.
        assert_eq!(successor(policy(None, false), Expiry::never(), &ninety, NOW), Ok(None));
        assert_eq!(
            field(successor(policy(Some(30), false), Expiry::never(), &ninety, NOW)),
            "expires_at"
        );
    }

    #[test]
    fn a_personal_token_always_expires_within_a_year_and_its_organizations_caps() {
        let org = |name: &str, max_days: Option<u64>, allowed: bool| Org {
            id: uuid::Uuid::now_v7(),
            name: robots_core::Name::parse(name).unwrap(),
            display_name: String::new(),
            created_at: NOW,
            token_policy: TokenPolicy {
                personal_tokens_allowed: allowed,
                ..policy(max_days, false)
            },
        };
        let days = |n: i64| NOW + time::Duration::days(n);
        let floor = InstancePolicy::default();
        assert_eq!(personal_token(Expiry::default(), &[], &floor, NOW), Ok(days(30)));
        assert_eq!(personal_token(within("366d"), &[], &floor, NOW), Ok(days(366)));
        assert_eq!(
            personal_token(within("367d"), &[], &floor, NOW).unwrap_err().field(),
            Some(EXPIRES_AT)
        );
        assert_eq!(
            personal_token(Expiry::never(), &[], &floor, NOW).unwrap_err().field(),
            Some(EXPIRES_IN)
        );
        // The default fits the tightest organization; asking for more does not.
        let orgs = [org("acme", Some(90), true), org("globex", Some(7), true)];
        assert_eq!(personal_token(Expiry::default(), &orgs, &floor, NOW), Ok(days(7)));
        let refused = personal_token(within("8d"), &orgs, &floor, NOW).unwrap_err();
        assert!(
            refused.to_string().contains("globex allows tokens to live at most 7d"),
            "{refused}"
        );
        let refusing = [org("initech", None, false)];
        assert_eq!(
            personal_token(within("1d"), &refusing, &floor, NOW)
                .unwrap_err()
                .field(),
            Some("orgs")
        );
    }

    #[test]
    fn an_exchanged_token_never_outlives_the_policy() {
        let ttl = Duration::from_secs(900);
        assert_eq!(exchanged(policy(None, true), ttl), ttl);
        let tight = TokenPolicy {
            max_lifetime: Some(Duration::from_secs(300)),
            expiry_required: true,
            ..TokenPolicy::default()
        };
        assert_eq!(exchanged(tight, ttl), Duration::from_secs(300));
    }

    fn values(choices: &LifetimeChoices) -> Vec<&str> {
        choices.choices.iter().map(|choice| choice.value.as_str()).collect()
    }

    #[test]
    fn a_form_offers_only_what_the_policy_allows() {
        let open = choices(policy(None, false));
        assert_eq!(values(&open), ["7d", "30d", "90d", "180d", "365d", "never"]);
        assert_eq!(open.default, "90d");
        assert_eq!(open.policy, None);

        let required = choices(policy(None, true));
        assert_eq!(values(&required), ["7d", "30d", "90d", "180d", "365d"]);
        assert_eq!(required.default, "90d");
        assert!(required.policy.unwrap().contains("requires every token to expire"));

        let thirty = choices(policy(Some(30), false));
        assert_eq!(values(&thirty), ["7d", "30d"]);
        assert_eq!(thirty.default, "30d");
        assert_eq!(
            thirty.policy.as_deref(),
            Some("This organization allows tokens to live at most 30 days.")
        );

        let odd = choices(policy(Some(45), false));
        assert_eq!(values(&odd), ["7d", "30d", "45d"]);
        assert_eq!(odd.default, "45d");
        assert_eq!(odd.choices[2].label, "In 45 days (the longest allowed)");

        let short = choices(TokenPolicy {
            max_lifetime: Some(Duration::from_secs(12 * 3600)),
            expiry_required: false,
            ..TokenPolicy::default()
        });
        assert_eq!(values(&short), ["12h"]);
        assert_eq!(short.default, "12h");

        // Every choice offered is accepted by the rule that creates tokens.
        for policy in [
            policy(None, false),
            policy(None, true),
            policy(Some(30), true),
            policy(Some(45), false),
        ] {
            for choice in choices(policy).choices {
                let requested = if choice.value == NEVER {
                    Expiry::never()
                } else {
                    within(&choice.value)
                };
                assert!(new_token(policy, requested, NOW).is_ok(), "{policy:?} {choice:?}");
            }
        }
    }
}
