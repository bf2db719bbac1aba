//! Denial of service: slow and idle connections are cut off and capped, anonymous login
//! pages cannot fill the database, and `/healthz` is cheap, read-only and tells strangers
//! only "ok". Each test fails without its fix.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::browser::{full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{refilled, spawn_app_with, Client, Prosody, Provider, TestApp, XmppUser};
use jidconnect::store::clients::ClientSettings;

/// Whether the server has closed `stream` (a read gives end of file or an error) within
/// `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => panic!(
            "the server answered: {}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(_) => false,
    }
}

/// Slowloris: headers sent a byte a second never complete a request; the server closes
/// the connection after `header_read_timeout_secs` instead of holding it.
#[tokio::test]
async fn a_client_sending_headers_a_byte_a_second_is_cut_off() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(
        &prosody,
        &[("JIDCONNECT_HTTP__HEADER_READ_TIMEOUT_SECS", "2")],
    )
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut sent = 0;
    let mut cut_off = false;
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err()
            || closed_within(&mut stream, Duration::from_secs(1)).await
        {
            cut_off = true;
            break;
        }
        sent += 1;
    }
    println!("slowloris: cut off after {sent} of {} bytes", request.len());
    assert!(cut_off, "the slow request was held to its end");
    assert!(sent < request.len() / 2, "cut off after {sent} bytes");
}

/// 2,000 connections that send nothing stay open (each one under the header timeout)
/// while a person logs in as usual.
#[tokio::test]
async fn two_thousand_idle_connections_do_not_stop_a_login() {
    const IDLE: usize = 2000;
    let prosody = Prosody::start().await;
    let app = spawn_app_with(
        &prosody,
        &[("JIDCONNECT_HTTP__HEADER_READ_TIMEOUT_SECS", "60")],
    )
    .await;
    let (id, secret) = app
        .add_client(ClientSettings::new("RP", vec![REDIRECT_URI.into()]))
        .await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let browser = Browser::new(&app);
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;

    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let attempt = rp.attempt(&[], false, &[]);
    let code = full_login(&app, &browser, &rp, &mut alice, "alice@localhost", &attempt).await;
    let tokens = rp.exchange(&code, None).await.unwrap();
    let claims = rp.id_claims(&tokens, &attempt.nonce);
    assert_eq!(claims.subject().as_str(), "alice@localhost");
    let mut still_open = 0;
    for stream in &mut idle {
        if !closed_within(stream, Duration::from_millis(1)).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, IDLE, "the idle connections were all held");
}

/// `max_connections`: past the cap a new connection waits in the backlog; once the idle
/// ones are cut off (the header timeout), it is served.
#[tokio::test]
async fn connections_past_the_cap_wait_until_idle_ones_are_cut_off() {
    const CAP: usize = 50;
    let prosody = Prosody::start().await;
    let app = spawn_app_with(
        &prosody,
        &[
            ("JIDCONNECT_HTTP__MAX_CONNECTIONS", "50"),
            ("JIDCONNECT_HTTP__HEADER_READ_TIMEOUT_SECS", "3"),
        ],
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..CAP {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = tokio::spawn({
        let url = app.url("/healthz");
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!health.is_finished(), "served past the cap of {CAP}");
    let status = tokio::time::timeout(Duration::from_secs(15), health)
        .await
        .expect("served once the idle connections were cut off")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    for stream in &mut idle {
        assert!(closed_within(stream, Duration::from_secs(10)).await);
    }
}

/// One number from the app's SQLite database, read beside the server.
async fn read_number(app: &TestApp, query: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(app.store_url())
        .await
        .unwrap();
    sqlx::query_scalar(query)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn login_flows(app: &TestApp) -> i64 {
    read_number(app, "SELECT COUNT(*) FROM login_flows").await
}

/// 10,000 anonymous `/authorize` requests from one address: the shipped per-network limit
/// stores a minute's worth of login flows and answers 429 to the rest; what a flow stores
/// of the caller's text is bounded.
#[tokio::test]
async fn ten_thousand_anonymous_authorize_requests_leave_a_bounded_table() {
    const REQUESTS: usize = 10_000;
    const PER_MINUTE: u64 = 60;
    let prosody = Prosody::start().await;
    let app = spawn_app_with(
        &prosody,
        &[("JIDCONNECT_LIMITS__LOGIN_PAGES_PER_MINUTE", "60")],
    )
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(0..REQUESTS)
        .map(|i| {
            let http = http.clone();
            let mut url = app.authorize_url();
            url.query_pairs_mut()
                .append_pair("state", &format!("s{i}"))
                .append_pair("nonce", &"n".repeat(512));
            async move { http.get(url).send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let stored = statuses.iter().filter(|s| **s == 303).count() as u64;
    let refused = statuses.iter().filter(|s| **s == 429).count() as u64;
    let rows = login_flows(&app).await;
    println!(
        "anonymous /authorize: {REQUESTS} sent, {stored} stored, {refused} refused (429), {rows} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(stored + refused, REQUESTS as u64, "{statuses:?}");
    assert!(
        (PER_MINUTE..=PER_MINUTE + refilled(PER_MINUTE, started)).contains(&stored),
        "{stored} flows stored"
    );
    assert_eq!(rows as u64, stored);

    // Each stored text field has its own bound.
    for (name, limit) in [
        ("state", 2048),
        ("nonce", 512),
        ("login_hint", 512),
        ("claims", 2048),
    ] {
        let mut url = app.authorize_url();
        let value = if name == "claims" {
            format!("{{\"userinfo\":{{\"x{}\":null}}}}", "y".repeat(limit))
        } else {
            "v".repeat(limit + 1)
        };
        url.query_pairs_mut().append_pair(name, &value);
        let response = http.get(url).send().await.unwrap();
        assert!(response.status().is_redirection(), "{name}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("https://wiki.example/callback?")
                && location.contains("error=invalid_request"),
            "{name}: {location}"
        );
    }
    assert_eq!(login_flows(&app).await, rows, "nothing more was stored");
}

async fn health_seen_from(app: &TestApp, ip: Option<&str>, token: Option<&str>) -> (u16, Value) {
    let mut request = app.http.get(app.url("/healthz"));
    if let Some(ip) = ip {
        request = request.header("x-forwarded-for", ip);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `/healthz` tells anyone only "ok" or "degraded"; the detail (database, keys, XMPP, file
/// paths in errors) goes to loopback and the operator's token; and it writes nothing.
#[tokio::test]
async fn healthz_is_read_only_and_its_detail_is_for_the_operator() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(
        &prosody,
        &[
            ("JIDCONNECT_TRUST_FORWARDED_FOR", "true"),
            ("JIDCONNECT_HEALTH_TOKEN", "operator-token"),
        ],
    )
    .await;
    let stranger = Some("203.0.113.7");
    let (status, body) = health_seen_from(&app, stranger, None).await;
    assert_eq!((status, body), (200, serde_json::json!({"status": "ok"})));
    let (_, body) = health_seen_from(&app, stranger, Some("wrong-token")).await;
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    for (ip, token) in [(stranger, Some("operator-token")), (None, None)] {
        let (status, body) = health_seen_from(&app, ip, token).await;
        assert_eq!(status, 200);
        assert_eq!(body["database"], "ok", "{body}");
        assert_eq!(body["xmpp"], "connected", "{body}");
    }

    let checked_at = || read_number(&app, "SELECT checked_at FROM health WHERE id = 1");
    let before = checked_at().await;
    app.clock.advance(100);
    let probes: Vec<(u16, Value)> =
        futures::future::join_all((0..50).map(|_| health_seen_from(&app, None, None))).await;
    assert!(probes.iter().all(|(status, _)| *status == 200));
    assert_eq!(checked_at().await, before, "/healthz wrote to the database");
}
