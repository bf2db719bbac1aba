//! Wakes the requests that wait for a login flow to change: the wait and send-the-code
//! pages ask for their flow's status and are answered when it changes (a long poll), not
//! by asking again and again.
//!
//! Every change of a flow's status through this process's [`Store`] wakes its waiters;
//! with several instances, a change made by another instance (the leader records the
//! XMPP answers) arrives as a notification ([`crate::cluster`]). Waiters also look again
//! every [`RECHECK_EVERY`], for a notification lost while a connection was down and for
//! the rare changes that wake nobody (a logout ending a browser's flows).
//!
//! A change whose writer knows what the page needs (an answer to a confirmation request:
//! its status, and the request's code) carries it, so a waiter that last saw that very
//! request waiting answers without reading the flow again: one statement fewer per login.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use super::oidc::FlowStatus;

/// How often a waiter looks again without being woken.
pub const RECHECK_EVERY: Duration = Duration::from_secs(2);
/// More waiters than this for one flow (a page open in a few tabs is fine) are told the
/// status at once instead of waiting: each would read the flow on every wake-up.
pub const MAX_WAITERS_PER_FLOW: usize = 4;

#[derive(Default)]
pub struct FlowWatch {
    /// The flows someone waits for.
    waiting: Mutex<HashMap<String, Watched>>,
    /// Set at shutdown: nobody waits any more.
    closed: AtomicBool,
}

#[derive(Default)]
struct Watched {
    notify: Arc<Notify>,
    waiters: usize,
    /// Changes seen since the first waiter came.
    changes: u64,
    /// The answer the last change was, when its writer said so.
    answer: Option<Answer>,
}

/// A confirmation request's answer, as recorded in its login flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: FlowStatus,
    /// The code of the request answered: a waiter takes the answer only for the request
    /// it saw waiting.
    pub code: String,
    /// When the person accepted, as recorded (`None`: accepted elsewhere, or not): with
    /// it, the flow as it stands after the answer is known without reading it.
    pub auth_time: Option<i64>,
}

impl FlowWatch {
    /// Flow `id` changed: its waiters read it again.
    pub fn changed(&self, id: &str) {
        self.record(id, None);
    }

    /// Flow `id`'s request was answered (and nothing else of what its page shows
    /// changed): its waiters that saw that request waiting take the answer without
    /// reading the flow again.
    pub fn answered(&self, id: &str, answer: Answer) {
        self.record(id, Some(answer));
    }

    fn record(&self, id: &str, answer: Option<Answer>) {
        if let Some(watched) = self.waiting().get_mut(id) {
            watched.changes += 1;
            watched.answer = answer;
            watched.notify.notify_waiters();
        }
    }

    /// Wakes every waiter for good (shutdown: the open requests answer at once).
    pub fn close(&self) {
        let waiting = self.waiting();
        self.closed.store(true, Ordering::SeqCst);
        for watched in waiting.values() {
            watched.notify.notify_waiters();
        }
    }

    /// Registers interest in flow `id` until the returned waiter is dropped.
    pub fn watch(self: &Arc<Self>, id: &str) -> FlowWaiter {
        let mut waiting = self.waiting();
        let watched = waiting.entry(id.to_owned()).or_default();
        watched.waiters += 1;
        FlowWaiter {
            watch: self.clone(),
            id: id.to_owned(),
            notify: watched.notify.clone(),
            crowded: watched.waiters > MAX_WAITERS_PER_FLOW,
        }
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<String, Watched>> {
        // A plain map: a panic elsewhere cannot leave it half-updated.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct FlowWaiter {
    watch: Arc<FlowWatch>,
    id: String,
    notify: Arc<Notify>,
    /// Past [`MAX_WAITERS_PER_FLOW`] when it came: it should not wait.
    crowded: bool,
}

impl FlowWaiter {
    /// A wake-up to await. Enable it (`Notified::enable`) before reading the flow, so that
    /// a change between the read and the wait is not missed.
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// Where the flow's changes stand: take it before reading the flow, and give it to
    /// [`Self::answer_since`] after the wake-up.
    pub fn changes(&self) -> u64 {
        self.watch
            .waiting()
            .get(&self.id)
            .map_or(0, |watched| watched.changes)
    }

    /// The answer to request `code`, if it is the flow's last change and came after
    /// `changes`; `None`: read the flow.
    pub fn answer_since(&self, changes: u64, code: &str) -> Option<Answer> {
        let waiting = self.watch.waiting();
        let watched = waiting.get(&self.id)?;
        let answer = watched.answer.as_ref()?;
        (watched.changes > changes && answer.code == code).then(|| answer.clone())
    }

    /// Whether this waiter should answer at once: the server is stopping, or too many
    /// already wait for this flow.
    pub fn should_not_wait(&self) -> bool {
        self.crowded || self.watch.closed.load(Ordering::SeqCst)
    }
}

impl Drop for FlowWaiter {
    fn drop(&mut self) {
        let mut waiting = self.watch.waiting();
        if let Some(watched) = waiting.get_mut(&self.id) {
            watched.waiters -= 1;
            if watched.waiters == 0 {
                waiting.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_change_wakes_the_flows_waiters_only() {
        let watch = Arc::new(FlowWatch::default());
        let a = watch.watch("a");
        let b = watch.watch("b");
        let woken_a = a.notified();
        let woken_b = b.notified();
        tokio::pin!(woken_a, woken_b);
        woken_a.as_mut().enable();
        woken_b.as_mut().enable();
        watch.changed("a");
        tokio::time::timeout(Duration::from_secs(1), woken_a)
            .await
            .expect("the change of a wakes a");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), woken_b)
                .await
                .is_err(),
            "b did not change"
        );
    }

    #[tokio::test]
    async fn an_answer_reaches_only_the_waiters_that_read_before_it() {
        let watch = Arc::new(FlowWatch::default());
        let early = watch.watch("a");
        let read_before = early.changes();
        let nothing_yet = early.answer_since(read_before, "C");
        assert_eq!(nothing_yet, None);
        let accepted = Answer {
            status: FlowStatus::Accepted,
            code: "C".into(),
            auth_time: Some(7),
        };
        watch.answered("a", accepted.clone());
        let answer = early.answer_since(read_before, "C");
        assert_eq!(answer, Some(accepted));
        let other = early.answer_since(read_before, "D");
        assert_eq!(other, None, "the answer to another request");
        // Came after the answer: its own read saw it already.
        let late = watch.watch("a");
        assert_eq!(late.answer_since(late.changes(), "C"), None);
        // A change whose writer did not say what it is: everyone reads the flow.
        watch.changed("a");
        assert_eq!(early.answer_since(read_before, "C"), None);
        let b = watch.watch("b");
        assert_eq!(b.answer_since(0, "C"), None, "b was not answered");
    }

    #[tokio::test]
    async fn waiters_leave_nothing_behind() {
        let watch = Arc::new(FlowWatch::default());
        let first = watch.watch("a");
        let second = watch.watch("a");
        drop(first);
        assert_eq!(watch.waiting().len(), 1, "the second still waits");
        drop(second);
        assert!(watch.waiting().is_empty());
        watch.changed("a");
        // Dropped at once from several threads: still nothing left.
        let waiters: Vec<_> = (0..64).map(|_| watch.watch("b")).collect();
        let threads: Vec<_> = waiters
            .into_iter()
            .map(|w| std::thread::spawn(move || drop(w)))
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(watch.waiting().is_empty());
    }

    #[tokio::test]
    async fn a_crowd_for_one_flow_is_answered_at_once() {
        let watch = Arc::new(FlowWatch::default());
        let tabs: Vec<_> = (0..MAX_WAITERS_PER_FLOW)
            .map(|_| watch.watch("a"))
            .collect();
        assert!(tabs.iter().all(|w| !w.should_not_wait()));
        assert!(watch.watch("a").should_not_wait());
        assert!(!watch.watch("b").should_not_wait(), "other flows wait");
    }

    #[tokio::test]
    async fn closing_wakes_everyone_and_stops_new_waits() {
        let watch = Arc::new(FlowWatch::default());
        let a = watch.watch("a");
        let woken = a.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        assert!(!a.should_not_wait());
        watch.close();
        tokio::time::timeout(Duration::from_secs(1), woken)
            .await
            .expect("closing wakes the waiter");
        assert!(watch.watch("b").should_not_wait());
    }
}
