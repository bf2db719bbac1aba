//! Login flows just stored, kept for the page the browser is sent to next.
//!
//! `/authorize` stores a flow and redirects the browser to its page at once; the JID form
//! records the flow as sent and redirects to its wait page. Those pages, and the status
//! request their script sends as soon as they load, are drawn from the flow as it was
//! written instead of reading it back (one statement fewer each). Until its page is
//! shown, nothing but this browser (which is following the redirect) can act on a new
//! flow: its id and CSRF token are on that page only; and a change made elsewhere is
//! announced to this instance: an answer (unless the leader is alone, when nobody else
//! can hold a copy), and the JID form sent at another process than the one named by
//! `login_flows.kept_by`, which stored the flow or last recorded it as sent. So each kept
//! flow is taken twice at most, by the first page of it shown here and by the first
//! status request, within [`FRESH_FOR`]; a change this process makes or hears of drops
//! it. With several instances and no sticky sessions, a page shown elsewhere leaves it
//! here until it goes stale: what is left then is a browser coming back within
//! [`FRESH_FOR`] after acting on another instance in a way that is not announced (cancel,
//! another address), whose page is then the one before that step; its status request
//! reads the store within `flow_watch::RECHECK_EVERY` and moves it on.
//!
//! One more: when a page's status request takes the answer this process recorded (an
//! acceptance, with its time), the flow as that answer left it is kept for the "continue"
//! the page sends at once. The process that keeps it need not be the one `kept_by`
//! names, so a change made elsewhere may not drop it in time; but it only ever issues a
//! code through the command that checks the flow is still accepted by that person at
//! that time (`login_flows.jid`, `auth_time`), and a continue that would ask for consent
//! first reads the store.
//!
//! And a flow stored by `/authorize` is kept, apart, for its JID form, sent once within
//! [`FORM_WITHIN`] (a person types an address). The form takes from it only what no one
//! changes (the browser, the CSRF token, the client's request) and what the statement
//! that records the flow as sent checks against the store: the state, the language and
//! the send-the-code code; a form the copy cannot carry through is done again from the
//! store (`login::send`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::oidc::LoginFlow;

/// How long a flow waits for its page: the redirect is followed at once.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// Its page, then the page's first status request.
pub const PAGE_AND_STATUS: u8 = 2;
/// Its page only: a change may have come before it was kept.
pub const PAGE_ONLY: u8 = 1;
/// At most this many wait at once, the oldest making room (a flow is its request's
/// fields, each within the authorize endpoint's limits: typically 1–2 KiB, 16 KiB at most).
pub const KEPT: usize = 4096;
/// How long a flow waits for its JID form; a slower form reads the store.
pub const FORM_WITHIN: Duration = Duration::from_secs(300);
/// A flow whose request carries more than this (state, nonce, claims, …) is not kept for
/// its form: so that [`KEPT`] forms waiting for minutes hold about 10 MiB at most.
pub const FORM_FLOW_BYTES: usize = 2048;

#[derive(Default)]
pub struct FreshFlows {
    pages: Mutex<Kept>,
    forms: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// When kept, uses left, the flow.
    flows: HashMap<String, (Instant, u8, LoginFlow)>,
    /// Ids in the order they came; may name flows taken since.
    order: VecDeque<(String, Instant)>,
}

impl FreshFlows {
    /// Keeps `flow`, just stored, for its first page and, with [`PAGE_AND_STATUS`], that
    /// page's first status request.
    pub fn keep(&self, flow: LoginFlow, uses: u8, now: Instant) {
        lock(&self.pages).keep(flow, uses, now, FRESH_FOR);
    }

    /// The flow `id` as stored, if it was kept here, twice at most, within [`FRESH_FOR`].
    pub fn take(&self, id: &str, now: Instant) -> Option<LoginFlow> {
        lock(&self.pages).take(id, now, FRESH_FOR)
    }

    /// Keeps `flow`, just stored by `/authorize`, for its JID form (unless its request is
    /// larger than [`FORM_FLOW_BYTES`]).
    pub fn keep_for_form(&self, flow: LoginFlow, now: Instant) {
        if request_bytes(&flow) <= FORM_FLOW_BYTES {
            lock(&self.forms).keep(flow, 1, now, FORM_WITHIN);
        }
    }

    /// The flow `id` as `/authorize` stored it, once, within [`FORM_WITHIN`].
    pub fn take_for_form(&self, id: &str, now: Instant) -> Option<LoginFlow> {
        lock(&self.forms).take(id, now, FORM_WITHIN)
    }

    /// Flow `id` changed: its page and form read it from the store.
    pub fn forget(&self, id: &str) {
        lock(&self.pages).flows.remove(id);
        lock(&self.forms).flows.remove(id);
    }
}

fn lock(kept: &Mutex<Kept>) -> MutexGuard<'_, Kept> {
    // Plain maps: a panic elsewhere cannot leave them half-updated.
    kept.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the request that started `flow` put into it (the client's parameters, the
/// browser's origin), in bytes.
fn request_bytes(flow: &LoginFlow) -> usize {
    let optional = [
        &flow.state,
        &flow.nonce,
        &flow.code_challenge,
        &flow.login_hint,
        &flow.claims,
        &flow.origin,
    ];
    flow.redirect_uri.len()
        + flow.scope.len()
        + flow.prompt.len()
        + optional
            .iter()
            .filter_map(|v| v.as_deref())
            .map(str::len)
            .sum::<usize>()
}

impl Kept {
    fn keep(&mut self, flow: LoginFlow, uses: u8, now: Instant, window: Duration) {
        while let Some((id, at)) = self.order.front().cloned() {
            let stale = now.saturating_duration_since(at) >= window;
            if !stale && self.order.len() < KEPT {
                break;
            }
            self.order.pop_front();
            // Only the entry this id was queued for: a later one keeps its own place.
            if self
                .flows
                .get(&id)
                .is_some_and(|(kept_at, _, _)| *kept_at == at)
            {
                self.flows.remove(&id);
            }
        }
        self.order.push_back((flow.id.clone(), now));
        self.flows.insert(flow.id.clone(), (now, uses, flow));
    }

    fn take(&mut self, id: &str, now: Instant, window: Duration) -> Option<LoginFlow> {
        let (at, uses, flow) = self.flows.get_mut(id)?;
        if now.saturating_duration_since(*at) >= window {
            self.flows.remove(id);
            return None;
        }
        *uses -= 1;
        if *uses > 0 {
            return Some(flow.clone());
        }
        self.flows.remove(id).map(|(_, _, flow)| flow)
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
    fn a_flow_is_taken_by_its_page_and_its_first_status_request() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        fresh.keep(flow("a"), PAGE_AND_STATUS, now);
        fresh.keep(flow("b"), PAGE_ONLY, now);
        assert!(fresh.take("b", now).is_some());
        assert!(fresh.take("b", now).is_none(), "for its page only");
        assert_eq!(fresh.take("a", now).map(|f| f.id).as_deref(), Some("a"));
        assert_eq!(fresh.take("a", now).map(|f| f.id).as_deref(), Some("a"));
        assert!(
            fresh.take("a", now).is_none(),
            "the next request reads the store"
        );
        assert!(
            lock(&fresh.pages).flows.is_empty(),
            "the last use dropped it"
        );
        assert!(fresh.take("c", now).is_none(), "never kept");
    }

    #[test]
    fn a_changed_or_stale_flow_is_read_from_the_store() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        fresh.keep(flow("changed"), PAGE_AND_STATUS, now);
        fresh.forget("changed");
        assert!(fresh.take("changed", now).is_none());
        fresh.keep(flow("late"), PAGE_AND_STATUS, now);
        assert!(fresh.take("late", now + FRESH_FOR).is_none());
        assert!(lock(&fresh.pages).flows.is_empty(), "taking it dropped it");
    }

    #[test]
    fn stale_flows_go_when_new_ones_come() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        fresh.keep(flow("old"), PAGE_AND_STATUS, now);
        fresh.keep(flow("new"), PAGE_AND_STATUS, now + FRESH_FOR);
        assert_eq!(lock(&fresh.pages).flows.len(), 1);
        assert_eq!(lock(&fresh.pages).order.len(), 1);
    }

    #[test]
    fn the_oldest_make_room() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        for i in 0..KEPT + 10 {
            fresh.keep(flow(&i.to_string()), PAGE_AND_STATUS, now);
        }
        assert!(lock(&fresh.pages).flows.len() <= KEPT);
        assert!(lock(&fresh.pages).order.len() <= KEPT);
        assert!(fresh.take("0", now).is_none(), "pushed out");
        assert!(fresh.take(&(KEPT + 9).to_string(), now).is_some());
    }

    #[test]
    fn a_flow_waits_for_its_form_apart_from_its_page() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        fresh.keep(flow("a"), PAGE_AND_STATUS, now);
        fresh.keep_for_form(flow("a"), now);
        assert!(fresh.take("a", now).is_some());
        assert!(fresh.take("a", now).is_some());
        assert!(fresh.take("a", now).is_none(), "the page's uses are spent");
        let later = now + FRESH_FOR * 10;
        assert!(fresh.take_for_form("a", later).is_some(), "a person types");
        assert!(fresh.take_for_form("a", later).is_none(), "once");
        fresh.keep_for_form(flow("slow"), now);
        assert!(fresh.take_for_form("slow", now + FORM_WITHIN).is_none());
        fresh.keep_for_form(flow("changed"), now);
        fresh.forget("changed");
        assert!(fresh.take_for_form("changed", now).is_none());
    }

    #[test]
    fn a_large_request_is_not_kept_for_its_form() {
        let fresh = FreshFlows::default();
        let now = Instant::now();
        let mut large = flow("large");
        large.state = Some("s".repeat(FORM_FLOW_BYTES));
        fresh.keep_for_form(large, now);
        assert!(fresh.take_for_form("large", now).is_none());
        let mut small = flow("small");
        small.state = Some("s".repeat(100));
        fresh.keep_for_form(small, now);
        assert!(fresh.take_for_form("small", now).is_some());
    }
}
