//! Prometheus metrics at `/metrics` (OpenMetrics text), per instance.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    /// accepted, denied, expired, unreachable or withdrawn.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandoffLabels {
    /// direct (over HTTP to the leader) or queued (through PostgreSQL).
    way: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

pub struct Metrics {
    registry: Registry,
    confirmations_started: Counter,
    confirmations: Family<OutcomeLabels, Counter>,
    confirmation_seconds: Histogram,
    component_reconnects: Counter,
    tokens_issued: Family<GrantLabels, Counter>,
    cluster_leader: Gauge,
    cluster_handoffs: Family<HandoffLabels, Counter>,
    code_logins: Counter,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("jidconnect");
        let confirmations_started = Counter::default();
        let confirmations = Family::<OutcomeLabels, Counter>::default();
        // 50 ms … about 7 minutes: from a client answering at once to the 300 s cap.
        let confirmation_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        let component_reconnects = Counter::default();
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        let cluster_leader = Gauge::default();
        let cluster_handoffs = Family::<HandoffLabels, Counter>::default();
        let code_logins = Counter::default();
        registry.register(
            "code_logins",
            "Login pages confirmed by a code the person sent from their XMPP app",
            code_logins.clone(),
        );
        registry.register(
            "confirmations_started",
            "XEP-0070 confirmation requests sent (logins started)",
            confirmations_started.clone(),
        );
        registry.register(
            "confirmations",
            "Confirmation requests decided, by outcome",
            confirmations.clone(),
        );
        registry.register(
            "confirmation_duration_seconds",
            "Time from sending a confirmation request to its outcome",
            confirmation_seconds.clone(),
        );
        registry.register(
            "component_reconnects",
            "Times the XMPP component link was lost (each followed by reconnection attempts)",
            component_reconnects.clone(),
        );
        registry.register(
            "tokens_issued",
            "Token responses, by grant type",
            tokens_issued.clone(),
        );
        registry.register(
            "cluster_leader",
            "1 while this instance holds the XMPP component for the cluster (PostgreSQL)",
            cluster_leader.clone(),
        );
        registry.register(
            "cluster_handoffs",
            "Confirmation requests this instance handed to the cluster's leader, by way \
             (direct: over HTTP to its cluster_url; queued: through PostgreSQL)",
            cluster_handoffs.clone(),
        );
        Arc::new(Self {
            cluster_leader,
            cluster_handoffs,
            code_logins,
            registry,
            confirmations_started,
            confirmations,
            confirmation_seconds,
            component_reconnects,
            tokens_issued,
        })
    }

    pub fn code_login(&self) {
        self.code_logins.inc();
    }

    pub fn confirmation_started(&self) {
        self.confirmations_started.inc();
    }

    /// `outcome` is the final status: accepted, denied, expired, unreachable or withdrawn.
    pub fn confirmation_decided(&self, outcome: &'static str, seconds: f64) {
        self.confirmations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        self.confirmation_seconds.observe(seconds);
    }

    pub fn component_reconnect(&self) {
        self.component_reconnects.inc();
    }

    pub fn token_issued(&self, grant_type: &'static str) {
        self.tokens_issued
            .get_or_create(&GrantLabels { grant_type })
            .inc();
    }

    pub fn set_cluster_leader(&self, leading: bool) {
        self.cluster_leader.set(i64::from(leading));
    }

    /// `way`: direct or queued.
    pub fn cluster_handoff(&self, way: &'static str) {
        self.cluster_handoffs
            .get_or_create(&HandoffLabels { way })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric() {
        let m = Metrics::new();
        m.confirmation_started();
        m.confirmation_decided("denied", 1.5);
        m.component_reconnect();
        m.token_issued("refresh_token");
        m.cluster_handoff("direct");
        let text = m.render();
        for line in [
            "jidconnect_confirmations_started_total 1",
            "jidconnect_confirmations_total{outcome=\"denied\"} 1",
            "jidconnect_confirmation_duration_seconds_count 1",
            "jidconnect_component_reconnects_total 1",
            "jidconnect_tokens_issued_total{grant_type=\"refresh_token\"} 1",
            "jidconnect_cluster_handoffs_total{way=\"direct\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
