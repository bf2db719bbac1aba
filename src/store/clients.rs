//! The client registry: relying parties allowed to ask for logins.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;
use url::Url;

use super::Store;
use crate::keys::SigningAlg;
use crate::random;

const CLIENT_ID_LEN: usize = 22;
/// 43 alphanumeric characters ≈ 256 bits: high entropy, so a plain SHA-256 digest is a safe
/// way to store it and no slow password hash sits on the token path.
const CLIENT_SECRET_LEN: usize = 43;

/// RFC 8628's grant type, as clients send it to the token endpoint.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Grant types a client may be allowed.
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", DEVICE_CODE_GRANT];
/// What a client may use unless told otherwise: the device grant is opt-in.
pub fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}

/// Operators may write `device_code` for RFC 8628's URN.
pub fn expand_grant_type(name: &str) -> &str {
    match name {
        "device_code" => DEVICE_CODE_GRANT,
        other => other,
    }
}

/// Scopes a client can be limited to; others in a request are ignored.
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access", "groups"];

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    #[serde(flatten)]
    pub settings: ClientSettings,
    pub created_at: i64,
    /// Registered by the site itself (RFC 7591) or known by its metadata document, not by
    /// an operator: nobody vouched for it.
    pub self_registered: bool,
    #[serde(skip)]
    secret_hash: Option<String>,
}

/// What an operator decides about a client.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientSettings {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// No secret; PKCE required.
    pub public: bool,
    /// No consent page.
    pub trusted: bool,
    /// The JID as `email` (with `email_verified: false`) for RPs that insist on an email.
    pub jid_as_email: bool,
    /// Empty: every supported scope.
    pub allowed_scopes: Vec<String>,
    /// Refresh tokens even without `offline_access`.
    pub always_refresh: bool,
    pub id_token_alg: SigningAlg,
    /// Who may log in (`crate::access`): bare JIDs, domains, `group:NAME`; empty: anyone.
    pub allow: Vec<String>,
    /// The grants it may use at the token endpoint (of [`GRANT_TYPES`]).
    pub grant_types: Vec<String>,
    /// The language of the compat `/auth` API's requests when a call names none (a
    /// shipped language's tag); none: English.
    pub language: Option<String>,
}

impl ClientSettings {
    pub fn new(name: impl Into<String>, redirect_uris: Vec<String>) -> Self {
        Self {
            name: name.into(),
            redirect_uris,
            post_logout_redirect_uris: vec![],
            public: false,
            trusted: false,
            jid_as_email: false,
            allowed_scopes: vec![],
            allow: vec![],
            always_refresh: false,
            id_token_alg: SigningAlg::RS256,
            grant_types: default_grant_types(),
            language: None,
        }
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// The grant types as operators write them (`device_code` for the URN).
    pub fn grant_types_short(&self) -> Vec<&str> {
        self.grant_types
            .iter()
            .map(|g| {
                if g == DEVICE_CODE_GRANT {
                    "device_code"
                } else {
                    g
                }
            })
            .collect()
    }

    fn validate(&self) -> Result<(), ClientError> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ClientError::Invalid(
                "the name must have 1 to 200 characters".into(),
            ));
        }
        if let Some(bad) = self
            .grant_types
            .iter()
            .find(|g| !GRANT_TYPES.contains(&g.as_str()))
        {
            return Err(ClientError::Invalid(format!(
                "unknown grant type {bad:?}; supported: authorization_code, refresh_token, \
                 device_code ({DEVICE_CODE_GRANT})"
            )));
        }
        if let Some(language) = &self.language {
            if crate::i18n::Lang::parse(language).is_none_or(|lang| lang.tag() != language) {
                let shipped: Vec<&str> = crate::i18n::Lang::shipped().map(|l| l.tag()).collect();
                return Err(ClientError::Invalid(format!(
                    "unknown language {language:?}; shipped: {}",
                    shipped.join(", ")
                )));
            }
        }
        if self.grant_types.is_empty() {
            return Err(ClientError::Invalid(
                "give at least one --grant-type".into(),
            ));
        }
        // A device-only client (a TV, a command-line tool) is never redirected to.
        if self.redirect_uris.is_empty() && self.allows_grant("authorization_code") {
            return Err(ClientError::Invalid(
                "give at least one --redirect-uri (or only --grant-type device_code)".into(),
            ));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            validate_redirect_uri(uri)?;
        }
        if let Some(bad) = self
            .allowed_scopes
            .iter()
            .find(|s| !SUPPORTED_SCOPES.contains(&s.as_str()))
        {
            return Err(ClientError::Invalid(format!(
                "unknown scope {bad:?}; supported: {}",
                SUPPORTED_SCOPES.join(" ")
            )));
        }
        for pattern in &self.allow {
            match crate::access::normalize_pattern(pattern) {
                Ok(normalized) if normalized == *pattern => {}
                Ok(normalized) => {
                    return Err(ClientError::Invalid(format!(
                        "allow pattern {pattern:?} is not normalized (it reads {normalized:?})"
                    )))
                }
                Err(why) => return Err(ClientError::Invalid(format!("allow {why}"))),
            }
        }
        Ok(())
    }
}

/// A secret as shown once to the operator. Not `Debug`, so it cannot reach a log by accident.
#[derive(Serialize)]
pub struct NewCredentials {
    pub client_id: String,
    pub client_secret: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no client with id {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("client {0} is public: it has no secret to rotate")]
    Public(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Checks a redirect URI as RFC 9700 §2.1 and §4.1 want it: absolute, no fragment, https
/// (or http on loopback, or a private-use scheme for native apps).
pub fn validate_redirect_uri(uri: &str) -> Result<(), ClientError> {
    let invalid = |why: &str| Err(ClientError::Invalid(format!("redirect URI {uri:?} {why}")));
    let Ok(url) = Url::parse(uri) else {
        return invalid("is not an absolute URL");
    };
    if url.fragment().is_some() {
        return invalid("must not have a fragment (RFC 6749 §3.1.2)");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => invalid("must use https (http is allowed only for localhost)"),
        },
        scheme if scheme.contains('.') => Ok(()),
        _ => invalid("must use https, http on localhost, or a reverse-domain app scheme"),
    }
}

impl ClientSettings {
    /// What is allowed but unwise in these settings, for the operator.
    pub fn warnings(&self) -> Vec<String> {
        self.redirect_uris
            .iter()
            .filter(|uri| {
                Url::parse(uri).is_ok_and(|u| {
                    u.scheme() == "http" && u.host() == Some(url::Host::Domain("localhost"))
                })
            })
            .map(|uri| {
                format!(
                    "redirect URI {uri} uses localhost: prefer http://127.0.0.1 or http://[::1] \
                     (RFC 8252 §8.3). A name may resolve elsewhere, and only IP literals match \
                     any port"
                )
            })
            .collect()
    }
}

/// RFC 8252 §7.3: a native app listens on a loopback port it picks at run time, so for an
/// `http` redirect URI on a loopback IP literal any port matches; everything else must be
/// exactly the same (RFC 9700 §2.1).
fn loopback_match(registered: &str, asked: &str) -> bool {
    let (Ok(registered), Ok(mut asked)) = (Url::parse(registered), Url::parse(asked)) else {
        return false;
    };
    if registered.scheme() != "http" || !is_loopback_ip_literal(&registered) {
        return false;
    }
    asked.set_port(registered.port()).is_ok() && asked == registered
}

/// A host that is a loopback IP literal (`127.0.0.1`, `[::1]`): unlike `localhost`, it
/// cannot resolve elsewhere (RFC 8252 §8.3).
pub fn is_loopback_ip_literal(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// The web origin (RFC 6454) of a redirect URI, as a browser sends it in `Origin`
/// (`https://app.example`, default port left out); none for an app's own scheme.
pub fn web_origin(uri: &str) -> Option<String> {
    let origin = Url::parse(uri).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

impl Client {
    /// Whether `origin` is the web origin of one of the client's redirect URIs: a browser
    /// app served from there may call the token, userinfo and revocation endpoints (CORS).
    pub fn has_web_origin(&self, origin: &str) -> bool {
        self.settings
            .redirect_uris
            .iter()
            .any(|uri| web_origin(uri).as_deref() == Some(origin))
    }

    /// Whether `uri` is one of the client's redirect URIs: the same string, or a loopback
    /// IP-literal one with another port.
    pub fn accepts_redirect_uri(&self, uri: &str) -> bool {
        self.settings
            .redirect_uris
            .iter()
            .any(|registered| registered == uri || loopback_match(registered, uri))
    }

    /// Constant-time check of a presented secret. Public clients have none to check.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_hash {
            Some(hash) => hash
                .as_bytes()
                .ct_eq(hash_secret(presented).as_bytes())
                .into(),
            None => false,
        }
    }

    /// A client that is not in the database (the admin pages' own, and unit tests).
    pub fn builtin(client_id: &str, settings: ClientSettings) -> Self {
        Self {
            client_id: client_id.to_owned(),
            settings,
            created_at: 0,
            self_registered: false,
            secret_hash: None,
        }
    }

    /// A client known by its Client ID Metadata Document, whose URL is its id.
    pub fn from_metadata_document(client_id: &str, settings: ClientSettings) -> Self {
        Self {
            self_registered: true,
            ..Self::builtin(client_id, settings)
        }
    }

    /// Whether `scope` may be granted to this client.
    pub fn allows_scope(&self, scope: &str) -> bool {
        SUPPORTED_SCOPES.contains(&scope)
            && (self.settings.allowed_scopes.is_empty()
                || scope == "openid"
                || self.settings.allowed_scopes.iter().any(|s| s == scope))
    }

    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        let json_list = |column: &str| -> Result<Vec<String>, sqlx::Error> {
            let text: String = row.try_get(column)?;
            serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        };
        let flag =
            |column: &str| -> Result<bool, sqlx::Error> { Ok(row.try_get::<i64, _>(column)? != 0) };
        let secret_hash: Option<String> = row.try_get("secret_hash")?;
        let scopes: String = row.try_get("allowed_scopes")?;
        let alg: String = row.try_get("id_token_alg")?;
        let grant_types: String = row.try_get("grant_types")?;
        Ok(Self {
            client_id: row.try_get("id")?,
            settings: ClientSettings {
                name: row.try_get("name")?,
                redirect_uris: json_list("redirect_uris")?,
                post_logout_redirect_uris: json_list("post_logout_redirect_uris")?,
                public: secret_hash.is_none(),
                trusted: flag("trusted")?,
                jid_as_email: flag("jid_as_email")?,
                allowed_scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                always_refresh: flag("always_refresh")?,
                id_token_alg: SigningAlg::parse(&alg).unwrap_or(SigningAlg::RS256),
                allow: json_list("allow")?,
                grant_types: grant_types.split_whitespace().map(str::to_owned).collect(),
                language: row.try_get("language")?,
            },
            created_at: row.try_get("created_at")?,
            self_registered: flag("self_registered")?,
            secret_hash,
        })
    }
}

/// Compares a secret against a fixed digest, so that an unknown client id takes as long
/// to refuse as a wrong secret.
pub fn burn_secret_check(presented: &str) {
    let dummy = [0u8; 64];
    let _ = dummy.ct_eq(hash_secret(presented).as_bytes());
}

impl Store {
    pub async fn add_client(
        &self,
        settings: ClientSettings,
        now: i64,
    ) -> Result<NewCredentials, ClientError> {
        settings.validate()?;
        let client_id = random::token(CLIENT_ID_LEN);
        let client_secret = (!settings.public).then(|| random::token(CLIENT_SECRET_LEN));
        sqlx::query("INSERT INTO clients (id, name, secret_hash, redirect_uris, created_at) VALUES ($1, '', NULL, '[]', $2)")
            .bind(&client_id)
            .bind(now)
            .execute(self.durable_pool())
            .await?;
        self.write_settings(
            &client_id,
            &settings,
            client_secret.as_deref().map(hash_secret),
        )
        .await?;
        self.client_cache.forget();
        Ok(NewCredentials {
            client_id,
            client_secret,
        })
    }

    /// Replaces a client's settings. Turning a public client confidential creates a secret
    /// (returned); the reverse drops it.
    pub async fn update_client(
        &self,
        client_id: &str,
        settings: ClientSettings,
    ) -> Result<Option<NewCredentials>, ClientError> {
        settings.validate()?;
        let current = self
            .client(client_id)
            .await?
            .ok_or_else(|| ClientError::NotFound(client_id.to_owned()))?;
        let (secret_hash, new_secret) = match (current.settings.public, settings.public) {
            (true, false) => {
                let secret = random::token(CLIENT_SECRET_LEN);
                (Some(hash_secret(&secret)), Some(secret))
            }
            (_, true) => (None, None),
            (false, false) => (current.secret_hash.clone(), None),
        };
        self.write_settings(client_id, &settings, secret_hash)
            .await?;
        self.client_cache.forget();
        Ok(new_secret.map(|secret| NewCredentials {
            client_id: client_id.to_owned(),
            client_secret: Some(secret),
        }))
    }

    async fn write_settings(
        &self,
        client_id: &str,
        settings: &ClientSettings,
        secret_hash: Option<String>,
    ) -> Result<(), sqlx::Error> {
        let json = |list: &Vec<String>| serde_json::to_string(list).expect("strings serialize");
        sqlx::query(
            "UPDATE clients SET name = $1, secret_hash = $2, redirect_uris = $3, \
             post_logout_redirect_uris = $4, trusted = $5, jid_as_email = $6, \
             allowed_scopes = $7, always_refresh = $8, id_token_alg = $9, allow = $10, grant_types = $11, \
             language = $12 WHERE id = $13",
        )
        .bind(settings.name.trim())
        .bind(secret_hash)
        .bind(json(&settings.redirect_uris))
        .bind(json(&settings.post_logout_redirect_uris))
        .bind(i64::from(settings.trusted))
        .bind(i64::from(settings.jid_as_email))
        .bind(settings.allowed_scopes.join(" "))
        .bind(i64::from(settings.always_refresh))
        .bind(settings.id_token_alg.as_str())
        .bind(json(&settings.allow))
        .bind(settings.grant_types.join(" "))
        .bind(&settings.language)
        .bind(client_id)
        .execute(self.durable_pool())
        .await?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM clients WHERE id = $1")
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Client::from_row).transpose()
    }

    pub async fn clients(&self) -> Result<Vec<Client>, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM clients ORDER BY created_at, id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(Client::from_row).collect()
    }

    /// Whether `origin` is the web origin of some client's redirect URIs. Reads every
    /// client's redirect URIs: fine for an operator's few clients; with open registration
    /// (rate-limited per network) an index of origins would be the next step.
    pub async fn is_client_origin(&self, origin: &str) -> Result<bool, sqlx::Error> {
        let rows = sqlx::query("SELECT redirect_uris FROM clients")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().any(|row| {
            row.try_get::<String, _>("redirect_uris")
                .ok()
                .and_then(|json| serde_json::from_str::<Vec<String>>(&json).ok())
                .is_some_and(|uris| {
                    uris.iter()
                        .any(|uri| web_origin(uri).as_deref() == Some(origin))
                })
        }))
    }

    /// Registers a client that a site asked for itself (RFC 7591): like [`Self::add_client`],
    /// marked as self-registered, with the digest of its registration access token and the
    /// metadata it gave (for RFC 7592 reads).
    pub async fn register_client(
        &self,
        settings: ClientSettings,
        registration_token: &str,
        metadata: &serde_json::Value,
        now: i64,
    ) -> Result<NewCredentials, ClientError> {
        let creds = self.add_client(settings, now).await?;
        sqlx::query(
            "UPDATE clients SET self_registered = 1, registration_token_hash = $1, \
             registration_metadata = $2 WHERE id = $3",
        )
        .bind(hash_secret(registration_token))
        .bind(metadata.to_string())
        .bind(&creds.client_id)
        .execute(self.pool())
        .await?;
        self.client_cache.forget();
        Ok(creds)
    }

    /// A self-registered client and the metadata it registered, if `registration_token` is
    /// its registration access token (compared in constant time).
    pub async fn registered_client(
        &self,
        client_id: &str,
        registration_token: &str,
    ) -> Result<Option<(Client, serde_json::Value)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT * FROM clients WHERE id = $1 AND self_registered = 1 \
             AND registration_token_hash IS NOT NULL",
        )
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            burn_secret_check(registration_token);
            return Ok(None);
        };
        let stored: String = row.try_get("registration_token_hash")?;
        if !bool::from(
            stored
                .as_bytes()
                .ct_eq(hash_secret(registration_token).as_bytes()),
        ) {
            return Ok(None);
        }
        let metadata: Option<String> = row.try_get("registration_metadata")?;
        let metadata = metadata
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or_default();
        Ok(Some((Client::from_row(&row)?, metadata)))
    }

    pub async fn remove_client(&self, client_id: &str) -> Result<(), ClientError> {
        let done = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(client_id)
            .execute(self.durable_pool())
            .await?;
        self.client_cache.forget();
        if done.rows_affected() == 0 {
            return Err(ClientError::NotFound(client_id.to_owned()));
        }
        Ok(())
    }

    /// Replaces a confidential client's secret; the old one stops working at once.
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
    ) -> Result<NewCredentials, ClientError> {
        let client = self
            .client(client_id)
            .await?
            .ok_or_else(|| ClientError::NotFound(client_id.to_owned()))?;
        if client.settings.public {
            return Err(ClientError::Public(client_id.to_owned()));
        }
        let secret = random::token(CLIENT_SECRET_LEN);
        sqlx::query("UPDATE clients SET secret_hash = $1 WHERE id = $2")
            .bind(hash_secret(&secret))
            .bind(client_id)
            .execute(self.durable_pool())
            .await?;
        self.client_cache.forget();
        Ok(NewCredentials {
            client_id: client_id.to_owned(),
            client_secret: Some(secret),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_rejects_unknown_scopes() {
        let mut settings = ClientSettings::new("X", vec!["https://x.example/".into()]);
        settings.allowed_scopes = vec!["admin".into()];
        assert!(matches!(settings.validate(), Err(ClientError::Invalid(_))));
    }

    #[test]
    fn loopback_redirect_uris_match_any_port() {
        let client = Client::builtin(
            "c",
            ClientSettings::new(
                "App",
                vec![
                    "http://127.0.0.1/cb".into(),
                    "http://[::1]:8000/cb?x=1".into(),
                    "http://localhost/cb".into(),
                    "https://app.example/cb".into(),
                ],
            ),
        );
        for ok in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53124/cb",
            "http://[::1]/cb?x=1",
            "http://[::1]:49152/cb?x=1",
            "https://app.example/cb",
            "http://localhost/cb",
        ] {
            assert!(client.accepts_redirect_uri(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:53124/other",
            "http://127.0.0.2:53124/cb",
            "http://[::1]:49152/cb",
            "http://localhost:8080/cb",
            "https://app.example:8443/cb",
            "https://127.0.0.1:53124/cb",
        ] {
            assert!(!client.accepts_redirect_uri(bad), "{bad}");
        }
        let warnings = client.settings.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("RFC 8252"));
    }

    #[test]
    fn web_origins_are_as_browsers_send_them() {
        for (uri, origin) in [
            ("https://app.example/cb?x=1", Some("https://app.example")),
            ("https://App.Example:443/cb", Some("https://app.example")),
            (
                "https://app.example:8443/cb",
                Some("https://app.example:8443"),
            ),
            ("http://127.0.0.1:9000/cb", Some("http://127.0.0.1:9000")),
            ("http://[::1]/cb", Some("http://[::1]")),
            ("org.example.app:/cb", None),
        ] {
            assert_eq!(web_origin(uri).as_deref(), origin, "{uri}");
        }
        let client = Client::builtin(
            "c",
            ClientSettings::new("App", vec!["org.example.app:/cb".into()]),
        );
        assert!(
            !client.has_web_origin("null"),
            "an opaque origin is nobody's"
        );
    }

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:9000/cb",
            "http://localhost/cb",
            "http://[::1]/cb",
            "org.example.app:/cb",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/cb",
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "ftp://x/",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn clients_round_trip_and_secrets_are_hashed() {
        let (_dir, store) = crate::store::tests::sqlite_store().await;
        let creds = store
            .add_client(
                ClientSettings::new("Wiki", vec!["https://wiki.example/cb".into()]),
                1,
            )
            .await
            .unwrap();
        let secret = creds.client_secret.unwrap();
        let client = store.client(&creds.client_id).await.unwrap().unwrap();
        assert!(client.secret_matches(&secret));
        assert!(!client.secret_matches("wrong"));
        assert_ne!(client.secret_hash.as_deref(), Some(secret.as_str()));

        let rotated = store.rotate_client_secret(&creds.client_id).await.unwrap();
        let client = store.client(&creds.client_id).await.unwrap().unwrap();
        assert!(!client.secret_matches(&secret));
        assert!(client.secret_matches(rotated.client_secret.as_deref().unwrap()));

        let mut settings = client.settings.clone();
        settings.public = true;
        settings.trusted = true;
        settings.allowed_scopes = vec!["profile".into()];
        assert!(store
            .update_client(&creds.client_id, settings.clone())
            .await
            .unwrap()
            .is_none());
        let client = store.client(&creds.client_id).await.unwrap().unwrap();
        assert_eq!(client.settings, settings);
        assert!(!client.secret_matches(rotated.client_secret.as_deref().unwrap()));
        assert!(client.allows_scope("openid") && client.allows_scope("profile"));
        assert!(!client.allows_scope("email") && !client.allows_scope("groups"));
        settings.public = false;
        let fresh = store
            .update_client(&creds.client_id, settings)
            .await
            .unwrap()
            .unwrap();
        let client = store.client(&creds.client_id).await.unwrap().unwrap();
        assert!(client.secret_matches(fresh.client_secret.as_deref().unwrap()));
        settings_rejects_unknown_scopes();
        assert!(store
            .is_client_origin("https://wiki.example")
            .await
            .unwrap());
        assert!(!store
            .is_client_origin("https://wiki.example:8443")
            .await
            .unwrap());

        store.remove_client(&creds.client_id).await.unwrap();
        assert!(store.client(&creds.client_id).await.unwrap().is_none());
        assert!(matches!(
            store.remove_client(&creds.client_id).await,
            Err(ClientError::NotFound(_))
        ));
    }
}
