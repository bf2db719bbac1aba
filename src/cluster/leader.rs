//! Leadership: one instance holds the XMPP component and sends every instance's requests.
//!
//! Leadership is `pg_try_advisory_lock` on a connection of its own: PostgreSQL releases it
//! when that connection ends, so a killed leader is replaced within [`ACQUIRE_EVERY`] plus
//! the component's connect time. A leader that loses its connection stops leading at once.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, PgConnection, Row};
use tokio::sync::watch;

use url::Url;

use super::handoff::RequestFields;
use super::{parse_ip, Cluster, HEARTBEAT_EVERY, INSTANCE_CHANNEL_SQL};
use crate::config::{Limits, XmppConfig};
use crate::xmpp::address::UserJid;
use crate::xmpp::component::{self, stopped};
use crate::xmpp::confirm::{Confirmer, Outbox, PastRequest, RequestError, Status};
use crate::xmpp::limits::Requester;

/// The advisory lock's key: "jidconn" in ASCII.
const LOCK_KEY: i64 = 0x006a_6964_636f_6e6e;
/// Every instance holds this one shared on the connection it hears notifications on
/// (see [`super::join`]), so that the leader counts the instances that would hear what it
/// announces (and PostgreSQL drops one with its connection): "jidmemb". Both 32-bit halves
/// below 2^31, as `pg_locks` shows them (`classid`, `objid`).
pub(super) const MEMBER_KEY: i64 = 0x006a_6964_6d65_6d62;
const ACQUIRE_EVERY: Duration = Duration::from_secs(1);
/// How often the leader looks for queued requests when no notification came.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How often the leader compares its link state with its last heartbeat.
const LINK_CHECK_EVERY: Duration = Duration::from_millis(100);
/// A lock connection that does not answer this fast is treated as lost.
const LOCK_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows taken per transaction.
const TAKE_BATCH: i64 = 256;
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often the leader looks for login notices when no notification came.
const NOTICES_EVERY: Duration = Duration::from_secs(30);

/// Bids for leadership until shutdown; while leading, runs the component.
pub(super) async fn run(
    cluster: Arc<Cluster>,
    xmpp: XmppConfig,
    limits: Limits,
    confirmer: Confirmer,
    mut outbox: Outbox,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let Some(mut lock) = acquire(&cluster, &mut shutdown).await else {
            return;
        };
        let since = cluster.clock.now();
        cluster.set_leading(true);
        tracing::info!(instance = %cluster.instance, "leading the cluster: this instance holds the XMPP component");
        if let Err(e) = take_over(&cluster, &confirmer, &limits, since).await {
            tracing::warn!(error = %e, "taking over the pending requests failed");
        }
        let (end_term, term) = watch::channel(false);
        let component = tokio::spawn(component::run(
            xmpp.clone(),
            confirmer.clone(),
            outbox,
            term,
        ));
        let stopping = lead(
            &cluster,
            &confirmer,
            &mut lock,
            since,
            history_secs(&limits),
            &mut shutdown,
        )
        .await;
        cluster.stop_taking_handoffs();
        let _ = end_term.send(true);
        outbox = match component.await {
            Ok(outbox) => outbox,
            Err(e) => {
                tracing::error!(error = %e, "the XMPP component task failed");
                return;
            }
        };
        cluster.set_leading(false);
        if stopping {
            step_down(&cluster, lock).await;
            return;
        }
        tracing::warn!(
            "lost the cluster leadership (database connection lost); XMPP component disconnected"
        );
    }
}

/// How many instances hold [`MEMBER_KEY`], and whether the backend `listener` is among
/// them; also tells whether `conn` still answers.
async fn count_members(
    conn: &mut PgConnection,
    listener: Option<i32>,
) -> Result<(i64, bool), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), coalesce(bool_or(pid = $3), false) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
    )
    .bind(MEMBER_KEY >> 32)
    .bind(MEMBER_KEY & 0xffff_ffff)
    .bind(listener)
    .fetch_one(conn)
    .await
}

/// Waits for the lock; `None` on shutdown.
async fn acquire(cluster: &Cluster, shutdown: &mut watch::Receiver<bool>) -> Option<PgConnection> {
    loop {
        let attempt = async {
            let mut conn = PgConnection::connect(&cluster.database_url).await?;
            loop {
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .fetch_one(&mut conn)
                    .await?;
                if got {
                    return Ok::<_, sqlx::Error>(conn);
                }
                tokio::time::sleep(ACQUIRE_EVERY).await;
            }
        };
        let result = tokio::select! {
            result = attempt => result,
            _ = stopped(shutdown) => return None,
        };
        match result {
            Ok(conn) => return Some(conn),
            Err(e) => {
                tracing::debug!(error = %e, "cannot bid for the cluster leadership; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(ACQUIRE_EVERY) => {}
                    _ = stopped(shutdown) => return None,
                }
            }
        }
    }
}

/// Serves as the leader until shutdown (true) or until the lock's connection fails (false).
async fn lead(
    cluster: &Arc<Cluster>,
    confirmer: &Confirmer,
    lock: &mut PgConnection,
    since: i64,
    history_secs: i64,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    let mut link_check = tokio::time::interval(LINK_CHECK_EVERY);
    let mut notices = tokio::time::interval(NOTICES_EVERY);
    let mut announced_connected = None;
    loop {
        tokio::select! {
            _ = cluster.queued.notified() => take_queued(cluster, confirmer).await,
            _ = sweep.tick() => take_queued(cluster, confirmer).await,
            _ = heartbeat.tick() => {
                if !count_instances(cluster, lock).await {
                    return false;
                }
                announced_connected = beat(cluster, confirmer, since).await;
            }
            _ = cluster.members_changed.notified() => {
                if !count_instances(cluster, lock).await {
                    return false;
                }
            }
            _ = link_check.tick() => {
                // Tell the other instances at once when the component connects or drops,
                // and send what queued up meanwhile.
                if announced_connected != Some(confirmer.is_connected()) {
                    announced_connected = beat(cluster, confirmer, since).await;
                    take_queued(cluster, confirmer).await;
                }
            }
            _ = purge.tick() => purge_decided(cluster, history_secs).await,
            // Notices announced while no leader listened (a lost NOTIFY) go out too.
            _ = notices.tick() => confirmer.notices_queued(),
            _ = stopped(shutdown) => return true,
        }
    }
}

/// Counts the instances on the lock's connection: false if it does not answer.
async fn count_instances(cluster: &Cluster, lock: &mut PgConnection) -> bool {
    let listener = cluster.listener_pid();
    match tokio::time::timeout(LOCK_CHECK_TIMEOUT, count_members(lock, listener)).await {
        Ok(Ok((members, with_self))) => {
            // Not if the listener changed meanwhile: the backend counted is gone.
            let with_self = with_self && cluster.listener_pid() == listener;
            cluster.set_instances(usize::try_from(members).unwrap_or_default(), with_self);
            true
        }
        _ => false,
    }
}

/// How far back the limits look: a new leader rebuilds them from this much history.
fn history_secs(limits: &Limits) -> i64 {
    3600.max(limits.deny_block_secs as i64)
}

/// Decided requests are kept a day (or the limits' history, if longer), then deleted.
async fn purge_decided(cluster: &Cluster, history_secs: i64) {
    let cutoff = cluster.clock.now() - history_secs.max(86_400);
    let purged = sqlx::query(
        "DELETE FROM confirmations WHERE created_at < $1 AND status NOT IN ('queued', 'sent')",
    )
    .bind(cutoff)
    .execute(&cluster.pool)
    .await;
    match purged {
        Ok(done) if done.rows_affected() > 0 => {
            tracing::info!(
                removed = done.rows_affected(),
                "old confirmation requests purged"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purging old confirmation requests failed"),
    }
}

/// Writes the heartbeat; returns the link state it announced (`None` if it failed).
async fn beat(cluster: &Cluster, confirmer: &Confirmer, since: i64) -> Option<bool> {
    let connected = confirmer.is_connected();
    // Where it takes hand-offs, with this term's key (none without a `cluster_url`).
    let key = cluster.handoff_key();
    let url = cluster.handoff_url.get().filter(|_| key.is_some());
    let written = sqlx::query(
        "INSERT INTO cluster_leader (id, instance, since, heartbeat_at, xmpp_connected, xmpp_error, \
         handoff_url, handoff_key, handoff_since) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $2) \
         ON CONFLICT (id) DO UPDATE SET instance = EXCLUDED.instance, since = EXCLUDED.since, \
         heartbeat_at = EXCLUDED.heartbeat_at, xmpp_connected = EXCLUDED.xmpp_connected, \
         xmpp_error = EXCLUDED.xmpp_error, handoff_url = EXCLUDED.handoff_url, \
         handoff_key = EXCLUDED.handoff_key, handoff_since = EXCLUDED.handoff_since",
    )
    .bind(&cluster.instance)
    .bind(since)
    .bind(cluster.clock.now())
    .bind(i64::from(connected))
    .bind(confirmer.last_error())
    .bind(url.map(Url::as_str))
    .bind(key.as_deref())
    .execute(&cluster.pool)
    .await;
    match written {
        Ok(_) => Some(connected),
        Err(e) => {
            tracing::warn!(error = %e, "cannot write the leader's heartbeat");
            None
        }
    }
}

/// Gives the lock back and clears the heartbeat, so that no one waits for a leader that
/// is gone; another instance takes over within [`ACQUIRE_EVERY`].
async fn step_down(cluster: &Cluster, mut lock: PgConnection) {
    let _ = sqlx::query("DELETE FROM cluster_leader WHERE id = 1 AND instance = $1")
        .bind(&cluster.instance)
        .execute(&cluster.pool)
        .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut lock)
        .await;
    let _ = lock.close().await;
}

/// A new leader starts with no request in flight: those the previous one sent cannot be
/// answered to us (their IQ ids and threads were in its memory), so they end now, clearly.
/// The limits are rebuilt from the recent requests, so that a failover resets no cooldown
/// and no "no".
async fn take_over(
    cluster: &Cluster,
    confirmer: &Confirmer,
    limits: &Limits,
    since: i64,
) -> Result<(), sqlx::Error> {
    let orphans = sqlx::query("SELECT id FROM confirmations WHERE status = 'sent'")
        .fetch_all(&cluster.pool)
        .await?;
    if !orphans.is_empty() {
        tracing::warn!(
            count = orphans.len(),
            "requests sent by the previous leader end as unreachable"
        );
    }
    for row in orphans {
        let id: String = row.get("id");
        cluster.decide(&id, Status::Unreachable).await?;
    }
    let window = history_secs(limits);
    let history = sqlx::query(
        "SELECT jid, ip, client_id, device, status, created_at, decided_at FROM confirmations \
         WHERE created_at > $1 AND sent_by IS NOT NULL",
    )
    .bind(since - window)
    .fetch_all(&cluster.pool)
    .await?;
    let past = history.into_iter().filter_map(|row| {
        let jid = UserJid::parse(row.get("jid")).ok()?;
        let status: String = row.get("status");
        let created_at: i64 = row.get("created_at");
        let decided_at: Option<i64> = row.get("decided_at");
        Some(PastRequest {
            jid,
            requester: requester_of(&row),
            age: secs(since - created_at),
            denied_age: (status == "denied")
                .then(|| secs(since - decided_at.unwrap_or(created_at))),
        })
    });
    confirmer.restore_limits(past);
    beat(cluster, confirmer, since).await;
    Ok(())
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(s.max(0) as u64)
}

/// Only while the component is connected: requests queued during a failover wait for the
/// new leader's link (their askers wait [`super::PICKUP_WAIT`]) instead of failing at once.
async fn take_queued(cluster: &Arc<Cluster>, confirmer: &Confirmer) {
    if !confirmer.is_connected() {
        return;
    }
    loop {
        match take_batch(cluster, confirmer).await {
            Ok(taken) if taken == TAKE_BATCH as usize => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot take queued confirmation requests");
                return;
            }
        }
    }
}

/// Sends (or refuses) up to [`TAKE_BATCH`] queued requests, oldest first.
async fn take_batch(cluster: &Arc<Cluster>, confirmer: &Confirmer) -> Result<usize, sqlx::Error> {
    let mut tx = cluster.pool.begin().await?;
    let rows: Vec<RequestFields> = sqlx::query_as(
        "SELECT id, jid, code, method, url, requester, origin, purpose, lang, ip, client_id, device, timeout_secs \
         FROM confirmations WHERE status = 'queued' ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(TAKE_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let taken = rows.len();
    for row in rows {
        let id = row.id.clone();
        // Tagged with the row: its decision comes back as an event (see `Cluster::decide`).
        let result = match row.request() {
            Some(request) => confirmer.request_tagged(request, Some(id.clone())),
            // The asking instance parsed it; a row that does not parse was not written by us.
            None => Err(RequestError::Disconnected),
        };
        let (state, refused) = match &result {
            Ok(_) => ("sent", None),
            Err(RequestError::Refused(refused)) => ("refused", Some(refused)),
            Err(RequestError::Disconnected) => ("unreachable", None),
        };
        sqlx::query(&RECORD_OUTCOME)
            .bind(state)
            .bind(refused.map(|r| r.reason.code()))
            .bind(refused.map(|r| r.retry_after.as_secs().max(1) as i64))
            .bind(&cluster.instance)
            .bind(cluster.clock.now())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await.map(|()| taken)
}

/// [`take_batch`]'s outcome for one row: its state ($1: `sent`, `refused` or
/// `unreachable`), why and for how long it was refused ($2, $3), a sent row as sent by
/// this instance ($4), an ended one as decided now ($5); the asking instance told on its
/// channel. One statement: one round trip per row.
static RECORD_OUTCOME: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH recorded AS ( \
               UPDATE confirmations SET status = $1, refusal = $2, retry_after_secs = $3, \
                 sent_by = CASE WHEN $1 = 'sent' THEN $4 ELSE sent_by END, \
                 decided_at = CASE WHEN $1 = 'sent' THEN decided_at ELSE $5 END \
               WHERE id = $6 RETURNING id, status, requested_by) \
         SELECT pg_notify({INSTANCE_CHANNEL_SQL}, id || ' ' || status) FROM recorded"
    )
});

/// Who asked for a queued or past request, from its row.
fn requester_of(row: &sqlx::postgres::PgRow) -> Requester {
    Requester {
        ip: parse_ip(row.get("ip")),
        client_id: row.get("client_id"),
        device: row.get("device"),
    }
}
