//! Where a confirmation request goes: this process's own component (SQLite: the only
//! instance), or the cluster's leader through PostgreSQL.

use std::sync::Arc;

use super::confirm::{ConfirmRequest, Confirmation, Confirmer, Decision, RequestError, Status};
use crate::clock::Clock;
use crate::cluster::{Cluster, LeaderInfo};
use crate::store::oidc::{FlowStatus, SentFlow};
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

/// What became of a login flow's confirmation request.
#[derive(Debug)]
pub enum FlowRequest {
    Sent,
    /// The flow is in no state to send one (sent already, answered): nothing was sent.
    NotSendable,
    /// Not sent; the flow is as if nothing had been tried.
    Failed(RequestError),
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
            Status::Expired | Status::Sent | Status::Withdrawn => FlowStatus::Expired,
            Status::Unreachable => FlowStatus::Unreachable,
        }
    }
}

impl Dispatcher {
    /// This instance's component side (it has work only while it holds the link).
    pub fn confirmer(&self) -> &Confirmer {
        match self {
            Dispatcher::Local { confirmer } | Dispatcher::Cluster { confirmer, .. } => confirmer,
        }
    }

    /// Sends a confirmation request that no login flow waits for, subject to the limits.
    pub async fn request(&self, request: ConfirmRequest) -> Result<Confirmation, RequestError> {
        match self {
            Dispatcher::Local { confirmer } => confirmer.request(request),
            // Without a flow, a request's row is always written.
            Dispatcher::Cluster { confirmer, cluster } => {
                Self::hand_to_cluster(confirmer, cluster, request, None)
                    .await?
                    .ok_or(RequestError::Disconnected)
            }
        }
    }

    /// Sends the confirmation request of the login flow `flow`, subject to the limits,
    /// and records it there as sent (whose `code` is the request's code); whoever gets the
    /// answer records it there too. Recorded before it goes out: the answer may come (to
    /// another instance) before this returns.
    pub async fn request_for_flow(
        &self,
        store: &Store,
        clock: &Clock,
        request: ConfirmRequest,
        flow: SentFlow<'_>,
    ) -> Result<FlowRequest, sqlx::Error> {
        let code = request.text.code.clone();
        let sent = match self {
            Dispatcher::Local { confirmer } => {
                let subject = request.jid.subject();
                if !store.flow_sent(flow, subject, &code, clock.now()).await? {
                    return Ok(FlowRequest::NotSendable);
                }
                confirmer
                    .request_tagged(request, Some(flow.id.to_owned()))
                    .map(Some)
            }
            // On PostgreSQL, one statement records the flow and the request's row.
            Dispatcher::Cluster { confirmer, cluster } => {
                Self::hand_to_cluster(confirmer, cluster, request, Some(flow)).await
            }
        };
        match sent {
            Ok(Some(_)) => Ok(FlowRequest::Sent),
            Ok(None) => Ok(FlowRequest::NotSendable),
            Err(e) => {
                store.flow_not_sent(flow.id, &code).await?;
                Ok(FlowRequest::Failed(e))
            }
        }
    }

    async fn hand_to_cluster(
        confirmer: &Confirmer,
        cluster: &Cluster,
        request: ConfirmRequest,
        flow: Option<SentFlow<'_>>,
    ) -> Result<Option<Confirmation>, RequestError> {
        // The leader knows its own link (its heartbeat row can lag behind on a busy
        // machine, and would refuse requests that it can send), and sends its own
        // requests itself.
        if cluster.is_leader() {
            if !confirmer.is_connected() {
                return Err(RequestError::Disconnected);
            }
            return cluster.send_own(confirmer, request, flow).await;
        }
        if !cluster.leader_connected().await {
            return Err(RequestError::Disconnected);
        }
        cluster.request(request, flow).await
    }

    /// The login flow `flow_id` gave up on its pending request (cancelled, another
    /// address, confirmed otherwise): it stops counting against the limits, and a late
    /// answer is ignored.
    pub async fn withdraw(&self, flow_id: &str) {
        match self {
            Dispatcher::Local { confirmer } => {
                confirmer.withdraw(flow_id);
            }
            Dispatcher::Cluster { cluster, .. } => {
                if let Err(e) = cluster.withdraw_flow(flow_id).await {
                    tracing::warn!(error = %e, "cannot withdraw a confirmation request");
                }
            }
        }
    }

    /// Records a decided request where its asker finds it: the login flow (the tag is the
    /// flow's id) or, with several instances, the request's row (the tag is its id).
    pub async fn record(
        &self,
        store: &Store,
        clock: &Clock,
        Decision { tag, code, status }: Decision,
    ) -> Result<(), sqlx::Error> {
        match self {
            Dispatcher::Local { .. } => {
                let Some(flow_status) = super::inbox::flow_status(status) else {
                    return Ok(());
                };
                let auth_time = (status == Status::Accepted).then(|| clock.now());
                store
                    .flow_answered(&tag, &code, flow_status, auth_time)
                    .await
            }
            Dispatcher::Cluster { cluster, .. } => cluster.decide(&tag, status).await,
        }
    }

    /// A login flow changed here outside the confirmation requests (a code sent over
    /// XMPP confirmed it): with several instances, its waiting page may be on another.
    pub async fn announce_flow(&self, flow_id: &str) {
        if let Dispatcher::Cluster { cluster, .. } = self {
            cluster.announce_flow(flow_id).await;
        }
    }

    /// Login notices were queued: whoever holds the link sends them.
    pub async fn notices_queued(&self) {
        match self {
            Dispatcher::Local { confirmer } => confirmer.notices_queued(),
            // The leader sends them itself; another instance tells it.
            Dispatcher::Cluster { confirmer, cluster } if cluster.is_leader() => {
                confirmer.notices_queued()
            }
            Dispatcher::Cluster { cluster, .. } => cluster.wake_leader().await,
        }
    }

    pub async fn link_state(&self, now: i64) -> LinkState {
        match self {
            Dispatcher::Local { confirmer } => LinkState {
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
