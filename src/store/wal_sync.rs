//! Group commit for SQLite's write-ahead log.
//!
//! The main pool commits with `synchronous = NORMAL`: a commit is in the WAL file but not
//! yet on disk, and a power cut may lose it. A write that must last (a refresh token's
//! spend: a lost one could be spent again) waits for an `fsync` of the WAL file that
//! started after its commit; one `fsync` serves every write waiting for it. SQLite's
//! own `synchronous = FULL` would sync inside the commit, under the database's one write
//! lock, holding every other writer meanwhile (refresh lost 43% of its rate that way:
//! docs/performance.md). Syncing the WAL file is what `FULL` does after writing a
//! commit's frames, so a commit followed by this sync is as durable.
//!
//! Written here because no crate offers a group-commit barrier for a file another
//! library writes; it is a counter, a flag and a `watch` channel.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

/// Syncs the file once; run on a blocking thread.
pub type SyncFile = dyn Fn() -> io::Result<()> + Send + Sync;

pub struct GroupSync {
    sync: Arc<SyncFile>,
    state: Mutex<State>,
    synced: watch::Sender<Synced>,
}

struct State {
    /// Waits asked for so far; each is a ticket number.
    requested: u64,
    /// A task is syncing (and will look again before it stops).
    running: bool,
}

#[derive(Clone, Copy)]
struct Synced {
    /// Every ticket up to this one is on disk.
    through: u64,
    /// A sync failed: nothing written since can be known to be on disk (after a failed
    /// `fsync`, the kernel may have dropped the unwritten pages and a later one succeed),
    /// so every wait fails from then on, until a restart.
    failed: bool,
    /// `fsync` calls made.
    syncs: u64,
}

impl GroupSync {
    /// For SQLite's `file`: syncs `file-wal`. No WAL file means nothing waits in one (SQLite
    /// removes it only once everything is in the database file, synced).
    pub fn for_sqlite(file: &std::path::Path) -> Self {
        let mut wal = file.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        // Opened for each sync: SQLite may remove the file and create another.
        Self::new(Arc::new(move || match std::fs::File::open(&wal) {
            Ok(file) => file.sync_data(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }))
    }

    pub fn new(sync: Arc<SyncFile>) -> Self {
        Self {
            sync,
            state: Mutex::new(State {
                requested: 0,
                running: false,
            }),
            synced: watch::Sender::new(Synced {
                through: 0,
                failed: false,
                syncs: 0,
            }),
        }
    }

    /// Returns once what this process committed before the call is on disk.
    pub async fn wait(self: &Arc<Self>) -> io::Result<()> {
        let mut synced = self.synced.subscribe();
        let ticket = {
            let mut state = self.state();
            state.requested += 1;
            if !state.running {
                state.running = true;
                // A task of its own, not the caller's: a caller that goes away (its
                // client hung up) must not leave the others waiting for a sync it owned.
                tokio::spawn(Arc::clone(self).sync_while_asked());
            }
            state.requested
        };
        let outcome = synced
            .wait_for(|s| s.failed || s.through >= ticket)
            .await
            .map(|s| *s)
            .map_err(io::Error::other)?;
        if outcome.failed {
            return Err(io::Error::other(
                "a sync of the SQLite write-ahead log failed earlier; restart once the disk is fixed",
            ));
        }
        Ok(())
    }

    /// How many `fsync` calls were made.
    pub fn syncs(&self) -> u64 {
        self.synced.borrow().syncs
    }

    async fn sync_while_asked(self: Arc<Self>) {
        loop {
            // Every ticket handed out so far was for a commit made before this sync starts.
            let target = self.state().requested;
            let sync = Arc::clone(&self.sync);
            let result = tokio::task::spawn_blocking(move || sync())
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e)));
            if let Err(e) = &result {
                tracing::error!(error = %e, "cannot sync the SQLite write-ahead log");
            }
            self.synced.send_modify(|s| {
                s.syncs += 1;
                s.failed |= result.is_err();
                s.through = target;
            });
            let mut state = self.state();
            if state.requested == target {
                state.running = false;
                return;
            }
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;
    use tokio::sync::Semaphore;

    /// A sync that counts its calls and finishes only when the test lets it.
    fn gated() -> (Arc<GroupSync>, Arc<Semaphore>, Arc<AtomicU64>) {
        let gate = Arc::new(Semaphore::new(0));
        let started = Arc::new(AtomicU64::new(0));
        let (g, s) = (gate.clone(), started.clone());
        let group = GroupSync::new(Arc::new(move || {
            s.fetch_add(1, Ordering::SeqCst);
            // On a blocking thread: waits for the test.
            let handle = tokio::runtime::Handle::current();
            handle.block_on(g.acquire()).unwrap().forget();
            Ok(())
        }));
        (Arc::new(group), gate, started)
    }

    async fn until(what: impl Fn() -> bool) {
        for _ in 0..500 {
            if what() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("never happened");
    }

    /// A wait is answered only by a sync that started after it was asked; the waits that
    /// come during one sync share the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_needs_a_sync_that_started_after_it_and_shares_it() {
        let (group, gate, started) = gated();
        let first = tokio::spawn({
            let group = group.clone();
            async move { group.wait().await }
        });
        until(|| started.load(Ordering::SeqCst) == 1).await;
        let later: Vec<_> = (0..10)
            .map(|_| {
                let group = group.clone();
                tokio::spawn(async move { group.wait().await })
            })
            .collect();
        until(|| group.state().requested == 11).await;
        gate.add_permits(1);
        first.await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            later.iter().all(|w| !w.is_finished()),
            "the sync that was under way when they asked does not cover them"
        );
        until(|| started.load(Ordering::SeqCst) == 2).await;
        gate.add_permits(1);
        for wait in later {
            wait.await.unwrap().unwrap();
        }
        assert_eq!(group.syncs(), 2, "ten waits, one sync");
        assert!(!group.state().running);
    }

    /// After a failed sync, nothing is known to be on disk: every wait fails, later ones too.
    #[tokio::test]
    async fn a_failed_sync_fails_every_wait_from_then_on() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let group = Arc::new(GroupSync::new(Arc::new(move || {
            match c.fetch_add(1, Ordering::SeqCst) {
                0 => Err(io::Error::other("EIO")),
                _ => Ok(()),
            }
        })));
        assert!(group.wait().await.is_err());
        assert!(group.wait().await.is_err());
        // The second wait's sync succeeded meanwhile; it proves nothing.
        until(|| group.syncs() == 2).await;
        assert!(group.wait().await.is_err());
    }

    /// The real file: opens `file-wal` (a name SQLite fixes) for each sync; a missing one
    /// is nothing to sync, one that cannot be opened is an error.
    #[tokio::test]
    async fn syncs_the_write_ahead_log_next_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let group = Arc::new(GroupSync::for_sqlite(&dir.path().join("db.sqlite")));
        group.wait().await.unwrap();
        std::fs::write(dir.path().join("db.sqlite-wal"), b"frames").unwrap();
        group.wait().await.unwrap();
        assert_eq!(group.syncs(), 2);
        // A link to itself cannot be opened (ELOOP), even by root.
        let looped = dir.path().join("looped.sqlite-wal");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        let group = Arc::new(GroupSync::for_sqlite(&dir.path().join("looped.sqlite")));
        assert!(group.wait().await.is_err());
    }
}
