//! `/healthz`: is the database reachable, is the XMPP component connected.

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
    let connected = app.confirmer.is_connected();
    let healthy = database == "ok" && connected;
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "database": database,
        "xmpp": if connected { "connected" } else { "disconnected" },
        "xmpp_error": app.confirmer.last_error(),
        "pending_confirmations": app.confirmer.pending_count(),
    });
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}
