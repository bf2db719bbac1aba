//! One startup path for the binary and the tests: build, then run until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::StatusCode;
use axum::Router;
use jid::BareJid;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::config::{Config, MAX_CONFIRM_TIMEOUT_SECS};
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::oidc::metadata_document::MetadataDocuments;
use crate::oidc::Oidc;
use crate::state::{AppState, Shared};
use crate::store::{Backend, Store};
use crate::xmpp::component;
use crate::xmpp::confirm::Confirmer;
use crate::xmpp::dispatch::Dispatcher;

/// Form bodies here are small; anything larger is refused before it is read.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    component: JoinHandle<()>,
    /// Periodic work (purges, key reloads, the cluster's listeners): awaited at shutdown,
    /// so that nothing still writes when the database is closed.
    background: JoinSet<()>,
    shutdown: watch::Sender<bool>,
    /// Held while serving: a second server on the same SQLite file refuses to start.
    _instance_lock: Option<std::fs::File>,
}

impl Application {
    /// Opens the database (running migrations), binds the listener and starts the XMPP
    /// component. The component connects in the background and keeps retrying, so the
    /// web side starts even while the XMPP server is down.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// As [`Self::build`], with a clock the caller controls (tests).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database_url).await?;
        store
            .check_writable(clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("the database is not usable: {e}"))?;
        let instance_lock = store.lock_single_instance()?;
        if store.backend() == Backend::Sqlite {
            let interrupted = store.expire_interrupted_flows().await?;
            if interrupted > 0 {
                tracing::info!(
                    interrupted,
                    "logins waiting when the last process ended were expired"
                );
            }
        }
        let retention = config.oidc.id_token_ttl_secs as i64;
        let metrics = Metrics::new();
        let cluster = match store.backend() {
            Backend::Postgres => Some(
                Cluster::connect(&config, store.clone(), clock.clone(), metrics.clone()).await?,
            ),
            Backend::Sqlite => None,
        };
        let keys_lost = KeyRing::none_in(&config.keys_dir) && store.has_issued_tokens().await?;
        let keys = match &cluster {
            Some(cluster) => {
                crate::cluster::keys::load_or_import(
                    cluster.pool(),
                    &config.keys_dir,
                    clock.now(),
                    retention,
                    keys_lost,
                )
                .await?
            }
            None if keys_lost => anyhow::bail!(lost_keys_message(&config.keys_dir)),
            None => KeyRing::load_or_create(&config.keys_dir, clock.now(), retention)?,
        };
        let oidc = Oidc::new(config.issuer_id(), keys, &config.registration);
        let service_jid = BareJid::new(&config.xmpp.service_jid())
            .context("[xmpp] component_jid is not a valid JID")?;
        let (confirmer, outbox) = Confirmer::new(service_jid, &config.limits, metrics.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut background = JoinSet::new();
        background.spawn(purge_periodically(
            store.clone(),
            clock.clone(),
            config.limits.known_device_ttl_secs as i64,
            shutdown_rx.clone(),
        ));
        let events = confirmer
            .take_events()
            .context("the confirmer's events are taken once")?;
        let (dispatcher, link) = match cluster {
            Some(cluster) => {
                if let Some(url) = config.cluster_url() {
                    cluster.take_handoffs_at(url);
                }
                let task = cluster.start(
                    &config,
                    confirmer.clone(),
                    outbox,
                    oidc.clone(),
                    shutdown_rx.clone(),
                    &mut background,
                );
                (Dispatcher::Cluster { confirmer, cluster }, task)
            }
            None => {
                background.spawn(reload_keys_periodically(
                    oidc.clone(),
                    config.keys_dir.clone(),
                    clock.clone(),
                    retention,
                    shutdown_rx.clone(),
                ));
                let link = component::run(
                    config.xmpp.clone(),
                    confirmer.clone(),
                    outbox,
                    shutdown_rx.clone(),
                );
                let task = tokio::spawn(async move {
                    link.await;
                });
                (Dispatcher::Local { confirmer }, task)
            }
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let per_network = |per, secs| {
            std::sync::Mutex::new(crate::ratelimit::PerNetwork::new(
                per,
                std::time::Duration::from_secs(secs),
            ))
        };
        let new_flows = per_network(config.limits.login_pages_per_minute, 60);
        let registrations = per_network(config.registration.per_ip_per_hour, 3600);
        let metadata_documents = config
            .registration
            .accepts_metadata_documents()
            .then(|| MetadataDocuments::new(&config.issuer))
            .transpose()
            .context("cannot set up fetching client metadata documents")?;
        let state = AppState::new(Shared {
            config,
            store,
            dispatcher,
            oidc,
            clock,
            metrics,
            auth_failures: Default::default(),
            health: Default::default(),
            new_flows,
            registrations,
            metadata_documents,
        });
        let inbox = crate::xmpp::inbox::run(state.clone(), events, shutdown_rx);
        // Awaited at shutdown: the inbox records what was decided, and holds the database
        // until then.
        let component = tokio::spawn(async move {
            let _ = tokio::join!(link, inbox);
        });
        let request_timeout = |secs| {
            TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                std::time::Duration::from_secs(secs),
            )
        };
        let router = Router::new()
            .merge(crate::oidc::router())
            .merge(crate::login::router())
            .merge(crate::admin::router())
            .merge(crate::health::router())
            .merge(crate::metrics::router())
            .merge(crate::cluster::handoff::router())
            .merge(crate::web::static_router())
            .layer(request_timeout(state.config.http.request_timeout_secs))
            // The long poll waits for a person's answer, at most its own timeout.
            .merge(crate::compat::router().layer(request_timeout(
                MAX_CONFIRM_TIMEOUT_SECS + state.config.http.request_timeout_secs,
            )))
            .with_state(state.clone())
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::i18n::negotiate,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::oidc::cors::client_based,
            ))
            .layer(axum::middleware::map_response(crate::web::security_headers))
            .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
            // A bug that panics answers an opaque 500 instead of dropping the connection.
            .layer(CatchPanicLayer::new())
            // Paths only: query strings carry codes, id_token_hint and `/auth`'s
            // transaction_id, which must not reach the logs.
            .layer(TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = request.uri().path(),
                    )
                },
            ));
        Ok(Self {
            listener,
            router,
            state,
            component,
            background,
            shutdown,
            _instance_lock: instance_lock,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `stop` completes, then finishes open requests and closes the XMPP
    /// stream cleanly.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(listen = %self.local_addr(), issuer = %self.state.config.issuer, "jidconnect serving");
        let shutdown = self.shutdown.clone();
        let store = self.state.store.clone();
        let http = self.state.config.http.clone();
        crate::server::serve(self.listener, self.router, &http, async move {
            stop.await;
            // Waiting requests end at once: the /auth long poll as "unreachable", a login
            // page's status request with the status as it is.
            let _ = shutdown.send(true);
            store.stop_watching_flows();
        })
        .await;
        let _ = self.shutdown.send(true);
        let _ = self.component.await;
        let mut background = self.background;
        if tokio::time::timeout(BACKGROUND_GRACE, async {
            while background.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("background work still running after {BACKGROUND_GRACE:?}; stopping it");
            background.shutdown().await;
        }
        if let Some(cluster) = self.state.dispatcher.cluster() {
            cluster.close().await;
        }
        self.state.store.close().await;
        Ok(())
    }
}

/// What a purge or key reload under way gets to finish at shutdown.
const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Keys that vanished (an unmounted volume, a wrong path) are never replaced silently:
/// every token they signed would stop verifying.
pub fn lost_keys_message(dir: &std::path::Path) -> String {
    format!(
        "keys_dir {} holds no signing key, but this database has issued tokens signed with \
         keys that were there. Restore keys_dir from your backup (or mount its volume); to \
         start with new keys on purpose, run `jidconnect keys rotate` first",
        dir.display()
    )
}

/// Login flows are purged this often (anyone can open one), the rest every
/// [`FULL_PURGE_EVERY`] rounds.
const PURGE_FLOWS_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
const FULL_PURGE_EVERY: u32 = 60;

/// Deletes expired login flows every minute; expired codes, tokens and sessions, old
/// login notices and browsers not seen for `device_ttl_secs` once an hour.
async fn purge_periodically(
    store: Store,
    clock: Clock,
    device_ttl_secs: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(PURGE_FLOWS_EVERY);
    let mut round = 0u32;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = clock.now();
        let full = round.is_multiple_of(FULL_PURGE_EVERY);
        round = round.wrapping_add(1);
        let purged = async {
            if !full {
                return store.purge_expired_flows(now).await;
            }
            Ok::<_, sqlx::Error>(
                store.purge_expired(now).await?
                    + store.purge_reach(now, now - device_ttl_secs).await?,
            )
        };
        match purged.await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "expired rows purged"),
            Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
        }
    }
}

/// Well inside [`crate::keys::ACTIVATION_SLACK_SECS`].
const KEYS_RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Picks up `jidconnect keys rotate` (new files in `keys_dir`) without a restart, and drops
/// keys past their retention from the JWKS. With PostgreSQL the cluster does this.
async fn reload_keys_periodically(
    oidc: Arc<Oidc>,
    dir: std::path::PathBuf,
    clock: Clock,
    retention_secs: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(KEYS_RELOAD_EVERY);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = component::stopped(&mut shutdown) => return,
        }
        let loaded = crate::keys::stored_keys_in(&dir)
            .and_then(|stored| KeyRing::from_stored(stored, clock.now(), retention_secs));
        oidc.reloaded(loaded);
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
