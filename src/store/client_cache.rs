//! Client rows kept in memory for the endpoints that look a client up on every request
//! (the token endpoint first), so that they need no store round trip for what rarely
//! changes.
//!
//! Every write to `clients`, from this process, the CLI or another instance, bumps the
//! `client_version` counter (a trigger, so no writer can forget it). The cache reads that
//! counter at most every [`CHECK_EVERY`] and forgets everything when it moved; a write
//! through this process's own [`Store`] forgets at once. So a change made elsewhere takes
//! effect here within [`CHECK_EVERY`] of the next lookup, and one made here immediately.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::clients::Client;
use super::Store;

/// How stale a client row may be when another process changed it.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);
/// Open registration lets strangers add clients: past this many, start afresh rather
/// than grow.
const MAX_CACHED: usize = 1024;

#[derive(Default)]
pub struct ClientCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// `client_version` as last read; none before the first read and after a local write.
    version: Option<i64>,
    checked_at: Option<Instant>,
    /// Moves whenever the rows are forgotten, so that a row read before that is not kept.
    generation: u64,
    /// Only clients that exist: unknown ids are anyone's to invent.
    clients: HashMap<String, Client>,
}

impl Inner {
    fn forget(&mut self) {
        self.clients.clear();
        self.generation += 1;
    }
}

impl ClientCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A cache only: whatever a panic left in it is still rows read from the database.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// After a write to `clients` through this process.
    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.version = None;
        inner.forget();
    }
}

impl Store {
    /// [`Self::client`], from memory when no process changed any client since it was read.
    pub async fn cached_client(&self, client_id: &str) -> Result<Option<Client>, sqlx::Error> {
        let due = {
            let mut inner = self.client_cache.lock();
            let due = inner.version.is_none()
                || inner
                    .checked_at
                    .is_none_or(|at| at.elapsed() >= CHECK_EVERY);
            if due {
                // One request checks; the others meanwhile use what is cached.
                inner.checked_at = Some(Instant::now());
            }
            due
        };
        if due {
            let version: i64 = sqlx::query_scalar("SELECT n FROM client_version WHERE id = 1")
                .fetch_one(self.pool())
                .await?;
            let mut inner = self.client_cache.lock();
            if inner.version != Some(version) {
                inner.forget();
                inner.version = Some(version);
            }
        }
        let generation = {
            let inner = self.client_cache.lock();
            if let Some(client) = inner.clients.get(client_id) {
                return Ok(Some(client.clone()));
            }
            inner.generation
        };
        let client = self.client(client_id).await?;
        if let Some(client) = &client {
            let mut inner = self.client_cache.lock();
            // A row read before a change was noticed may be the old one.
            if inner.generation == generation {
                if inner.clients.len() >= MAX_CACHED {
                    inner.forget();
                }
                inner.clients.insert(client_id.to_owned(), client.clone());
            }
        }
        Ok(client)
    }
}
