//! Who may log in where: a client's `allow` patterns (a bare JID, a domain, or
//! `group:NAME`). No pattern: anyone may log in, as on a public "Log in with XMPP" button.

use crate::store::clients::Client;
use crate::store::Store;
use crate::xmpp::address::UserJid;

const GROUP_PREFIX: &str = "group:";

/// A group's name: short, lower-case, no spaces, so that `group:NAME` reads unambiguously.
pub fn valid_group_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// One `--allow` pattern in its normalized form: a bare JID and a domain as subjects are
/// (lower case, IDN as A-labels), so that they compare with the person's `sub`.
pub fn normalize_pattern(pattern: &str) -> Result<String, String> {
    let pattern = pattern.trim();
    if let Some(group) = pattern.strip_prefix(GROUP_PREFIX) {
        return if valid_group_name(group) {
            Ok(pattern.to_owned())
        } else {
            Err(format!(
                "{pattern:?}: a group name has 1 to 64 lower-case letters, digits, '.', '_' or '-'"
            ))
        };
    }
    let bare = |jid: UserJid| -> Result<String, String> {
        match jid.full() {
            None => Ok(jid.subject().to_owned()),
            Some(_) => Err(format!("{pattern:?}: give a bare JID, without a resource")),
        }
    };
    if pattern.contains('@') {
        return UserJid::parse(pattern)
            .map_err(|e| format!("{pattern:?}: {e}"))
            .and_then(bare);
    }
    // A domain: what a JID on it would have as its domain.
    UserJid::parse(&format!("x@{pattern}"))
        .map_err(|_| format!("{pattern:?} is neither a bare JID, a domain nor group:NAME"))
        .and_then(bare)
        .map(|subject| subject.trim_start_matches("x@").to_owned())
}

/// A group member as stored: the bare JID in the subject's form.
pub fn normalize_member(member: &str) -> Result<String, String> {
    match UserJid::parse(member) {
        Ok(jid) if jid.full().is_none() => Ok(jid.subject().to_owned()),
        Ok(_) => Err(format!("{member:?}: give a bare JID, without a resource")),
        Err(e) => Err(format!("{member:?}: {e}")),
    }
}

/// Whether `subject` (a normalized bare JID) may log in to `client`.
pub async fn may_log_in(
    store: &Store,
    client: &Client,
    subject: &str,
) -> Result<bool, sqlx::Error> {
    let allow = &client.settings.allow;
    if allow.is_empty() {
        return Ok(true);
    }
    let domain = subject.rsplit_once('@').map(|(_, d)| d).unwrap_or(subject);
    if allow.iter().any(|p| p == subject || p == domain) {
        return Ok(true);
    }
    let groups: Vec<&str> = allow
        .iter()
        .filter_map(|p| p.strip_prefix(GROUP_PREFIX))
        .collect();
    if groups.is_empty() {
        return Ok(false);
    }
    store.in_any_group(subject, &groups).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_normalized_or_refused() {
        for (given, normalized) in [
            ("Bob@Example.ORG", "bob@example.org"),
            ("example.org", "example.org"),
            ("Bücher.example", "xn--bcher-kva.example"),
            ("group:staff", "group:staff"),
            (" group:ops-2 ", "group:ops-2"),
        ] {
            assert_eq!(
                normalize_pattern(given).as_deref(),
                Ok(normalized),
                "{given}"
            );
        }
        for bad in [
            "bob@example.org/laptop",
            "group:",
            "group:Staff",
            "group:a b",
            "not a domain",
            "@example.org",
            "",
        ] {
            assert!(normalize_pattern(bad).is_err(), "{bad:?}");
        }
    }
}
