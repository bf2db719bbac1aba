//! Persistence with sqlx: SQLite (the embedded default) or PostgreSQL, one portable schema.
//!
//! Queries go through `sqlx::Any` with `$n` placeholders (both backends accept them) and
//! only portable types (TEXT, BIGINT), so one query serves both; migrations are per
//! backend, embedded in the binary and run at start.

pub mod client_cache;
pub mod clients;
pub mod connections;
pub mod device;
pub mod flow_watch;
pub mod fresh_flows;
pub mod groups;
pub mod mint;
pub mod oidc;
pub mod reach;
pub mod wal_sync;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, Connection, Executor};

use connections::Connections;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: std::sync::Arc<Connections<Any>>,
    /// For writes that must survive a power cut ([`Store::durable_pool`]).
    durable: std::sync::Arc<Connections<Any>>,
    backend: Backend,
    /// The SQLite file (none for PostgreSQL or an in-memory database).
    sqlite_file: Option<std::path::PathBuf>,
    /// The directory of the SQLite file, to watch its free space.
    sqlite_dir: Option<std::path::PathBuf>,
    /// Shared by the clones: one cache per process (per `connect`).
    client_cache: std::sync::Arc<client_cache::ClientCache>,
    /// Shared by the clones: the requests waiting for a flow to change.
    flow_watch: std::sync::Arc<flow_watch::FlowWatch>,
    fresh_flows: std::sync::Arc<fresh_flows::FreshFlows>,
    /// This process's mark in `login_flows.kept_by`: random, so that two processes never
    /// share one, whatever their configured names.
    keeper: std::sync::Arc<str>,
    /// SQLite on a file: what makes the main pool's commits durable ([`Store::spend_pool`]).
    wal_sync: Option<std::sync::Arc<wal_sync::GroupSync>>,
}

/// Below this much free space next to the SQLite file, `/healthz` reports a problem:
/// SQLite keeps writing into space it holds, then fails the first write that needs more.
const MIN_FREE_BYTES: u64 = 1024 * 1024;

impl Store {
    /// Connects (creating a SQLite file if needed) and brings the schema up to date.
    pub async fn connect(database_url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if database_url.starts_with("sqlite:") {
            (Backend::Sqlite, sqlite_url(database_url))
        } else {
            (Backend::Postgres, database_url.to_owned())
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("invalid database_url {}", redacted(database_url)))?;
        let cannot_open = || {
            let mut message = format!("cannot open database {}", redacted(database_url));
            // SQLite says only "unable to open database file"; say what is wrong with the place.
            if let Some(Err(e)) = sqlite_file(database_url).map(|file| writable_dir(&file)) {
                message.push_str(&format!(" (its directory is not writable: {e})"));
            }
            message
        };
        if let Some(file) = sqlite_file(database_url) {
            create_private(&file).with_context(cannot_open)?;
        }
        // One connection first: the pool would retry a failing connect until its timeout
        // and report only "timed out", hiding the cause (read-only file, bad password…).
        let mut first = AnyConnection::connect_with(&options)
            .await
            .with_context(cannot_open)?;
        prepare(&mut first, backend)
            .await
            .with_context(cannot_open)?;
        first.close().await.with_context(cannot_open)?;
        let pool = pool_options(backend, if backend == Backend::Sqlite { 4 } else { 10 })
            .after_connect(move |conn, _| Box::pin(async move { prepare(conn, backend).await }))
            .connect_with(options.clone())
            .await
            .with_context(cannot_open)?;
        // Durability per write. The pool above may lose the last commits in a crash of the
        // database's machine (SQLite in WAL mode with synchronous = NORMAL) or of the
        // database (PostgreSQL with synchronous_commit = off), never consistency: fine for
        // a login page, a code that lives 60 s, a session or issued tokens (a lost one
        // means logging in again), not for a revocation, which would come back. Those go
        // through a second pool whose commits wait for the disk (SQLite: synchronous =
        // FULL, which syncs the WAL and so every commit before; PostgreSQL: the default
        // synchronous_commit = on). An in-memory SQLite database has nothing to sync (and
        // a second pool would be another database).
        let durable = match (backend, sqlite_file(database_url)) {
            (Backend::Sqlite, None) => None,
            _ => Some(
                pool_options(backend, if backend == Backend::Sqlite { 2 } else { 4 })
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            prepare(conn, backend).await?;
                            conn.execute(match backend {
                                Backend::Sqlite => "PRAGMA synchronous = FULL",
                                Backend::Postgres => "SET synchronous_commit = on",
                            })
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .with_context(cannot_open)?,
            ),
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .context("database migration failed")?;
        let check_idle_after = (backend == Backend::Postgres).then_some(CHECK_IDLE_AFTER);
        let pool = std::sync::Arc::new(Connections::new(pool, check_idle_after));
        let durable = match durable {
            Some(durable) => std::sync::Arc::new(Connections::new(durable, check_idle_after)),
            None => pool.clone(),
        };
        let sqlite_file = (backend == Backend::Sqlite)
            .then(|| sqlite_file(database_url))
            .flatten();
        let sqlite_dir = sqlite_file.as_ref().map(|file| {
            file.parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default()
        });
        let wal_sync = match sqlite_file.as_deref() {
            Some(file) => Some(std::sync::Arc::new(
                wal_sync::GroupSync::for_sqlite(file).with_context(cannot_open)?,
            )),
            None => None,
        };
        Ok(Self {
            pool,
            durable,
            backend,
            wal_sync,
            sqlite_file,
            sqlite_dir,
            client_cache: Default::default(),
            flow_watch: Default::default(),
            fresh_flows: Default::default(),
            keeper: crate::random::token(16).into(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What this process writes into `login_flows.kept_by` (see [`fresh_flows`]).
    pub(crate) fn keeper(&self) -> &str {
        &self.keeper
    }

    /// Waits for changes of flow `id` until the waiter is dropped.
    pub fn watch_flow(&self, id: &str) -> flow_watch::FlowWaiter {
        self.flow_watch.watch(id)
    }

    /// Flow `id` changed, here or elsewhere: its waiters look again.
    pub fn flow_changed(&self, id: &str) {
        self.fresh_flows.forget(id);
        self.flow_watch.changed(id);
    }

    /// Flow `id`'s request (its `code`) was answered, here or elsewhere, leaving it
    /// `status`: its waiters that saw that request waiting take the status without
    /// reading the flow again.
    pub fn flow_answered_with(&self, id: &str, answer: flow_watch::Answer) {
        self.fresh_flows.forget(id);
        self.flow_watch.answered(id, answer);
    }

    /// Wakes the flow's waiters if a write changed it.
    fn changed_if(&self, rows_affected: u64, id: &str) {
        if rows_affected > 0 {
            self.flow_changed(id);
        }
    }

    /// `flow` was just recorded as sent for `subject` with `code` at `now` (and `offline`
    /// noted): its waiters look again, and if the browser goes to its page next, that page
    /// and its first status request are drawn from this record ([`fresh_flows`]). Called
    /// before this process sends the request, so that its answer, which drops the record,
    /// cannot come first; but a request `handed_off` to another instance may be answered
    /// first: its wait page then shows the request waiting, and the page's first status
    /// request, which reads the store, moves it on.
    pub fn flow_recorded_sent(
        &self,
        flow: oidc::SentFlow<'_>,
        subject: &str,
        code: &str,
        now: i64,
        offline: bool,
        handed_off: bool,
    ) {
        self.flow_changed(flow.id);
        let Some(page) = flow.page else {
            return;
        };
        let sent = oidc::LoginFlow {
            status: oidc::FlowStatus::Sent,
            jid: Some(subject.to_owned()),
            code: Some(code.to_owned()),
            sent_at: Some(now),
            auth_time: None,
            offline,
            ..page.clone()
        };
        let uses = match handed_off {
            true => fresh_flows::PAGE_ONLY,
            false => fresh_flows::PAGE_AND_STATUS,
        };
        self.fresh_flows.keep(sent, uses, std::time::Instant::now());
    }

    /// `flow`, read with its request waiting, got `answer`: with a time of acceptance
    /// (an answer recorded here), the flow as the answer left it is known, and kept for
    /// the "continue" its page sends next ([`fresh_flows`]).
    pub fn keep_answered_flow(&self, flow: oidc::LoginFlow, answer: &flow_watch::Answer) {
        let (oidc::FlowStatus::Accepted, Some(auth_time)) = (answer.status, answer.auth_time)
        else {
            return;
        };
        if flow.code.as_deref() != Some(answer.code.as_str()) || flow.is_device() {
            return;
        }
        let accepted = oidc::LoginFlow {
            status: oidc::FlowStatus::Accepted,
            auth_time: Some(auth_time),
            ..flow
        };
        let uses = fresh_flows::PAGE_ONLY;
        self.fresh_flows
            .keep(accepted, uses, std::time::Instant::now());
    }

    /// Keeps `flow`, just stored, for the page the browser is sent to next and, a new
    /// flow, for its JID form ([`fresh_flows`]).
    pub fn keep_fresh_flow(&self, flow: &oidc::LoginFlow) {
        let now = std::time::Instant::now();
        if flow.status == oidc::FlowStatus::New && !flow.is_device() {
            self.fresh_flows.keep_for_form(flow.clone(), now);
        }
        self.fresh_flows
            .keep(flow.clone(), fresh_flows::PAGE_AND_STATUS, now);
    }

    /// The flow `id` as this process stored it, if it did, for its JID form: what the
    /// form may take from it is in [`fresh_flows`].
    pub fn flow_for_form(&self, id: &str) -> Option<oidc::LoginFlow> {
        self.fresh_flows
            .take_for_form(id, std::time::Instant::now())
    }

    /// The flow `id` as this process just stored it, for its page ([`fresh_flows`]); else
    /// as the store has it.
    pub async fn fresh_flow(&self, id: &str) -> Result<Option<oidc::LoginFlow>, sqlx::Error> {
        match self.kept_flow(id) {
            Some(flow) => Ok(Some(flow)),
            None => self.flow(id).await,
        }
    }

    /// The flow `id` as this process just stored it, if it did ([`fresh_flows`]): for its
    /// page, then for that page's first status request.
    pub fn kept_flow(&self, id: &str) -> Option<oidc::LoginFlow> {
        self.fresh_flows.take(id, std::time::Instant::now())
    }

    /// Shutdown: every waiting request answers now.
    pub fn stop_watching_flows(&self) {
        self.flow_watch.close();
    }

    /// SQLite serves one instance: holds an exclusive lock on the database file for as long
    /// as the returned file lives, and refuses if another server holds it. (SQLite's own
    /// locks are per transaction, so two servers would each keep their own confirmation
    /// registry and component.) Nothing to lock for PostgreSQL or an in-memory database.
    pub fn lock_single_instance(&self) -> anyhow::Result<Option<std::fs::File>> {
        let Some(file) = self.sqlite_file.as_ref() else {
            return Ok(None);
        };
        let handle =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        match handle.try_lock() {
            Ok(()) => Ok(Some(handle)),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another jidconnect is already serving {}: SQLite serves a single instance. \
                 Stop the other one, or use PostgreSQL (database_url = \"postgres://…\") to run several.",
                file.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", file.display()))
            }
        }
    }

    /// Closes every connection (SQLite then checkpoints and removes its -wal file), once
    /// nothing needs the database any more.
    pub async fn close(&self) {
        self.durable.close().await;
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &Connections<Any> {
        &self.pool
    }

    /// For rare writes that must survive a crash: revocations, ended sessions, "not me",
    /// client and access-group changes. Each commit here waits until it is on disk (but for an in-memory
    /// SQLite database, where this is [`Store::pool`]).
    pub(crate) fn durable_pool(&self) -> &Connections<Any> {
        &self.durable
    }

    /// Where a refresh token is spent, durably, so that a crash cannot make a spent token
    /// usable again: follow a spend with [`Store::spent_durably`]. PostgreSQL: commits
    /// that wait for the disk, which do not hold other writers. SQLite: the main pool,
    /// then a sync of its write-ahead log shared with the spends that wait meanwhile
    /// (group commit), because a synced commit there holds the one write lock during
    /// the `fsync` (refresh fell from 2,353 to 1,331/s: docs/performance.md).
    pub(crate) fn spend_pool(&self) -> &Connections<Any> {
        match self.backend {
            Backend::Sqlite => &self.pool,
            Backend::Postgres => &self.durable,
        }
    }

    /// Refuses a spend that could not be made durable (on SQLite, a sync of the
    /// write-ahead log failed): better no spend than one answered with an error, which
    /// the client's retry would present again as a replay that revokes its grant.
    pub(crate) fn may_spend_durably(&self) -> Result<(), sqlx::Error> {
        match &self.wal_sync {
            Some(wal) => wal.check().map_err(sqlx::Error::Io),
            None => Ok(()),
        }
    }

    /// Returns once a spend committed through [`Store::spend_pool`] is on disk.
    pub(crate) async fn spent_durably(&self) -> Result<(), sqlx::Error> {
        match &self.wal_sync {
            Some(wal) => wal.wait().await.map_err(sqlx::Error::Io),
            None => Ok(()),
        }
    }

    /// The check at start: a cheap write (it fails on a read-only database, which a SELECT
    /// would not notice) and, for SQLite, enough free disk space.
    pub async fn check_writable(&self, now: i64) -> Result<(), String> {
        sqlx::query("UPDATE health SET checked_at = $1 WHERE id = 1")
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(|e| e.to_string())?;
        self.check_disk()
    }

    /// What `/healthz` asks on every call: a read (SQLite has one writer, and a health
    /// probe must not queue behind logins), whether the write-ahead log's syncs still
    /// work (SQLite), and the free disk space.
    pub async fn check_readable(&self) -> Result<(), String> {
        sqlx::query("SELECT 1")
            .execute(self.pool())
            .await
            .map_err(|e| e.to_string())?;
        // Sticks until a restart, and refresh tokens are refused meanwhile: the operator
        // must see it.
        if let Some(wal) = &self.wal_sync {
            wal.check().map_err(|e| e.to_string())?;
        }
        self.check_disk()
    }

    fn check_disk(&self) -> Result<(), String> {
        if let Some(dir) = &self.sqlite_dir {
            let dir = if dir.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                dir
            };
            match fs4::available_space(dir) {
                Ok(free) if free < MIN_FREE_BYTES => {
                    return Err(format!(
                        "the disk of the database is full ({free} bytes free in {})",
                        dir.display()
                    ))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "cannot read the free space of {}: {e}",
                        dir.display()
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Per-connection settings. SQLite: WAL lets readers run beside the writer; busy_timeout
/// makes writers queue instead of failing with SQLITE_BUSY. Both: commits that do not
/// wait for the disk (see [`Store::durable_pool`] for those that must).
async fn prepare(conn: &mut AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    conn.execute(match backend {
        Backend::Sqlite => "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        Backend::Postgres => "SET synchronous_commit = off",
    })
    .await?;
    Ok(())
}

/// How long a PostgreSQL connection may sit unused before it is checked (a round trip)
/// when taken from the pool.
pub(crate) const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A pool of at most `max_connections`, and how it checks the connections it hands out.
/// sqlx's default pings every one taken from the pool: a round trip per statement (to
/// PostgreSQL, or to SQLite's worker thread), about as costly as the statement
/// (docs/performance.md). An SQLite connection cannot be lost; a PostgreSQL one is checked
/// by [`ping_if_idle`]. (sqlx also pings each connection when it is given back:
/// [`Connections`] keeps those whose statement completed instead.)
fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false);
    match backend {
        Backend::Sqlite => options,
        Backend::Postgres => options
            .before_acquire(|conn, meta| Box::pin(async move { ping_if_idle(conn, meta).await })),
    }
}

/// A PostgreSQL connection unused for over [`CHECK_IDLE_AFTER`] is checked before it is
/// handed out, so that one dropped while the server restarted is replaced instead of
/// failing a request; a busy one is not (the cluster's pool too).
pub(crate) async fn ping_if_idle<C: Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if meta.idle_for > CHECK_IDLE_AFTER {
        conn.ping().await?;
    }
    Ok(true)
}

/// The file of a `sqlite:` URL (none for in-memory databases).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Creates a missing SQLite file readable by its owner only, whatever the umask: it holds
/// sessions and token digests. SQLite gives its -wal and -shm files the same mode.
fn create_private(file: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether a file can be created next to `file` (SQLite needs its -wal and -shm files there).
fn writable_dir(file: &std::path::Path) -> std::io::Result<()> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let probe = dir.join(format!(".jidconnect-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(probe)
}

/// `sqlite://file.db` creates the file when missing, unless the URL sets its own mode.
fn sqlite_url(url: &str) -> String {
    if url.contains('?') || url.contains(":memory:") {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The URL without its password (in the user part or a `password` parameter), for error
/// messages and `check-config`.
pub fn redacted(database_url: &str) -> String {
    let Ok(mut url) = url::Url::parse(database_url) else {
        return database_url.to_owned();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store on a SQLite file of its own, which lives as long as the directory.
    pub(super) async fn sqlite_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("j.db").display());
        (dir, Store::connect(&url).await.unwrap())
    }

    /// [`sqlite_store`] with one login flow in it.
    async fn store_with_a_flow() -> (tempfile::TempDir, Store, oidc::LoginFlow) {
        let (dir, store) = sqlite_store().await;
        let flow = a_flow(&store).await;
        (dir, store, flow)
    }

    async fn a_flow(store: &Store) -> oidc::LoginFlow {
        let mut flow = a_new_flow();
        store.insert_flow(&mut flow).await.unwrap();
        flow
    }

    fn a_new_flow() -> oidc::LoginFlow {
        oidc::LoginFlow::new(
            "client",
            "https://rp.example/cb",
            "openid".into(),
            "browser".into(),
            "origin".into(),
            0,
            i64::MAX,
        )
    }

    /// A flow of `store` that `a@x.org` accepted at 7.
    async fn an_accepted_flow(store: &Store) -> oidc::LoginFlow {
        let flow = a_flow(store).await;
        let sent = oidc::SentFlow::of(&flow, false);
        assert!(store.flow_sent(sent, "a@x.org", "C1", 5).await.unwrap());
        store
            .flow_answered(&flow.id, "C1", oidc::FlowStatus::Accepted, Some(7))
            .await
            .unwrap();
        flow
    }

    /// A new flow from `/authorize` is kept for its JID form, once; a flow that has no
    /// form to send (accepted from a session, for consent) is not, and a change drops it.
    #[tokio::test]
    async fn a_new_flow_is_kept_for_its_form_once() {
        let (_dir, store, flow) = store_with_a_flow().await;
        store.keep_fresh_flow(&flow);
        let kept = store.flow_for_form(&flow.id).map(|f| f.id);
        assert_eq!(kept.as_deref(), Some(flow.id.as_str()));
        assert!(store.flow_for_form(&flow.id).is_none(), "once");
        store.keep_fresh_flow(&flow);
        store.set_flow_lang(&flow.id, "de").await.unwrap();
        assert!(
            store.flow_for_form(&flow.id).is_none(),
            "dropped by a change"
        );
        let accepted = oidc::LoginFlow {
            status: oidc::FlowStatus::Accepted,
            ..flow.clone()
        };
        store.keep_fresh_flow(&accepted);
        assert!(store.flow_for_form(&flow.id).is_none(), "no form to send");
        store.close().await;
    }

    /// A flow is recorded sent only with the language and send-the-code code its caller
    /// found (a copy kept for the form may be older than the store's flow).
    #[tokio::test]
    async fn a_flow_is_recorded_sent_only_as_its_caller_found_it() {
        let (_dir, store) = sqlite_store().await;
        let mut flow = a_new_flow();
        flow.send_code = Some("2345-6789".into());
        store.insert_flow(&mut flow).await.unwrap();
        let found = oidc::SentFlow::of(&flow, false);
        let stale = [
            ("de", found.send_code),
            (found.lang, Some("3456-789A")),
            (found.lang, None),
        ];
        for (lang, send_code) in stale {
            let sent = oidc::SentFlow {
                lang,
                send_code,
                ..found
            };
            let recorded = store.flow_sent(sent, "a@x.org", "C1", 5).await.unwrap();
            assert!(!recorded, "{lang} {send_code:?}");
        }
        assert!(store.flow_sent(found, "a@x.org", "C1", 5).await.unwrap());
        store.close().await;
    }

    /// The page after the JID form is drawn from the flow as recorded sent, unless the
    /// flow changed since (here: its request not sent after all, or answered).
    #[tokio::test]
    async fn a_flow_recorded_sent_is_drawn_as_recorded_until_it_changes() {
        let (_dir, store, flow) = store_with_a_flow().await;
        let sent = |page| oidc::SentFlow {
            page,
            ..oidc::SentFlow::of(&flow, true)
        };
        let fresh = |flow: Option<oidc::LoginFlow>| flow.unwrap().status;
        assert!(store
            .flow_sent(sent(Some(&flow)), "a@x.org", "C1", 5)
            .await
            .unwrap());
        let first = store.fresh_flow(&flow.id).await.unwrap().unwrap();
        assert_eq!(
            (first.status, first.code.as_deref()),
            (oidc::FlowStatus::Sent, Some("C1"))
        );
        assert_eq!(
            (first.jid.as_deref(), first.sent_at),
            (Some("a@x.org"), Some(5))
        );
        store.flow_not_sent(&flow.id, "C1").await.unwrap();
        let again = store.fresh_flow(&flow.id).await.unwrap();
        assert_eq!(fresh(again), oidc::FlowStatus::New, "read from the store");

        assert!(store
            .flow_sent(sent(Some(&flow)), "a@x.org", "C2", 6)
            .await
            .unwrap());
        store
            .flow_answered(&flow.id, "C2", oidc::FlowStatus::Accepted, Some(7))
            .await
            .unwrap();
        let answered = store.fresh_flow(&flow.id).await.unwrap();
        assert_eq!(fresh(answered), oidc::FlowStatus::Accepted);
        store.close().await;
    }

    /// A flow is finished only as accepted by the person, at the time, its caller read: a
    /// copy of it gone stale finishes nothing.
    #[tokio::test]
    async fn a_flow_is_finished_only_as_its_caller_read_it() {
        let (_dir, store) = sqlite_store().await;
        let flow = an_accepted_flow(&store).await;
        assert!(!store.finish_flow(&flow.id, "b@x.org", 7).await.unwrap());
        assert!(!store.finish_flow(&flow.id, "a@x.org", 8).await.unwrap());
        assert!(store.finish_flow(&flow.id, "a@x.org", 7).await.unwrap());
        assert!(!store.finish_flow(&flow.id, "a@x.org", 7).await.unwrap());
        store.close().await;
    }

    /// The command that issues a flow's code (with or without the session its
    /// confirmation starts) does so only for the person, and the time, its caller read as
    /// having accepted: otherwise it writes nothing at all.
    async fn codes_are_issued_only_as_the_caller_read_the_flow(store: &Store) {
        let count = |table: &'static str| async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(store.pool())
                .await
                .unwrap();
            n
        };
        let issue = |flow_id: String, subject: &'static str, auth_time: i64, session: bool| async move {
            let session = session.then(|| oidc::NewSession::new(100, "device".into()));
            let session_hash = session.as_ref().map(oidc::NewSession::id_hash);
            let grant = oidc::NewGrant {
                client_id: "client",
                subject,
                scope: "openid",
                nonce: None,
                claims: None,
                auth_time,
                session_hash: session_hash.as_deref(),
            };
            let code = oidc::NewCode {
                redirect_uri: "https://rp.example/cb",
                code_challenge: None,
                expires_at: 100,
            };
            let end = oidc::FlowEnd {
                flow_id: &flow_id,
                session: session.as_ref(),
            };
            store
                .grant_with_code(grant, code, Some(end), 9)
                .await
                .unwrap()
                .is_some()
        };
        for with_session in [false, true] {
            let flow = an_accepted_flow(store).await;
            assert!(!issue(flow.id.clone(), "b@x.org", 7, with_session).await);
            assert!(!issue(flow.id.clone(), "a@x.org", 8, with_session).await);
            assert_eq!(
                (count("grants").await, count("auth_codes").await),
                (0, 0),
                "nothing issued for a stale read"
            );
            assert_eq!(count("sessions").await, 0);
            assert_eq!(count("known_devices").await, 0);
            let unchanged = store.flow(&flow.id).await.unwrap().unwrap();
            assert_eq!(unchanged.status, oidc::FlowStatus::Accepted);

            assert!(issue(flow.id.clone(), "a@x.org", 7, with_session).await);
            assert!(
                !issue(flow.id.clone(), "a@x.org", 7, with_session).await,
                "once"
            );
            let done = store.flow(&flow.id).await.unwrap().unwrap();
            assert_eq!(done.status, oidc::FlowStatus::Done);
            assert_eq!((count("grants").await, count("auth_codes").await), (1, 1));
            assert_eq!(count("sessions").await, i64::from(with_session));
            sqlx::query("DELETE FROM auth_codes")
                .execute(store.pool())
                .await
                .unwrap();
            sqlx::query("DELETE FROM grants")
                .execute(store.pool())
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn sqlite_issues_codes_only_as_the_caller_read_the_flow() {
        let (_dir, store) = sqlite_store().await;
        codes_are_issued_only_as_the_caller_read_the_flow(&store).await;
        store.close().await;
    }

    #[tokio::test]
    async fn postgres_issues_codes_only_as_the_caller_read_the_flow() {
        let (store, name, admin) = postgres_store().await;
        codes_are_issued_only_as_the_caller_read_the_flow(&store).await;
        drop_db(store, &name, admin).await;
    }

    /// Writes that must survive a power cut go through connections that sync every commit;
    /// the others through connections that may lose the last commits (never consistency).
    #[tokio::test]
    async fn sqlite_syncs_only_the_writes_that_must_last() {
        let (_dir, store) = sqlite_store().await;
        async fn synchronous(pool: &Connections<Any>) -> i64 {
            sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap()
        }
        // 1 = NORMAL, 2 = FULL (sqlite.org/pragma.html#pragma_synchronous).
        assert_eq!(synchronous(store.pool()).await, 1);
        assert_eq!(synchronous(store.durable_pool()).await, 2);
        assert_eq!(synchronous(store.spend_pool()).await, 1);
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.durable_pool())
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        // In memory there is one database, so one pool.
        let memory = Store::connect("sqlite::memory:").await.unwrap();
        assert_eq!(synchronous(memory.durable_pool()).await, 1);
        store.close().await;
    }

    /// A store on a database of its own on the test PostgreSQL; drop it with [`drop_db`].
    pub(super) async fn postgres_store() -> (Store, String, sqlx::PgConnection) {
        let admin = std::env::var("JIDCONNECT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "jidconnect_unit_{}",
            crate::random::token(12).to_lowercase()
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        (Store::connect(url.as_str()).await.unwrap(), name, conn)
    }

    pub(super) async fn drop_db(store: Store, name: &str, mut admin: sqlx::PgConnection) {
        store.close().await;
        admin
            .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
            .await
            .unwrap();
    }

    /// The same split on PostgreSQL: commits that wait for the disk only where they must.
    #[tokio::test]
    async fn postgres_waits_for_the_disk_only_where_it_must() {
        let (store, name, admin) = postgres_store().await;
        async fn setting(pool: &Connections<Any>) -> String {
            sqlx::query_scalar("SHOW synchronous_commit")
                .fetch_one(pool)
                .await
                .unwrap()
        }
        assert_eq!(setting(store.pool()).await, "off");
        assert_eq!(setting(store.durable_pool()).await, "on");
        assert_eq!(setting(store.spend_pool()).await, "on");
        drop_db(store, &name, admin).await;
    }

    /// Connections are not checked each time they are taken from the pool, yet one that
    /// PostgreSQL dropped while it sat unused (a restart) is replaced, not a failed query.
    #[tokio::test]
    async fn a_connection_lost_while_unused_is_replaced() {
        let (store, name, mut admin) = postgres_store().await;
        sqlx::query("SELECT 1").execute(store.pool()).await.unwrap();
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!ended.is_empty(), "the store had connections open");
        tokio::time::sleep(CHECK_IDLE_AFTER + Duration::from_millis(200)).await;
        for _ in 0..12 {
            sqlx::query("SELECT 1")
                .execute(store.pool())
                .await
                .expect("a fresh connection instead of the lost one");
        }
        drop_db(store, &name, admin).await;
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("postgres://app:hunter2@db/jid"),
            "postgres://app:***@db/jid"
        );
        assert_eq!(
            redacted("postgres://app@db/jid?sslmode=require&password=hunter2"),
            "postgres://app@db/jid?sslmode=require&password=***"
        );
        assert_eq!(redacted("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(sqlite_url("sqlite://x.db"), "sqlite://x.db?mode=rwc");
        assert_eq!(sqlite_url("sqlite://x.db?mode=ro"), "sqlite://x.db?mode=ro");
        assert_eq!(
            sqlite_file("sqlite:///var/lib/j/x.db?mode=rwc"),
            Some("/var/lib/j/x.db".into())
        );
        assert_eq!(sqlite_file("sqlite://x.db"), Some("x.db".into()));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }
}
