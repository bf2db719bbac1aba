//! Claims about the person: the bare JID is everything we know, so every claim derives
//! from it, per scope and per client settings.

use serde_json::{Map, Value};

use crate::store::clients::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    IdToken,
    UserInfo,
}

impl Target {
    fn key(self) -> &'static str {
        match self {
            Target::IdToken => "id_token",
            Target::UserInfo => "userinfo",
        }
    }
}

/// The scope that discloses `claim` (OIDC Core §5.4).
fn scope_of(claim: &str) -> Option<&'static str> {
    match claim {
        "preferred_username" | "name" => Some("profile"),
        "email" | "email_verified" => Some("email"),
        "groups" => Some("groups"),
        _ => None,
    }
}

/// `scope` and the scopes of the claims that the `claims` parameter asks for and `client`
/// may get: what the person is asked to consent to.
pub fn with_claimed_scopes(scope: &str, client: &Client, claims_param: Option<&str>) -> String {
    let mut scopes: Vec<&str> = scope.split_whitespace().collect();
    let parsed = claims_param.and_then(|c| serde_json::from_str::<Value>(c).ok());
    for target in [Target::IdToken, Target::UserInfo] {
        let asked = parsed
            .as_ref()
            .and_then(|v| v.get(target.key())?.as_object().cloned())
            .unwrap_or_default();
        for claim in asked.keys() {
            if let Some(scope) = scope_of(claim).filter(|s| client.allows_scope(s)) {
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
        }
    }
    scopes.join(" ")
}

/// Whether the `claims` request parameter (OIDC Core §5.5) asks for `claim` in `target`.
fn requested(claims_param: Option<&str>, target: Target, claim: &str) -> bool {
    claims_param
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|v| v.get(target.key()).and_then(|t| t.get(claim)).map(|_| true))
        .unwrap_or(false)
}

/// Whether the claims for `scope` (or the `claims` parameter) may include the person's
/// groups: only then are they looked up.
pub fn discloses_groups(scope: &str, client: &Client, claims_param: Option<&str>) -> bool {
    scope.split_whitespace().any(|s| s == "groups")
        || (client.allows_scope("groups")
            && [Target::IdToken, Target::UserInfo]
                .into_iter()
                .any(|target| requested(claims_param, target, "groups")))
}

/// The person's claims for `scope` (space-separated), beyond the protocol ones. `groups`:
/// the names of the person's access groups, looked up when [`discloses_groups`].
pub fn user_claims(
    subject: &str,
    scope: &str,
    client: &Client,
    claims_param: Option<&str>,
    target: Target,
    groups: &[String],
) -> Map<String, Value> {
    let has_scope = |s: &str| scope.split_whitespace().any(|x| x == s);
    // Asked for by name, but only within what the client may get at all.
    let wants = |claim: &str| {
        requested(claims_param, target, claim)
            && scope_of(claim).is_some_and(|s| client.allows_scope(s))
    };
    let local_part = subject.split('@').next().unwrap_or(subject);
    let mut claims = Map::new();
    claims.insert("sub".into(), subject.into());
    // The JID is the subject itself: no extra disclosure.
    claims.insert("jid".into(), subject.into());
    if has_scope("profile") || wants("preferred_username") {
        claims.insert("preferred_username".into(), local_part.into());
    }
    if has_scope("profile") || wants("name") {
        claims.insert("name".into(), local_part.into());
    }
    // A JID is not a mailbox: only for clients that opted in, and never as verified.
    if client.settings.jid_as_email && (has_scope("email") || wants("email")) {
        claims.insert("email".into(), subject.into());
        claims.insert("email_verified".into(), false.into());
    }
    if has_scope("groups") || wants("groups") {
        claims.insert("groups".into(), groups.into());
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::clients::ClientSettings;

    fn client(jid_as_email: bool) -> Client {
        let mut settings = ClientSettings::new("x", vec!["https://x.example/".into()]);
        settings.jid_as_email = jid_as_email;
        Client::builtin("c1", settings)
    }

    #[test]
    fn claims_follow_scope_and_client_settings() {
        let c = user_claims(
            "alice@example.org",
            "openid",
            &client(true),
            None,
            Target::UserInfo,
            &[],
        );
        assert_eq!(c.len(), 2);
        let c = user_claims(
            "alice@example.org",
            "openid profile email",
            &client(false),
            None,
            Target::UserInfo,
            &[],
        );
        assert_eq!(c["preferred_username"], "alice");
        assert_eq!(c["name"], "alice");
        assert!(
            !c.contains_key("email"),
            "no email unless the client opted in"
        );
        let c = user_claims(
            "alice@example.org",
            "openid email",
            &client(true),
            None,
            Target::IdToken,
            &[],
        );
        assert_eq!(c["email"], "alice@example.org");
        assert_eq!(c["email_verified"], false);
    }

    #[test]
    fn the_claims_parameter_stays_within_the_clients_scopes() {
        let mut settings = ClientSettings::new("x", vec!["https://x.example/".into()]);
        settings.allowed_scopes = vec!["openid".into()];
        settings.jid_as_email = true;
        let limited = Client::builtin("c2", settings);
        let param = r#"{"userinfo":{"email":null,"name":null,"preferred_username":null}}"#;
        let c = user_claims(
            "bob@x.org",
            "openid",
            &limited,
            Some(param),
            Target::UserInfo,
            &[],
        );
        assert_eq!(c.len(), 2, "sub and jid only: {c:?}");
        assert_eq!(
            with_claimed_scopes("openid", &limited, Some(param)),
            "openid"
        );
        assert_eq!(
            with_claimed_scopes("openid", &client(true), Some(param)),
            "openid email profile"
        );
    }

    #[test]
    fn the_claims_parameter_adds_claims_per_target() {
        let param = r#"{"userinfo":{"name":{"essential":true}}}"#;
        let c = user_claims(
            "bob@x.org",
            "openid",
            &client(false),
            Some(param),
            Target::UserInfo,
            &[],
        );
        assert_eq!(c["name"], "bob");
        let c = user_claims(
            "bob@x.org",
            "openid",
            &client(false),
            Some(param),
            Target::IdToken,
            &[],
        );
        assert!(!c.contains_key("name"));
    }
}
