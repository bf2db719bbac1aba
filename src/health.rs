//! `/healthz`: is the database reachable, are the signing keys readable, is the XMPP
//! component connected, and with several instances, which one leads. Anyone learns "ok"
//! or "degraded"; the detail (errors name file paths) is for loopback and the operator's
//! `health_token`.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// The last probe, dated by its start. Callers that arrive while a probe runs wait for it
/// and take its answer, so a flood of `/healthz` runs one probe at a time.
#[derive(Default)]
pub struct HealthProbe {
    last: Mutex<Option<(Instant, bool, Value)>>,
}

async fn healthz(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let (healthy, detail) = probe(&app).await;
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if may_see_detail(&app, peer, &headers) {
        (code, Json(detail))
    } else {
        (code, Json(json!({ "status": detail["status"] })))
    }
}

fn may_see_detail(app: &AppState, peer: SocketAddr, headers: &HeaderMap) -> bool {
    if app.client_ip(peer, headers).is_loopback() {
        return true;
    }
    let token = app.config.health_token.expose();
    match crate::oidc::userinfo::bearer_token(headers) {
        Some(presented) if !token.is_empty() => {
            bool::from(presented.as_bytes().ct_eq(token.as_bytes()))
        }
        _ => false,
    }
}

async fn probe(app: &AppState) -> (bool, Value) {
    let arrived = Instant::now();
    let mut last = app.health.last.lock().await;
    if let Some((started, healthy, detail)) = &*last {
        if *started >= arrived {
            return (*healthy, detail.clone());
        }
    }
    let started = Instant::now();
    let database = match app.store.check_readable().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let link = app.dispatcher.link_state(app.clock.now()).await;
    let keys = match app.oidc.keys_error() {
        None => "ok".to_owned(),
        Some(e) => format!("error: {e}"),
    };
    let healthy = database == "ok" && link.connected && keys == "ok";
    let mut detail = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "database": database,
        "keys": keys,
        "xmpp": if link.connected { "connected" } else { "disconnected" },
        "xmpp_error": link.error,
        "pending_confirmations": link.pending,
    });
    if let Some(cluster) = app.dispatcher.cluster() {
        detail["instance"] = json!(cluster.instance);
        detail["is_leader"] = json!(cluster.is_leader());
        detail["leader"] = json!(link.leader.map(|l| l.instance));
        detail["instances"] = json!(cluster.instances());
    }
    *last = Some((started, healthy, detail.clone()));
    (healthy, detail)
}
