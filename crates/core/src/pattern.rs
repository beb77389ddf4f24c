//! Patterns on claim values for federated credentials: `*` stands for any
//! run of characters (`/` included), everything else for itself. So
//! `repo:acme/app:ref:refs/heads/*` pins a repository and allows any branch,
//! and a pattern without `*` is an exact match.

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_PATTERN_LEN} bytes long")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error("must not be only `*`: that would trust every value")]
    MatchesEverything,
}

/// Checks a pattern an administrator writes.
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(PatternError::TooLong);
    }
    if pattern.chars().any(char::is_control) {
        return Err(PatternError::ControlCharacter);
    }
    if pattern.chars().all(|c| c == '*') {
        return Err(PatternError::MatchesEverything);
    }
    Ok(())
}

/// Checks a subject pattern: on top of [`check_pattern`], whatever it
/// leaves open with `*` must come after whose jobs it trusts. A GitHub
/// subject (`repo:…`) must name the repository's owner, a GitLab one
/// (`project_path:…`) the group, any other at least one whole segment
/// (`system:serviceaccount:ci:*`, `org/team/*`); `*:*` or `repo:*` would
/// make every repository on the issuer a robot.
pub fn check_subject(pattern: &str) -> Result<(), String> {
    check_pattern(pattern).map_err(|error| error.to_string())?;
    let Some(star) = pattern.find('*') else {
        // An exact subject pins everything.
        return Ok(());
    };
    let literal = &pattern[..star];
    for (prefix, what, example) in [
        (
            "repo:",
            "repository's owner",
            "repo:OWNER/REPO:… (e.g. repo:acme/app:ref:refs/heads/main, or repo:acme/* for every repository of acme)",
        ),
        (
            "project_path:",
            "group",
            "project_path:GROUP/PROJECT:… (e.g. project_path:acme/app:ref_type:branch:ref:main, or project_path:acme/*)",
        ),
    ] {
        if let Some(rest) = pattern.strip_prefix(prefix) {
            let owner_pinned = literal
                .strip_prefix(prefix)
                .and_then(|pinned| pinned.split_once('/'))
                .is_some_and(|(owner, _)| !owner.is_empty());
            if owner_pinned && !rest.is_empty() {
                return Ok(());
            }
            return Err(format!(
                "must name the {what} before any `*`: {example}; as written it would trust every {} on the issuer",
                if prefix == "repo:" { "repository" } else { "project" }
            ));
        }
    }
    let whole_segment = literal.find(['/', ':']).is_some_and(|separator| separator > 0);
    if whole_segment {
        Ok(())
    } else {
        Err("must start with at least one whole segment before any `*` (e.g. system:serviceaccount:ci:*              or org/team/*): a leading `*` would trust every identity the issuer has"
            .to_owned())
    }
}

/// Whether `value` matches `pattern`: the greedy match that only ever
/// backtracks to the last `*`, so the work is bounded by the product of the
/// two lengths (both capped), never exponential.
pub fn matches(pattern: &str, value: &str) -> bool {
    let (pattern, value) = (pattern.as_bytes(), value.as_bytes());
    let (mut p, mut v) = (0, 0);
    // After the last `*`: where in the pattern to resume, and where in the value.
    let mut star: Option<(usize, usize)> = None;
    while v < value.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p + 1, v));
            p += 1;
        } else if p < pattern.len() && pattern[p] == value[v] {
            p += 1;
            v += 1;
        } else if let Some((resume, from)) = star {
            // Let the last `*` swallow one more character and retry.
            p = resume;
            v = from + 1;
            star = Some((resume, from + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_must_pin_whose_jobs_they_trust() {
        for pinned in [
            "repo:acme/app:ref:refs/heads/main",
            "repo:acme/app:*",
            "repo:acme/*",
            "project_path:acme/app:ref_type:branch:*",
            "project_path:acme/*",
            "system:serviceaccount:ci:*",
            "org/team/*",
        ] {
            assert_eq!(check_subject(pinned), Ok(()), "{pinned}");
        }
        for open in [
            "*",
            "*:*",
            "repo:*",
            "repo:acme*",
            "repo:*/app:*",
            "project_path:*",
            "*/app",
            "rep*",
            "repo:/x:*",
        ] {
            let refused = check_subject(open).expect_err(open);
            assert!(!refused.is_empty(), "{open}");
        }
        assert!(check_subject("repo:*").unwrap_err().contains("repo:OWNER/REPO"));
        assert!(
            check_subject("project_path:*")
                .unwrap_err()
                .contains("project_path:GROUP/PROJECT")
        );
    }

    #[test]
    fn exact_and_wildcard_matches() {
        let cases = [
            (
                "repo:acme/app:ref:refs/heads/main",
                "repo:acme/app:ref:refs/heads/main",
                true,
            ),
            (
                "repo:acme/app:ref:refs/heads/main",
                "repo:acme/app:ref:refs/heads/mainx",
                false,
            ),
            (
                "repo:acme/app:ref:refs/heads/main",
                "repo:acme/app:ref:refs/heads/mai",
                false,
            ),
            ("repo:acme/app:*", "repo:acme/app:ref:refs/heads/main", true),
            ("repo:acme/app:*", "repo:acme/apple:ref:refs/heads/main", false),
            (
                "repo:acme/*:environment:production",
                "repo:acme/app:environment:production",
                true,
            ),
            (
                "repo:acme/*:environment:production",
                "repo:acme/app:environment:staging",
                false,
            ),
            ("refs/heads/release-*", "refs/heads/release-1.2", true),
            ("refs/heads/release-*", "refs/tags/release-1.2", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYc d", false),
            ("*-prod", "eu-prod", true),
            ("*-prod", "eu-prod-2", false),
            ("main", "", false),
            ("a**", "a", true),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(matches(pattern, value), expected, "{pattern:?} on {value:?}");
        }
    }

    #[test]
    fn a_hostile_pattern_is_answered() {
        // Exponential backtracking would never finish this one.
        let pattern = "*a".repeat(200) + "b";
        assert!(!matches(&pattern, &"a".repeat(10_000)));
        assert!(matches(&pattern, &("a".repeat(10_000) + "b")));
    }

    #[test]
    fn patterns_are_checked() {
        assert_eq!(check_pattern(""), Err(PatternError::Empty));
        assert_eq!(check_pattern("**"), Err(PatternError::MatchesEverything));
        assert_eq!(check_pattern("a\nb"), Err(PatternError::ControlCharacter));
        assert_eq!(check_pattern(&"a".repeat(513)), Err(PatternError::TooLong));
        assert_eq!(check_pattern("repo:acme/*"), Ok(()));
    }
}
