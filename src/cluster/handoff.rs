//! The direct hand-off: an instance that does not lead gives its confirmation request to
//! the leader over HTTP instead of queueing it in PostgreSQL.
//!
//! Through the database, a hand-off is a queued row with its NOTIFY, the leader's take of
//! it (a transaction: `SELECT … FOR UPDATE`, an `UPDATE` with a NOTIFY back) and a wake-up
//! on each side. Directly, the leader writes the row as sent in one statement, as for its
//! own requests, sends it, and answers the asker at once (docs/performance.md). Only while
//! the leader has a `cluster_url` (where the others reach it); without one, and whenever
//! the direct way fails, the request is queued as before, under the same row id, so that
//! it is written, and sent, at most once.
//!
//! The leader draws a key for each term and publishes it with its address in
//! `cluster_leader`, so that only what may read the database can hand it requests. A
//! hand-off is signed with the key (HMAC-SHA256 of the body: the key itself never travels)
//! and carries the time it was made; a replay writes no second row (the id is the
//! asker's).

use std::sync::Arc;
use std::time::Duration;

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

use super::{parse_ip, Cluster};
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
const FRESH_FOR_SECS: i64 = 30;
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
}

impl Route {
    /// The leader's `cluster_url` and key as its row has them; none if it has no address.
    pub(super) fn of(url: Option<&str>, key: Option<&str>) -> Option<Self> {
        let endpoint = Url::parse(url?).ok()?.join(PATH).ok()?;
        Some(Route {
            endpoint,
            key: hmac::Key::new(hmac::HMAC_SHA256, key?.as_bytes()),
        })
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
    /// The leader's XMPP link is down: nothing was sent.
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

    /// A refusal as the asker reports it.
    pub(super) fn refused(refusal: &str, retry_after_secs: u64) -> Refused {
        Refused {
            reason: Refusal::from_code(refusal).unwrap_or(Refusal::TooManyPending),
            retry_after: Duration::from_secs(retry_after_secs),
        }
    }
}

/// The asker's side: an HTTP client that keeps its connection to the leader.
pub(super) struct Client {
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
}

impl Client {
    pub(super) fn new() -> Self {
        Client {
            http: hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build(HttpConnector::new()),
        }
    }

    /// Hands `request` (with its row id `id`) to the leader at `route`; `None` if the leader
    /// did not answer with an outcome within [`ANSWER_WAIT`] (the caller queues it).
    pub(super) async fn hand_off(
        &self,
        route: &Route,
        cluster: &Cluster,
        id: &str,
        request: &ConfirmRequest,
        flow: Option<SentFlow<'_>>,
        now: i64,
    ) -> Option<Outcome> {
        let handoff = HandOff {
            asker: cluster.instance.clone(),
            keeper: cluster.store.keeper().to_owned(),
            made_at: now,
            request: RequestFields::of(id, request),
            flow: flow.map(|flow| HandedFlow {
                id: flow.id.to_owned(),
                note_offline: flow.note_offline,
                lang: flow.lang.to_owned(),
                send_code: flow.send_code.map(str::to_owned),
            }),
        };
        let body = serde_json::to_vec(&handoff).ok()?;
        let signature = hex::encode(hmac::sign(&route.key, &body));
        let request = Request::post(route.endpoint.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)))
            .ok()?;
        let answered = tokio::time::timeout(ANSWER_WAIT, async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if status != StatusCode::OK {
                return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
            }
            serde_json::from_slice::<Outcome>(&body).map_err(|e| e.to_string())
        })
        .await;
        match answered {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, leader = %route.endpoint, "the leader did not take a request handed to it; queueing it");
                None
            }
            Err(_) => {
                tracing::warn!(leader = %route.endpoint, "the leader did not answer a request handed to it in time; queueing it");
                None
            }
        }
    }
}

/// Why the leader refuses a hand-off (nothing was written).
#[derive(Debug, thiserror::Error)]
enum Refusing {
    #[error("this instance does not lead the cluster")]
    NotLeading,
    #[error("the hand-off is not signed with this term's key")]
    BadSignature,
    #[error("the hand-off was made too long ago")]
    Stale,
    #[error("the hand-off does not parse: {0}")]
    Malformed(String),
    #[error("the request could not be recorded")]
    Store,
}

impl IntoResponse for Refusing {
    fn into_response(self) -> Response {
        let status = match self {
            Refusing::NotLeading => StatusCode::CONFLICT,
            Refusing::BadSignature | Refusing::Stale => StatusCode::UNAUTHORIZED,
            Refusing::Malformed(_) => StatusCode::BAD_REQUEST,
            Refusing::Store => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, self.to_string()).into_response()
    }
}

/// `POST /cluster/handoff` on the leader.
async fn receive(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Dispatcher::Cluster { confirmer, cluster } = &app.dispatcher else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match take(cluster, confirmer, &headers, &body).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(refusing) => refusing.into_response(),
    }
}

/// Checks a hand-off and, leading, sends it as the leader's own (its row as the asker's).
async fn take(
    cluster: &Cluster,
    confirmer: &Confirmer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Outcome, Refusing> {
    let key = cluster.handoff_key().ok_or(Refusing::NotLeading)?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| hex::decode(v.as_bytes()).ok())
        .ok_or(Refusing::BadSignature)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    // Constant time.
    hmac::verify(&key, body, &signature).map_err(|_| Refusing::BadSignature)?;
    let handoff: HandOff =
        serde_json::from_slice(body).map_err(|e| Refusing::Malformed(e.to_string()))?;
    if (cluster.clock.now() - handoff.made_at).abs() > FRESH_FOR_SECS {
        return Err(Refusing::Stale);
    }
    if !confirmer.is_connected() {
        return Ok(Outcome::Unreachable);
    }
    let id = handoff.request.id.clone();
    let request = handoff
        .request
        .request()
        .ok_or_else(|| Refusing::Malformed("the JID does not parse".into()))?;
    let flow = handoff.flow.as_ref().map(HandedFlow::sent_flow);
    let asker = super::Asker {
        instance: &handoff.asker,
        keeper: &handoff.keeper,
    };
    let now = cluster.clock.now();
    let offline = match cluster.write_sent(&id, &request, flow, asker, now).await {
        Ok(Some(offline)) => offline,
        Ok(None) => return Ok(Outcome::NotSendable),
        Err(e) => {
            // A replay, or a request the asker queued meanwhile: its row is there already.
            tracing::warn!(error = %e, "cannot record a request handed to the leader");
            return Err(Refusing::Store);
        }
    };
    let sent = cluster.send_written(confirmer, &id, request, now).await;
    Ok(Outcome::of(sent.map(|_| offline)))
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
