//! Where a confirmation request goes: this process's own component (SQLite: the only
//! instance), or the cluster's leader through PostgreSQL.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::confirm::{ConfirmRequest, Confirmation, Confirmer, Decision, RequestError, Status};
use crate::clock::Clock;
use crate::cluster::{Cluster, LeaderInfo};
use crate::store::oidc::FlowStatus;
use crate::store::Store;

#[derive(Clone)]
pub enum Dispatcher {
    Local {
        confirmer: Confirmer,
    },
    Cluster {
        /// Sends requests while this instance leads.
        confirmer: Confirmer,
        cluster: Arc<Cluster>,
    },
}

/// The XMPP link as `/healthz` reports it.
pub struct LinkState {
    pub connected: bool,
    pub error: Option<String>,
    /// Requests this instance is waiting on (the leader: every pending request).
    pub pending: usize,
    /// With several instances: who leads, per its last heartbeat.
    pub leader: Option<LeaderInfo>,
}

impl From<Status> for FlowStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Accepted => FlowStatus::Accepted,
            Status::Denied => FlowStatus::Denied,
            Status::Expired | Status::Sent => FlowStatus::Expired,
            Status::Unreachable => FlowStatus::Unreachable,
        }
    }
}

/// Records the answers of this process's tagged (login flow) requests, one task for all;
/// at shutdown it records what was already decided, then ends (it holds the database).
pub async fn record_flow_answers(
    mut decisions: mpsc::UnboundedReceiver<Decision>,
    store: Store,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let decision = tokio::select! {
            decision = decisions.recv() => decision,
            _ = super::component::stopped(&mut shutdown) => {
                while let Ok(decision) = decisions.try_recv() {
                    record(&store, &clock, decision).await;
                }
                return;
            }
        };
        match decision {
            Some(decision) => record(&store, &clock, decision).await,
            None => return,
        }
    }
}

async fn record(store: &Store, clock: &Clock, Decision { tag, code, status }: Decision) {
    let auth_time = (status == Status::Accepted).then(|| clock.now());
    if let Err(e) = store
        .flow_answered(&tag, &code, status.into(), auth_time)
        .await
    {
        tracing::error!(error = %e, "cannot record the answer to a login");
    }
}

impl Dispatcher {
    /// Sends a confirmation request, subject to the limits. With `flow_id`, the answer is
    /// recorded in that login flow (whose `code` is the request's code) by whoever gets it.
    pub async fn request(
        &self,
        request: ConfirmRequest,
        flow_id: Option<&str>,
    ) -> Result<Confirmation, RequestError> {
        match self {
            Dispatcher::Local { confirmer, .. } => {
                confirmer.request_tagged(request, flow_id.map(str::to_owned))
            }
            Dispatcher::Cluster { cluster, .. } => cluster.request(request, flow_id).await,
        }
    }

    pub async fn link_state(&self, now: i64) -> LinkState {
        match self {
            Dispatcher::Local { confirmer, .. } => LinkState {
                connected: confirmer.is_connected(),
                error: confirmer.last_error(),
                pending: confirmer.pending_count(),
                leader: None,
            },
            Dispatcher::Cluster { confirmer, cluster } => {
                let leader = cluster.leader().await.ok().flatten();
                if cluster.is_leader() {
                    return LinkState {
                        connected: confirmer.is_connected(),
                        error: confirmer.last_error(),
                        pending: confirmer.pending_count(),
                        leader,
                    };
                }
                let live = leader.as_ref().filter(|l| l.is_live(now));
                LinkState {
                    connected: live.is_some_and(|l| l.xmpp_connected),
                    error: match live {
                        Some(l) => l.xmpp_error.clone(),
                        None => Some("no instance holds the XMPP component right now".into()),
                    },
                    pending: cluster.waiting_count(),
                    leader,
                }
            }
        }
    }

    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        match self {
            Dispatcher::Local { .. } => None,
            Dispatcher::Cluster { cluster, .. } => Some(cluster),
        }
    }
}
