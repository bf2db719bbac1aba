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

/// Whether the `claims` request parameter (OIDC Core §5.5) asks for `claim` in `target`.
fn requested(claims_param: Option<&str>, target: Target, claim: &str) -> bool {
    claims_param
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|v| v.get(target.key()).and_then(|t| t.get(claim)).map(|_| true))
        .unwrap_or(false)
}

/// The person's claims for `scope` (space-separated), beyond the protocol ones.
pub fn user_claims(
    subject: &str,
    scope: &str,
    client: &Client,
    claims_param: Option<&str>,
    target: Target,
) -> Map<String, Value> {
    let has_scope = |s: &str| scope.split_whitespace().any(|x| x == s);
    let wants = |claim: &str| requested(claims_param, target, claim);
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
        );
        assert_eq!(c.len(), 2);
        let c = user_claims(
            "alice@example.org",
            "openid profile email",
            &client(false),
            None,
            Target::UserInfo,
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
        );
        assert_eq!(c["email"], "alice@example.org");
        assert_eq!(c["email_verified"], false);
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
        );
        assert_eq!(c["name"], "bob");
        let c = user_claims(
            "bob@x.org",
            "openid",
            &client(false),
            Some(param),
            Target::IdToken,
        );
        assert!(!c.contains_key("name"));
    }
}
