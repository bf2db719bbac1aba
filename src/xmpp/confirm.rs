//! Pending XEP-0070 confirmation requests, the rules that decide them, and everything
//! else the component is told.
//!
//! Only the asked JID can answer: the bare JID for messages, the exact full JID for IQs.
//! The code is on the requester's own page, so it proves nothing alone; the server-stamped
//! `from` does. The first decisive answer wins and the request is forgotten, so later,
//! duplicate, foreign-code or post-expiry answers find nothing to decide.
//!
//! A JID may have a few requests pending at once, from different networks (and one from
//! each browser that logged in as it before), so that nobody can hold someone else's
//! logins hostage; answers are matched to a request by its code or stanza id.
//!
//! Messages that answer no request are what people send to the login service: a login
//! code from a page ("send the code"), "not me" after a login notice, or anything else
//! (answered with help). Those that need the database become [`Event`]s.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use jid::{BareJid, FullJid, Jid};
use minidom::Element;
use tokio::sync::{mpsc, watch};
use xmpp_parsers::disco::DiscoInfoResult;

use super::address::UserJid;
use super::limits::{network_of, Limiter, Refusal, Refused, Requester};
use super::roster::{self, Roster, Route, Subscription};
use super::stanzas::{self, Incoming, IncomingMessage, PresenceKind, RequestText};
use crate::config::Limits;
use crate::i18n::{self, Lang};
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
    /// The page that asked gave up on it (cancel, another address, logged in otherwise).
    Withdrawn,
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
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::Sent,
            Status::Accepted,
            Status::Denied,
            Status::Expired,
            Status::Unreachable,
            Status::Withdrawn,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// A request sent earlier, possibly by another instance: what a new leader rebuilds the
/// limits from.
pub struct PastRequest {
    pub jid: UserJid,
    pub requester: Requester,
    /// How long ago it was sent.
    pub age: Duration,
    /// How long ago the person said no, if they did.
    pub denied_age: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct ConfirmRequest {
    pub jid: UserJid,
    pub text: RequestText,
    /// Who asks, for the limits.
    pub requester: Requester,
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

/// What people type, as compared: case, the spaces around it and a trailing `.` or `!`
/// do not matter.
fn plain_words(text: &str) -> String {
    text.trim().trim_end_matches(['.', '!']).to_lowercase()
}

/// Whether a plain-text reply `text` refuses the login: a refusal word of any shipped
/// language (`refusal-words` in locales/), or one of a few more that people type.
pub(crate) fn is_refusal_word(text: &str) -> bool {
    const MORE: &[&str] = &["nee", "nej", "nei", "não", "nie", "ne"];
    let said = plain_words(text);
    i18n::REFUSAL_WORDS.contains(&said) || MORE.contains(&said.as_str())
}

/// Whether `text` asks to undo the last login ("not me", after a login notice), in any
/// shipped language.
fn is_not_me(text: &str) -> bool {
    let said = plain_words(text).replace('’', "'");
    i18n::NOT_ME_PHRASES.contains(&said)
}

/// What the login service says to a message it cannot use.
fn help(l: Lang) -> String {
    l.args(
        "xmpp-help",
        &[
            ("no", l.refusal_word().as_str().into()),
            ("notme", l.not_me_phrase().as_str().into()),
        ],
    )
}

type RequestId = u64;

struct Pending {
    target: UserJid,
    requester: Requester,
    /// The requester's IP network, for the per-network counts.
    network: Option<IpAddr>,
    sent_at: Instant,
    code: String,
    code_key: String,
    text: RequestText,
    thread: String,
    /// IQs in flight, and the app each asked.
    iqs: Vec<(String, FullJid)>,
    /// Ids of the messages sent, to match bounces.
    messages: Vec<String>,
    status: watch::Sender<Status>,
    /// Whose request this is (a login flow, a cluster row), announced on decision.
    tag: Option<String>,
}

impl Pending {
    /// While the IQ to a typed full JID is in flight, only that app may answer.
    fn may_answer_by_message(&self, from: &UserJid) -> bool {
        match self.target.full() {
            Some(asked) if self.messages.is_empty() => from.full() == Some(asked),
            _ => true,
        }
    }

    fn outstanding(&self) -> usize {
        self.iqs.len() + self.messages.len()
    }
}

impl Pending {
    /// The IQ form of the request, to one app.
    fn ask_by_iq(&mut self, me: &BareJid, to: FullJid) -> Element {
        let stanza_id = random::token(20);
        let stanza = stanzas::confirm_iq(me, &to, &stanza_id, &self.text);
        self.iqs.push((stanza_id, to));
        stanza
    }

    /// The message form of the request.
    fn ask_by_message(&mut self, me: &BareJid, to: Jid) -> Element {
        let stanza_id = random::token(20);
        let stanza = stanzas::confirm_message(me, &to, &stanza_id, &self.thread, &self.text);
        self.messages.push(stanza_id);
        stanza
    }
}

/// A decided request that carried a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub tag: String,
    pub code: String,
    pub status: Status,
}

/// What the component learned that needs the database or a reply built from it; one
/// consumer takes them (see [`Confirmer::take_events`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A tagged request was decided.
    Decided(Decision),
    /// The link is up: the stored contacts should be loaded ([`Confirmer::load_contacts`]).
    Connected,
    /// A contact's subscription or online state changed.
    Roster(roster::Change),
    /// A message that may carry login codes (`keys`, see [`random::code_candidates`]),
    /// from an address within its limits.
    /// `lang`: the message's language, if it says one that ships.
    Code {
        from: UserJid,
        keys: Vec<String>,
        lang: Option<Lang>,
    },
    /// "not me" from an address within its limits: undo the login its `thread` answers, or
    /// its last one.
    NotMe {
        from: UserJid,
        thread: Option<String>,
        lang: Option<Lang>,
    },
    /// Login notices were queued: send them.
    Notices,
}

struct Registry {
    metrics: Arc<Metrics>,
    limiter: Limiter,
    max_pending: usize,
    jid_max_pending: usize,
    /// The most one IP network or one client may hold of `max_pending`.
    share: usize,
    connected: bool,
    /// Why the last connection attempt or link failed, for `/healthz`.
    last_error: Option<String>,
    next_id: RequestId,
    pending: HashMap<RequestId, Pending>,
    by_jid: HashMap<BareJid, Vec<RequestId>>,
    by_stanza_id: HashMap<String, RequestId>,
    by_tag: HashMap<String, RequestId>,
    per_network: HashMap<IpAddr, usize>,
    per_client: HashMap<String, usize>,
    /// When each request expires, soonest first; entries of requests already decided
    /// stay until their time and then find nothing.
    /// (tokio's clock, which tests can pause.)
    deadlines: BinaryHeap<Reverse<(tokio::time::Instant, RequestId)>>,
    roster: Roster,
    events: mpsc::UnboundedSender<Event>,
}

/// Adds `delta` to a per-key count, forgetting the key when it reaches zero.
fn count<K: std::hash::Hash + Eq + Clone>(counts: &mut HashMap<K, usize>, key: K, delta: isize) {
    let n = counts.entry(key.clone()).or_default();
    *n = n.saturating_add_signed(delta);
    if *n == 0 {
        counts.remove(&key);
    }
}

impl Registry {
    /// The limits on requests waiting at once, for a request to `bare` by `requester`.
    fn check_pending(&self, bare: &BareJid, requester: &Requester) -> Result<(), Refusal> {
        let network = requester.ip.map(network_of);
        let same_requester = |p: &Pending| match (&requester.device, &p.requester.device) {
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) | (None, Some(_)) => false,
            (None, None) => match network {
                Some(_) => p.network == network,
                None => p.requester.client_id == requester.client_id,
            },
        };
        let for_jid = self.by_jid.get(bare).map(Vec::as_slice).unwrap_or_default();
        let for_jid = for_jid.iter().map(|id| &self.pending[id]);
        if for_jid.clone().any(same_requester) {
            return Err(Refusal::AlreadyPending);
        }
        if self.pending.len() >= self.max_pending {
            return Err(Refusal::TooManyPending);
        }
        // A browser that logged in as this JID before is exempt from what strangers fill.
        let strangers = for_jid.filter(|p| p.requester.device.is_none()).count();
        if requester.device.is_none() && strangers >= self.jid_max_pending {
            return Err(Refusal::JidPending);
        }
        if network.is_some_and(|n| self.per_network.get(&n).copied().unwrap_or(0) >= self.share) {
            return Err(Refusal::NetworkShare);
        }
        if let Some(client) = &requester.client_id {
            if self.per_client.get(client).copied().unwrap_or(0) >= self.share {
                return Err(Refusal::ClientShare);
            }
        }
        Ok(())
    }

    fn start(
        &mut self,
        me: &BareJid,
        request: &ConfirmRequest,
        tag: Option<String>,
        now: Instant,
    ) -> Result<(RequestId, Confirmation, Vec<Element>), RequestError> {
        if !self.connected {
            return Err(RequestError::Disconnected);
        }
        // One request per tag: an earlier one (a page that sent again) is superseded.
        if let Some(earlier) = tag.as_ref().and_then(|t| self.by_tag.get(t)).copied() {
            self.finish(earlier, Status::Withdrawn, now);
        }
        let bare = request.jid.bare();
        self.check_pending(bare, &request.requester)
            .map_err(|reason| {
                RequestError::Refused(Refused {
                    reason,
                    retry_after: request.timeout,
                })
            })?;
        self.limiter
            .admit(bare.as_str(), request.jid.domain(), &request.requester, now)
            .map_err(RequestError::Refused)?;

        self.next_id += 1;
        let id = self.next_id;
        let (status, receiver) = watch::channel(Status::Sent);
        let mut pending = Pending {
            target: request.jid.clone(),
            requester: request.requester.clone(),
            network: request.requester.ip.map(network_of),
            sent_at: now,
            code: request.text.code.clone(),
            code_key: random::code_key(&request.text.code),
            text: request.text.clone(),
            thread: random::token(16),
            iqs: vec![],
            messages: vec![],
            status,
            tag,
        };
        let mut send = Vec::new();
        match request.jid.full() {
            Some(full) => send.push(pending.ask_by_iq(me, full.clone())),
            None => match self.roster.route(bare) {
                Route::Resources(apps) if !apps.is_empty() => {
                    for (app, http_auth) in apps {
                        send.push(if http_auth {
                            pending.ask_by_iq(me, app)
                        } else {
                            pending.ask_by_message(me, Jid::from(app))
                        });
                    }
                }
                _ => send.push(pending.ask_by_message(me, Jid::from(bare.clone()))),
            },
        }
        for stanza_id in pending
            .iqs
            .iter()
            .map(|(id, _)| id)
            .chain(&pending.messages)
        {
            self.by_stanza_id.insert(stanza_id.clone(), id);
        }
        if let Some(tag) = &pending.tag {
            self.by_tag.insert(tag.clone(), id);
        }
        if let Some(network) = pending.network {
            count(&mut self.per_network, network, 1);
        }
        if let Some(client) = &pending.requester.client_id {
            count(&mut self.per_client, client.clone(), 1);
        }
        self.by_jid.entry(bare.clone()).or_default().push(id);
        self.pending.insert(id, pending);
        let confirmation = Confirmation {
            code: request.text.code.clone(),
            status: receiver,
        };
        Ok((id, confirmation, send))
    }

    /// Decides `id` with `status` and forgets it.
    fn finish(&mut self, id: RequestId, status: Status, now: Instant) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        let bare = pending.target.bare();
        if let Some(ids) = self.by_jid.get_mut(bare) {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_jid.remove(bare);
            }
        }
        for stanza_id in pending
            .iqs
            .iter()
            .map(|(id, _)| id)
            .chain(&pending.messages)
        {
            self.by_stanza_id.remove(stanza_id);
        }
        if let Some(tag) = &pending.tag {
            if self.by_tag.get(tag) == Some(&id) {
                self.by_tag.remove(tag);
            }
        }
        if let Some(network) = pending.network {
            count(&mut self.per_network, network, -1);
        }
        if let Some(client) = &pending.requester.client_id {
            count(&mut self.per_client, client.clone(), -1);
        }
        if status == Status::Denied {
            self.limiter
                .block(bare.as_str(), pending.requester.device.as_deref(), now);
        }
        tracing::info!(jid = %pending.target, ?status, "confirmation request decided");
        let outcome = match status {
            Status::Accepted => "accepted",
            Status::Denied => "denied",
            Status::Expired | Status::Sent => "expired",
            Status::Unreachable => "unreachable",
            Status::Withdrawn => "withdrawn",
        };
        let seconds = now.saturating_duration_since(pending.sent_at).as_secs_f64();
        self.metrics.confirmation_decided(outcome, seconds);
        pending.status.send_replace(status);
        if let Some(tag) = pending.tag {
            let _ = self.events.send(Event::Decided(Decision {
                tag,
                code: pending.code,
                status,
            }));
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
            Incoming::IqResult { from, id, payload } => {
                if let Some(request) = self.iq_request(&from, &id) {
                    self.finish(request, Status::Accepted, now);
                } else {
                    let info = payload.and_then(|p| DiscoInfoResult::try_from(p).ok());
                    self.roster.on_disco_answer(&from, &id, info.as_ref());
                }
                vec![]
            }
            Incoming::IqError {
                from,
                id,
                condition,
            } => {
                let Some(request) = self.iq_request(&from, &id) else {
                    self.roster.on_disco_answer(&from, &id, None);
                    return vec![];
                };
                let condition = condition.unwrap_or_default();
                if FALLBACK_CONDITIONS.contains(&condition.as_str()) {
                    return self
                        .fall_back_to_message(me, request, &id)
                        .into_iter()
                        .collect();
                }
                let pending = self.pending.get_mut(&request).expect("a pending request");
                pending.iqs.retain(|(iq, _)| *iq != id);
                self.by_stanza_id.remove(&id);
                if UNREACHABLE_CONDITIONS.contains(&condition.as_str()) {
                    // Another app of the person may still answer.
                    if self.pending[&request].outstanding() == 0 {
                        self.finish(request, Status::Unreachable, now);
                    }
                } else {
                    self.finish(request, Status::Denied, now);
                }
                vec![]
            }
            Incoming::Message(message) => {
                let decided = self.decide_message(&message);
                if decided.is_empty() {
                    return self.unsolicited(me, &message, now);
                }
                for (request, status) in decided {
                    self.finish(request, status, now);
                }
                vec![]
            }
            Incoming::Presence(presence) => {
                // Presence costs work (and each new contact a row): bounded per address, and
                // subscription requests per domain.
                let from = presence.from.to_bare();
                let subscribe = presence.kind == PresenceKind::Subscribe;
                let domain = from.domain().as_str();
                if !self
                    .limiter
                    .admit_presence(from.as_str(), domain, subscribe, now)
                {
                    tracing::info!(jid = %from, "presence ignored: past the limits");
                    return vec![];
                }
                let outcome = self.roster.on_presence(&presence);
                for change in outcome.changes {
                    let _ = self.events.send(Event::Roster(change));
                }
                outcome.send
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
        let (_, asked) = pending.iqs.iter().find(|(iq, _)| iq == iq_id)?;
        let sender = UserJid::of_sender(from);
        if sender.as_ref().and_then(UserJid::full) != Some(asked) {
            tracing::warn!(%from, expected = %asked, "IQ answer from the wrong JID ignored");
            return None;
        }
        Some(id)
    }

    /// The app asked by IQ `iq_id` shows no XEP-0070 requests (or is gone): the message
    /// form instead, to the bare JID if the person typed that app's full JID (the app may
    /// have moved on), else to that app.
    fn fall_back_to_message(
        &mut self,
        me: &BareJid,
        id: RequestId,
        iq_id: &str,
    ) -> Option<Element> {
        self.by_stanza_id.remove(iq_id);
        let pending = self.pending.get_mut(&id)?;
        let position = pending.iqs.iter().position(|(iq, _)| iq == iq_id)?;
        let (_, app) = pending.iqs.remove(position);
        let to = match pending.target.full() {
            Some(_) => Jid::from(pending.target.bare().clone()),
            None => Jid::from(app),
        };
        let stanza = pending.ask_by_message(me, to);
        let message_id = pending.messages.last().expect("just sent").clone();
        self.by_stanza_id.insert(message_id, id);
        Some(stanza)
    }

    /// The requests a message from their JID decides, if any.
    fn decide_message(&mut self, message: &IncomingMessage) -> Vec<(RequestId, Status)> {
        let Some(sender) = UserJid::of_sender(&message.from) else {
            return vec![];
        };
        let Some(ids) = self.by_jid.get(sender.bare()) else {
            return vec![];
        };
        let candidates: Vec<RequestId> = ids
            .iter()
            .copied()
            .filter(|id| self.pending[id].may_answer_by_message(&sender))
            .collect();
        let find = |pred: &dyn Fn(&Pending) -> bool| {
            candidates
                .iter()
                .copied()
                .find(|id| pred(&self.pending[id]))
        };
        if message.is_error {
            let ours = find(&|p| {
                message
                    .id
                    .as_ref()
                    .is_some_and(|id| p.messages.contains(id))
                    || message.confirm_id.as_deref() == Some(p.code.as_str())
            });
            let Some(id) = ours else {
                return vec![];
            };
            let condition = message.error_condition.as_deref().unwrap_or_default();
            if !UNREACHABLE_CONDITIONS.contains(&condition) {
                return vec![(id, Status::Denied)];
            }
            // One app could not be reached; another may still answer.
            let pending = self.pending.get_mut(&id).expect("a candidate");
            if let Some(bounced) = &message.id {
                pending.messages.retain(|m| m != bounced);
                self.by_stanza_id.remove(bounced);
            }
            let pending = &self.pending[&id];
            return match pending.outstanding() {
                0 => vec![(id, Status::Unreachable)],
                _ => vec![],
            };
        }
        // XEP-0070 §4.6: an answer that cannot be read is not a yes.
        if message.confirm_unreadable {
            return candidates
                .into_iter()
                .map(|id| (id, Status::Denied))
                .collect();
        }
        if let Some(confirm_id) = &message.confirm_id {
            // A confirm for another code (an old request, someone else's page): not an answer.
            return find(&|p| p.code == *confirm_id)
                .map(|id| vec![(id, Status::Accepted)])
                .unwrap_or_default();
        }
        let Some(body) = message.body.as_deref() else {
            return vec![];
        };
        let key = random::code_key(body);
        if let Some(id) = find(&|p| p.code_key == key) {
            return vec![(id, Status::Accepted)];
        }
        // A plain "no" cannot say which request it means: it refuses all of them.
        if is_refusal_word(body) {
            return candidates
                .into_iter()
                .map(|id| (id, Status::Denied))
                .collect();
        }
        vec![]
    }

    /// A message that answers no request: what a person sends to the login service.
    fn unsolicited(
        &mut self,
        me: &BareJid,
        message: &IncomingMessage,
        now: Instant,
    ) -> Vec<Element> {
        if message.is_error || !message.conversational {
            return vec![];
        }
        let Some(body) = message.body.as_deref() else {
            return vec![];
        };
        let Some(from) = UserJid::of_sender(&message.from.to_bare()) else {
            return vec![];
        };
        if let Err(refused) = self
            .limiter
            .admit_sender(from.subject(), from.domain(), now)
        {
            tracing::info!(jid = %from, reason = refused.reason.code(), "message to the login service ignored");
            return vec![];
        }
        let keys = random::code_candidates(body);
        let lang = message.lang;
        let event = if is_not_me(body) {
            Event::NotMe {
                from,
                thread: message.thread.clone(),
                lang,
            }
        } else if !keys.is_empty() {
            Event::Code { from, keys, lang }
        } else if self.limiter.admit_help(from.domain(), now) {
            let l = lang.unwrap_or_default();
            return vec![stanzas::chat(me, &message.from, &help(l), None, l)];
        } else {
            return vec![];
        };
        let _ = self.events.send(event);
        vec![]
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
    /// Until someone takes them: see [`Confirmer::take_events`].
    events: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
}

/// The component connection's end of the confirmer: stanzas to send.
pub struct Outbox(pub mpsc::UnboundedReceiver<Element>);

impl Confirmer {
    /// `service_jid`: the address requests come from and people write to (the component's
    /// domain, or an address at it).
    pub fn new(service_jid: BareJid, limits: &Limits, metrics: Arc<Metrics>) -> (Self, Outbox) {
        let (outgoing, receiver) = mpsc::unbounded_channel();
        let (events, taken) = mpsc::unbounded_channel();
        let share = (limits.max_pending * limits.max_pending_share_percent as usize / 100).max(1);
        let registry = Registry {
            events,
            metrics,
            limiter: Limiter::new(limits),
            max_pending: limits.max_pending,
            jid_max_pending: limits.jid_max_pending,
            share,
            connected: false,
            last_error: None,
            next_id: 0,
            pending: HashMap::new(),
            by_jid: HashMap::new(),
            by_stanza_id: HashMap::new(),
            by_tag: HashMap::new(),
            per_network: HashMap::new(),
            per_client: HashMap::new(),
            deadlines: BinaryHeap::new(),
            roster: Roster::new(service_jid.clone()),
        };
        let shared = Arc::new(Shared {
            me: service_jid,
            sweeper_started: AtomicBool::new(false),
            registry: Mutex::new(registry),
            outgoing,
            events: Mutex::new(Some(taken)),
        });
        (Self { shared }, Outbox(receiver))
    }

    pub fn service_jid(&self) -> &BareJid {
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

    /// The component's events, for the one consumer that acts on them.
    pub fn take_events(&self) -> Option<mpsc::UnboundedReceiver<Event>> {
        self.shared
            .events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Sends a confirmation request, subject to the limits; it expires after its timeout.
    pub fn request(&self, request: ConfirmRequest) -> Result<Confirmation, RequestError> {
        self.request_tagged(request, None)
    }

    /// As [`Self::request`]; the decision is also announced with `tag` (see
    /// [`Self::take_events`]), so that no task per request has to wait for it, and
    /// [`Self::withdraw`] can end it.
    pub fn request_tagged(
        &self,
        request: ConfirmRequest,
        tag: Option<String>,
    ) -> Result<Confirmation, RequestError> {
        let (id, confirmation, stanzas) =
            self.registry()
                .start(&self.shared.me, &request, tag, Instant::now())?;
        for stanza in stanzas {
            if self.shared.outgoing.send(stanza).is_err() {
                self.registry()
                    .finish(id, Status::Unreachable, Instant::now());
            }
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

    /// Ends the request tagged `tag`, if it is still pending: it stops counting against
    /// the limits on pending requests at once, and a late answer finds nothing. True if
    /// there was one.
    pub fn withdraw(&self, tag: &str) -> bool {
        let mut registry = self.registry();
        let Some(id) = registry.by_tag.get(tag).copied() else {
            return false;
        };
        registry.finish(id, Status::Withdrawn, Instant::now());
        true
    }

    /// Sends a stanza built elsewhere (answers, notices), if the link is up.
    pub fn send(&self, stanza: Element) {
        let _ = self.shared.outgoing.send(stanza);
    }

    /// The stored contacts, once the link is up: announces our presence and probes theirs.
    pub fn load_contacts(&self, stored: Vec<(BareJid, Subscription)>) {
        let stanzas = self.registry().roster.load(stored);
        for stanza in stanzas {
            self.send(stanza);
        }
    }

    /// Login notices were queued (see [`Event::Notices`]).
    pub fn notices_queued(&self) {
        let _ = self.registry().events.send(Event::Notices);
    }

    /// `count` codes from `sender` matched no login page: they count against its limits.
    pub fn wrong_codes(&self, sender: &UserJid, count: usize) {
        self.registry().limiter.wrong_codes(
            sender.subject(),
            sender.domain(),
            count,
            Instant::now(),
        );
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
                    .record(bare, request.jid.domain(), &request.requester, at);
            }
            if let Some(at) = request.denied_age.and_then(|age| now.checked_sub(age)) {
                registry
                    .limiter
                    .block(bare, request.requester.device.as_deref(), at);
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
            let _ = registry.events.send(Event::Connected);
        } else {
            registry.fail_all(Instant::now());
            registry.roster.disconnected();
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
    use crate::xmpp::stanzas::Purpose;

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
                purpose: Purpose::Login,
                lang: Lang::default(),
            },
            requester: Requester::default(),
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
                    purpose: Purpose::Login,
                    lang: Lang::default(),
                },
                requester: Requester::default(),
                timeout: Duration::from_secs(1),
            })
            .unwrap_err();
        assert!(matches!(err, RequestError::Refused(r) if r.reason == Refusal::RecentlyDenied));
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
                purpose: Purpose::Login,
                lang: Lang::default(),
            },
            requester: Requester::default(),
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
                    origin: None,
                    purpose: Purpose::Login,
                    lang: Lang::default(),
                },
                requester: Requester::default(),
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

    fn ask_as(
        c: &Confirmer,
        jid: &str,
        requester: Requester,
        tag: Option<&str>,
    ) -> Result<Confirmation, RequestError> {
        c.request_tagged(
            ConfirmRequest {
                jid: UserJid::parse(jid).unwrap(),
                text: RequestText {
                    code: random::confirmation_code(),
                    method: "GET".into(),
                    url: "https://idp.example/".into(),
                    requester: "Wiki".into(),
                    origin: None,
                    purpose: Purpose::Login,
                    lang: Lang::default(),
                },
                requester,
                timeout: Duration::from_secs(60),
            },
            tag.map(str::to_owned),
        )
    }

    fn from_ip(ip: &str) -> Requester {
        Requester {
            ip: Some(ip.parse().unwrap()),
            ..Requester::default()
        }
    }

    fn refusal(result: Result<Confirmation, RequestError>) -> Option<Refusal> {
        match result {
            Err(RequestError::Refused(r)) => Some(r.reason),
            _ => None,
        }
    }

    #[tokio::test]
    async fn strangers_cannot_hold_a_jid_hostage() {
        let (c, _outbox) = confirmer();
        // One pending request per network, a few networks at once.
        assert!(ask_as(&c, "alice@example.org", from_ip("192.0.2.1"), None).is_ok());
        assert_eq!(
            refusal(ask_as(&c, "alice@example.org", from_ip("192.0.2.1"), None)),
            Some(Refusal::AlreadyPending)
        );
        assert!(ask_as(&c, "alice@example.org", from_ip("192.0.2.2"), None).is_ok());
        assert!(ask_as(&c, "alice@example.org", from_ip("2001:db8::1"), None).is_ok());
        assert_eq!(
            refusal(ask_as(
                &c,
                "alice@example.org",
                from_ip("2001:db8::2"),
                None
            )),
            Some(Refusal::AlreadyPending),
            "the same IPv6 /64"
        );
        assert_eq!(
            refusal(ask_as(
                &c,
                "alice@example.org",
                from_ip("198.51.100.1"),
                None
            )),
            Some(Refusal::JidPending)
        );
        // The owner's browser still gets through, once.
        let owner = Requester {
            device: Some("d".into()),
            ..from_ip("198.51.100.1")
        };
        let mine = ask_as(&c, "alice@example.org", owner.clone(), None).unwrap();
        assert_eq!(
            refusal(ask_as(&c, "alice@example.org", owner, None)),
            Some(Refusal::AlreadyPending)
        );
        // Answers are matched by code, whichever request they are for.
        feed(&c, &format!("<message xmlns='NS' from='alice@example.org/a' type='chat'><body>{}</body></message>", mine.code));
        assert_eq!(mine.status(), Status::Accepted);
        assert_eq!(c.pending_count(), 3);
        // A plain "no" refuses every request it could mean.
        feed(
            &c,
            "<message xmlns='NS' from='alice@example.org/a' type='chat'><body>no</body></message>",
        );
        assert_eq!(c.pending_count(), 0);
    }

    #[tokio::test]
    async fn no_network_or_client_takes_more_than_its_share() {
        let limits = Limits {
            jid_cooldown_secs: 0,
            max_pending: 20,
            max_pending_share_percent: 10,
            ..Limits::default()
        };
        let (c, _outbox) = Confirmer::new(
            BareJid::new("auth.example").unwrap(),
            &limits,
            Metrics::new(),
        );
        c.set_connected(true);
        for i in 0..2 {
            assert!(ask_as(&c, &format!("u{i}@example.org"), from_ip("192.0.2.1"), None).is_ok());
        }
        assert_eq!(
            refusal(ask_as(&c, "u9@example.org", from_ip("192.0.2.1"), None)),
            Some(Refusal::NetworkShare)
        );
        let client = |i: u8| Requester {
            client_id: Some("rp".into()),
            ..from_ip(&format!("198.51.100.{i}"))
        };
        assert!(ask_as(&c, "v1@example.org", client(1), None).is_ok());
        assert!(ask_as(&c, "v2@example.org", client(2), None).is_ok());
        assert_eq!(
            refusal(ask_as(&c, "v3@example.org", client(3), None)),
            Some(Refusal::ClientShare)
        );
    }

    #[tokio::test]
    async fn a_withdrawn_request_stops_counting_and_its_answer_is_ignored() {
        let (c, _outbox) = confirmer();
        let mut events = c.take_events().unwrap();
        let conf = ask_as(&c, "alice@example.org", from_ip("192.0.2.1"), Some("flow1")).unwrap();
        assert!(c.withdraw("flow1"));
        assert!(!c.withdraw("flow1"));
        assert_eq!(conf.status(), Status::Withdrawn);
        assert_eq!(c.pending_count(), 0);
        feed(&c, &confirm_reply("alice@example.org/a", &conf.code, ""));
        assert_eq!(conf.status(), Status::Withdrawn);
        assert_eq!(events.try_recv().unwrap(), Event::Connected);
        assert_eq!(
            events.try_recv().unwrap(),
            Event::Decided(Decision {
                tag: "flow1".into(),
                code: conf.code.clone(),
                status: Status::Withdrawn
            })
        );
        // Not counted as pending: the same network may ask again at once.
        assert!(ask_as(&c, "alice@example.org", from_ip("192.0.2.1"), None).is_ok());
    }

    /// Alice, a contact whose presence we get, with `apps` online: (resource, http-auth).
    fn contact_online(c: &Confirmer, outbox: &mut Outbox, apps: &[(&str, bool)]) {
        feed(
            c,
            "<presence xmlns='NS' type='subscribe' from='alice@example.org'/>",
        );
        feed(
            c,
            "<presence xmlns='NS' type='subscribed' from='alice@example.org'/>",
        );
        assert!(
            outbox.0.try_recv().is_err(),
            "presence is answered on the link itself"
        );
        let mut queries = Vec::new();
        for (app, _) in apps {
            queries.extend(feed(
                c,
                &format!("<presence xmlns='NS' from='alice@example.org/{app}'/>"),
            ));
        }
        for query in queries {
            let (to, id) = (
                query.attr("to").unwrap().to_owned(),
                query.attr("id").unwrap().to_owned(),
            );
            let http_auth = apps.iter().any(|(app, h)| *h && to.ends_with(app));
            let feature = if http_auth {
                "<feature var='http://jabber.org/protocol/http-auth'/>"
            } else {
                ""
            };
            feed(c, &format!("<iq xmlns='NS' type='result' id='{id}' from='{to}'><query xmlns='http://jabber.org/protocol/disco#info'>{feature}</query></iq>"));
        }
    }

    #[tokio::test]
    async fn a_contact_is_asked_by_iq_where_its_app_shows_requests_and_by_message_elsewhere() {
        let (c, mut outbox) = confirmer();
        contact_online(&c, &mut outbox, &[("gajim", true), ("phone", false)]);
        let conf = ask(&c, "alice@example.org");
        let mut sent_to: Vec<(String, String)> = (0..2)
            .map(|_| {
                let s = sent(&mut outbox);
                (s.name().to_owned(), s.attr("to").unwrap().to_owned())
            })
            .collect();
        sent_to.sort();
        assert_eq!(
            sent_to,
            [
                ("iq".to_owned(), "alice@example.org/gajim".to_owned()),
                ("message".to_owned(), "alice@example.org/phone".to_owned())
            ]
        );
        // The phone answers in plain text.
        feed(&c, &format!("<message xmlns='NS' from='alice@example.org/phone' type='chat'><body>{}</body></message>", conf.code));
        assert_eq!(conf.status(), Status::Accepted);
    }

    #[tokio::test]
    async fn a_bounce_from_one_app_leaves_the_others_asked() {
        let (c, mut outbox) = confirmer();
        contact_online(&c, &mut outbox, &[("a", false), ("b", false)]);
        let conf = ask(&c, "alice@example.org");
        let first = sent(&mut outbox);
        let _second = sent(&mut outbox);
        let id = first.attr("id").unwrap();
        let to = first.attr("to").unwrap();
        feed(&c, &format!("<message xmlns='NS' from='{to}' type='error' id='{id}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"));
        assert_eq!(conf.status(), Status::Sent);
        feed(
            &c,
            &confirm_reply("alice@example.org/b", &conf.code, "type='normal'"),
        );
        assert_eq!(conf.status(), Status::Accepted);
    }

    #[tokio::test]
    async fn messages_to_the_service_become_events_within_limits() {
        let limits = Limits {
            sender_per_minute: 2,
            ..limits()
        };
        let (c, _outbox) = Confirmer::new(
            BareJid::new("auth.example").unwrap(),
            &limits,
            Metrics::new(),
        );
        c.set_connected(true);
        let mut events = c.take_events().unwrap();
        assert_eq!(events.try_recv().unwrap(), Event::Connected);
        let code = random::confirmation_code();
        let replies = feed(&c, &format!("<message xmlns='NS' from='Bob@Example.org/x' type='chat'><body xml:lang='fr'>Connexion à Gitea : {code}</body></message>"));
        assert!(replies.is_empty());
        let bob = UserJid::parse("bob@example.org").unwrap();
        assert_eq!(
            events.try_recv().unwrap(),
            Event::Code {
                from: bob.clone(),
                keys: vec![random::code_key(&code)],
                lang: Lang::parse("fr"),
            }
        );
        // Help for anything else; nothing for group chats, headlines and errors.
        for kind in ["groupchat", "headline", "error"] {
            assert!(feed(&c, &format!("<message xmlns='NS' from='carol@example.org/x' type='{kind}'><body>{code}</body></message>")).is_empty());
        }
        let replies = feed(
            &c,
            "<message xmlns='NS' from='bob@example.org/x' xml:lang='de'><body>Nicht ich!</body></message>",
        );
        assert!(replies.is_empty());
        assert_eq!(
            events.try_recv().unwrap(),
            Event::NotMe {
                from: bob,
                thread: None,
                lang: Lang::parse("de"),
            }
        );
        // Two messages a minute from bob: the third is ignored.
        assert!(feed(
            &c,
            "<message xmlns='NS' from='bob@example.org/x' type='chat'><body>hello</body></message>"
        )
        .is_empty());
        assert!(events.try_recv().is_err());
        let help = feed(&c, "<message xmlns='NS' from='dave@example.org/x' type='chat' xml:lang='es'><body>hola</body></message>");
        assert_eq!(help.len(), 1);
        assert_eq!(help[0].attr("to"), Some("dave@example.org/x"));
        // In the language the message was written in.
        assert_eq!(
            help[0].attr_ns(minidom::rxml::Namespace::xml(), "lang"),
            Some("es")
        );
        // Wrong codes count against the sender.
        let dave = UserJid::parse("dave@example.org").unwrap();
        c.wrong_codes(&dave, 10);
        assert!(feed(&c, &format!("<message xmlns='NS' from='dave@example.org/x' type='chat'><body>{code}</body></message>")).is_empty());
        assert!(events.try_recv().is_err());
    }

    #[tokio::test]
    async fn subscription_requests_go_through_the_sender_limits() {
        let limits = Limits {
            sender_domain_per_minute: 2,
            ..limits()
        };
        let (c, _outbox) = Confirmer::new(
            BareJid::new("auth.example").unwrap(),
            &limits,
            Metrics::new(),
        );
        c.set_connected(true);
        let subscribe = |who: &str| format!("<presence xmlns='NS' type='subscribe' from='{who}'/>");
        assert_eq!(
            feed(&c, &subscribe("eve@example.org")).len(),
            3,
            "subscribed, subscribe, presence"
        );
        assert_eq!(feed(&c, &subscribe("eve2@example.org")).len(), 3);
        assert!(
            feed(&c, &subscribe("eve3@chat.example.org")).is_empty(),
            "past the domain's limit: ignored"
        );
        assert_eq!(feed(&c, &subscribe("frank@example.net")).len(), 3);
        // Presence of one address: a flood is cut off.
        let floods = (0..100)
            .filter(|_| !feed(&c, &subscribe("frank@example.net")).is_empty())
            .count();
        assert!(floods < 60, "{floods}");
    }

    #[tokio::test]
    async fn one_person_one_key_whatever_form_their_domain_comes_in() {
        let (c, _outbox) = confirmer();
        let conf = ask_as(&c, "anna@Bücher.example", from_ip("192.0.2.1"), None).unwrap();
        assert_eq!(
            refusal(ask_as(
                &c,
                "anna@xn--bcher-kva.example",
                from_ip("192.0.2.1"),
                None
            )),
            Some(Refusal::AlreadyPending)
        );
        feed(&c, &format!("<message xmlns='NS' from='anna@xn--bcher-kva.example/x' type='chat'><body>{}</body></message>", conf.code));
        assert_eq!(conf.status(), Status::Accepted);
        let conf = ask_as(&c, "anna@xn--bcher-kva.example", from_ip("192.0.2.1"), None).unwrap();
        feed(&c, &format!("<message xmlns='NS' from='anna@bücher.example/x' type='chat'><body>{}</body></message>", conf.code));
        assert_eq!(conf.status(), Status::Accepted);
    }

    #[tokio::test]
    async fn an_app_that_is_gone_does_not_deny_for_the_others() {
        let (c, mut outbox) = confirmer();
        contact_online(&c, &mut outbox, &[("a", true), ("b", true)]);
        let conf = ask(&c, "alice@example.org");
        let (first, second) = (sent(&mut outbox), sent(&mut outbox));
        let (id, to) = (first.attr("id").unwrap(), first.attr("to").unwrap());
        feed(&c, &format!("<iq xmlns='NS' from='{to}' type='error' id='{id}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"));
        assert_eq!(
            conf.status(),
            Status::Sent,
            "the other app may still answer"
        );
        let (id, to) = (second.attr("id").unwrap(), second.attr("to").unwrap());
        feed(
            &c,
            &format!("<iq xmlns='NS' from='{to}' type='result' id='{id}'/>"),
        );
        assert_eq!(conf.status(), Status::Accepted);
    }

    #[tokio::test]
    async fn a_page_that_asks_again_supersedes_its_earlier_request() {
        let (c, _outbox) = confirmer();
        let first = ask_as(&c, "alice@example.org", from_ip("192.0.2.1"), Some("flow")).unwrap();
        let second = ask_as(&c, "bob@example.org", from_ip("192.0.2.1"), Some("flow")).unwrap();
        assert_eq!(first.status(), Status::Withdrawn);
        assert!(c.withdraw("flow"));
        assert_eq!(second.status(), Status::Withdrawn);
        assert_eq!(c.pending_count(), 0);
    }
}
