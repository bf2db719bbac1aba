//! The direct hand-off: an instance that does not lead gives its confirmation request to
//! the leader over HTTP instead of queueing it in PostgreSQL.
//!
//! Through the database, a hand-off is a queued row with its NOTIFY, the leader's take of
//! it (a transaction: `SELECT … FOR UPDATE`, an `UPDATE` with a NOTIFY back) and a wake-up
//! on each side. Directly, the leader writes the row as sent in one statement, as for its
//! own requests, sends it, and answers the asker at once (docs/performance.md). Only while
//! the leader has a `cluster_url` (where the others reach it); without one, and whenever
//! the leader surely wrote nothing (unreachable, refusing the hand-off, its XMPP link
//! down), the request is queued as before, under the same row id. When that is not sure
//! (no answer in time), the asker settles the id in the database: the row is the leader's
//! if it wrote it, else the asker's, ended. So a request is written and sent once.
//!
//! The leader draws a key for each term and publishes it with its address in
//! `cluster_leader`, so that only what may read the database can hand it requests. A
//! hand-off is signed with the key (HMAC-SHA256 of the body: the key itself never travels)
//! and carries the time it was made and its row's id; the leader takes each id once.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{parse_ip, Asker, Cluster};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::store::oidc::SentFlow;
use crate::xmpp::address::UserJid;
use crate::xmpp::confirm::{ConfirmRequest, Confirmer, RequestError};
use crate::xmpp::dispatch::Dispatcher;
use crate::xmpp::limits::{Refusal, Refused, Requester};
use crate::xmpp::stanzas::{Purpose, RequestText};

/// Where the leader takes hand-offs, below its `cluster_url`.
pub const PATH: &str = "/cluster/handoff";
/// The header that carries the body's HMAC-SHA256 under the leader's key, in hex.
const SIGNATURE_HEADER: &str = "x-jidconnect-signature";
/// A hand-off made longer ago than this (or as far ahead), by the leader's clock, is
/// refused: clocks of one deployment agree within it.
const FRESH_FOR_SECS: u64 = 30;
/// The leader remembers the ids it took this long (a hand-off older is refused anyway),
/// at most [`MAX_SEEN`] of them.
const SEEN_FOR: Duration = Duration::from_secs(2 * FRESH_FOR_SECS);
const MAX_SEEN: usize = 65_536;
/// The asker's connection to the leader: closed when idle well before the leader's server
/// would close it (`http.header_read_timeout_secs`, 1 s at least).
const IDLE_CONNECTION_FOR: Duration = Duration::from_millis(900);
const CONNECT_WITHIN: Duration = Duration::from_secs(1);
/// How long an asker waits for the leader's answer before it queues the request instead.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// After a direct hand-off failed, requests are queued for this long before the direct way
/// is tried again.
pub(super) const RETRY_DIRECT_AFTER: Duration = Duration::from_secs(30);
/// The leader's answers are a few dozen bytes.
const MAX_ANSWER_BYTES: usize = 4096;

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, post(receive))
}

/// Where the leader of the current term takes hand-offs, and its key, from its row.
#[derive(Clone)]
pub(super) struct Route {
    endpoint: Url,
    key: hmac::Key,
    /// The key as published: tells one term from the next.
    term: Arc<str>,
}

impl Route {
    /// The leader's `cluster_url` and key as its row has them; none if it has no address.
    pub(super) fn of(url: Option<&str>, key: Option<&str>) -> Option<Self> {
        let (endpoint, key) = (Url::parse(url?).ok()?.join(PATH).ok()?, key?);
        Some(Route {
            endpoint,
            key: hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
            term: key.into(),
        })
    }

    pub(super) fn term(&self) -> &Arc<str> {
        &self.term
    }
}

/// A term's key: random, kept by the leader and in its row.
pub(super) fn new_key() -> Arc<str> {
    crate::random::token(43).into()
}

/// A confirmation request as the `confirmations` row and a hand-off carry it; its row id
/// is chosen by the instance that asks.
#[derive(Debug, Serialize, Deserialize, sqlx::FromRow)]
pub(super) struct RequestFields {
    pub id: String,
    jid: String,
    code: String,
    method: String,
    url: String,
    requester: String,
    origin: Option<String>,
    purpose: String,
    lang: String,
    ip: Option<String>,
    client_id: Option<String>,
    device: Option<String>,
    timeout_secs: i64,
}

impl RequestFields {
    fn of(id: &str, request: &ConfirmRequest) -> Self {
        let text = &request.text;
        RequestFields {
            id: id.to_owned(),
            jid: request.jid.to_string(),
            code: text.code.clone(),
            method: text.method.clone(),
            url: text.url.clone(),
            requester: text.requester.clone(),
            origin: text.origin.clone(),
            purpose: text.purpose.as_str().to_owned(),
            lang: text.lang.tag().to_owned(),
            ip: request.requester.ip.map(|ip| ip.to_string()),
            client_id: request.requester.client_id.clone(),
            device: request.requester.device.clone(),
            timeout_secs: request.timeout.as_secs() as i64,
        }
    }

    /// The request; `None` if its JID does not parse (the asking instance parsed it, so
    /// such a request was not made by jidconnect).
    pub(super) fn request(self) -> Option<ConfirmRequest> {
        Some(ConfirmRequest {
            jid: UserJid::parse(&self.jid).ok()?,
            text: RequestText {
                code: self.code,
                method: self.method,
                url: self.url,
                requester: self.requester,
                origin: self.origin,
                purpose: Purpose::parse(&self.purpose),
                lang: Lang::parse(&self.lang).unwrap_or_default(),
            },
            requester: Requester {
                ip: parse_ip(self.ip),
                client_id: self.client_id,
                device: self.device,
            },
            timeout: Duration::from_secs(self.timeout_secs.max(0) as u64),
        })
    }
}

/// What an asking instance sends the leader.
#[derive(Debug, Serialize, Deserialize)]
struct HandOff {
    /// The asking instance (the row's `requested_by`), told of the answer on its channel.
    asker: String,
    /// The process that may keep the flow's page (see `login_flows.kept_by`).
    keeper: String,
    /// When the asker made it (unix seconds).
    made_at: i64,
    request: RequestFields,
    flow: Option<HandedFlow>,
}

/// A login flow's part of a hand-off (see [`SentFlow`]).
#[derive(Debug, Serialize, Deserialize)]
struct HandedFlow {
    id: String,
    note_offline: bool,
    lang: String,
    send_code: Option<String>,
}

impl HandedFlow {
    fn sent_flow(&self) -> SentFlow<'_> {
        SentFlow {
            id: &self.id,
            note_offline: self.note_offline,
            page: None,
            lang: &self.lang,
            send_code: self.send_code.as_deref(),
        }
    }
}

/// What became of a handed-off request, as the leader answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(super) enum Outcome {
    /// Recorded as sent (with its flow, whose `offline` note comes back) and sent.
    Sent { offline: bool },
    /// Refused by a limit, for `retry_after_secs`.
    Refused {
        refusal: String,
        retry_after_secs: u64,
    },
    /// Written, then not sent: the leader's XMPP link went down meanwhile.
    Unreachable,
    /// The flow is in no state to send one: nothing was written.
    NotSendable,
}

impl Outcome {
    fn of(sent: Result<bool, RequestError>) -> Self {
        match sent {
            Ok(offline) => Outcome::Sent { offline },
            Err(RequestError::Refused(refused)) => Outcome::Refused {
                refusal: refused.reason.code().to_owned(),
                retry_after_secs: refused.retry_after.as_secs().max(1),
            },
            Err(RequestError::Disconnected) => Outcome::Unreachable,
        }
    }
}

impl From<Outcome> for super::Handed {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Sent { offline } => Self::Sent { offline },
            Outcome::Refused {
                refusal,
                retry_after_secs,
            } => Self::Refused(Refused {
                reason: Refusal::from_code(&refusal).unwrap_or(Refusal::TooManyPending),
                retry_after: Duration::from_secs(retry_after_secs),
            }),
            Outcome::Unreachable => Self::Unreachable,
            Outcome::NotSendable => Self::NotSendable,
        }
    }
}

/// Why a direct hand-off brought no outcome.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failed {
    /// The leader wrote nothing (not reached, the hand-off refused, its XMPP link down):
    /// the request may be queued under the same id.
    NothingWritten,
    /// It may have written the row (no answer in time, an error after it was reached).
    Unknown,
}

impl Failed {
    /// What the leader's answer `status` (not 200) says it did.
    fn of_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST
            | StatusCode::UNAUTHORIZED
            | StatusCode::SERVICE_UNAVAILABLE => Failed::NothingWritten,
            _ => Failed::Unknown,
        }
    }
}

/// The asker's side: an HTTP client that keeps its connection to the leader.
pub(super) struct Client {
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
}

impl Client {
    pub(super) fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_WITHIN));
        Client {
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .pool_idle_timeout(IDLE_CONNECTION_FOR)
                .build(connector),
        }
    }

    /// Hands `request` (with its row id `id`) to the leader at `route`, waiting
    /// [`ANSWER_WAIT`] at most for its outcome.
    pub(super) async fn hand_off(
        &self,
        route: &Route,
        asker: Asker<'_>,
        id: &str,
        request: &ConfirmRequest,
        flow: Option<SentFlow<'_>>,
        now: i64,
    ) -> Result<Outcome, Failed> {
        let handoff = HandOff {
            asker: asker.instance.to_owned(),
            keeper: asker.keeper.to_owned(),
            made_at: now,
            request: RequestFields::of(id, request),
            flow: flow.map(|flow| HandedFlow {
                id: flow.id.to_owned(),
                note_offline: flow.note_offline,
                lang: flow.lang.to_owned(),
                send_code: flow.send_code.map(str::to_owned),
            }),
        };
        let body = serde_json::to_vec(&handoff).map_err(|_| Failed::NothingWritten)?;
        let signature = hex::encode(hmac::sign(&route.key, &body));
        let request = Request::post(route.endpoint.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| Failed::NothingWritten)?;
        let answered = tokio::time::timeout(ANSWER_WAIT, async {
            let response = self.http.request(request).await.map_err(|e| {
                let failed = match e.is_connect() {
                    true => Failed::NothingWritten,
                    false => Failed::Unknown,
                };
                (failed, e.to_string())
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| (Failed::Unknown, e.to_string()))?
                .to_bytes();
            let text = || String::from_utf8_lossy(&body).into_owned();
            if status != StatusCode::OK {
                return Err((
                    Failed::of_status(status),
                    format!("HTTP {status}: {}", text()),
                ));
            }
            serde_json::from_slice::<Outcome>(&body).map_err(|e| (Failed::Unknown, e.to_string()))
        })
        .await;
        let (failed, error) = match answered {
            Ok(Ok(outcome)) => return Ok(outcome),
            Ok(Err(failed)) => failed,
            Err(_) => (Failed::Unknown, "no answer in time".to_owned()),
        };
        tracing::warn!(error, leader = %route.endpoint, "a request handed to the leader got no outcome");
        Err(failed)
    }
}

/// Why the leader refuses a hand-off (nothing was written, except for a repeated one).
#[derive(Debug, thiserror::Error)]
enum Refusing {
    /// Also what an instance that does not lead (and so has no key) answers: the
    /// answer tells nobody who leads.
    #[error("the hand-off is not signed with the key of a term this instance leads")]
    BadSignature,
    #[error("the hand-off was made too long ago")]
    Stale,
    #[error("the hand-off does not parse: {0}")]
    Malformed(String),
    #[error("this hand-off was taken already")]
    Repeated,
    #[error("the XMPP link is down")]
    Disconnected,
    #[error("the request could not be recorded")]
    Store,
}

impl IntoResponse for Refusing {
    fn into_response(self) -> Response {
        let status = match self {
            Refusing::BadSignature | Refusing::Stale => StatusCode::UNAUTHORIZED,
            Refusing::Malformed(_) => StatusCode::BAD_REQUEST,
            Refusing::Repeated => StatusCode::CONFLICT,
            Refusing::Disconnected => StatusCode::SERVICE_UNAVAILABLE,
            Refusing::Store => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, self.to_string()).into_response()
    }
}

/// `POST /cluster/handoff` on the leader.
async fn receive(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Dispatcher::Cluster { confirmer, cluster } = &app.dispatcher else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let handoff = match check(cluster, confirmer, &headers, &body) {
        Ok(handoff) => handoff,
        Err(refusing) => return refusing.into_response(),
    };
    // Finished even if the asker stops waiting: a row written is then also sent (or ended).
    let taking = tokio::spawn(take(cluster.clone(), confirmer.clone(), handoff));
    match taking.await {
        Ok(Ok(outcome)) => Json(outcome).into_response(),
        Ok(Err(refusing)) => refusing.into_response(),
        Err(_) => Refusing::Store.into_response(),
    }
}

/// A hand-off signed with this term's key, fresh, and not taken before.
fn check(
    cluster: &Cluster,
    confirmer: &Confirmer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HandOff, Refusing> {
    let key = cluster.handoff_key().ok_or(Refusing::BadSignature)?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| hex::decode(v.as_bytes()).ok())
        .ok_or(Refusing::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    // Before anything is read from the body; in constant time.
    hmac::verify(&key, body, &signature).map_err(|_| Refusing::BadSignature)?;
    let handoff: HandOff =
        serde_json::from_slice(body).map_err(|e| Refusing::Malformed(e.to_string()))?;
    if cluster.clock.now().abs_diff(handoff.made_at) > FRESH_FOR_SECS {
        return Err(Refusing::Stale);
    }
    if !cluster
        .handoffs_seen
        .first(&handoff.request.id, Instant::now())
    {
        return Err(Refusing::Repeated);
    }
    if !confirmer.is_connected() {
        return Err(Refusing::Disconnected);
    }
    Ok(handoff)
}

/// Sends a checked hand-off as the leader's own request, its row as the asker's, written
/// at the asker's time (which its copy of the flow has).
async fn take(
    cluster: Arc<Cluster>,
    confirmer: Confirmer,
    handoff: HandOff,
) -> Result<Outcome, Refusing> {
    let id = handoff.request.id.clone();
    let request = handoff
        .request
        .request()
        .ok_or_else(|| Refusing::Malformed("the JID does not parse".into()))?;
    let flow = handoff.flow.as_ref().map(HandedFlow::sent_flow);
    let asker = Asker {
        instance: &handoff.asker,
        keeper: &handoff.keeper,
    };
    let now = handoff.made_at;
    let offline = match cluster.write_sent(&id, &request, flow, asker, now).await {
        Ok(Some(offline)) => offline,
        Ok(None) => return Ok(Outcome::NotSendable),
        Err(e) => {
            // The asker settles the id when its row is written already.
            tracing::warn!(error = %e, "cannot record a request handed to the leader");
            return Err(Refusing::Store);
        }
    };
    let code = request.text.code.clone();
    let sent = cluster.send_written(&confirmer, &id, request, now).await;
    if let (Err(_), Some(flow)) = (&sent, flow) {
        // The asker does this too when it hears of it, but it may have stopped waiting.
        if let Err(e) = cluster.store.flow_not_sent(flow.id, &code).await {
            tracing::warn!(error = %e, "cannot reset a login flow whose request was not sent");
        }
    }
    Ok(Outcome::of(sent.map(|_| offline)))
}

/// The ids of the hand-offs the leader took lately: each is taken once.
#[derive(Default)]
pub(super) struct Seen(Mutex<SeenIds>);

#[derive(Default)]
struct SeenIds {
    ids: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl Seen {
    /// Whether `id` was not taken within [`SEEN_FOR`]; it is from now on.
    fn first(&self, id: &str, now: Instant) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let SeenIds { ids, order } = &mut *seen;
        while let Some((at, _)) = order.front() {
            if now.duration_since(*at) < SEEN_FOR && order.len() < MAX_SEEN {
                break;
            }
            if let Some((_, old)) = order.pop_front() {
                ids.remove(&old);
            }
        }
        if !ids.insert(id.to_owned()) {
            return false;
        }
        order.push_back((now, id.to_owned()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the asker reads is what the leader wrote, for every outcome.
    #[test]
    fn outcomes_read_as_written() {
        for outcome in [
            Outcome::Sent { offline: true },
            Outcome::Refused {
                refusal: "jid_cooldown".into(),
                retry_after_secs: 7,
            },
            Outcome::Unreachable,
            Outcome::NotSendable,
        ] {
            let json = serde_json::to_vec(&outcome).unwrap();
            assert_eq!(serde_json::from_slice::<Outcome>(&json).unwrap(), outcome);
        }
    }

    /// A request survives the hand-off field for field.
    #[test]
    fn a_request_reads_as_written() {
        let request = ConfirmRequest {
            jid: UserJid::parse("alice@example.org/phone").unwrap(),
            text: RequestText {
                code: "ABCD-1234".into(),
                method: "GET".into(),
                url: "https://wiki.example/".into(),
                requester: "Wiki".into(),
                origin: Some("192.0.2.7".into()),
                purpose: Purpose::Device,
                lang: Lang::parse("de").unwrap(),
            },
            requester: Requester {
                ip: Some("192.0.2.7".parse().unwrap()),
                client_id: Some("wiki".into()),
                device: Some("d1".into()),
            },
            timeout: Duration::from_secs(120),
        };
        let fields = RequestFields::of("r1", &request);
        let json = serde_json::to_vec(&fields).unwrap();
        let read: RequestFields = serde_json::from_slice(&json).unwrap();
        assert_eq!(read.id, "r1");
        let read = read.request().unwrap();
        assert_eq!(read.jid.to_string(), request.jid.to_string());
        assert_eq!(format!("{:?}", read.text), format!("{:?}", request.text));
        assert_eq!(read.requester, request.requester);
        assert_eq!(read.timeout, request.timeout);
    }

    /// An id is taken once within [`SEEN_FOR`], and again after.
    #[test]
    fn a_handoff_is_taken_once() {
        let seen = Seen::default();
        let start = Instant::now();
        assert!(seen.first("a", start));
        assert!(!seen.first("a", start + Duration::from_secs(1)));
        assert!(seen.first("b", start + Duration::from_secs(1)));
        assert!(seen.first("a", start + SEEN_FOR));
        assert!(!seen.first("b", start + SEEN_FOR));
    }

    /// Only the answers that say the leader wrote nothing let the asker queue the request.
    #[test]
    fn only_an_answer_before_writing_lets_the_asker_queue() {
        for status in [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            assert_eq!(
                Failed::of_status(status),
                Failed::NothingWritten,
                "{status}"
            );
        }
        for status in [
            StatusCode::CONFLICT,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
        ] {
            assert_eq!(Failed::of_status(status), Failed::Unknown, "{status}");
        }
    }

    /// A route is the leader's address with the hand-off's path.
    #[test]
    fn a_route_ends_in_the_handoff_path() {
        for url in ["http://10.0.0.5:8080", "http://10.0.0.5:8080/"] {
            let route = Route::of(Some(url), Some("k")).unwrap();
            assert_eq!(
                route.endpoint.as_str(),
                "http://10.0.0.5:8080/cluster/handoff"
            );
        }
        assert!(Route::of(None, Some("k")).is_none());
        assert!(Route::of(Some("http://10.0.0.5:8080"), None).is_none());
    }
}
