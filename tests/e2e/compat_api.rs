//! XEP-0070 confirmations through the HTTPAuthenticationOverXMPP-compatible `/auth` API,
//! answered (or not) by real XMPP clients on a real Prosody.

use std::time::{Duration, Instant};

use crate::browser::{field, Browser};
use crate::helpers::{spawn_app, Client, Prosody, Provider, XmppUser, COMPONENT};

fn params<'a>(jid: &'a str, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("jid", jid),
        ("domain", "wiki.example"),
        ("method", "POST"),
        ("transaction_id", code),
        ("timeout", "20"),
    ]
}

#[tokio::test]
async fn accepted_by_message_to_the_bare_jid() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;

    let (status, _) = app.auth(&params("Alice@Localhost", "WK7X-P4QA")).await;
    assert_eq!(status, 200);
    let seen = alice.next_request().await;
    assert_eq!(seen.kind, "message");
    assert_eq!(seen.code, "WK7X-P4QA");
    assert_eq!(seen.from, COMPONENT);
    assert!(
        seen.body.contains("WK7X-P4QA") && seen.body.contains("Test Wiki"),
        "{}",
        seen.body
    );
    assert_eq!(app.health().await["pending_confirmations"], 0);
}

#[tokio::test]
async fn accepted_by_iq_to_a_full_jid() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;

    let (status, _) = app
        .auth(&params("alice@localhost/laptop", "IQ22-OK33"))
        .await;
    assert_eq!(status, 200);
    let seen = alice.next_request().await;
    assert_eq!(seen.kind, "iq");
    assert_eq!(seen.code, "IQ22-OK33");
}

#[tokio::test]
async fn plain_text_reply_with_the_code_accepts() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "web", Client::PlainText, "body-code").await;

    let (status, _) = app.auth(&params("alice@localhost", "TXT9-CODE")).await;
    assert_eq!(status, 200);
    let seen = alice.next_request().await;
    assert!(
        seen.body.contains("TXT9-CODE"),
        "the body tells the code: {}",
        seen.body
    );
}

#[tokio::test]
async fn iq_to_a_client_without_xep0070_falls_back_to_a_message() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "web", Client::PlainText, "body-code").await;

    let (status, _) = app.auth(&params("alice@localhost/web", "FALL-BACK")).await;
    assert_eq!(status, 200);
    assert_eq!(alice.next_request().await.kind, "iq");
    assert_eq!(alice.next_request().await.kind, "message");
}

#[tokio::test]
async fn denials_by_iq_message_and_plain_no_return_401_and_block() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "deny").await;
    let mut bob = XmppUser::login(&prosody, "bob", "laptop", Client::PlainText, "body-no").await;

    let (status, _) = app
        .auth(&params("alice@localhost/laptop", "DENY-IQ22"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(alice.next_request().await.kind, "iq");

    let (status, _) = app.auth(&params("bob@localhost", "DENY-TEXT")).await;
    assert_eq!(status, 401);
    assert_eq!(bob.next_request().await.kind, "message");

    // A "no" blocks further prompts to that JID for a while.
    let (status, body) = app.auth(&params("alice@localhost", "AGAIN-222")).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("refused a login recently"), "{body}");
}

#[tokio::test]
async fn denial_by_message_error_returns_401() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut carol = XmppUser::login(&prosody, "carol", "phone", Client::Xep0070, "deny").await;

    let (status, _) = app.auth(&params("carol@localhost", "DENY-MSG2")).await;
    assert_eq!(status, 401);
    assert_eq!(carol.next_request().await.kind, "message");
}

#[tokio::test]
async fn silence_expires_at_the_timeout() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "ignore").await;

    let mut p = params("alice@localhost", "SLNT-2222");
    p.retain(|(k, _)| *k != "timeout");
    p.push(("timeout", "2"));
    let started = Instant::now();
    let (status, _) = app.auth(&p).await;
    assert_eq!(status, 401);
    assert!(started.elapsed() >= Duration::from_secs(2));
    alice.next_request().await;
    assert_eq!(app.health().await["pending_confirmations"], 0);
}

#[tokio::test]
async fn two_resources_get_the_request_and_the_first_answer_wins() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut laptop = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let mut phone = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "ignore").await;

    let (status, _) = app.auth(&params("alice@localhost", "TWO2-RESS")).await;
    assert_eq!(status, 200);
    assert_eq!(laptop.next_request().await.code, "TWO2-RESS");
    assert_eq!(phone.next_request().await.code, "TWO2-RESS");
    // The phone says no after the laptop's yes: too late to change anything, and no block.
    phone
        .send_raw("<message to='auth.localhost' type='chat'><body>no</body></message>")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("outcome=\"accepted\"} 1"), "{metrics}");
    assert!(!metrics.contains("outcome=\"denied\""), "{metrics}");
    let (status, _) = app.auth(&params("alice@localhost", "NEXT-2222")).await;
    assert_eq!(status, 200, "the late no blocked nothing");
    // Both resources saying no is a no.
    laptop.set_mode("deny").await;
    phone.set_mode("deny").await;
    // The users read their mode from a pipe and the request from their socket, in no set
    // order: give them the moment a busy machine needs (seen failing in CI without it).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = app.auth(&params("alice@localhost", "THRD-2222")).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn offline_user_expires_and_a_late_answer_is_ignored() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;

    let mut p = params("carol@localhost", "OFFL-INE2");
    p.retain(|(k, _)| *k != "timeout");
    p.push(("timeout", "2"));
    let (status, _) = app.auth(&p).await;
    assert_eq!(status, 401);

    // Carol comes online, gets the stored message and accepts it: too late.
    let mut carol = XmppUser::login(&prosody, "carol", "phone", Client::Xep0070, "accept").await;
    assert_eq!(carol.next_request().await.code, "OFFL-INE2");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.health().await["pending_confirmations"], 0);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("outcome=\"expired\"} 1"), "{metrics}");
    assert!(
        !metrics.contains("outcome=\"accepted\""),
        "the late accept counted for nothing: {metrics}"
    );
}

#[tokio::test]
async fn unknown_user_bounces_as_unreachable_at_once() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;

    let started = Instant::now();
    let (status, _) = app.auth(&params("nobody@localhost", "NOBO-DY22")).await;
    assert_eq!(status, 523);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the bounce ended it, not the timeout"
    );
}

#[tokio::test]
async fn another_user_cannot_confirm_someone_elses_request() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "ignore").await;
    let mut mallory = XmppUser::login(&prosody, "bob", "evil", Client::PlainText, "ignore").await;

    let mut p = params("alice@localhost", "VICT-IM22");
    p.retain(|(k, _)| *k != "timeout");
    p.push(("timeout", "3"));
    let request = {
        let app_url = app.url("/auth");
        let http = app.http.clone();
        let (id, secret) = (app.client_id.clone(), app.client_secret.clone());
        let p: Vec<(String, String)> = p
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::spawn(async move {
            http.get(app_url)
                .basic_auth(id, Some(secret))
                .query(&p)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    alice.next_request().await;
    // Bob knows the code (it is on the attacker's page) and answers in every form.
    let confirm = "<confirm xmlns='http://jabber.org/protocol/http-auth' id='VICT-IM22' method='POST' url='https://wiki.example/'/>";
    mallory
        .send_raw(&format!(
            "<message to='{COMPONENT}' type='normal'>{confirm}</message>"
        ))
        .await;
    mallory
        .send_raw(&format!(
            "<message to='{COMPONENT}' type='chat'><body>VICT-IM22</body></message>"
        ))
        .await;
    mallory
        .send_raw(&format!(
            "<message to='{COMPONENT}' from='alice@localhost/laptop'>{confirm}</message>"
        ))
        .await;
    assert_eq!(request.await.unwrap(), 401);
}

#[tokio::test]
async fn prosody_killed_mid_request_gives_523_and_the_component_reconnects() {
    let mut prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "ignore").await;

    let request = {
        let url = app.url("/auth");
        let http = app.http.clone();
        let (id, secret) = (app.client_id.clone(), app.client_secret.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let status = http
                .get(url)
                .basic_auth(id, Some(secret))
                .query(&[
                    ("jid", "alice@localhost"),
                    ("transaction_id", "KILL-ED22"),
                    ("timeout", "60"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            (status, started.elapsed())
        })
    };
    alice.next_request().await;
    // And a login page waiting for Bob.
    let mut bob = XmppUser::login(&prosody, "bob", "pc", Client::Xep0070, "ignore").await;
    let browser = Browser::new(&app);
    let (_, login_url, html) = browser.open(app.authorize_url().as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    let (_, wait_url, _) = browser
        .post(&login_url, &[("jid", "bob@localhost"), ("csrf", &csrf)])
        .await
        .page();
    bob.next_request().await;

    prosody.kill();
    let (status, took) = request.await.unwrap();
    assert_eq!(status, 523);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    browser
        .wait_for_status(&format!("{wait_url}/status"), "unreachable")
        .await;
    let (status, _, page) = browser.open(&wait_url).await.page();
    assert_eq!(status, 200);
    assert!(
        page.contains("our link to the XMPP network") && page.contains("name=\"jid\""),
        "the page says what happened and offers a new try:\n{page}"
    );
    app.wait_for_xmpp(false).await;
    let (status, _) = app.auth(&params("alice@localhost", "DOWN-2222")).await;
    assert_eq!(status, 523, "while disconnected, requests fail at once");

    prosody.restart().await;
    app.wait_for_xmpp(true).await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("jidconnect_component_reconnects_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("jidconnect_confirmations_total{outcome=\"unreachable\"} 2"),
        "{metrics}"
    );
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let (status, _) = app.auth(&params("alice@localhost", "BACK-2222")).await;
    assert_eq!(status, 200);
    alice.next_request().await;
    app.stop().await;
}

/// A transaction_id that is itself a "no" would make the person's "no" reply match the code,
/// i.e. accept: such an id is refused before anything is sent.
#[tokio::test]
async fn a_refusal_word_is_never_a_transaction_id() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut bob = XmppUser::login(&prosody, "bob", "laptop", Client::PlainText, "body-no").await;

    for code in ["no", "No", " NO. ", "n", "deny!", "Nein", "n-o"] {
        let (status, body) = app.auth(&params("bob@localhost", code)).await;
        assert_eq!(status, 400, "{code:?}: {body}");
        assert!(body.contains("reads as a refusal"), "{code:?}: {body}");
    }
    assert!(
        !bob.receives_within(Duration::from_millis(500)).await,
        "nothing was sent"
    );
    // A code that merely starts like a refusal is fine, and bob's "no" still refuses it.
    let (status, body) = app.auth(&params("bob@localhost", "NOPE-2222")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(bob.next_request().await.code, "NOPE-2222");
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;

    let (status, body) = app.auth(&[("transaction_id", "X")]).await;
    assert_eq!(
        (status, body.trim()),
        (400, "missing mandatory parameter: jid")
    );
    let (status, _) = app.auth(&[("jid", "alice@localhost")]).await;
    assert_eq!(status, 400);
    for bad in ["localhost", "@localhost", "alice@", "a b@localhost"] {
        let (status, body) = app.auth(&params(bad, "CODE-2222")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let long = "x".repeat(65);
    assert_eq!(app.auth(&params("alice@localhost", &long)).await.0, 400);
    let mut p = params("alice@localhost", "CODE-2222");
    p.push(("timeout", "soon"));
    p.retain(|(k, v)| *k != "timeout" || *v == "soon");
    assert_eq!(app.auth(&p).await.0, 400);

    // No credentials, a wrong secret, an unknown client: 401 with a challenge.
    let response = app
        .http
        .get(app.url("/auth"))
        .query(&params("alice@localhost", "CODE-2222"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    for (id, secret) in [
        (app.client_id.as_str(), "wrong"),
        ("unknown", app.client_secret.as_str()),
    ] {
        let status = app
            .http
            .post(app.url("/auth"))
            .basic_auth(id, Some(secret))
            .form(&params("alice@localhost", "CODE-2222"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 401);
    }
}

#[tokio::test]
async fn post_form_works_and_one_request_per_jid_is_pending() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "ignore").await;

    let first = {
        let url = app.url("/auth");
        let http = app.http.clone();
        let (id, secret) = (app.client_id.clone(), app.client_secret.clone());
        tokio::spawn(async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("jid", "alice@localhost"),
                    ("transaction_id", "FIRS-T222"),
                    ("timeout", "20"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    assert_eq!(alice.next_request().await.code, "FIRS-T222");
    let response = app
        .http
        .post(app.url("/auth"))
        .basic_auth(&app.client_id, Some(&app.client_secret))
        .form(&params("alice@localhost", "SECO-ND22"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        !alice.receives_within(Duration::from_millis(500)).await,
        "no second prompt"
    );
    // The person answers the first one in plain text.
    alice
        .send_raw("<message to='auth.localhost' type='chat'><body>firs-t222</body></message>")
        .await;
    assert_eq!(first.await.unwrap(), 200);
}

/// `domain` names the page in the person's app: only a host of the client's own redirect
/// URIs, never another site or jidconnect itself; and the request does not read as a login.
#[tokio::test]
async fn a_site_check_names_only_the_clients_own_site() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;

    let issuer_host = url::Url::parse(&app.url("/"))
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    for domain in [
        "bank.example",
        "https://bank.example/login",
        issuer_host.as_str(),
        "wiki.example.evil.example",
    ] {
        let mut p = params("alice@localhost", "DOMA-1NXX");
        p.retain(|(k, _)| *k != "domain");
        p.push(("domain", domain));
        let (status, body) = app.auth(&p).await;
        assert_eq!(status, 400, "{domain}: {body}");
        assert!(
            body.contains("not the host of one of this client's redirect URIs")
                && body.contains("wiki.example"),
            "{domain}: {body}"
        );
    }
    assert!(
        !alice.receives_within(Duration::from_millis(500)).await,
        "nothing was sent"
    );

    // Without a domain: the site of the client's redirect URI, not the provider.
    let mut p = params("alice@localhost", "SITE-CHK2");
    p.retain(|(k, _)| *k != "domain");
    let (status, body) = app.auth(&p).await;
    assert_eq!(status, 200, "{body}");
    let seen = alice.next_request().await;
    assert!(
        seen.body.contains("The site https://wiki.example/")
            && seen.body.contains("It is not a login page")
            && !seen.body.contains("login as"),
        "{}",
        seen.body
    );
}
