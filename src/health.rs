//! `/healthz`: is the database reachable, are the signing keys readable, is the XMPP
//! component connected, and with several
//! instances, which one leads.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    let database = match app.store.check(app.clock.now()).await {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let link = app.dispatcher.link_state(app.clock.now()).await;
    let keys = match app.oidc.keys_error() {
        None => "ok".to_owned(),
        Some(e) => format!("error: {e}"),
    };
    let healthy = database == "ok" && link.connected && keys == "ok";
    let mut body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "database": database,
        "keys": keys,
        "xmpp": if link.connected { "connected" } else { "disconnected" },
        "xmpp_error": link.error,
        "pending_confirmations": link.pending,
    });
    if let Some(cluster) = app.dispatcher.cluster() {
        body["instance"] = json!(cluster.instance);
        body["is_leader"] = json!(cluster.is_leader());
        body["leader"] = json!(link.leader.map(|l| l.instance));
    }
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}
