//! What every request handler can reach.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderMap;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::oidc::metadata_document::{is_document_url, DocumentError, MetadataDocuments};
use crate::oidc::Oidc;
use crate::ratelimit::AuthFailures;
use crate::store::clients::Client;
use crate::store::Store;
use crate::xmpp::dispatch::Dispatcher;

/// Cloned for every request (axum gives each middleware and handler its own copy): one
/// reference count to bump, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Config,
    pub store: Store,
    /// Sends confirmation requests (directly, or through the cluster's leader).
    pub dispatcher: Dispatcher,
    pub oidc: Arc<Oidc>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub auth_failures: Mutex<AuthFailures>,
    pub health: crate::health::HealthProbe,
    pub new_flows: Mutex<crate::ratelimit::PerNetwork>,
    pub registrations: Mutex<crate::ratelimit::PerNetwork>,
    /// With open registration (and `registration.metadata_documents`): clients known by
    /// their metadata document.
    pub metadata_documents: Option<Arc<MetadataDocuments>>,
}

/// Why a client could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Its metadata document cannot be fetched or is refused.
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl AppState {
    /// A registered client, or the admin pages' built-in one. A client whose metadata
    /// document cannot be had counts as unknown here (the endpoints that first meet a
    /// client say why, with [`Self::lookup_client`]).
    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
        match self.lookup_client(client_id).await {
            Ok(client) => Ok(client),
            Err(LookupError::Document(e)) => {
                tracing::info!(error = %e, "a client's metadata document is refused");
                Ok(None)
            }
            Err(LookupError::Database(e)) => Err(e),
        }
    }

    /// [`Self::client`], saying why a metadata document is refused.
    pub async fn lookup_client(&self, client_id: &str) -> Result<Option<Client>, LookupError> {
        if client_id == crate::admin::ADMIN_CLIENT_ID {
            return Ok(crate::admin::admin_client(self));
        }
        self.registered_client(client_id).await
    }

    /// A client in the database (as of at most [`crate::store::client_cache::CHECK_EVERY`]
    /// ago when another process changed it) or, when they are accepted, one whose id is the
    /// URL of its metadata document (not the admin pages' own: it never calls the endpoints).
    pub async fn registered_client(&self, client_id: &str) -> Result<Option<Client>, LookupError> {
        match &self.metadata_documents {
            Some(documents) if is_document_url(client_id) => {
                Ok(Some(documents.client(client_id).await?))
            }
            _ => Ok(self.store.cached_client(client_id).await?),
        }
    }

    pub fn auth_failures(&self) -> MutexGuard<'_, AuthFailures> {
        // Counters only: a panic elsewhere cannot leave them inconsistent.
        self.auth_failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `ip` may start one more login flow (each is stored until it expires).
    pub fn admit_new_flow(&self, ip: IpAddr) -> bool {
        admit(&self.new_flows, ip)
    }

    /// Whether `ip` may register one more client.
    pub fn admit_registration(&self, ip: IpAddr) -> bool {
        admit(&self.registrations, ip)
    }

    /// Cookies get `Secure` whenever the issuer is https.
    pub fn secure_cookies(&self) -> bool {
        self.config.issuer.scheme() == "https"
    }

    /// The client's IP: the peer address, or behind a trusted proxy the last
    /// `X-Forwarded-For` entry (the one our proxy appended).
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        if self.config.trust_forwarded_for {
            if let Some(ip) = last_forwarded_for(headers) {
                return ip;
            }
        }
        peer.ip()
    }
}

fn admit(limiter: &Mutex<crate::ratelimit::PerNetwork>, ip: IpAddr) -> bool {
    // A counter only: a panic elsewhere cannot leave it inconsistent.
    limiter
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .admit(ip, std::time::Instant::now())
}

/// Only the last entry: earlier ones come from the client and may be forged.
fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_entry_our_proxy_appended() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_forwarded_for(&headers), None);
        headers.append("x-forwarded-for", "6.6.6.6, 192.0.2.7".parse().unwrap());
        assert_eq!(
            last_forwarded_for(&headers),
            Some("192.0.2.7".parse().unwrap())
        );
        headers.append("x-forwarded-for", "2001:db8::1".parse().unwrap());
        assert_eq!(
            last_forwarded_for(&headers),
            Some("2001:db8::1".parse().unwrap())
        );
        headers.append("x-forwarded-for", "6.6.6.6, garbage".parse().unwrap());
        assert_eq!(last_forwarded_for(&headers), None);
    }
}
