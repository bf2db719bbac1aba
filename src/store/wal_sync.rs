//! Group commit for SQLite's write-ahead log.
//!
//! The main pool commits with `synchronous = NORMAL`: a commit is in the WAL file but not
//! yet on disk, and a power cut may lose it. A write that must last (a refresh token's
//! spend: a lost one could be spent again) waits for an `fsync` of the WAL file that
//! started after its commit; one `fsync` serves every write waiting for it. SQLite's
//! own `synchronous = FULL` would sync inside the commit, under the database's one write
//! lock, holding every other writer meanwhile (refresh lost 43% of its rate that way:
//! docs/performance.md). Syncing the WAL file is what `FULL` does after writing a
//! commit's frames (SQLite syncs a restarted WAL's header, and the WAL before each
//! checkpoint, itself), so a commit followed by this sync is as durable.
//!
//! Written here because no crate offers a group-commit barrier for a file another
//! library writes; it is a counter, a flag and a `watch` channel.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

/// Why a sync did not happen.
#[derive(Debug)]
pub enum SyncError {
    /// The file could not be looked up or opened: nothing was lost, but the writes
    /// waiting for this sync are not known to be on disk.
    Unreachable(io::Error),
    /// `fsync` failed: the kernel may have dropped pages it could not write (and a later
    /// `fsync` succeed without them), so nothing written since is known to be on disk.
    Failed(io::Error),
}

/// Syncs the file once; run on a blocking thread.
pub type SyncFile = dyn Fn() -> Result<(), SyncError> + Send + Sync;

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
    /// Every ticket up to this one had a sync attempted for it.
    attempted_through: u64,
    /// Every ticket up to this one is on disk.
    synced_through: u64,
    /// An `fsync` failed ([`SyncError::Failed`]): every wait fails from then on, until a
    /// restart.
    failed: bool,
    /// Syncs made: an `fsync`, or none needed (no WAL file); not those that could not
    /// open the file.
    syncs: u64,
}

impl GroupSync {
    /// For the SQLite database `file` (which exists): syncs its `-wal` file, named as
    /// SQLite names it, after the file's real path (SQLite resolves symbolic links).
    pub fn for_sqlite(file: &Path) -> io::Result<Self> {
        let mut wal = std::fs::canonicalize(file)?.into_os_string();
        wal.push("-wal");
        let wal = WalFile {
            path: PathBuf::from(wal),
            open: Mutex::new(None),
        };
        Ok(Self::new(Arc::new(move || wal.sync())))
    }

    pub fn new(sync: Arc<SyncFile>) -> Self {
        Self {
            sync,
            state: Mutex::new(State {
                requested: 0,
                running: false,
            }),
            synced: watch::Sender::new(Synced {
                attempted_through: 0,
                synced_through: 0,
                failed: false,
                syncs: 0,
            }),
        }
    }

    /// Whether a write that must last may still be made: not once an `fsync` failed.
    pub fn check(&self) -> io::Result<()> {
        match self.synced.borrow().failed {
            true => Err(io::Error::other(
                "a sync of the SQLite write-ahead log failed earlier; restart once the disk is fixed",
            )),
            false => Ok(()),
        }
    }

    /// Returns once what this process committed before the call is on disk.
    pub async fn wait(self: &Arc<Self>) -> io::Result<()> {
        self.check()?;
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
        let outcome = *synced
            .wait_for(|s| s.failed || s.attempted_through >= ticket)
            .await
            .map_err(io::Error::other)?;
        self.check()?;
        match outcome.synced_through >= ticket {
            true => Ok(()),
            false => Err(io::Error::other(
                "the SQLite write-ahead log could not be opened to sync it",
            )),
        }
    }

    /// How many syncs were made (see [`Synced::syncs`]).
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
                .unwrap_or_else(|e| Err(SyncError::Failed(io::Error::other(e))));
            self.synced.send_modify(|s| {
                s.attempted_through = target;
                match &result {
                    Ok(()) => {
                        s.syncs += 1;
                        s.synced_through = target;
                    }
                    Err(SyncError::Unreachable(e)) => {
                        tracing::warn!(error = %e, "cannot open the SQLite write-ahead log to sync it");
                    }
                    Err(SyncError::Failed(e)) => {
                        s.syncs += 1;
                        s.failed = true;
                        tracing::error!(error = %e, "cannot sync the SQLite write-ahead log");
                    }
                }
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

/// The WAL file, kept open between syncs: Linux reports a failed write-back once, to a
/// file description open when it happened (or the next one to sync), so a file opened
/// afresh for each sync could miss it. Opened again when SQLite has made another.
struct WalFile {
    path: PathBuf,
    /// The open file and its (device, inode).
    open: Mutex<Option<(File, (u64, u64))>>,
}

impl WalFile {
    fn sync(&self) -> Result<(), SyncError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let identity = match std::fs::metadata(&self.path) {
            Ok(metadata) => (metadata.dev(), metadata.ino()),
            // No WAL: SQLite removes it only once everything is in the database file, synced.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                *open = None;
                return Ok(());
            }
            Err(e) => return Err(SyncError::Unreachable(e)),
        };
        let file = match open.take() {
            Some((file, seen)) if seen == identity => file,
            _ => File::open(&self.path).map_err(SyncError::Unreachable)?,
        };
        let synced = file.sync_data().map_err(SyncError::Failed);
        *open = Some((file, identity));
        synced
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

    /// After a failed `fsync`, nothing is known to be on disk: that wait and every later
    /// one fail, with no sync tried again. A file that could not be opened fails only the
    /// waits of that attempt.
    #[tokio::test]
    async fn a_failed_fsync_sticks_and_an_unreachable_file_does_not() {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let group = Arc::new(GroupSync::new(Arc::new(move || {
            match c.fetch_add(1, Ordering::SeqCst) {
                0 => Err(SyncError::Unreachable(io::Error::other("EMFILE"))),
                2 => Err(SyncError::Failed(io::Error::other("EIO"))),
                _ => Ok(()),
            }
        })));
        assert!(group.wait().await.is_err(), "unreachable");
        group.wait().await.unwrap();
        assert!(group.check().is_ok());
        assert!(group.wait().await.is_err(), "failed");
        assert!(group.check().is_err());
        assert!(group.wait().await.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "no sync after a failed one"
        );
    }

    /// The real file: `file-wal` after `file`'s real path (SQLite's name for it, links
    /// resolved); a missing one is nothing to sync, one that cannot be looked up fails
    /// the wait; a file SQLite replaced is synced as well.
    #[tokio::test]
    async fn syncs_the_write_ahead_log_that_sqlite_names() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        std::fs::write(&real, b"").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let group = Arc::new(GroupSync::for_sqlite(&link).unwrap());
        group.wait().await.unwrap();
        let wal = dir.path().join("real.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        group.wait().await.unwrap();
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"other frames").unwrap();
        group.wait().await.unwrap();
        assert_eq!(group.syncs(), 3);
        // A link to itself cannot be looked up (ELOOP), even by root: were the WAL looked
        // for next to the link, it would be missing, and the wait would succeed.
        std::fs::remove_file(&wal).unwrap();
        std::os::unix::fs::symlink(&wal, &wal).unwrap();
        assert!(group.wait().await.is_err());
    }
}
