//! Login flows just stored, kept for the page the browser is sent to next.
//!
//! `/authorize` stores a flow and redirects the browser to its page at once. Until that
//! page is shown nothing can change the flow: its id, CSRF token and send-the-code code
//! are on that page only. So the page is drawn from the flow as it was written instead of
//! reading it back (one statement fewer per login). Each flow is taken once; a change
//! through this process drops it; one not taken within [`FRESH_FOR`], or pushed out by
//! [`KEPT`] newer ones, is read from the store as any other.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::oidc::LoginFlow;

/// How long a flow waits for its page: the redirect is followed at once.
pub const FRESH_FOR: Duration = Duration::from_secs(10);
/// At most this many wait at once (a few MiB), the oldest making room.
pub const KEPT: usize = 4096;

#[derive(Default)]
pub struct FreshFlows {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    flows: HashMap<String, (Instant, LoginFlow)>,
    /// Ids in the order they came; may name flows taken since.
    order: VecDeque<(String, Instant)>,
}

impl FreshFlows {
    /// Keeps `flow`, just stored, for its first page.
    pub fn keep(&self, flow: LoginFlow, now: Instant) {
        let mut kept = self.kept();
        while kept.order.len() >= KEPT {
            if let Some((id, at)) = kept.order.pop_front() {
                // Only the entry this id was queued for: a later one keeps its own place.
                if kept
                    .flows
                    .get(&id)
                    .is_some_and(|(kept_at, _)| *kept_at == at)
                {
                    kept.flows.remove(&id);
                }
            }
        }
        kept.order.push_back((flow.id.clone(), now));
        kept.flows.insert(flow.id.clone(), (now, flow));
    }

    /// The flow `id` as stored, if it was kept here, once, within [`FRESH_FOR`].
    pub fn take(&self, id: &str, now: Instant) -> Option<LoginFlow> {
        let (at, flow) = self.kept().flows.remove(id)?;
        (now.saturating_duration_since(at) < FRESH_FOR).then_some(flow)
    }

    /// Flow `id` changed: its page reads it from the store.
    pub fn forget(&self, id: &str) {
        self.kept().flows.remove(id);
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        // Plain maps: a panic elsewhere cannot leave them half-updated.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(id: &str) -> LoginFlow {
        let mut flow = LoginFlow::new(
            "client",
            "https://rp.example/cb",
            "openid".into(),
            "browser".into(),
            "origin".into(),
            0,
            600,
        );
        flow.id = id.to_owned();
        flow
    }

    #[test]
    fn a_flow_is_taken_once() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        fresh.keep(flow("a"), now);
        assert_eq!(fresh.take("a", now).map(|f| f.id).as_deref(), Some("a"));
        assert!(
            fresh.take("a", now).is_none(),
            "the next page reads the store"
        );
        assert!(fresh.take("b", now).is_none(), "never kept");
    }

    #[test]
    fn a_changed_or_stale_flow_is_read_from_the_store() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        fresh.keep(flow("changed"), now);
        fresh.forget("changed");
        assert!(fresh.take("changed", now).is_none());
        fresh.keep(flow("late"), now);
        assert!(fresh.take("late", now + FRESH_FOR).is_none());
        assert!(fresh.kept().flows.is_empty(), "taking it dropped it");
    }

    #[test]
    fn the_oldest_make_room() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        for i in 0..KEPT + 10 {
            fresh.keep(flow(&i.to_string()), now);
        }
        assert!(fresh.kept().flows.len() <= KEPT);
        assert!(fresh.kept().order.len() <= KEPT);
        assert!(fresh.take("0", now).is_none(), "pushed out");
        assert!(fresh.take(&(KEPT + 9).to_string(), now).is_some());
    }
}
