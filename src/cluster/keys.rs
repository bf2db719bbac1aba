//! Signing keys in PostgreSQL, shared by every instance.
//!
//! On the first start against an empty table the keys in `keys_dir` (created there if
//! absent) are imported, so a single PostgreSQL instance that already published keys keeps
//! them. `jidconnect keys rotate` adds rows and notifies; every instance reloads its ring,
//! and again every [`RELOAD_EVERY`] so that keys past their retention leave the JWKS.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::Postgres;

use crate::store::connections::Connections;
use sqlx::Row;
use tokio::sync::watch;

use super::{Cluster, KEYS_CHANNEL};
use crate::keys::{self, KeyRing, SigningAlg, StoredKey};
use crate::oidc::Oidc;
use crate::xmpp::component::stopped;

/// Serializes the first-start import and rotations across instances.
const KEYS_LOCK: i64 = 0x006a_6964_6b65_7973;
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// The shared keys; imports `dir`'s keys into an empty table first (refused when `dir` is
/// empty though tokens were issued: `keys_lost`).
pub async fn load_or_import(
    pool: &Connections<Postgres>,
    dir: &Path,
    now: i64,
    retention_secs: i64,
    keys_lost: bool,
) -> anyhow::Result<KeyRing> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEYS_LOCK)
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(&mut *tx)
        .await?;
    if count == 0 {
        if keys_lost {
            anyhow::bail!(crate::startup::lost_keys_message(dir));
        }
        KeyRing::load_or_create(dir, now, retention_secs)?;
        let stored = keys::stored_keys_in(dir)?;
        for key in &stored {
            insert(&mut tx, key).await?;
        }
        tracing::info!(
            count = stored.len(),
            dir = %dir.display(),
            "signing keys imported into the database, shared by every instance from now on"
        );
    }
    tx.commit().await?;
    load(pool, now, retention_secs).await
}

pub async fn load(
    pool: &Connections<Postgres>,
    now: i64,
    retention_secs: i64,
) -> anyhow::Result<KeyRing> {
    let rows = sqlx::query("SELECT kid, alg, created_at, pem FROM signing_keys")
        .fetch_all(pool)
        .await
        .context("cannot read the signing keys from the database")?;
    let stored = rows
        .into_iter()
        .map(|row| {
            let kid: String = row.get("kid");
            let alg: String = row.get("alg");
            Ok(StoredKey {
                alg: SigningAlg::parse(&alg)
                    .with_context(|| format!("signing key {kid} has an unknown alg {alg:?}"))?,
                created: row.get("created_at"),
                pem: row.get("pem"),
                origin: format!("signing key {kid} in the database"),
                kid,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    KeyRing::from_stored(stored, now, retention_secs)
}

async fn insert(tx: &mut sqlx::PgConnection, key: &StoredKey) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, created_at, pem) VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING",
    )
    .bind(&key.kid)
    .bind(key.alg.as_str())
    .bind(key.created)
    .bind(&key.pem)
    .execute(tx)
    .await?;
    Ok(())
}

/// Adds a new key per algorithm and tells every running instance.
pub async fn rotate(
    pool: &Connections<Postgres>,
    now: i64,
) -> anyhow::Result<Vec<(SigningAlg, String)>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEYS_LOCK)
        .execute(&mut *tx)
        .await?;
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM signing_keys")
        .fetch_one(&mut *tx)
        .await?;
    // Keys order by creation second; never let a new key sort before an old one.
    let created = now.max(newest.unwrap_or(0) + 1);
    let mut added = Vec::new();
    for alg in SigningAlg::ALL {
        let (kid, pem) = keys::generate(alg)?;
        let key = StoredKey {
            kid: kid.clone(),
            alg,
            created,
            pem,
            origin: String::new(),
        };
        insert(&mut tx, &key).await?;
        added.push((alg, kid));
    }
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(KEYS_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(added)
}

/// Keeps this instance's ring equal to the table.
pub(super) async fn reload_on_change(
    cluster: Arc<Cluster>,
    oidc: Arc<Oidc>,
    retention_secs: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(RELOAD_EVERY);
    loop {
        tokio::select! {
            _ = cluster.keys_changed.notified() => {}
            _ = every.tick() => {}
            _ = stopped(&mut shutdown) => return,
        }
        oidc.reloaded(load(&cluster.pool, cluster.clock.now(), retention_secs).await);
    }
}
