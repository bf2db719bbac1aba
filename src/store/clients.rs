//! The client registry: relying parties allowed to ask for logins.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;
use url::Url;

use super::{unix_now, Store};
use crate::random;

const CLIENT_ID_LEN: usize = 22;
/// 43 alphanumeric characters ≈ 256 bits: high entropy, so a plain SHA-256 digest is a safe
/// way to store it and no slow password hash sits on the token path.
const CLIENT_SECRET_LEN: usize = 43;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub created_at: i64,
    #[serde(skip)]
    secret_hash: Option<String>,
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

pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
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

impl Client {
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

    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        let uris: String = row.try_get("redirect_uris")?;
        let secret_hash: Option<String> = row.try_get("secret_hash")?;
        Ok(Self {
            client_id: row.try_get("id")?,
            name: row.try_get("name")?,
            public: secret_hash.is_none(),
            redirect_uris: serde_json::from_str(&uris)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            created_at: row.try_get("created_at")?,
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
    pub async fn add_client(&self, new: NewClient) -> Result<NewCredentials, ClientError> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ClientError::Invalid(
                "the name must have 1 to 200 characters".into(),
            ));
        }
        if new.redirect_uris.is_empty() {
            return Err(ClientError::Invalid(
                "give at least one --redirect-uri".into(),
            ));
        }
        for uri in &new.redirect_uris {
            validate_redirect_uri(uri)?;
        }
        let client_id = random::token(CLIENT_ID_LEN);
        let client_secret = (!new.public).then(|| random::token(CLIENT_SECRET_LEN));
        sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, redirect_uris, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client_id)
        .bind(name)
        .bind(client_secret.as_deref().map(hash_secret))
        .bind(serde_json::to_string(&new.redirect_uris).expect("strings serialize"))
        .bind(unix_now())
        .execute(self.pool())
        .await?;
        Ok(NewCredentials {
            client_id,
            client_secret,
        })
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

    pub async fn remove_client(&self, client_id: &str) -> Result<(), ClientError> {
        let done = sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(client_id)
            .execute(self.pool())
            .await?;
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
        if client.public {
            return Err(ClientError::Public(client_id.to_owned()));
        }
        let secret = random::token(CLIENT_SECRET_LEN);
        sqlx::query("UPDATE clients SET secret_hash = $1 WHERE id = $2")
            .bind(hash_secret(&secret))
            .bind(client_id)
            .execute(self.pool())
            .await?;
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
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::connect(&url).await.unwrap();
        let creds = store
            .add_client(NewClient {
                name: "Wiki".into(),
                redirect_uris: vec!["https://wiki.example/cb".into()],
                public: false,
            })
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

        store.remove_client(&creds.client_id).await.unwrap();
        assert!(store.client(&creds.client_id).await.unwrap().is_none());
        assert!(matches!(
            store.remove_client(&creds.client_id).await,
            Err(ClientError::NotFound(_))
        ));
    }
}
