//! Pending XEP-0070 confirmation requests and the rules that decide them.
//!
//! Only the asked JID can answer: the bare JID for messages, the exact full JID for IQs.
//! The code is on the requester's own page, so it proves nothing alone; the server-stamped
//! `from` does. The first decisive answer wins and the request is forgotten, so later,
//! duplicate, foreign-code or post-expiry answers find nothing to decide.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use jid::{BareJid, Jid};
use minidom::Element;
use tokio::sync::{mpsc, watch};

use super::address::UserJid;
use super::limits::{Limiter, Refused};
use super::stanzas::{self, Incoming, IncomingMessage, RequestText};
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::random;

/// Where a confirmation request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Sent to the XMPP server; waiting for the person.
    Sent,
    Accepted,
    Denied,
    /// Nobody answered in time.
    Expired,
    /// The JID does not exist, its server cannot be reached, or our XMPP link went down.
    Unreachable,
}

impl Status {
    pub fn is_final(self) -> bool {
        self != Status::Sent
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Accepted => "accepted",
            Status::Denied => "denied",
            Status::Expired => "expired",
            Status::Unreachable => "unreachable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::Sent,
            Status::Accepted,
            Status::Denied,
            Status::Expired,
            Status::Unreachable,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// A request sent earlier, possibly by another instance: what a new leader rebuilds the
/// limits from.
pub struct PastRequest {
    pub jid: UserJid,
    pub ip: Option<IpAddr>,
    /// How long ago it was sent.
    pub age: Duration,
    /// How long ago the person said no, if they did.
    pub denied_age: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct ConfirmRequest {
    pub jid: UserJid,
    pub text: RequestText,
    /// The client IP the request comes from, for the per-IP limit.
    pub ip: Option<IpAddr>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{}", .0.reason)]
    Refused(Refused),
    #[error("jidconnect is not connected to its XMPP server right now; try again in a minute")]
    Disconnected,
}

/// The requester's view of one request: its code and a live status.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub code: String,
    status: watch::Receiver<Status>,
}

impl Confirmation {
    /// A request whose status someone else feeds (the cluster's leader, via PostgreSQL).
    pub fn new(code: String, status: watch::Receiver<Status>) -> Self {
        Self { code, status }
    }

    pub fn status(&self) -> Status {
        *self.status.borrow()
    }

    /// Waits for the final status (the request always ends: it expires at its timeout).
    pub async fn outcome(mut self) -> Status {
        match self.status.wait_for(|s| s.is_final()).await {
            Ok(status) => *status,
            // The registry dropped the sender without a verdict: only on shutdown.
            Err(_) => Status::Unreachable,
        }
    }
}

/// XEP-0070 error conditions that mean "cannot be delivered" rather than "no".
const UNREACHABLE_CONDITIONS: &[&str] = &[
    "service-unavailable",
    "item-not-found",
    "recipient-unavailable",
    "remote-server-not-found",
    "remote-server-timeout",
    "gone",
];
/// IQ errors after which XEP-0070 falls back to the message form (no XEP-0070 support,
/// or the resource went away).
const FALLBACK_CONDITIONS: &[&str] = &["service-unavailable", "feature-not-implemented"];
/// Plain-text answers that refuse the login.
const NO_WORDS: &[&str] = &[
    "no", "n", "deny", "refuse", "reject", "non", "nein", "nee", "nej",
];

/// Whether a plain-text reply `text` refuses the login: one of `NO_WORDS`, whatever the
/// case, the spaces around it and a trailing `.` or `!`.
pub(crate) fn is_refusal_word(text: &str) -> bool {
    let word = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    NO_WORDS.contains(&word.as_str())
}

type RequestId = u64;

struct Pending {
    target: UserJid,
    sent_at: Instant,
    code: String,
    code_key: String,
    text: RequestText,
    thread: String,
    /// The IQ in flight, while the request goes to a full JID.
    iq_id: Option<String>,
    message_id: Option<String>,
    status: watch::Sender<Status>,
    /// Whose answer this is (a login flow), announced on the decisions channel.
    tag: Option<String>,
}

/// A decided request that carried a tag.
#[derive(Debug)]
pub struct Decision {
    pub tag: String,
    pub code: String,
    pub status: Status,
}

struct Registry {
    metrics: Arc<Metrics>,
    limiter: Limiter,
    max_pending: usize,
    connected: bool,
    /// Why the last connection attempt or link failed, for `/healthz`.
    last_error: Option<String>,
    next_id: RequestId,
    pending: HashMap<RequestId, Pending>,
    by_jid: HashMap<BareJid, RequestId>,
    by_stanza_id: HashMap<String, RequestId>,
    /// When each request expires, soonest first; entries of requests already decided
    /// stay until their time and then find nothing.
    /// (tokio's clock, which tests can pause.)
    deadlines: BinaryHeap<Reverse<(tokio::time::Instant, RequestId)>>,
    decisions: mpsc::UnboundedSender<Decision>,
}

impl Registry {
    fn start(
        &mut self,
        me: &BareJid,
        request: &ConfirmRequest,
        tag: Option<String>,
        now: Instant,
    ) -> Result<(RequestId, Confirmation, Element), RequestError> {
        if !self.connected {
            return Err(RequestError::Disconnected);
        }
        let refuse = |reason| {
            RequestError::Refused(Refused {
                reason,
                retry_after: request.timeout,
            })
        };
        let bare = request.jid.bare();
        if self.by_jid.contains_key(bare) {
            return Err(refuse(super::limits::Refusal::AlreadyPending));
        }
        if self.pending.len() >= self.max_pending {
            return Err(refuse(super::limits::Refusal::TooManyPending));
        }
        self.limiter
            .admit(bare.as_str(), request.jid.domain(), request.ip, now)
            .map_err(RequestError::Refused)?;

        self.next_id += 1;
        let id = self.next_id;
        let stanza_id = random::token(20);
        let (status, receiver) = watch::channel(Status::Sent);
        let mut pending = Pending {
            target: request.jid.clone(),
            sent_at: now,
            code: request.text.code.clone(),
            code_key: random::code_key(&request.text.code),
            text: request.text.clone(),
            thread: random::token(16),
            iq_id: None,
            message_id: None,
            status,
            tag,
        };
        let stanza = match request.jid.full() {
            Some(full) => {
                pending.iq_id = Some(stanza_id.clone());
                stanzas::confirm_iq(me, full, &stanza_id, &request.text)
            }
            None => {
                pending.message_id = Some(stanza_id.clone());
                stanzas::confirm_message(me, bare, &stanza_id, &pending.thread, &request.text)
            }
        };
        self.by_stanza_id.insert(stanza_id, id);
        self.by_jid.insert(bare.clone(), id);
        self.pending.insert(id, pending);
        let confirmation = Confirmation {
            code: request.text.code.clone(),
            status: receiver,
        };
        Ok((id, confirmation, stanza))
    }

    /// Decides `id` with `status` and forgets it.
    fn finish(&mut self, id: RequestId, status: Status, now: Instant) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        self.by_jid.remove(pending.target.bare());
        for stanza_id in [&pending.iq_id, &pending.message_id].into_iter().flatten() {
            self.by_stanza_id.remove(stanza_id);
        }
        if status == Status::Denied {
            self.limiter.block(pending.target.bare().as_str(), now);
        }
        tracing::info!(jid = %pending.target, ?status, "confirmation request decided");
        let outcome = match status {
            Status::Accepted => "accepted",
            Status::Denied => "denied",
            Status::Expired | Status::Sent => "expired",
            Status::Unreachable => "unreachable",
        };
        let seconds = now.saturating_duration_since(pending.sent_at).as_secs_f64();
        self.metrics.confirmation_decided(outcome, seconds);
        pending.status.send_replace(status);
        if let Some(tag) = pending.tag {
            let _ = self.decisions.send(Decision {
                tag,
                code: pending.code,
                status,
            });
        }
    }

    fn fail_all(&mut self, now: Instant) {
        let ids: Vec<RequestId> = self.pending.keys().copied().collect();
        for id in ids {
            self.finish(id, Status::Unreachable, now);
        }
    }

    /// Applies one incoming stanza; returns the stanzas to send in reply.
    fn handle(&mut self, me: &BareJid, incoming: Incoming, now: Instant) -> Vec<Element> {
        match incoming {
            Incoming::IqResult { from, id } => {
                if let Some(request) = self.iq_request(&from, &id) {
                    self.finish(request, Status::Accepted, now);
                }
                vec![]
            }
            Incoming::IqError {
                from,
                id,
                condition,
            } => {
                let Some(request) = self.iq_request(&from, &id) else {
                    return vec![];
                };
                let condition = condition.unwrap_or_default();
                if FALLBACK_CONDITIONS.contains(&condition.as_str()) {
                    return self.fall_back_to_message(me, request).into_iter().collect();
                }
                let status = if condition.starts_with("remote-server-") {
                    Status::Unreachable
                } else {
                    Status::Denied
                };
                self.finish(request, status, now);
                vec![]
            }
            Incoming::Message(message) => {
                if let Some((request, status)) = self.decide_message(&message) {
                    self.finish(request, status, now);
                }
                vec![]
            }
            Incoming::IqRequest(request) => vec![stanzas::answer_request(me, &request)],
            Incoming::Ignored => vec![],
        }
    }

    /// The request an IQ answer belongs to: its id must be ours and come from the exact
    /// full JID we asked.
    fn iq_request(&self, from: &Jid, iq_id: &str) -> Option<RequestId> {
        let id = *self.by_stanza_id.get(iq_id)?;
        let pending = self.pending.get(&id)?;
        let asked = pending.target.full()?;
        if pending.iq_id.as_deref() != Some(iq_id) || from.try_as_full().ok() != Some(asked) {
            tracing::warn!(%from, expected = %asked, "IQ answer from the wrong JID ignored");
            return None;
        }
        Some(id)
    }

    fn fall_back_to_message(&mut self, me: &BareJid, id: RequestId) -> Option<Element> {
        let pending = self.pending.get_mut(&id)?;
        if let Some(iq_id) = pending.iq_id.take() {
            self.by_stanza_id.remove(&iq_id);
        }
        let message_id = random::token(20);
        let stanza = stanzas::confirm_message(
            me,
            pending.target.bare(),
            &message_id,
            &pending.thread,
            &pending.text,
        );
        pending.message_id = Some(message_id.clone());
        self.by_stanza_id.insert(message_id, id);
        Some(stanza)
    }

    fn decide_message(&self, message: &IncomingMessage) -> Option<(RequestId, Status)> {
        let from = message.from.to_bare();
        let id = *self.by_jid.get(&from)?;
        let pending = &self.pending[&id];
        // While the IQ to one resource is in flight, only that resource may answer.
        if let (None, Some(asked)) = (&pending.message_id, pending.target.full()) {
            if message.from.try_as_full().ok() != Some(asked) {
                return None;
            }
        }
        if message.is_error {
            let ours = message.id.is_some() && message.id == pending.message_id
                || message.confirm_id.as_deref() == Some(pending.code.as_str());
            if !ours {
                return None;
            }
            let condition = message.error_condition.as_deref().unwrap_or_default();
            let status = if UNREACHABLE_CONDITIONS.contains(&condition) {
                Status::Unreachable
            } else {
                Status::Denied
            };
            return Some((id, status));
        }
        // XEP-0070 §4.6: an answer that cannot be read is not a yes.
        if message.confirm_unreadable {
            return Some((id, Status::Denied));
        }
        if let Some(confirm_id) = &message.confirm_id {
            // A confirm for another code (an old request, someone else's page): not an answer.
            return (*confirm_id == pending.code).then_some((id, Status::Accepted));
        }
        let body = message.body.as_deref()?;
        if random::code_key(body) == pending.code_key {
            return Some((id, Status::Accepted));
        }
        let word = body.trim().trim_end_matches(['.', '!']).to_lowercase();
        NO_WORDS
            .contains(&word.as_str())
            .then_some((id, Status::Denied))
    }
}

/// The handle through which the web side asks for confirmations. Cheap to clone.
#[derive(Clone)]
pub struct Confirmer {
    shared: Arc<Shared>,
}

struct Shared {
    me: BareJid,
    /// One task expires every request (a task per request would cost memory per pending
    /// login); started with the first request, inside the runtime.
    sweeper_started: AtomicBool,
    registry: Mutex<Registry>,
    outgoing: mpsc::UnboundedSender<Element>,
    /// Until someone takes them: see [`Confirmer::take_decisions`].
    decisions: Mutex<Option<mpsc::UnboundedReceiver<Decision>>>,
}

/// The component connection's end of the confirmer: stanzas to send.
pub struct Outbox(pub mpsc::UnboundedReceiver<Element>);

impl Confirmer {
    pub fn new(component_jid: BareJid, limits: &Limits, metrics: Arc<Metrics>) -> (Self, Outbox) {
        let (outgoing, receiver) = mpsc::unbounded_channel();
        let (decisions, decided) = mpsc::unbounded_channel();
        let registry = Registry {
            decisions,
            metrics,
            limiter: Limiter::new(limits),
            max_pending: limits.max_pending,
            connected: false,
            last_error: None,
            next_id: 0,
            pending: HashMap::new(),
            by_jid: HashMap::new(),
            by_stanza_id: HashMap::new(),
            deadlines: BinaryHeap::new(),
        };
        let shared = Arc::new(Shared {
            me: component_jid,
            sweeper_started: AtomicBool::new(false),
            registry: Mutex::new(registry),
            outgoing,
            decisions: Mutex::new(Some(decided)),
        });
        (Self { shared }, Outbox(receiver))
    }

    pub fn component_jid(&self) -> &BareJid {
        &self.shared.me
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // The registry's invariants hold between statements, so a panic elsewhere
        // cannot leave it half-updated.
        self.shared
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The decisions of tagged requests, for the one consumer that records them.
    pub fn take_decisions(&self) -> Option<mpsc::UnboundedReceiver<Decision>> {
        self.shared
            .decisions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Sends a confirmation request, subject to the limits; it expires after its timeout.
    pub fn request(&self, request: ConfirmRequest) -> Result<Confirmation, RequestError> {
        self.request_tagged(request, None)
    }

    /// As [`Self::request`]; the decision is also announced with `tag` (see
    /// [`Self::take_decisions`]), so that no task per request has to wait for it.
    pub fn request_tagged(
        &self,
        request: ConfirmRequest,
        tag: Option<String>,
    ) -> Result<Confirmation, RequestError> {
        let (id, confirmation, stanza) =
            self.registry()
                .start(&self.shared.me, &request, tag, Instant::now())?;
        if self.shared.outgoing.send(stanza).is_err() {
            self.registry()
                .finish(id, Status::Unreachable, Instant::now());
        }
        self.registry()
            .deadlines
            .push(Reverse((tokio::time::Instant::now() + request.timeout, id)));
        if !self.shared.sweeper_started.swap(true, Ordering::Relaxed) {
            tokio::spawn(expire_periodically(Arc::downgrade(&self.shared)));
        }
        tracing::info!(jid = %request.jid, "confirmation request sent");
        self.registry().metrics.confirmation_started();
        Ok(confirmation)
    }

    pub fn is_connected(&self) -> bool {
        self.registry().connected
    }

    /// Counts `past` requests against the limits, as if this process had sent them.
    pub fn restore_limits(&self, past: impl IntoIterator<Item = PastRequest>) {
        let now = Instant::now();
        let mut registry = self.registry();
        for request in past {
            let bare = request.jid.bare().as_str();
            if let Some(at) = now.checked_sub(request.age) {
                registry
                    .limiter
                    .record(bare, request.jid.domain(), request.ip, at);
            }
            if let Some(at) = request.denied_age.and_then(|age| now.checked_sub(age)) {
                registry.limiter.block(bare, at);
            }
        }
    }

    /// Why the XMPP link is down (or last went down), if it ever failed.
    pub fn last_error(&self) -> Option<String> {
        self.registry().last_error.clone()
    }

    pub(super) fn link_failed(&self, error: String) {
        self.registry().last_error = Some(error);
    }

    pub fn pending_count(&self) -> usize {
        self.registry().pending.len()
    }

    pub(super) fn component_reconnected(&self) {
        self.registry().metrics.component_reconnect();
    }

    /// Called by the component connection: while disconnected, pending requests cannot be
    /// answered (the server bounces what is addressed to us), so they fail at once.
    pub(super) fn set_connected(&self, connected: bool) {
        let mut registry = self.registry();
        registry.connected = connected;
        if connected {
            registry.last_error = None;
        } else {
            registry.fail_all(Instant::now());
        }
    }

    /// Called by the component connection for each stanza received; returns the replies.
    pub(super) fn on_stanza(&self, stanza: &Element) -> Vec<Element> {
        let incoming = stanzas::classify(stanza);
        self.registry()
            .handle(&self.shared.me, incoming, Instant::now())
    }
}

/// How late a silent request may end past its timeout.
const EXPIRY_TICK: Duration = Duration::from_millis(250);

/// Ends the requests whose time is up, until the confirmer is gone.
async fn expire_periodically(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(EXPIRY_TICK);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = tokio::time::Instant::now();
        let mut registry = shared
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while let Some(Reverse((deadline, id))) = registry.deadlines.peek().copied() {
            if deadline > now {
                break;
            }
            registry.deadlines.pop();
            registry.finish(id, Status::Expired, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "jabber:component:accept";

    fn limits() -> Limits {
        Limits {
            jid_cooldown_secs: 0,
            ..Limits::default()
        }
    }

    fn confirmer() -> (Confirmer, Outbox) {
        let (c, outbox) = Confirmer::new(
            BareJid::new("auth.example").unwrap(),
            &limits(),
            Metrics::new(),
        );
        c.set_connected(true);
        (c, outbox)
    }

    fn ask(c: &Confirmer, jid: &str) -> Confirmation {
        c.request(ConfirmRequest {
            jid: UserJid::parse(jid).unwrap(),
            text: RequestText {
                code: random::confirmation_code(),
                method: "GET".into(),
                url: "https://idp.example/".into(),
                requester: "Wiki".into(),
                origin: Some("192.0.2.1".into()),
            },
            ip: None,
            timeout: Duration::from_secs(60),
        })
        .unwrap()
    }

    fn sent(outbox: &mut Outbox) -> Element {
        outbox.0.try_recv().expect("a stanza was sent")
    }

    fn feed(c: &Confirmer, xml: &str) -> Vec<Element> {
        let elem: Element = xml
            .replace("xmlns='NS'", &format!("xmlns='{NS}'"))
            .parse()
            .unwrap();
        c.on_stanza(&elem)
    }

    fn confirm_reply(from: &str, code: &str, extra: &str) -> String {
        format!("<message xmlns='NS' from='{from}' {extra}><confirm xmlns='http://jabber.org/protocol/http-auth' id='{code}' method='GET' url='u'/></message>")
    }

    #[tokio::test]
    async fn message_confirm_from_the_asked_jid_accepts() {
        let (c, mut outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        let stanza = sent(&mut outbox);
        assert_eq!(stanza.name(), "message");
        feed(
            &c,
            &confirm_reply("alice@example.org/phone", &conf.code, "type='normal'"),
        );
        assert_eq!(conf.status(), Status::Accepted);
        assert_eq!(c.pending_count(), 0);
    }

    #[tokio::test]
    async fn confirm_from_another_jid_never_counts() {
        let (c, _outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        feed(&c, &confirm_reply("mallory@example.org/x", &conf.code, ""));
        feed(&c, &format!("<message xmlns='NS' from='mallory@example.org/x' type='chat'><body>{}</body></message>", conf.code));
        feed(
            &c,
            &format!(
                "<iq xmlns='NS' from='mallory@example.org/x' type='result' id='{}'/>",
                conf.code
            ),
        );
        assert_eq!(conf.status(), Status::Sent);
    }

    #[tokio::test]
    async fn foreign_codes_chatter_and_late_answers_are_ignored() {
        let (c, _outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        feed(&c, &confirm_reply("alice@example.org/a", "OTHER-CODE", ""));
        feed(&c, "<message xmlns='NS' from='alice@example.org/a' type='chat'><body>hello?</body></message>");
        assert_eq!(conf.status(), Status::Sent);
        feed(&c, &format!("<message xmlns='NS' from='alice@example.org/a' type='chat'><body> {} </body></message>", conf.code.to_lowercase().replace('-', "")));
        assert_eq!(conf.status(), Status::Accepted);
        // A second resource saying no afterwards changes nothing, and does not block.
        feed(
            &c,
            "<message xmlns='NS' from='alice@example.org/b' type='chat'><body>no</body></message>",
        );
        assert_eq!(conf.status(), Status::Accepted);
        let again = ask(&c, "alice@example.org");
        assert_eq!(again.status(), Status::Sent);
    }

    #[tokio::test]
    async fn plain_no_denies_and_blocks_further_requests() {
        let (c, _outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        feed(
            &c,
            "<message xmlns='NS' from='alice@example.org/a' type='chat'><body>No.</body></message>",
        );
        assert_eq!(conf.status(), Status::Denied);
        // Answers after a deny find nothing.
        feed(&c, &confirm_reply("alice@example.org/a", &conf.code, ""));
        assert_eq!(conf.status(), Status::Denied);
        let err = c
            .request(ConfirmRequest {
                jid: UserJid::parse("alice@example.org").unwrap(),
                text: RequestText {
                    code: "X".into(),
                    method: "GET".into(),
                    url: "u".into(),
                    requester: "r".into(),
                    origin: None,
                },
                ip: None,
                timeout: Duration::from_secs(1),
            })
            .unwrap_err();
        assert!(
            matches!(err, RequestError::Refused(r) if r.reason == super::super::limits::Refusal::RecentlyDenied)
        );
    }

    #[tokio::test]
    async fn message_error_with_confirm_denies_and_bounce_is_unreachable() {
        let (c, mut outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        let xml = confirm_reply("alice@example.org/a", &conf.code, "type='error'");
        feed(&c, &xml);
        assert_eq!(conf.status(), Status::Denied, "{xml}");

        let conf = ask(&c, "nobody@example.org");
        let _ = sent(&mut outbox);
        let stanza = sent(&mut outbox);
        let id = stanza.attr("id").unwrap();
        feed(&c, &format!("<message xmlns='NS' from='nobody@example.org' type='error' id='{id}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"));
        assert_eq!(conf.status(), Status::Unreachable);
    }

    #[tokio::test]
    async fn full_jid_gets_an_iq_answered_only_by_that_resource() {
        let (c, mut outbox) = confirmer();
        let conf = ask(&c, "alice@example.org/laptop");
        let iq = sent(&mut outbox);
        assert_eq!(iq.name(), "iq");
        let id = iq.attr("id").unwrap().to_owned();
        feed(
            &c,
            &format!("<iq xmlns='NS' from='alice@example.org/phone' type='result' id='{id}'/>"),
        );
        assert_eq!(conf.status(), Status::Sent);
        feed(
            &c,
            &format!("<iq xmlns='NS' from='alice@example.org/laptop' type='result' id='{id}'/>"),
        );
        assert_eq!(conf.status(), Status::Accepted);
    }

    #[tokio::test]
    async fn an_unreadable_confirm_from_the_asked_jid_denies() {
        let (c, _outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        feed(&c, "<message xmlns='NS' from='mallory@example.org/x'><confirm xmlns='http://jabber.org/protocol/http-auth'/></message>");
        assert_eq!(
            conf.status(),
            Status::Sent,
            "only the asked JID's answers count"
        );
        feed(&c, "<message xmlns='NS' from='alice@example.org/a'><confirm xmlns='http://jabber.org/protocol/http-auth' method='GET'/></message>");
        assert_eq!(conf.status(), Status::Denied);
    }

    #[tokio::test]
    async fn while_the_iq_is_in_flight_other_resources_cannot_answer() {
        let (c, mut outbox) = confirmer();
        let conf = ask(&c, "alice@example.org/laptop");
        assert_eq!(sent(&mut outbox).name(), "iq");
        feed(
            &c,
            &confirm_reply("alice@example.org/phone", &conf.code, "type='normal'"),
        );
        feed(&c, &format!("<message xmlns='NS' from='alice@example.org/phone' type='chat'><body>{}</body></message>", conf.code));
        feed(&c, "<message xmlns='NS' from='alice@example.org/phone' type='chat'><body>no</body></message>");
        assert_eq!(conf.status(), Status::Sent);
        feed(
            &c,
            &confirm_reply("alice@example.org/laptop", &conf.code, "type='normal'"),
        );
        assert_eq!(conf.status(), Status::Accepted);
    }

    #[tokio::test]
    async fn iq_errors_fall_back_deny_or_unreach() {
        let (c, mut outbox) = confirmer();
        let conf = ask(&c, "alice@example.org/laptop");
        let id = sent(&mut outbox).attr("id").unwrap().to_owned();
        let replies = feed(&c, &format!("<iq xmlns='NS' from='alice@example.org/laptop' type='error' id='{id}'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"));
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].name(), "message");
        assert_eq!(replies[0].attr("to"), Some("alice@example.org"));
        assert_eq!(conf.status(), Status::Sent);
        // The IQ id is spent: a late result for it does nothing.
        feed(
            &c,
            &format!("<iq xmlns='NS' from='alice@example.org/laptop' type='result' id='{id}'/>"),
        );
        assert_eq!(conf.status(), Status::Sent);
        feed(
            &c,
            &confirm_reply("alice@example.org/other", &conf.code, "type='normal'"),
        );
        assert_eq!(conf.status(), Status::Accepted);

        let conf = ask(&c, "bob@example.org/x");
        let id = sent(&mut outbox).attr("id").unwrap().to_owned();
        // The XEP's own example, with its misspelled namespace: a deny.
        feed(&c, &format!("<iq xmlns='NS' from='bob@example.org/x' type='error' id='{id}'><error code='401' type='auth'><not-authorized xmlns='urn:ietf:params:xml:xmpp-stanzas'/></error></iq>"));
        assert_eq!(conf.status(), Status::Denied);
    }

    #[tokio::test]
    async fn one_pending_request_per_jid_and_disconnect_fails_all() {
        let (c, _outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        let second = c.request(ConfirmRequest {
            jid: UserJid::parse("Alice@Example.org/other").unwrap(),
            text: RequestText {
                code: "C".into(),
                method: "GET".into(),
                url: "u".into(),
                requester: "r".into(),
                origin: None,
            },
            ip: None,
            timeout: Duration::from_secs(1),
        });
        assert!(matches!(second, Err(RequestError::Refused(_))));
        c.set_connected(false);
        assert_eq!(conf.status(), Status::Unreachable);
        assert!(matches!(
            c.request(ConfirmRequest {
                jid: UserJid::parse("carol@example.org").unwrap(),
                text: RequestText {
                    code: "C".into(),
                    method: "GET".into(),
                    url: "u".into(),
                    requester: "r".into(),
                    origin: None
                },
                ip: None,
                timeout: Duration::from_secs(1),
            }),
            Err(RequestError::Disconnected)
        ));
    }

    proptest::proptest! {
        /// The security property, fuzzed: nobody but the asked JID can accept, whatever they
        /// send (the right code in a confirm, a body, an IQ result with a guessed id).
        #[test]
        fn only_the_asked_jid_can_accept(
            local in "[a-z]{1,8}",
            domain in "(example\\.org|example\\.net|evil\\.example)",
            resource in "[a-z0-9]{0,6}",
            form in 0u8..4,
            kind in "(normal|chat|result|headline|)",
        ) {
            let attacker = if resource.is_empty() { format!("{local}@{domain}") } else { format!("{local}@{domain}/{resource}") };
            proptest::prop_assume!(!attacker.starts_with("alice@example.org"));
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let (c, mut outbox) = confirmer();
                let conf = ask(&c, "alice@example.org");
                let id = sent(&mut outbox).attr("id").unwrap().to_owned();
                let code = conf.code.clone();
                let type_attr = if kind.is_empty() { String::new() } else { format!("type='{kind}'") };
                let xml = match form {
                    0 => confirm_reply(&attacker, &code, &type_attr),
                    1 => format!("<message xmlns='NS' from='{attacker}' {type_attr}><body>{code}</body></message>"),
                    2 => format!("<iq xmlns='NS' from='{attacker}' type='result' id='{id}'/>"),
                    _ => format!("<message xmlns='NS' from='{attacker}' id='{id}' {type_attr}><thread>t</thread><confirm xmlns='http://jabber.org/protocol/http-auth' id='{code}' method='GET' url='u'/></message>"),
                };
                feed(&c, &xml);
                assert_eq!(conf.status(), Status::Sent, "{xml}");
            });
        }
    }

    #[tokio::test(start_paused = true)]
    async fn silence_expires_at_the_timeout() {
        let (c, _outbox) = confirmer();
        let conf = ask(&c, "alice@example.org");
        let code = conf.code.clone();
        let outcome = tokio::spawn(conf.outcome());
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(outcome.await.unwrap(), Status::Expired);
        // After expiry the answer is ignored and the JID is free again.
        feed(&c, &confirm_reply("alice@example.org/a", &code, ""));
        assert_eq!(c.pending_count(), 0);
    }
}
