//! Several instances on one PostgreSQL database, no sticky sessions.
//!
//! Everything that matters is in PostgreSQL already (flows, sessions, codes, tokens,
//! clients); this module adds what cannot be a plain row:
//! - The XMPP component. Prosody allows one connection per component domain, so one
//!   instance holds it as the leader (a session-level advisory lock, released when its
//!   connection ends, which a SIGKILL does at once). Every instance, the leader included,
//!   writes its confirmation requests to the `confirmations` table; the leader sends them,
//!   applies the anti-abuse limits for the whole deployment, and records the answers.
//! - Waking up. NOTIFY tells the leader a request is queued (only the leader listens
//!   there), tells the asking instance, on a channel of its own, that its request was
//!   taken or decided, and tells every instance that a login flow changed (its page may
//!   wait on any of them); a poll every [`POLL_EVERY`] covers notifications lost while a
//!   connection was down.
//! - Signing keys, shared in the `signing_keys` table; a rotation is announced by NOTIFY
//!   and every instance reloads ([`keys`]).

pub mod handoff;
pub mod keys;
mod leader;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::Postgres;

use crate::store::connections::Connections;
use sqlx::{Executor, Row};
use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinSet;
use url::Url;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::oidc::Oidc;
use crate::random;
use crate::store::flow_watch::Answer;
use crate::store::oidc::{FlowSentParameters, FlowStatus, SentFlow};
use crate::store::Store;
use crate::xmpp::component::stopped;
use crate::xmpp::confirm::{ConfirmRequest, Confirmation, Confirmer, Outbox, RequestError, Status};
use crate::xmpp::limits::{Refusal, Refused};

/// NOTIFY channels. Requests: to the leader. Decisions: to every instance (withdrawals,
/// which the leader must hear); the leader tells an asking instance about its own
/// requests on that instance's channel ([`instance_channel`]).
const REQUESTS_CHANNEL: &str = "jidconnect_requests";
/// The payload on [`REQUESTS_CHANNEL`] that announces login notices rather than a queued
/// request, so that the leader looks only for what was announced.
const NOTICES_PAYLOAD: &str = "notices";
/// The payload on [`REQUESTS_CHANNEL`] of an instance that joined: the leader counts the
/// instances again (see [`Cluster::alone`]).
const MEMBERS_PAYLOAD: &str = "members";
const DECISIONS_CHANNEL: &str = "jidconnect_decisions";
const KEYS_CHANNEL: &str = "jidconnect_keys";
/// A login flow changed on another instance: wakes its waiting page. The payload is its
/// id, or for a request answered or recorded as sent (by a process other than the one
/// that may keep the flow's page: `login_flows.kept_by`), separated by spaces: the id, the
/// flow's new status, the request's code and the instance that wrote it (last: a name
/// may hold spaces), which has seen it already.
const FLOWS_CHANNEL: &str = "jidconnect_flows";

/// The channel of the instance named `instance`: a digest, because a channel is an SQL
/// identifier of at most 63 bytes and a name is any text. [`INSTANCE_CHANNEL_SQL`] is the
/// same in SQL.
fn instance_channel(instance: &str) -> String {
    format!(
        "jidconnect_to_{}",
        &crate::store::oidc::digest(instance)[..16]
    )
}
const INSTANCE_CHANNEL_SQL: &str =
    "'jidconnect_to_' || left(encode(sha256(convert_to(requested_by, 'UTF8')), 'hex'), 16)";

/// [`Cluster::decide`]: the request's row and its login flow answered, the asking instance
/// (unless it is the leader itself) and the flow's waiting page told, with the flow's new
/// status and the request's code (see [`FLOWS_CHANNEL`]; not if the leader is alone: $8);
/// returns the flow's id and the code if the flow was answered.
static DECIDE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH decided AS ( \
               UPDATE confirmations SET status = $1, decided_at = $2 \
               WHERE id = $3 AND status IN ('queued', 'sent') RETURNING flow_id, code, requested_by), \
             answered AS ( \
               UPDATE login_flows f SET status = $4, auth_time = $5 FROM decided d \
               WHERE $4::text IS NOT NULL AND f.id = d.flow_id AND f.code = d.code \
               AND f.status = 'sent' RETURNING f.id, f.code), \
             announced AS (SELECT pg_notify({INSTANCE_CHANNEL_SQL}, $3 || ' ' || $1) \
               FROM decided WHERE requested_by <> $6), \
             woken AS (SELECT pg_notify($7, concat_ws(' ', id, $4, code, $6)) FROM answered \
               WHERE NOT $8) \
             SELECT (SELECT id FROM answered) AS flow_id, (SELECT code FROM answered) AS code \
             FROM decided \
             WHERE (SELECT count(*) FROM announced) + (SELECT count(*) FROM woken) >= 0"
    )
});

/// What a notification on [`FLOWS_CHANNEL`] says to one instance.
#[derive(Debug, PartialEq)]
enum FlowNotice<'a> {
    /// Flow `id` changed: read it again.
    Changed(&'a str),
    /// Flow `id`'s request `code` was answered, leaving it `status`.
    Answered {
        id: &'a str,
        status: FlowStatus,
        code: &'a str,
    },
    /// Written by this instance, which has seen it already.
    Ours,
}

impl<'a> FlowNotice<'a> {
    fn parse(payload: &'a str, instance: &str) -> Self {
        let mut parts = payload.splitn(4, ' ');
        let id = parts.next().unwrap_or_default();
        let (Some(status), Some(code), Some(writer)) = (parts.next(), parts.next(), parts.next())
        else {
            return FlowNotice::Changed(id);
        };
        if writer == instance {
            return FlowNotice::Ours;
        }
        match FlowStatus::parse(status) {
            // Recorded as sent: no answer to hand over.
            FlowStatus::Sent => FlowNotice::Changed(id),
            status => FlowNotice::Answered { id, status, code },
        }
    }
}

/// How long an instance trusts the leader's heartbeat row it last read.
const LEADER_SEEN_FOR: Duration = Duration::from_secs(1);

/// How long an asking instance waits for the leader to take its request.
const PICKUP_WAIT: Duration = Duration::from_secs(5);
/// The fallback for lost notifications.
const POLL_EVERY: Duration = Duration::from_secs(2);
/// The leader writes its heartbeat this often; one older than [`LEADER_STALE_SECS`] means
/// no instance holds the component.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
const LEADER_STALE_SECS: i64 = 10;
/// A request still open this long after its timeout was lost with its leader.
const LOST_AFTER_SECS: i64 = 15;

/// One instance's part of the deployment. Cheap to share (`Arc`).
pub struct Cluster {
    /// This instance's name, as `/healthz` shows it.
    pub instance: String,
    /// Where the leader tells this instance about its requests.
    channel: String,
    pool: Connections<Postgres>,
    database_url: String,
    store: Store,
    clock: Clock,
    metrics: Arc<Metrics>,
    leading: AtomicBool,
    /// While leading: how many instances run, as last counted (0: not yet).
    instances: AtomicUsize,
    /// An instance joined: the leader counts them again.
    members_changed: Notify,
    /// Opened at connect, so that the leader counts this instance before it serves;
    /// taken by the listening task.
    joined: Mutex<Option<PgListener>>,
    /// The PostgreSQL backend of this instance's listener once it holds the lock that
    /// counts it in; 0 while it does not.
    listener_pid: AtomicI32,
    /// While leading: whether its own listener was among the instances last counted (if
    /// not, the one instance it counts may be another, which would hear nothing).
    counted_self: AtomicBool,
    /// Leadership was taken or lost: the listener (un)listens for queued requests.
    leadership_changed: Notify,
    /// Requests of ours that the leader has not taken yet.
    pickups: Mutex<HashMap<String, oneshot::Sender<RowState>>>,
    /// Requests of ours that the leader sent, waiting for their answer.
    watchers: Mutex<HashMap<String, Watched>>,
    /// A request was queued: the leader should look.
    queued: Notify,
    /// A key rotation was announced.
    keys_changed: Notify,
    /// The leader's row as last read: whether a live leader held the XMPP link, where it
    /// takes hand-offs, and when that was read.
    leader_seen: Mutex<Option<LeaderSeen>>,
    /// Where the other instances reach this one (`cluster_url`), once it serves.
    handoff_url: OnceLock<Url>,
    /// While leading with a `cluster_url`: this term's key for hand-offs.
    handoff_key: Mutex<Option<Arc<str>>>,
    handoff_client: handoff::Client,
    /// When a direct hand-off to the leader of which term (its key) last failed:
    /// requests to that term are queued for a while after.
    direct_failed: Mutex<Option<(tokio::time::Instant, Arc<str>)>>,
    /// While leading: the hand-offs taken lately (each is taken once).
    handoffs_seen: handoff::Seen,
}

struct LeaderSeen {
    at: tokio::time::Instant,
    connected: bool,
    route: Option<handoff::Route>,
}

/// Who asked for a request that the leader sends: itself, or another instance that handed
/// it over directly.
#[derive(Clone, Copy)]
struct Asker<'a> {
    instance: &'a str,
    /// The process that may keep the flow's page (see `login_flows.kept_by`).
    keeper: &'a str,
}

struct Watched {
    status: watch::Sender<Status>,
    /// When the request should have ended at the latest (unix seconds).
    deadline: i64,
}

/// A `confirmations.status` as this module reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowState {
    Queued,
    Sent,
    Refused,
    Decided(Status),
}

impl RowState {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "refused" => Self::Refused,
            other => Self::Decided(Status::parse(other).filter(|s| s.is_final())?),
        })
    }
}

/// What became of a request handed to the leader, directly or through the queue.
pub(super) enum Handed {
    /// Sent, its flow (if any) recorded sent with this `offline` note.
    Sent {
        offline: bool,
    },
    Refused(Refused),
    Unreachable,
    /// The flow is in no state to send one: nothing was written.
    NotSendable,
}

/// The `offline` a statement of [`row_statement`] for a flow returned.
fn offline_note(written: &sqlx::postgres::PgRow) -> bool {
    // Written and committed: a column that cannot be read must not undo the request.
    written.try_get::<i64, _>("offline").unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read a sent flow's offline note");
        0
    }) == 1
}

/// The leader as its last heartbeat describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeaderInfo {
    pub instance: String,
    pub since: i64,
    pub heartbeat_at: i64,
    pub xmpp_connected: bool,
    pub xmpp_error: Option<String>,
}

impl LeaderInfo {
    pub fn is_live(&self, now: i64) -> bool {
        now - self.heartbeat_at <= LEADER_STALE_SECS
    }
}

/// The default instance name: host name and process id, unique on one machine.
pub fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let host = if host.is_empty() {
        "jidconnect".into()
    } else {
        host
    };
    format!("{host}-{}", std::process::id())
}

impl Cluster {
    pub async fn connect(
        config: &Config,
        store: Store,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Arc<Self>> {
        // Its rows are hand-offs that live seconds: a crash of PostgreSQL that loses the
        // last ones ends their logins, as a failover does (see `Store::durable_pool`).
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            // As the store's pools: a round trip only for a connection unused a while.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move { crate::store::ping_if_idle(conn, meta).await })
            })
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET synchronous_commit = off").await?;
                    Ok(())
                })
            })
            .connect(&config.database_url)
            .await
            .context("cannot open the PostgreSQL database for the cluster")?;
        let pool = Connections::new(pool, Some(crate::store::CHECK_IDLE_AFTER));
        let instance = if config.instance_name.is_empty() {
            default_instance_name()
        } else {
            config.instance_name.clone()
        };
        let channel = instance_channel(&instance);
        let (joined, listener_pid) = open_listener(&config.database_url, &instance, &channel)
            .await
            .context("cannot join the instances on the PostgreSQL database")?;
        Ok(Arc::new(Self {
            channel,
            instance,
            pool,
            database_url: config.database_url.clone(),
            store,
            clock,
            metrics,
            leading: AtomicBool::new(false),
            instances: AtomicUsize::new(0),
            members_changed: Notify::new(),
            joined: Mutex::new(Some(joined)),
            listener_pid: AtomicI32::new(listener_pid),
            counted_self: AtomicBool::new(false),
            leadership_changed: Notify::new(),
            pickups: Mutex::default(),
            watchers: Mutex::default(),
            queued: Notify::new(),
            keys_changed: Notify::new(),
            leader_seen: Mutex::default(),
            handoff_url: OnceLock::new(),
            handoff_key: Mutex::default(),
            handoff_client: handoff::Client::new(),
            direct_failed: Mutex::default(),
            handoffs_seen: handoff::Seen::default(),
        }))
    }

    /// Starts this instance's background work: the notification listener, the poll, the
    /// key reloader, and the bid for leadership (which runs the component while it leads).
    pub fn start(
        self: &Arc<Self>,
        config: &Config,
        confirmer: Confirmer,
        outbox: Outbox,
        oidc: Arc<Oidc>,
        shutdown: watch::Receiver<bool>,
        background: &mut JoinSet<()>,
    ) -> tokio::task::JoinHandle<()> {
        background.spawn(listen(self.clone(), confirmer.clone(), shutdown.clone()));
        background.spawn(poll(self.clone(), shutdown.clone()));
        background.spawn(keys::reload_on_change(
            self.clone(),
            oidc,
            config.oidc.id_token_ttl_secs as i64,
            shutdown.clone(),
        ));
        tokio::spawn(leader::run(
            self.clone(),
            config.xmpp.clone(),
            config.limits.clone(),
            confirmer,
            outbox,
            shutdown,
        ))
    }

    /// Takes hand-offs from the other instances at `url` (this instance's `cluster_url`)
    /// while it leads; set once, before [`Self::start`].
    pub fn take_handoffs_at(&self, url: Url) {
        let _ = self.handoff_url.set(url);
    }

    /// The term ends: no more hand-offs, before another instance can lead.
    fn stop_taking_handoffs(&self) {
        *self.handoff_key.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// This term's key for hand-offs, while leading with a `cluster_url`.
    fn handoff_key(&self) -> Option<Arc<str>> {
        self.handoff_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Closes the cluster's connections, once its tasks have stopped.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::Relaxed)
    }

    /// This instance leads and, when the leader last counted them, was the only one (its
    /// own listener the one counted): the flows' answers need not be announced, as no
    /// other instance can wait for them. Counted at each heartbeat and when an instance
    /// announces that it joined (which it does before serving: [`Self::connect`]); until
    /// then, while this instance's listener is down, and when unsure, false.
    fn alone(&self) -> bool {
        self.instances() == Some(1) && self.counted_self.load(Ordering::Relaxed)
    }

    /// While this instance leads: how many instances run, itself included, as it last
    /// counted them.
    pub fn instances(&self) -> Option<usize> {
        let counted = self.instances.load(Ordering::Relaxed);
        (self.is_leader() && counted > 0).then_some(counted)
    }

    /// A count of the instances: how many, and whether this one's listener was among them.
    fn set_instances(&self, counted: usize, with_self: bool) {
        self.instances.store(counted, Ordering::Relaxed);
        self.counted_self.store(with_self, Ordering::Relaxed);
    }

    /// The backend of this instance's listener while it counts this instance in.
    fn listener_pid(&self) -> Option<i32> {
        Some(self.listener_pid.load(Ordering::Relaxed)).filter(|pid| *pid != 0)
    }

    /// This instance's listener joined on backend `pid`, or (`None`) is down: until the
    /// leader counts again, it does not take itself for alone.
    fn set_listener(&self, pid: Option<i32>) {
        self.listener_pid.store(pid.unwrap_or(0), Ordering::Relaxed);
        self.counted_self.store(false, Ordering::Relaxed);
    }

    /// The listener [`Self::connect`] opened, the first time.
    fn take_joined(&self) -> Option<PgListener> {
        self.joined.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn set_leading(&self, leading: bool) {
        self.set_instances(0, false);
        // A key for each term, published with the heartbeat (only with an address).
        *self.handoff_key.lock().unwrap_or_else(|p| p.into_inner()) =
            (leading && self.handoff_url.get().is_some()).then(handoff::new_key);
        self.leading.store(leading, Ordering::Relaxed);
        self.metrics.set_cluster_leader(leading);
        self.leadership_changed.notify_one();
    }

    /// Requests of this instance waiting for their answer.
    pub fn waiting_count(&self) -> usize {
        self.watchers().len()
    }

    pub(crate) fn pool(&self) -> &Connections<Postgres> {
        &self.pool
    }

    /// Whether a live leader holds the XMPP link, per its last heartbeat (read at most
    /// every [`LEADER_SEEN_FOR`]: a busy instance asks this before every request).
    pub async fn leader_connected(&self) -> bool {
        let now = tokio::time::Instant::now();
        let fresh = self
            .leader_seen()
            .as_ref()
            .filter(|seen| now - seen.at < LEADER_SEEN_FOR)
            .map(|seen| seen.connected);
        if let Some(connected) = fresh {
            return connected;
        }
        let (connected, route) = match self.leader_row().await {
            Ok(Some((leader, route))) => {
                let connected = leader.is_live(self.clock.now()) && leader.xmpp_connected;
                (connected, route)
            }
            Ok(None) => (false, None),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the cluster leader");
                (false, None)
            }
        };
        *self.leader_seen() = Some(LeaderSeen {
            at: now,
            connected,
            route,
        });
        connected
    }

    fn leader_seen(&self) -> MutexGuard<'_, Option<LeaderSeen>> {
        self.leader_seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the leader takes hand-offs, per its row as last read; none while the direct
    /// way to its term rests after a failure.
    fn direct_route(&self) -> Option<handoff::Route> {
        let route = self.leader_seen().as_ref()?.route.clone()?;
        let failed = self.direct_failed.lock().unwrap_or_else(|p| p.into_inner());
        let resting = failed.as_ref().is_some_and(|(at, term)| {
            term == route.term() && at.elapsed() < handoff::RETRY_DIRECT_AFTER
        });
        (!resting).then_some(route)
    }

    fn direct_failed(&self, route: &handoff::Route) {
        *self.direct_failed.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((tokio::time::Instant::now(), route.term().clone()));
    }

    /// The leader's last heartbeat, if any instance ever led.
    pub async fn leader(&self) -> Result<Option<LeaderInfo>, sqlx::Error> {
        Ok(self.leader_row().await?.map(|(leader, _)| leader))
    }

    /// The leader's row: its heartbeat, and where it takes hand-offs.
    async fn leader_row(
        &self,
    ) -> Result<Option<(LeaderInfo, Option<handoff::Route>)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT instance, since, heartbeat_at, xmpp_connected, xmpp_error, handoff_url, \
             handoff_key, handoff_since FROM cluster_leader WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| {
            let leader = LeaderInfo {
                instance: row.get("instance"),
                since: row.get("since"),
                heartbeat_at: row.get("heartbeat_at"),
                xmpp_connected: row.get::<i64, _>("xmpp_connected") == 1,
                xmpp_error: row.get("xmpp_error"),
            };
            // Written by this leader (one of an older release leaves the last one's).
            let this_term = row.get::<Option<i64>, _>("handoff_since") == Some(leader.since);
            let route = handoff::Route::of(row.get("handoff_url"), row.get("handoff_key"))
                .filter(|_| this_term);
            (leader, route)
        }))
    }

    /// Hands a confirmation request to the leader and waits until it is sent or refused:
    /// directly if the leader takes hand-offs ([`handoff`]), else (or if that fails)
    /// through the database. With a login flow, the flow records the request as sent in
    /// the statement that writes its row, and the leader records the answer there; `None`
    /// if the flow is in no state to send one (nothing is written then).
    pub async fn request(
        &self,
        request: ConfirmRequest,
        flow: Option<SentFlow<'_>>,
    ) -> Result<Option<Confirmation>, RequestError> {
        let now = self.clock.now();
        let id = random::token(20);
        let (status, receiver) = watch::channel(Status::Sent);
        // Registered before the row exists, so that no notification can come first.
        self.watchers().insert(
            id.clone(),
            Watched {
                status,
                deadline: now + request.timeout.as_secs() as i64 + LOST_AFTER_SECS,
            },
        );
        let handed = match self.hand_directly(&id, &request, flow, now).await {
            Some(Ok(outcome)) => Ok(outcome.into()),
            Some(Err(handoff::Failed::Unknown)) => self.settle(&id, &request, flow, now).await,
            Some(Err(handoff::Failed::NothingWritten)) | None => {
                self.hand_through_queue(&id, &request, flow, now).await
            }
        };
        let sent = match handed {
            Ok(Handed::Sent { offline }) => {
                if let Some(flow) = flow {
                    let (subject, code) = (request.jid.subject(), &request.text.code);
                    self.store
                        .flow_recorded_sent(flow, subject, code, now, offline, true);
                }
                return Ok(Some(Confirmation::new(request.text.code, receiver)));
            }
            Ok(Handed::NotSendable) => Ok(None),
            Ok(Handed::Refused(refused)) => Err(RequestError::Refused(refused)),
            Ok(Handed::Unreachable) => Err(RequestError::Disconnected),
            Err(e) => Err(e),
        };
        self.watchers().remove(&id);
        sent
    }

    /// Hands the request to the leader over HTTP, if it takes hand-offs (`None` if not).
    async fn hand_directly(
        &self,
        id: &str,
        request: &ConfirmRequest,
        flow: Option<SentFlow<'_>>,
        now: i64,
    ) -> Option<Result<handoff::Outcome, handoff::Failed>> {
        let route = self.direct_route()?;
        let asker = Asker {
            instance: &self.instance,
            keeper: self.store.keeper(),
        };
        let client = &self.handoff_client;
        let handed = client.hand_off(&route, asker, id, request, flow, now).await;
        match &handed {
            Ok(handoff::Outcome::NotSendable) => {}
            Ok(_) => self.metrics.cluster_handoff("direct"),
            Err(_) => self.direct_failed(&route),
        }
        Some(handed)
    }

    /// A direct hand-off of `id` that got no answer: the leader may have written its row.
    /// The row is written here, ended, unless it exists; if it does, the leader wrote it
    /// (and finishes what it started), and its state is the outcome.
    async fn settle(
        &self,
        id: &str,
        request: &ConfirmRequest,
        flow: Option<SentFlow<'_>>,
        now: i64,
    ) -> Result<Handed, RequestError> {
        let ended = bind_row(
            sqlx::query(row_statement(false, false)),
            &self.instance,
            id,
            request,
            flow.map(|flow| flow.id),
            now,
        )
        .bind("unreachable")
        .bind(None::<&str>)
        .execute(&self.pool)
        .await;
        match ended {
            Ok(_) => Ok(Handed::Unreachable),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Ok(match self.row_state(id).await {
                    Some(RowState::Refused) => Handed::Refused(self.refusal(id).await),
                    // Whether the person's app is offline is not known here.
                    Some(
                        RowState::Sent
                        | RowState::Decided(Status::Accepted | Status::Denied | Status::Expired),
                    ) => Handed::Sent { offline: false },
                    _ => Handed::Unreachable,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot settle a request handed to the leader");
                Err(RequestError::Disconnected)
            }
        }
    }

    /// Queues the request for the leader and waits until it takes it.
    async fn hand_through_queue(
        &self,
        id: &str,
        request: &ConfirmRequest,
        flow: Option<SentFlow<'_>>,
        now: i64,
    ) -> Result<Handed, RequestError> {
        let (picked, pickup) = oneshot::channel();
        self.pickups().insert(id.to_owned(), picked);
        let offline = match self.queue(id, request, flow, now).await {
            Ok(Some(offline)) => offline,
            Ok(None) => {
                self.pickups().remove(id);
                return Ok(Handed::NotSendable);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot queue a confirmation request");
                self.pickups().remove(id);
                return Err(RequestError::Disconnected);
            }
        };
        self.metrics.cluster_handoff("queued");
        let state = match tokio::time::timeout(PICKUP_WAIT, pickup).await {
            Ok(Ok(state)) => state,
            _ => self.give_up_pickup(id).await,
        };
        Ok(match state {
            RowState::Sent
            | RowState::Decided(Status::Accepted | Status::Denied | Status::Expired) => {
                Handed::Sent { offline }
            }
            RowState::Refused => Handed::Refused(self.refusal(id).await),
            RowState::Queued | RowState::Decided(_) => Handed::Unreachable,
        })
    }

    /// Queues the request for the leader, and tells it: one statement (with the flow's
    /// record of it). `None` if the flow is in no state to send one, else the flow's
    /// `offline` note.
    async fn queue(
        &self,
        id: &str,
        request: &ConfirmRequest,
        flow: Option<SentFlow<'_>>,
        now: i64,
    ) -> Result<Option<bool>, sqlx::Error> {
        let query = bind_row(
            sqlx::query(row_statement(true, flow.is_some())),
            &self.instance,
            id,
            request,
            flow.map(|flow| flow.id),
            now,
        )
        .bind("queued")
        .bind(None::<&str>)
        .bind(REQUESTS_CHANNEL);
        let written = bind_flow(query, request, flow, self.store.keeper())
            .fetch_optional(&self.pool)
            .await?;
        Ok(written.map(|row| flow.is_some() && offline_note(&row)))
    }

    /// The leader's own request: no hand-off. Its row is written first, with the flow's
    /// record of it ([`Self::write_sent`]), then it is sent ([`Self::send_written`]).
    pub async fn send_own(
        &self,
        confirmer: &Confirmer,
        request: ConfirmRequest,
        flow: Option<SentFlow<'_>>,
    ) -> Result<Option<Confirmation>, RequestError> {
        let now = self.clock.now();
        let id = random::token(20);
        let asker = Asker {
            instance: &self.instance,
            keeper: self.store.keeper(),
        };
        let offline = match self.write_sent(&id, &request, flow, asker, now).await {
            Ok(Some(offline)) => offline,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "cannot record a confirmation request");
                return Err(RequestError::Disconnected);
            }
        };
        if let Some(flow) = flow {
            let (subject, code) = (request.jid.subject(), &request.text.code);
            self.store
                .flow_recorded_sent(flow, subject, code, now, offline, false);
        }
        self.send_written(confirmer, &id, request, now)
            .await
            .map(Some)
    }

    /// Writes the row (id `id`) of a request this instance sends while leading, asked by
    /// itself or handed over by `asker`, as sent by us, with the flow's record of it: the
    /// answer may come before the sender returns, and is recorded in the row (see
    /// [`Self::decide`]). `None` if the flow is in no state to send one (nothing written),
    /// else the flow's `offline` note.
    async fn write_sent(
        &self,
        id: &str,
        request: &ConfirmRequest,
        flow: Option<SentFlow<'_>>,
        asker: Asker<'_>,
        now: i64,
    ) -> Result<Option<bool>, sqlx::Error> {
        let query = bind_row(
            sqlx::query(row_statement(false, flow.is_some())),
            asker.instance,
            id,
            request,
            flow.map(|flow| flow.id),
            now,
        )
        .bind("sent")
        .bind(&self.instance);
        let written = bind_flow(query, request, flow, asker.keeper)
            .fetch_optional(&self.pool)
            .await?;
        Ok(written.map(|row| flow.is_some() && offline_note(&row)))
    }

    /// Sends the request whose row [`Self::write_sent`] wrote; the limits apply as to any
    /// request, and a request that does not go out ends its row.
    async fn send_written(
        &self,
        confirmer: &Confirmer,
        id: &str,
        request: ConfirmRequest,
        now: i64,
    ) -> Result<Confirmation, RequestError> {
        let sent = confirmer.request_tagged(request, Some(id.to_owned()));
        let (status, refusal) = match &sent {
            Ok(_) => return sent,
            Err(RequestError::Refused(refused)) => ("refused", Some(refused)),
            Err(RequestError::Disconnected) => ("unreachable", None),
        };
        let ended = sqlx::query(
            "UPDATE confirmations SET status = $1, sent_by = NULL, refusal = $2, \
             retry_after_secs = $3, decided_at = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(refusal.map(|r| r.reason.code()))
        .bind(refusal.map(|r| r.retry_after.as_secs().max(1) as i64))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await;
        if let Err(e) = ended {
            tracing::warn!(error = %e, "cannot record an unsent confirmation request");
        }
        sent
    }

    /// No leader took the request in time: withdraw it, unless it was taken meanwhile.
    async fn give_up_pickup(&self, id: &str) -> RowState {
        self.pickups().remove(id);
        let withdrawn = sqlx::query(
            "UPDATE confirmations SET status = 'unreachable', decided_at = $1 WHERE id = $2 AND status = 'queued'",
        )
        .bind(self.clock.now())
        .bind(id)
        .execute(&self.pool)
        .await;
        match withdrawn {
            Ok(done) if done.rows_affected() == 1 => RowState::Decided(Status::Unreachable),
            Ok(_) => self
                .row_state(id)
                .await
                .unwrap_or(RowState::Decided(Status::Unreachable)),
            Err(_) => RowState::Decided(Status::Unreachable),
        }
    }

    async fn row_state(&self, id: &str) -> Option<RowState> {
        let status: String = sqlx::query_scalar("SELECT status FROM confirmations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ok()??;
        RowState::parse(&status)
    }

    async fn refusal(&self, id: &str) -> Refused {
        let row = sqlx::query("SELECT refusal, retry_after_secs FROM confirmations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ok()
            .flatten();
        let (reason, retry_after) = row
            .map(|row| {
                (
                    row.get::<Option<String>, _>("refusal"),
                    row.get::<Option<i64>, _>("retry_after_secs"),
                )
            })
            .unwrap_or_default();
        Refused {
            reason: reason
                .as_deref()
                .and_then(Refusal::from_code)
                .unwrap_or(Refusal::TooManyPending),
            retry_after: Duration::from_secs(retry_after.unwrap_or(1).max(0) as u64),
        }
    }

    /// Applies a state read from a notification or the poll.
    fn observe(&self, id: &str, state: RowState) {
        if state != RowState::Queued {
            if let Some(picked) = self.pickups().remove(id) {
                let _ = picked.send(state);
            }
        }
        if let RowState::Decided(status) = state {
            if let Some(watched) = self.watchers().remove(id) {
                watched.status.send_replace(status);
            }
        }
    }

    /// Reads the open requests of ours from the table: notifications are lost while the
    /// listener reconnects. A request open long past its timeout went with its leader.
    async fn catch_up(&self) {
        let ids: Vec<String> = {
            let pickups = self.pickups();
            let watchers = self.watchers();
            pickups.keys().chain(watchers.keys()).cloned().collect()
        };
        if ids.is_empty() {
            return;
        }
        let rows = sqlx::query("SELECT id, status FROM confirmations WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&self.pool)
            .await;
        let Ok(rows) = rows else { return };
        for row in rows {
            let id: String = row.get("id");
            if let Some(state) = RowState::parse(row.get("status")) {
                self.observe(&id, state);
            }
        }
        let now = self.clock.now();
        let waiting_for_pickup: std::collections::HashSet<String> =
            self.pickups().keys().cloned().collect();
        let lost: Vec<String> = self
            .watchers()
            .iter()
            .filter(|(id, w)| w.deadline < now && !waiting_for_pickup.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in lost {
            tracing::warn!(
                id,
                "a confirmation request outlived its timeout; its leader is gone"
            );
            let _ = self.decide(&id, Status::Unreachable).await;
            self.observe(&id, RowState::Decided(Status::Unreachable));
        }
    }

    /// Records a final status (if the request is still open) and announces it; the login
    /// flow it was for, if any, gets the answer too, and its waiting page (on whichever
    /// instance) is woken. The leader calls this for every answer. One statement, so one
    /// round trip and one commit: the notifications go out with the commit.
    pub async fn decide(&self, id: &str, status: Status) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        let flow_status = crate::xmpp::inbox::flow_status(status);
        let answered: Option<(Option<String>, Option<String>)> = sqlx::query_as(&DECIDE)
            .bind(status.as_str())
            .bind(now)
            .bind(id)
            .bind(flow_status.map(|s| s.as_str()))
            .bind((status == Status::Accepted).then_some(now))
            .bind(&self.instance)
            .bind(FLOWS_CHANNEL)
            .bind(self.alone())
            .fetch_optional(&self.pool)
            .await?;
        if let (Some((Some(flow_id), Some(code))), Some(flow_status)) = (&answered, flow_status) {
            let answer = Answer {
                status: flow_status,
                code: code.clone(),
                auth_time: (status == Status::Accepted).then_some(now),
            };
            self.store.flow_answered_with(flow_id, answer);
        }
        // No notification is sent to the deciding instance itself (see DECIDE): a request
        // it queued before it led learns its answer here.
        if answered.is_some() {
            self.observe(id, RowState::Decided(status));
        }
        Ok(())
    }

    /// A notification on [`FLOWS_CHANNEL`].
    fn flow_notified(&self, payload: &str) {
        match FlowNotice::parse(payload, &self.instance) {
            FlowNotice::Changed(id) => self.store.flow_changed(id),
            FlowNotice::Answered { id, status, code } => {
                let code = code.to_owned();
                // Accepted elsewhere: when is not said.
                let answer = Answer {
                    status,
                    code,
                    auth_time: None,
                };
                self.store.flow_answered_with(id, answer)
            }
            FlowNotice::Ours => {}
        }
    }

    /// Flow `flow_id` changed here (its login confirmed by a code sent over XMPP): its
    /// waiting page may be on another instance.
    pub async fn announce_flow(&self, flow_id: &str) {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(FLOWS_CHANNEL)
            .bind(flow_id)
            .execute(&self.pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "cannot announce a login flow's change");
        }
    }

    /// The login flow `flow_id` gave up on its request: the row ends as withdrawn, and the
    /// leader, told like every instance, forgets it.
    pub async fn withdraw_flow(&self, flow_id: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE confirmations SET status = 'withdrawn', decided_at = $1 \
             WHERE flow_id = $2 AND status IN ('queued', 'sent') RETURNING id",
        )
        .bind(self.clock.now())
        .bind(flow_id)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            // To every instance: the leader must hear it.
            notify_decision(&mut tx, id, Status::Withdrawn.as_str()).await?;
        }
        tx.commit().await
    }

    /// Tells the leader there is work (login notices to send).
    pub async fn wake_leader(&self) {
        let woken = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(REQUESTS_CHANNEL)
            .bind(NOTICES_PAYLOAD)
            .execute(&self.pool)
            .await;
        if let Err(e) = woken {
            tracing::warn!(error = %e, "cannot notify the cluster's leader");
        }
    }

    fn pickups(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<RowState>>> {
        // Plain maps: a panic elsewhere cannot leave them half-updated.
        self.pickups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn watchers(&self) -> MutexGuard<'_, HashMap<String, Watched>> {
        self.watchers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The statement that writes a request's row, bound by [`bind_row`], then `status` ($17)
/// and `sent_by` ($18). With `queue`, the leader is told ($19: its channel); `for_flow`,
/// the row is written only if its login flow ($10) records it as sent, in the same
/// statement (the flow's parameters follow, bound by [`bind_flow`]), every instance is
/// told unless this process is the one that may keep the flow's page, and the flow's
/// `offline` comes back. Either way, one row returned if the row was
/// written, else none.
fn row_statement(queue: bool, for_flow: bool) -> &'static str {
    static STATEMENTS: std::sync::LazyLock<[[String; 2]; 2]> = std::sync::LazyLock::new(|| {
        [false, true]
            .map(|queue| [false, true].map(|for_flow| write_row_statement(queue, for_flow)))
    });
    &STATEMENTS[usize::from(queue)][usize::from(for_flow)]
}

fn write_row_statement(queue: bool, for_flow: bool) -> String {
    const COLUMNS: &str = "id, jid, code, method, url, requester, origin, ip, timeout_secs, \
        flow_id, requested_by, created_at, client_id, device, purpose, lang, status, sent_by";
    const VALUES: &str =
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18";
    let first_flow_parameter = if queue { 20 } else { 19 };
    let flow = for_flow.then(|| {
        crate::store::oidc::flow_sent_statement(FlowSentParameters {
            id: 10,
            subject: first_flow_parameter,
            code: 3,
            now: 12,
            note_offline: first_flow_parameter + 1,
            keeper: first_flow_parameter + 2,
            lang: first_flow_parameter + 3,
            send_code: first_flow_parameter + 4,
        })
    });
    let mut ctes = Vec::new();
    let (insert, offline) = match flow {
        Some(flow) => {
            // Every instance hears of it (see FLOWS_CHANNEL) if another process may keep
            // the flow's page: `kept` reads the row as it was before this statement (its
            // snapshot: an UPDATE that waited for another re-reads only its own row; only
            // this statement writes `kept_by`, and it leaves no state it accepts).
            let keeper = first_flow_parameter + 2;
            let told = format!(
                "CASE WHEN (SELECT kept_by FROM kept) IS DISTINCT FROM ${keeper} \
                 THEN pg_notify('{FLOWS_CHANNEL}', concat_ws(' ', id, 'sent', $3, $11)) END"
            );
            ctes.push("kept AS (SELECT kept_by FROM login_flows WHERE id = $10)".to_owned());
            ctes.push(format!("flow AS ({flow} RETURNING id, offline, {told})"));
            (
                format!("INSERT INTO confirmations ({COLUMNS}) SELECT {VALUES} FROM flow"),
                ", (SELECT offline FROM flow) AS offline",
            )
        }
        None => (
            format!("INSERT INTO confirmations ({COLUMNS}) VALUES ({VALUES})"),
            "",
        ),
    };
    let body = if queue {
        ctes.push(format!("queued AS ({insert} RETURNING id)"));
        format!("SELECT pg_notify($19, ''){offline} FROM queued")
    } else {
        format!("{insert} RETURNING id{offline}")
    };
    match ctes.is_empty() {
        true => body,
        false => format!("WITH {} {body}", ctes.join(", ")),
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The flow's parameters of [`row_statement`], if it is for a flow.
fn bind_flow<'q>(
    query: PgQuery<'q>,
    request: &'q ConfirmRequest,
    flow: Option<SentFlow<'q>>,
    keeper: &'q str,
) -> PgQuery<'q> {
    match flow {
        Some(flow) => query
            .bind(request.jid.subject())
            .bind(i64::from(flow.note_offline))
            .bind(keeper)
            .bind(flow.lang)
            .bind(flow.send_code),
        None => query,
    }
}

/// Binds $1 to $16 of [`row_statement`].
fn bind_row<'q>(
    query: PgQuery<'q>,
    instance: &'q str,
    id: &'q str,
    request: &'q ConfirmRequest,
    flow_id: Option<&'q str>,
    now: i64,
) -> PgQuery<'q> {
    query
        .bind(id)
        .bind(request.jid.to_string())
        .bind(&request.text.code)
        .bind(&request.text.method)
        .bind(&request.text.url)
        .bind(&request.text.requester)
        .bind(&request.text.origin)
        .bind(request.requester.ip.map(|ip| ip.to_string()))
        .bind(request.timeout.as_secs() as i64)
        .bind(flow_id)
        .bind(instance)
        .bind(now)
        .bind(&request.requester.client_id)
        .bind(&request.requester.device)
        .bind(request.text.purpose.as_str())
        .bind(request.text.lang.tag())
}

/// Announces a request's new state to every instance ([`DECISIONS_CHANNEL`]).
async fn notify_decision(
    tx: &mut sqlx::PgConnection,
    id: &str,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(DECISIONS_CHANNEL)
        .bind(format!("{id} {status}"))
        .execute(tx)
        .await?;
    Ok(())
}

/// Parses an IP stored as text; a bad one just skips the per-IP limit.
fn parse_ip(ip: Option<String>) -> Option<IpAddr> {
    ip.and_then(|ip| ip.parse().ok())
}

/// Wakes the right part of this instance for each notification. One listening connection
/// per instance, the leader's included (it adds the requests channel while it leads):
/// PostgreSQL signals every listening backend of the database on every NOTIFY, whatever
/// its channels, so each extra listener costs the database work on every login.
async fn listen(cluster: Arc<Cluster>, confirmer: Confirmer, mut shutdown: watch::Receiver<bool>) {
    loop {
        let listener = async {
            match cluster.take_joined() {
                Some(listener) => Ok(listener),
                None => {
                    cluster.set_listener(None);
                    let (listener, pid) =
                        open_listener(&cluster.database_url, &cluster.instance, &cluster.channel)
                            .await?;
                    cluster.set_listener(Some(pid));
                    Ok::<_, sqlx::Error>(listener)
                }
            }
        };
        let listener = tokio::select! {
            listener = listener => listener,
            _ = stopped(&mut shutdown) => return,
        };
        let mut listener = match listener {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for cluster notifications; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stopped(&mut shutdown) => return,
                }
            }
        };
        let mut hears_requests = false;
        if let Err(e) =
            follow_leadership(&mut listener, &cluster, &confirmer, &mut hears_requests).await
        {
            tracing::warn!(error = %e, "cannot listen for queued requests; retrying");
            continue;
        }
        // Whatever happened while we were not listening.
        cluster.catch_up().await;
        cluster.keys_changed.notify_one();
        loop {
            let notification = tokio::select! {
                n = listener.try_recv() => n,
                _ = cluster.leadership_changed.notified() => {
                    match follow_leadership(&mut listener, &cluster, &confirmer, &mut hears_requests).await {
                        Ok(()) => continue,
                        Err(e) => Err(e),
                    }
                }
                _ = stopped(&mut shutdown) => return,
            };
            match notification {
                Ok(Some(n)) => match n.channel() {
                    KEYS_CHANNEL => cluster.keys_changed.notify_one(),
                    FLOWS_CHANNEL => cluster.flow_notified(n.payload()),
                    REQUESTS_CHANNEL if n.payload() == NOTICES_PAYLOAD => {
                        confirmer.notices_queued()
                    }
                    REQUESTS_CHANNEL if n.payload() == MEMBERS_PAYLOAD => {
                        cluster.members_changed.notify_one()
                    }
                    REQUESTS_CHANNEL => cluster.queued.notify_one(),
                    _ => {
                        if let Some((id, state)) = n
                            .payload()
                            .split_once(' ')
                            .and_then(|(id, s)| Some((id, RowState::parse(s)?)))
                        {
                            if state == RowState::Decided(Status::Withdrawn) && cluster.is_leader()
                            {
                                confirmer.withdraw(id);
                            }
                            cluster.observe(id, state);
                        }
                    }
                },
                // The connection dropped; the next use opens another (with every channel),
                // which must count this instance in again; we may have missed some.
                Ok(None) => {
                    cluster.set_listener(None);
                    match join(&mut listener).await {
                        Ok(pid) => cluster.set_listener(Some(pid)),
                        Err(e) => {
                            tracing::warn!(error = %e, "cluster notifications interrupted");
                            break;
                        }
                    }
                    cluster.catch_up().await;
                    cluster.keys_changed.notify_one();
                    if hears_requests {
                        look_at_queues(&cluster, &confirmer);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cluster notifications interrupted");
                    break;
                }
            }
        }
    }
}

/// A connection that hears this instance's notifications and counts it in (see
/// [`leader::MEMBER_KEY`]); `pg_stat_activity` shows it as `jidconnect listener` and the
/// instance's name.
async fn open_listener(
    database_url: &str,
    instance: &str,
    channel: &str,
) -> Result<(PgListener, i32), sqlx::Error> {
    let options = database_url
        .parse::<PgConnectOptions>()?
        .application_name(&format!("jidconnect listener {instance}"));
    // As `PgListener::connect`: one connection, kept, which sqlx opens again when it drops.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    // A lost connection is reported (`Ok(None)`) before another is opened, so that this
    // instance joins on the new one: sqlx's eager reconnect could be cut short by the
    // leadership's `select!`, and `listen` would then reconnect without joining.
    listener.eager_reconnect(false);
    listener
        .listen_all([DECISIONS_CHANNEL, KEYS_CHANNEL, FLOWS_CHANNEL, channel])
        .await?;
    let pid = join(&mut listener).await?;
    Ok((listener, pid))
}

/// Counts this instance in on the listener's connection (opened again, with every
/// channel, if it was lost), and tells the leader to count; the connection's backend.
async fn join(listener: &mut PgListener) -> Result<i32, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_lock_shared($1), pg_notify($2, $3), pg_backend_pid()")
        .bind(leader::MEMBER_KEY)
        .bind(REQUESTS_CHANNEL)
        .bind(MEMBERS_PAYLOAD)
        .fetch_one(listener)
        .await?
        .try_get(2)
}

/// Listens for queued requests while this instance leads, and not otherwise; on starting,
/// the leader looks at what was queued while nobody listened.
async fn follow_leadership(
    listener: &mut PgListener,
    cluster: &Cluster,
    confirmer: &Confirmer,
    hears_requests: &mut bool,
) -> Result<(), sqlx::Error> {
    let leading = cluster.is_leader();
    if leading && !*hears_requests {
        listener.listen(REQUESTS_CHANNEL).await?;
        look_at_queues(cluster, confirmer);
    } else if !leading && *hears_requests {
        listener.unlisten(REQUESTS_CHANNEL).await?;
    }
    *hears_requests = leading;
    Ok(())
}

/// The leader looks for queued requests and login notices, for those announced while it
/// did not listen.
fn look_at_queues(cluster: &Cluster, confirmer: &Confirmer) {
    cluster.queued.notify_one();
    confirmer.notices_queued();
}

async fn poll(cluster: Arc<Cluster>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(POLL_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => cluster.catch_up().await,
            _ = stopped(&mut shutdown) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// What the statements send on the flows channel, as an instance reads it: an answer
    /// with its request's code, a flow recorded sent, or an older instance's bare id; and
    /// what an instance wrote itself is not applied twice.
    #[test]
    fn flow_notices_are_read_as_written() {
        let answered = FlowNotice::parse("f1 accepted ABCD-1234 web 2", "web 1");
        let expected = FlowNotice::Answered {
            id: "f1",
            status: FlowStatus::Accepted,
            code: "ABCD-1234",
        };
        assert_eq!(answered, expected);
        let sent = FlowNotice::parse("f1 sent ABCD-1234 web 2", "web 1");
        assert_eq!(sent, FlowNotice::Changed("f1"));
        let ours = FlowNotice::parse("f1 denied ABCD-1234 web 1", "web 1");
        assert_eq!(ours, FlowNotice::Ours);
        assert_eq!(FlowNotice::parse("f1", "web 1"), FlowNotice::Changed("f1"));
        let older = FlowNotice::parse("f1 accepted", "web 1");
        assert_eq!(older, FlowNotice::Changed("f1"));
    }

    /// The leader computes an instance's channel in SQL, the instance in Rust: they agree,
    /// whatever the name.
    #[tokio::test]
    async fn an_instances_channel_is_the_same_in_sql() {
        let url = std::env::var("JIDCONNECT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        for name in ["a", "web-1.example.org-4242", "Zürich ☃ instance", ""] {
            let in_sql: String = sqlx::query_scalar(&format!(
                "SELECT {INSTANCE_CHANNEL_SQL} FROM (SELECT $1::text AS requested_by) r"
            ))
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert_eq!(in_sql, instance_channel(name), "{name}");
            assert!(in_sql.len() <= 63, "a channel name is an identifier");
        }
        assert_ne!(instance_channel("a"), instance_channel("b"));
    }
}
