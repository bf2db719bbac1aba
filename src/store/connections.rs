//! sqlx's pool, with connections given back without a round trip.
//!
//! sqlx 0.8 checks every connection given back to its pool: `PoolConnection`'s drop spawns
//! a task that pings it, a round trip to PostgreSQL or a hop to SQLite's worker thread and
//! back, after every statement; no option turns that off (docs/performance.md measures
//! it). Here a connection whose statement completed is kept on a list and handed out
//! again from there; only one whose statement failed or was cancelled goes back through
//! sqlx, whose ping then flushes what it left behind (an unread reply, a rollback) or
//! drops it. A statement waits for its turn here, not in sqlx's pool, where it would not
//! see the connections kept here. Replacing sqlx's pool with another pool crate would give up sqlx's
//! `Executor` on the pool and its migrations; this stays a thin list on top of it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use either::Either;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryFutureExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Describe, Execute, Executor, Pool, Transaction};

pub struct Connections<DB: Database> {
    pool: Pool<DB>,
    kept: Mutex<Vec<Kept<DB>>>,
    /// One per connection sqlx may open, taken in turn: with one, a statement finds a kept
    /// connection or room in sqlx's pool for another.
    turns: Semaphore,
    /// A kept connection unused for longer is checked (a round trip) before it is handed
    /// out; none for SQLite, whose connections cannot be lost.
    check_idle_after: Option<Duration>,
}

/// sqlx's `Executor` wants it.
impl<DB: Database> std::fmt::Debug for Connections<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("pool", &self.pool)
            .field("kept", &self.lock().len())
            .finish()
    }
}

impl<DB: Database> Drop for Connections<DB> {
    fn drop(&mut self) {
        // sqlx gives a dropped `PoolConnection` back from a task it spawns, which panics
        // without a runtime (a test's store outliving it): then the kept ones are just let go.
        if tokio::runtime::Handle::try_current().is_err() {
            for kept in self.lock().drain(..) {
                drop(kept.conn.detach());
            }
        }
    }
}

struct Kept<DB: Database> {
    conn: PoolConnection<DB>,
    since: Instant,
}

impl<DB: Database> Connections<DB> {
    pub fn new(pool: Pool<DB>, check_idle_after: Option<Duration>) -> Self {
        Self {
            turns: Semaphore::new(pool.options().get_max_connections() as usize),
            pool,
            kept: Mutex::new(Vec::new()),
            check_idle_after,
        }
    }

    /// A transaction on a kept connection (or a new one); once it ends, the connection
    /// goes back through sqlx, whose ping sends a rollback that a drop left queued. It
    /// gives up its turn at once: a statement that finds no connection meanwhile waits in
    /// sqlx's pool for the transaction's (transactions are few and short).
    pub async fn begin(&self) -> Result<Transaction<'static, DB>, sqlx::Error> {
        let conn = self.take().await?.conn.take().expect("just taken");
        Transaction::begin(conn, None).await
    }

    /// Closes every connection, kept or not, once those in use are given back.
    pub async fn close(&self) {
        // Closed first, so that a statement finishing meanwhile does not keep its
        // connection (which `close` would wait for).
        let closing = self.pool.close();
        self.turns.close();
        let kept = std::mem::take(&mut *self.lock());
        // One after the other, not dropped (sqlx would close them all at once): SQLite
        // checkpoints and removes its write-ahead log when the last connection closes,
        // which it knows by taking the exclusive lock; two closing at the same time each
        // hold the other off it, and the log stays.
        for kept in kept {
            let _ = kept.conn.close().await;
        }
        closing.await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Kept<DB>>> {
        // The list stays consistent whatever panicked while holding it.
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently kept connection (the one most likely still in the CPU's cache and
    /// PostgreSQL's), or a connection from sqlx's pool.
    async fn take(&self) -> Result<Taken<'_, DB>, sqlx::Error> {
        let turn = tokio::time::timeout(
            self.pool.options().get_acquire_timeout(),
            self.turns.acquire(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let Some(Kept { mut conn, since }) = self.lock().pop() else {
                let conn = self.pool.acquire().await?;
                return Ok(Taken::new(self, conn, turn));
            };
            if self
                .check_idle_after
                .is_some_and(|after| since.elapsed() > after)
                && conn.ping().await.is_err()
            {
                conn.close_on_drop();
                continue;
            }
            return Ok(Taken::new(self, conn, turn));
        }
    }
}

/// A connection in use: kept again when its statement completed, else given back to sqlx.
/// Its turn ends after that (fields drop after `drop`), so the next in line finds it.
struct Taken<'a, DB: Database> {
    owner: &'a Connections<DB>,
    conn: Option<PoolConnection<DB>>,
    completed: bool,
    _turn: SemaphorePermit<'a>,
}

impl<'a, DB: Database> Taken<'a, DB> {
    fn new(
        owner: &'a Connections<DB>,
        conn: PoolConnection<DB>,
        turn: SemaphorePermit<'a>,
    ) -> Self {
        Self {
            owner,
            conn: Some(conn),
            completed: false,
            _turn: turn,
        }
    }

    fn conn(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("taken until dropped")
    }
}

impl<DB: Database> Drop for Taken<'_, DB> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // Checked under the lock: `close` marks the pool closed before it takes the list.
        let mut kept = self.owner.lock();
        if self.completed && !self.owner.pool.is_closed() {
            kept.push(Kept {
                conn,
                since: Instant::now(),
            });
        }
    }
}

impl<'c, DB: Database> Executor<'c> for &'c Connections<DB>
where
    for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
{
    type Database = DB;

    /// Collects the results before handing them on: the statements here return a few rows,
    /// and the connection is then free before the caller looks at them.
    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(
            async move {
                let mut taken = self.take().await?;
                let results: Vec<_> = taken.conn().fetch_many(query).collect().await;
                taken.completed = results.iter().all(Result::is_ok);
                Ok(futures::stream::iter(results))
            }
            .try_flatten_stream(),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut taken = self.take().await?;
            // Read to the end, as sqlx's own drivers do: the Any driver's `fetch_optional`
            // on PostgreSQL returns at the first row, and what followed it (an error
            // included) would be left for the next statement on a kept connection.
            let results: Result<Vec<_>, _> = taken.conn().fetch_many(query).try_collect().await;
            taken.completed = results.is_ok();
            Ok(results?.into_iter().find_map(Either::right))
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.describe(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgPoolOptions;
    use sqlx::Postgres;

    async fn postgres(max_connections: u32) -> Connections<Postgres> {
        let url = std::env::var("JIDCONNECT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect(&url)
            .await
            .unwrap();
        Connections::new(pool, Some(Duration::from_secs(1)))
    }

    async fn backend_pid(connections: &Connections<Postgres>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(connections)
            .await
            .unwrap()
    }

    /// An error that PostgreSQL sends after a statement's first row is that statement's,
    /// through the Any driver too (whose own `fetch_optional` stops at the first row), and
    /// the next statement on the connection is not handed it.
    #[tokio::test]
    async fn an_error_after_the_first_row_is_the_statements_own() {
        sqlx::any::install_default_drivers();
        let url = std::env::var("JIDCONNECT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let connections = Connections::new(pool, Some(Duration::from_secs(1)));
        let failing = sqlx::query("SELECT 1 / (n - 2) FROM generate_series(1, 3) n")
            .fetch_optional(&connections)
            .await;
        assert!(failing.is_err(), "the division by zero in its second row");
        let next: i64 = sqlx::query_scalar("SELECT CAST(7 AS BIGINT)")
            .fetch_one(&connections)
            .await
            .unwrap();
        assert_eq!(next, 7);
    }

    /// A connection whose statement completed is handed out again; one left in the middle
    /// of a statement (its request cancelled) is not: its reply would still be coming.
    #[tokio::test]
    async fn only_connections_that_finished_their_statement_are_kept() {
        let connections = postgres(2).await;
        let first = backend_pid(&connections).await;
        assert_eq!(backend_pid(&connections).await, first);
        assert_eq!(connections.lock().len(), 1);

        let cancelled = tokio::time::timeout(
            Duration::from_millis(100),
            sqlx::query("SELECT pg_sleep(1)").execute(&connections),
        )
        .await;
        assert!(cancelled.is_err(), "the sleep outlasts the timeout");
        assert!(connections.lock().is_empty());
        assert_ne!(backend_pid(&connections).await, first);

        // A failed statement's connection goes back through sqlx as well (whose check
        // finds it sound, so it comes back from there).
        backend_pid(&connections).await;
        assert_eq!(connections.lock().len(), 1);
        sqlx::query("SELECT no_such_column")
            .execute(&connections)
            .await
            .unwrap_err();
        assert!(connections.lock().is_empty());
        backend_pid(&connections).await;
        connections.close().await;
    }

    /// SQLite removes its write-ahead log when the last connection closes, not when several
    /// close at once; a stopped server leaves the file alone a complete copy. (Closing them
    /// all at once leaves the log in about one round in five: hence several rounds.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_kept_sqlite_connections_removes_the_write_ahead_log() {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("kept.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let wal = dir.path().join("kept.db-wal");
        for round in 0..50 {
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.clone())
                .await
                .unwrap();
            let connections = Connections::new(pool, None);
            sqlx::query("CREATE TABLE IF NOT EXISTS t (x)")
                .execute(&connections)
                .await
                .unwrap();
            let mut taken = futures::future::try_join_all((0..4).map(|_| connections.take()))
                .await
                .unwrap();
            for connection in &mut taken {
                connection.completed = true;
            }
            drop(taken);
            assert_eq!(connections.lock().len(), 4);
            assert!(wal.exists());
            connections.close().await;
            assert!(
                !wal.exists(),
                "round {round}: the log outlived the connections"
            );
        }
    }

    /// Closing does not wait for the kept connections (sqlx counts them as in use), and a
    /// statement that finishes after the close does not keep its connection.
    #[tokio::test]
    async fn close_ends_kept_connections() {
        let connections = postgres(2).await;
        backend_pid(&connections).await;
        // Polled first, the sleep takes the kept connection; the other branch then gets
        // and keeps a second one, and closes while the sleep runs.
        let (ran, ()) = tokio::join!(
            sqlx::query("SELECT pg_sleep(0.3)").execute(&connections),
            async {
                backend_pid(&connections).await;
                assert_eq!(connections.lock().len(), 1);
                connections.close().await;
            }
        );
        ran.unwrap();
        assert!(connections.lock().is_empty());
        assert_eq!(connections.pool.size(), 0);
    }

    /// More statements at once than connections: each waits its turn, and those kept
    /// serve the ones waiting (waiting in sqlx's pool, they would time out).
    #[tokio::test]
    async fn statements_beyond_the_connections_wait_their_turn() {
        let connections = postgres(2).await;
        let statements =
            (0..20).map(|_| sqlx::query("SELECT pg_sleep(0.02)").execute(&connections));
        for done in futures::future::join_all(statements).await {
            done.unwrap();
        }
        assert!(connections.pool.size() <= 2);
        connections.close().await;
    }

    /// A transaction takes a kept connection and ends on its own.
    #[tokio::test]
    async fn transactions_commit_on_a_kept_connection() {
        let connections = postgres(1).await;
        let pid = backend_pid(&connections).await;
        let mut tx = connections.begin().await.unwrap();
        let in_tx: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(in_tx, pid);
        tx.commit().await.unwrap();
        assert_eq!(backend_pid(&connections).await, pid);
        connections.close().await;
    }
}
