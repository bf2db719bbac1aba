//! Prompt bombing (XEP-0070 §6): many confirmation requests at one JID, one domain, and
//! from one IP. The limits hold; the figures (attempted, sent) are printed for
//! docs/reliability.md (`cargo test --test e2e abuse -- --nocapture`).

use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::browser::{field, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{refilled, spawn_app_with, Client, Prosody, Provider, TestApp, XmppUser};
use jidconnect::store::clients::ClientSettings;

async fn auth_burst(app: &TestApp, jids: Vec<String>) -> Vec<u16> {
    join_all(jids.into_iter().enumerate().map(|(i, jid)| {
        let http = app.http.clone();
        let url = app.url("/auth");
        let (id, secret) = (app.client_id.clone(), app.client_secret.clone());
        async move {
            http.get(url)
                .basic_auth(id, Some(secret))
                .query(&[
                    ("jid", jid.as_str()),
                    ("transaction_id", &format!("BOMB-{i}")),
                    ("timeout", "2"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }))
    .await
}

async fn sent_total(app: &TestApp) -> u64 {
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("jidconnect_confirmations_started_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn prompt_bombing_one_jid_one_domain_one_ip() {
    const ATTEMPTS: usize = 200;
    let prosody = Prosody::start().await;
    // The shipped defaults, cooldown included.
    let app = spawn_app_with(&prosody, &[("JIDCONNECT_LIMITS__JID_COOLDOWN_SECS", "5")]).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "ignore").await;

    // One JID, from the server-to-server API.
    let statuses = auth_burst(&app, vec!["alice@localhost".to_owned(); ATTEMPTS]).await;
    let refused = statuses.iter().filter(|s| **s == 429).count();
    let mut received = 0;
    while alice.receives_within(Duration::from_millis(500)).await {
        received += 1;
    }
    println!(
        "one JID:    {ATTEMPTS} attempted, {received} reached the person, {refused} refused (429)"
    );
    assert_eq!(
        received, 1,
        "one pending request per JID, then the cooldown"
    );
    assert_eq!(refused, ATTEMPTS - 1);

    // One domain, many JIDs.
    let before = sent_total(&app).await;
    let started = Instant::now();
    let jids = (0..ATTEMPTS)
        .map(|i| format!("user{i}@localhost"))
        .collect();
    let statuses = auth_burst(&app, jids).await;
    let sent = sent_total(&app).await - before;
    let refused = statuses.iter().filter(|s| **s == 429).count();
    println!("one domain: {ATTEMPTS} attempted, {sent} stanzas sent, {refused} refused (429)");
    // The bucket refills while the burst runs: on a loaded machine a few more get through.
    let allowed = 120 + refilled(120, started);
    assert!(
        (120..=allowed).contains(&sent),
        "domain_per_minute = 120 (burst), sent {sent}"
    );
    assert_eq!(sent as usize + refused, ATTEMPTS);

    // One IP, through the login pages.
    let (id, secret) = app
        .add_client(ClientSettings::new("RP", vec![REDIRECT_URI.into()]))
        .await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let browser = Browser::new(&app);
    let before = sent_total(&app).await;
    let started = Instant::now();
    let mut refused = 0;
    const PAGE_ATTEMPTS: usize = 60;
    for i in 0..PAGE_ATTEMPTS {
        let attempt = rp.attempt(&[], false, &[]);
        let (_, url, html) = browser.open(attempt.url.as_str()).await.page();
        let csrf = field(&html, "csrf").unwrap();
        let response = browser
            .http
            .post(&url)
            .form(&[
                ("jid", format!("page{i}@example.org").as_str()),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 429 {
            let page = response.text().await.unwrap();
            assert!(
                page.contains("Too many login attempts from your network"),
                "{page}"
            );
            refused += 1;
        }
    }
    let sent = sent_total(&app).await - before;
    println!(
        "one IP:     {PAGE_ATTEMPTS} attempted, {sent} stanzas sent, {refused} refused (429 page)"
    );
    let allowed = 20 + refilled(20, started);
    assert!(
        (20..=allowed).contains(&sent),
        "ip_per_minute = 20, sent {sent}"
    );
    assert_eq!(refused, PAGE_ATTEMPTS - sent as usize);
}
