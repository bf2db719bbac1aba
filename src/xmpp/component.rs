//! The XEP-0114 connection to the XMPP server: connect, handshake, keep alive, reconnect.
//!
//! Built on tokio-xmpp's stream layer (`TcpServerConnector`, `XmlStream`) rather than its
//! `Component` wrapper: `Component::next()` folds read errors, soft timeouts, unparsable
//! stanzas and the end of the stream into the same `None`, and we must tell a dead link
//! (reconnect, fail pending requests) from a stanza we could not parse (carry on).

use std::io;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use jid::{BareJid, Jid};
use minidom::Element;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_xmpp::connect::{DnsConfig, ServerConnector, TcpServerConnector};
use tokio_xmpp::xmlstream::{ReadError, Timeouts, XmlStream};
use xmpp_parsers::component::Handshake;
use xmpp_parsers::ns;

use super::confirm::{Confirmer, Outbox};
use super::stanzas;
use crate::config::XmppConfig;
use crate::random;

type Stream = XmlStream<BufStream<TcpStream>, Element>;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("cannot connect: {0}")]
    Connect(#[from] tokio_xmpp::Error),
    #[error("connection timed out")]
    Timeout,
    #[error("the XMPP server refused the component secret for {0}; check [xmpp] secret and component_jid against the server's Component section")]
    NotAuthorized(String),
    #[error("stream error: {0}")]
    Io(#[from] io::Error),
    #[error("the server closed the stream")]
    Closed,
    #[error("no answer to ping within {0:?}")]
    PingTimeout(Duration),
}

/// Keeps the component connected until `shutdown` turns true; hands the outbox back for
/// the next connection (a cluster instance leads again later).
pub async fn run(
    config: XmppConfig,
    confirmer: Confirmer,
    mut outbox: Outbox,
    mut shutdown: watch::Receiver<bool>,
) -> Outbox {
    let mut backoff = FIRST_BACKOFF;
    let max_backoff = Duration::from_secs(config.reconnect_max_secs.max(1));
    loop {
        let attempt = tokio::select! {
            result = tokio::time::timeout(CONNECT_TIMEOUT, connect(&config)) => {
                result.unwrap_or(Err(LinkError::Timeout))
            }
            _ = stopped(&mut shutdown) => return outbox,
        };
        match attempt {
            Ok(mut stream) => {
                tracing::info!(server = %config.server, jid = %config.component_jid, "XMPP component connected");
                backoff = FIRST_BACKOFF;
                // Whatever was queued while we were away belongs to requests that already failed.
                while outbox.0.try_recv().is_ok() {}
                confirmer.set_connected(true);
                let ended =
                    serve(&mut stream, &config, &confirmer, &mut outbox, &mut shutdown).await;
                confirmer.set_connected(false);
                match ended {
                    Ok(()) => {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(2), stream.shutdown()).await;
                        tracing::info!("XMPP component disconnected for shutdown");
                        return outbox;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "XMPP component link lost");
                        confirmer.link_failed(e.to_string());
                    }
                }
                confirmer.component_reconnected();
            }
            Err(e) => {
                tracing::warn!(error = %e, server = %config.server, retry_in = ?backoff, "XMPP component cannot connect");
                confirmer.link_failed(e.to_string());
            }
        }
        tokio::select! {
            _ = sleep(jittered(backoff)) => {}
            _ = stopped(&mut shutdown) => return outbox,
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

/// Completes once shutdown was asked for (or the sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// ±20 % so that several instances do not reconnect in lockstep.
fn jittered(d: Duration) -> Duration {
    use rand::Rng;
    d.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
}

async fn connect(config: &XmppConfig) -> Result<Stream, LinkError> {
    let jid = BareJid::new(&config.component_jid).map_err(tokio_xmpp::Error::from)?;
    let timeouts = Timeouts {
        // Silence this long makes the stream report a soft timeout; we answer it with a ping.
        read_timeout: Duration::from_secs(config.ping_interval_secs),
        response_timeout: Duration::from_secs(config.ping_timeout_secs),
    };
    let connector = TcpServerConnector::from(DnsConfig::addr(&config.server));
    let (mut pending, _) = connector
        .connect(&Jid::from(jid.clone()), ns::COMPONENT, timeouts)
        .await?;
    let stream_id = pending
        .take_header()
        .id
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no stream id"))?
        .into_owned();
    let mut stream: Stream = pending.skip_features();
    let handshake = Handshake::from_stream_id_and_password(stream_id, config.secret.expose());
    stream.send(&handshake).await?;
    loop {
        match stream.next().await {
            Some(Ok(element)) if element.name() == "handshake" => return Ok(stream),
            Some(Ok(_)) => return Err(LinkError::NotAuthorized(config.component_jid.clone())),
            Some(Err(ReadError::SoftTimeout)) => continue,
            Some(Err(ReadError::ParseError(e))) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e).into())
            }
            Some(Err(ReadError::HardError(e))) => return Err(e.into()),
            Some(Err(ReadError::StreamFooterReceived)) | None => {
                return Err(LinkError::NotAuthorized(config.component_jid.clone()))
            }
        }
    }
}

/// Runs the connected link; returns `Ok` on shutdown and `Err` when the link died.
async fn serve(
    stream: &mut Stream,
    config: &XmppConfig,
    confirmer: &Confirmer,
    outbox: &mut Outbox,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), LinkError> {
    let me = confirmer.service_jid().clone();
    let server = Jid::from(BareJid::new(&server_domain(&me)).unwrap_or_else(|_| me.clone()));
    let ping_timeout = Duration::from_secs(config.ping_timeout_secs);
    let mut ping_every = tokio::time::interval(Duration::from_secs(config.ping_interval_secs));
    ping_every.reset();
    // The ping waiting for its answer, and when we give up on it.
    let mut ping: Option<(String, Instant)> = None;
    loop {
        let ping_deadline = ping.as_ref().map(|(_, deadline)| *deadline);
        let mut send_ping = false;
        tokio::select! {
            _ = stopped(shutdown) => return Ok(()),
            read = stream.next() => match read {
                Some(Ok(element)) => {
                    if is_answer_to(&element, ping.as_ref()) {
                        ping = None;
                        continue;
                    }
                    for reply in confirmer.on_stanza(&element) {
                        stream.send(&reply).await?;
                    }
                }
                Some(Err(ReadError::SoftTimeout)) => send_ping = ping.is_none(),
                Some(Err(ReadError::ParseError(e))) => {
                    tracing::debug!(error = %e, "unparsable stanza ignored");
                }
                Some(Err(ReadError::HardError(e))) => return Err(e.into()),
                Some(Err(ReadError::StreamFooterReceived)) | None => return Err(LinkError::Closed),
            },
            Some(stanza) = outbox.0.recv() => stream.send(&stanza).await?,
            _ = ping_every.tick() => send_ping = ping.is_none(),
            _ = sleep_until(ping_deadline.unwrap_or_else(Instant::now)), if ping_deadline.is_some() => {
                return Err(LinkError::PingTimeout(ping_timeout));
            }
        }
        if send_ping {
            let id = random::token(12);
            stream
                .send(&stanzas::server_ping(&me, &server, &id))
                .await?;
            ping = Some((id, Instant::now() + ping_timeout));
        }
    }
}

/// The server hosting `auth.example.org` is usually `example.org`; any answer (even an
/// error) from whatever we ping proves the link alive, so a guess is good enough.
fn server_domain(component: &BareJid) -> String {
    let domain = component.domain().as_str();
    match domain.split_once('.') {
        Some((_, parent)) if parent.contains('.') || parent == "localhost" => parent.to_owned(),
        _ => domain.to_owned(),
    }
}

fn is_answer_to(element: &Element, ping: Option<&(String, Instant)>) -> bool {
    let Some((id, _)) = ping else { return false };
    element.name() == "iq"
        && element.attr("id") == Some(id.as_str())
        && matches!(element.attr("type"), Some("result") | Some("error"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Limits, Secret};
    use crate::metrics::Metrics;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A fake XMPP server for one module's test: accepts the XEP-0114 handshake, then
    /// never says anything again (a hung server, not a closed socket).
    async fn silent_server(listener: &TcpListener) -> TcpStream {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let mut seen = String::new();
        while !seen.contains("<handshake") || !seen.contains("</handshake>") {
            let n = socket.read(&mut buffer).await.unwrap();
            assert!(n > 0);
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            if seen.contains("<stream:stream") && !seen.contains("sent-header") {
                socket
                    .write_all(b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='auth.localhost'>")
                    .await
                    .unwrap();
                seen.push_str("sent-header");
            }
        }
        socket.write_all(b"<handshake/>").await.unwrap();
        socket
    }

    #[tokio::test]
    async fn an_unanswered_ping_drops_the_link_and_reconnects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = XmppConfig {
            component_jid: "auth.localhost".into(),
            service_localpart: String::new(),
            server: listener.local_addr().unwrap().to_string(),
            secret: Secret::new("s"),
            confirm_timeout_secs: 60,
            ping_interval_secs: 1,
            ping_timeout_secs: 1,
            reconnect_max_secs: 1,
        };
        let (confirmer, outbox) = Confirmer::new(
            BareJid::new("auth.localhost").unwrap(),
            &Limits::default(),
            Metrics::new(),
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(config, confirmer.clone(), outbox, stopped));
        let _first = silent_server(&listener).await;
        let started = tokio::time::Instant::now();
        while !confirmer.is_connected() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Ping after 1 s of silence, give up 1 s later…
        while confirmer.is_connected() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the dead link was never noticed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(started.elapsed() >= Duration::from_secs(1));
        // Our ping deadline or the stream's own read timeout, whichever fires first.
        let why = confirmer
            .last_error()
            .expect("the reason is kept for /healthz");
        assert!(why.contains("ping") || why.contains("time"), "{why}");
        // …and reconnect.
        let _second = tokio::time::timeout(Duration::from_secs(10), silent_server(&listener))
            .await
            .expect("a new connection after the ping timed out");
        stop.send(true).unwrap();
        task.await.unwrap();
    }

    #[test]
    fn pings_the_parent_domain() {
        let jid = |s| BareJid::new(s).unwrap();
        assert_eq!(server_domain(&jid("auth.example.org")), "example.org");
        assert_eq!(server_domain(&jid("auth.localhost")), "localhost");
        assert_eq!(server_domain(&jid("auth.org")), "auth.org");
    }
}
