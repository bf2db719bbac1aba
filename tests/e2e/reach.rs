//! Every XMPP app can log in: the send-the-code way (apps without XEP-0070), the login
//! service as a contact (servers that drop messages from strangers), login notices and
//! "not me", no lockout by strangers, and "Cancel" on every page. Real Prosody (with
//! mod_block_strangers on a second host), slixmpp users, the `openidconnect` crate as RP.

use std::net::IpAddr;
use std::time::Duration;

use openidconnect::OAuth2TokenResponse;
use serde_json::Value;
use url::Url;

use crate::browser::{field, full_login, Attempt, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{
    spawn_app_on, spawn_app_with, Backend, Client, Prosody, Provider, TestApp, XmppUser, COMPONENT,
};
use jidconnect::store::clients::ClientSettings;

const WAIT: Duration = Duration::from_secs(20);

/// The send-the-code link of a login page: where it opens a message, and its text.
pub fn xmpp_link(html: &str) -> (String, String) {
    let at = html.find("href=\"xmpp:").expect("an xmpp: link") + "href=\"".len();
    let end = at + html[at..].find('"').unwrap();
    let link = &html[at..end];
    let (to, query) = link
        .strip_prefix("xmpp:")
        .unwrap()
        .split_once("?message;body=")
        .unwrap_or_else(|| panic!("a message link: {link}"));
    let body = percent_encoding::percent_decode_str(query)
        .decode_utf8()
        .unwrap()
        .into_owned();
    (to.to_owned(), body)
}

/// Polls the page's status (as its script does) until it reads `want`.
async fn status_becomes(browser: &Browser, page_url: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = browser.json(&format!("{page_url}/status")).await;
        if status["status"] == want {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {want}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Waits until `jid` is stored as a contact with `subscription` and `presence`.
async fn contact_becomes(app: &TestApp, jid: &str, subscription: &str, presence: Option<&str>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let contacts = app.state.store.contacts().await.unwrap();
        let contact = contacts.iter().find(|c| c.jid == jid);
        if contact
            .is_some_and(|c| c.subscription == subscription && c.presence.as_deref() == presence)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{jid} never became {subscription}/{presence:?}: {contacts:?}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// The `error`, `state` and `iss` of a redirect back to the RP.
fn error_of(url: &Url) -> (String, String, String) {
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    (get("error"), get("state"), get("iss"))
}

async fn rp_for(app: &TestApp, name: &str) -> RelyingParty {
    let (id, secret) = app
        .add_client(ClientSettings::new(name, vec![REDIRECT_URI.into()]))
        .await;
    RelyingParty::discover(app, &id, &secret).await
}

/// Logs in by sending the page's code from `user`'s app; returns the RP's ID token subject.
async fn log_in_by_sending_the_code(
    app: &TestApp,
    rp: &RelyingParty,
    browser: &Browser,
    user: &mut XmppUser,
    text_around: bool,
) -> String {
    let attempt = rp.attempt(&[], true, &[]);
    let (status, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    assert_eq!(status, 200, "{html}");
    let (to, body) = xmpp_link(&html);
    assert_eq!(to, COMPONENT);
    let message = if text_around {
        format!("hi! {body} (sent from my phone)")
    } else {
        body
    };
    user.send_message(&to, &message).await;
    status_becomes(browser, &login_url, "accepted").await;
    let csrf = field(&html, "csrf").unwrap();
    let landing = browser
        .post(&format!("{login_url}/continue"), &[("csrf", &csrf)])
        .await;
    let callback = browser.consent_if_asked(landing).await;
    subject_at_rp(app, rp, &callback, attempt).await
}

async fn subject_at_rp(
    app: &TestApp,
    rp: &RelyingParty,
    callback: &Url,
    attempt: Attempt,
) -> String {
    let code = rp.code_from(app, callback, &attempt);
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    rp.id_claims(&tokens, &attempt.nonce).subject().to_string()
}

#[tokio::test]
async fn an_app_without_xep0070_logs_in_by_sending_the_code() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let rp = rp_for(&app, "Gitea").await;
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "ignore").await;
    let browser = Browser::new(&app);

    // The login page: the code, the link that opens the app with it, and the QR code.
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let (to, body) = xmpp_link(&html);
    assert_eq!(to, COMPONENT);
    let code = body
        .strip_prefix("Log in to Gitea: ")
        .expect(&body)
        .to_owned();
    assert!(
        html.contains(&format!(">{code}<")),
        "the page shows the code"
    );
    assert!(html.contains("Open in my XMPP app"));
    assert!(html.contains("<img src=\"data:image/svg+xml,") && html.contains("alt=\"QR code"));

    // Bob's app sends it, with other text around; the page moves on for bob.
    bob.send_message(COMPONENT, &format!("hello {body} bye"))
        .await;
    status_becomes(&browser, &login_url, "accepted").await;
    let answer = bob.next_chat().await;
    assert!(answer.from.starts_with(COMPONENT), "{answer:?}");
    assert!(
        answer
            .body
            .contains("logging in to Gitea (rp.example) as bob@localhost"),
        "{answer:?}"
    );
    let csrf = field(&html, "csrf").unwrap();
    let landing = browser
        .post(&format!("{login_url}/continue"), &[("csrf", &csrf)])
        .await;
    let callback = browser.consent_if_asked(landing).await;
    assert_eq!(
        subject_at_rp(&app, &rp, &callback, attempt).await,
        "bob@localhost"
    );

    // The code worked once.
    bob.send_message(COMPONENT, &body).await;
    let answer = bob.next_chat().await;
    assert!(
        answer.body.contains("matches no open login page"),
        "{answer:?}"
    );

    // The admin pages get the same way in (one component link per domain: the first
    // instance goes).
    app.stop().await;
    let admin = spawn_app_with(
        &prosody,
        &[("JIDCONNECT_ADMIN_JIDS", r#"["carol@localhost"]"#)],
    )
    .await;
    let mut carol = XmppUser::login(&prosody, "carol", "desk", Client::PlainText, "ignore").await;
    let browser = Browser::new(&admin);
    let (_, login_url, html) = browser.open(&admin.url("/admin")).await.page();
    let (_, body) = xmpp_link(&html);
    carol.send_message(COMPONENT, &body).await;
    status_becomes(&browser, &login_url, "accepted").await;
    let csrf = field(&html, "csrf").unwrap();
    let (status, _, page) = browser
        .post(&format!("{login_url}/continue"), &[("csrf", &csrf)])
        .await
        .page();
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Registered clients") && page.contains("carol@localhost"),
        "{page}"
    );
}

#[tokio::test]
async fn codes_that_match_nothing_count_against_the_sender() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(
        &prosody,
        &[("JIDCONNECT_LIMITS__WRONG_CODES_PER_HOUR", "2")],
    )
    .await;
    let rp = rp_for(&app, "Wiki").await;
    let mut mallory = XmppUser::login(&prosody, "carol", "x", Client::PlainText, "ignore").await;
    for _ in 0..2 {
        mallory
            .send_message(COMPONENT, "Log in to Wiki: AAAA-BBBB")
            .await;
        let answer = mallory.next_chat().await;
        assert!(
            answer.body.contains("matches no open login page"),
            "{answer:?}"
        );
    }
    // Now even a right code from that address is ignored for a while…
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let (_, body) = xmpp_link(&html);
    mallory.send_message(COMPONENT, &body).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status: Value = browser
        .http
        .get(format!("{login_url}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "new");
    // …while the page's code still works for anyone else.
    let mut bob = XmppUser::login(&prosody, "bob", "y", Client::PlainText, "ignore").await;
    bob.send_message(COMPONENT, &body).await;
    status_becomes(&browser, &login_url, "accepted").await;
}

#[tokio::test]
async fn a_strict_server_lets_requests_through_once_its_user_added_the_service() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[("JIDCONNECT_XMPP__CONFIRM_TIMEOUT_SECS", "3")]).await;
    let rp = rp_for(&app, "Nextcloud").await;
    let mut dave = XmppUser::login(
        &prosody,
        "dave@strict.localhost",
        "gajim",
        Client::Xep0070,
        "accept",
    )
    .await;

    // A stranger's request never reaches dave: his server drops it.
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    browser
        .post(
            &login_url,
            &[("jid", "dave@strict.localhost"), ("csrf", &csrf)],
        )
        .await
        .page();
    assert!(!dave.receives_within(Duration::from_secs(2)).await);
    status_becomes(&browser, &login_url, "expired").await;

    // Dave adds the login service; it asks back, his app approves: both ways.
    dave.subscribe(COMPONENT).await;
    contact_becomes(&app, "dave@strict.localhost", "both", Some("online")).await;
    let (from, kind) = dave.next_presence().await;
    assert_eq!((from.as_str(), kind.as_str()), (COMPONENT, "available"));
    // His app announced XEP-0070 in its caps: the request is an IQ to that app.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempt = rp.attempt(&[], true, &[]);
    full_login(
        &app,
        &browser,
        &rp,
        &mut dave,
        "dave@strict.localhost",
        &attempt,
    )
    .await;

    // Erin's app has no XEP-0070 (and announces no caps): a message, answered in text.
    let mut erin = XmppUser::login(
        &prosody,
        "erin@strict.localhost",
        "phone",
        Client::PlainText,
        "body-code",
    )
    .await;
    erin.subscribe(COMPONENT).await;
    contact_becomes(&app, "erin@strict.localhost", "both", Some("online")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    browser
        .post(
            &login_url,
            &[("jid", "erin@strict.localhost"), ("csrf", &csrf)],
        )
        .await
        .page();
    let request = erin.next_request().await;
    assert_eq!(request.kind, "message");
    assert_eq!(request.from, COMPONENT);
    status_becomes(&browser, &login_url, "accepted").await;
}

#[tokio::test]
async fn the_request_to_a_contact_goes_by_iq_to_the_app_that_shows_it() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let rp = rp_for(&app, "Forgejo").await;
    let mut dave = XmppUser::login(
        &prosody,
        "dave@strict.localhost",
        "gajim",
        Client::Xep0070,
        "accept",
    )
    .await;
    dave.subscribe(COMPONENT).await;
    contact_becomes(&app, "dave@strict.localhost", "both", Some("online")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    let (_, _, wait) = browser
        .post(
            &login_url,
            &[("jid", "dave@strict.localhost"), ("csrf", &csrf)],
        )
        .await
        .page();
    let request = dave.next_request().await;
    assert_eq!(request.kind, "iq", "{request:?}");
    assert!(wait.contains(&request.code));
    status_becomes(&browser, &login_url, "accepted").await;
}

#[tokio::test]
async fn a_contact_whose_app_is_offline_is_told_at_once() {
    contact_offline_told_at_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_contact_whose_app_is_offline_is_told_at_once_on_postgres() {
    contact_offline_told_at_once(Backend::Postgres).await;
}

async fn contact_offline_told_at_once(backend: Backend) {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, backend, &[]).await;
    let rp = rp_for(&app, "Grafana").await;
    let mut dave = XmppUser::login(
        &prosody,
        "dave@strict.localhost",
        "phone",
        Client::Xep0070,
        "accept",
    )
    .await;
    dave.subscribe(COMPONENT).await;
    contact_becomes(&app, "dave@strict.localhost", "both", Some("online")).await;
    drop(dave);
    contact_becomes(&app, "dave@strict.localhost", "both", Some("offline")).await;

    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    let (_, _, wait) = browser
        .post(
            &login_url,
            &[("jid", "dave@strict.localhost"), ("csrf", &csrf)],
        )
        .await
        .page();
    assert!(
        wait.contains("<p id=\"offline\" class=\"notice warning\" role=\"alert\" >"),
        "the page says so at once:\n{wait}"
    );
    let status = status_becomes(&browser, &login_url, "sent").await;
    assert_eq!(status["offline"], true);

    // Back online, the app gets the stored request and accepts it.
    let _dave = XmppUser::login(
        &prosody,
        "dave@strict.localhost",
        "phone",
        Client::Xep0070,
        "accept",
    )
    .await;
    status_becomes(&browser, &login_url, "accepted").await;
}

#[tokio::test]
async fn strangers_cannot_lock_the_owner_out() {
    let prosody = Prosody::start().await;
    // Alice's own first login counts against the hourly rate too: 1 + 3 strangers fill it.
    let app = spawn_app_with(&prosody, &[("JIDCONNECT_LIMITS__JID_PER_HOUR", "4")]).await;
    let rp = rp_for(&app, "Mastodon").await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;

    // Alice logs in once from her browser: it is remembered as hers.
    let mine = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    full_login(&app, &mine, &rp, &mut alice, "alice@localhost", &attempt).await;
    assert!(mine.cookie("jidconnect_device").is_some());
    alice.set_mode("ignore").await;

    // Strangers on other addresses fill every per-JID limit: three requests waiting, the
    // hourly rate used up.
    let mut refused = 0;
    for last in 2..=6u8 {
        let address: IpAddr = format!("127.0.0.{last}").parse().unwrap();
        let stranger = Browser::from_address(&app, Some(address));
        let attempt = rp.attempt(&[], true, &[]);
        let (_, login_url, html) = stranger.open(attempt.url.as_str()).await.page();
        let csrf = field(&html, "csrf").unwrap();
        let response = stranger
            .http
            .post(&login_url)
            .form(&[("jid", "alice@localhost"), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            refused += 1;
        } else {
            alice.next_request().await;
        }
    }
    assert_eq!(refused, 2, "three requests waiting at most");
    // And the same stranger again: one request per network.
    let stranger = Browser::from_address(&app, Some("127.0.0.2".parse().unwrap()));
    let (_, login_url, html) = stranger
        .open(rp.attempt(&[], true, &[]).url.as_str())
        .await
        .page();
    let csrf = field(&html, "csrf").unwrap();
    let response = stranger
        .http
        .post(&login_url)
        .form(&[("jid", "alice@localhost"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);

    // Her own browser still gets a request through, and she logs in (again: the site asks
    // for a fresh login).
    alice.set_mode("accept").await;
    let attempt = rp.attempt(&[], true, &[("prompt", "login")]);
    let (_, login_url, html) = mine.open(attempt.url.as_str()).await.page();
    let landing = mine
        .log_in(&login_url, &html, "alice@localhost", &mut alice)
        .await;
    let callback = mine.consent_if_asked(landing).await;
    assert_eq!(
        subject_at_rp(&app, &rp, &callback, attempt).await,
        "alice@localhost"
    );

    // A new browser of hers logs in by sending the code, whatever the limits say.
    alice.set_mode("ignore").await;
    let fresh = Browser::from_address(&app, Some("127.0.0.7".parse().unwrap()));
    let subject = log_in_by_sending_the_code(&app, &rp, &fresh, &mut alice, false).await;
    assert_eq!(subject, "alice@localhost");
}

async fn cancel(browser: &Browser, page_url: &str, html: &str) -> Url {
    let csrf = field(html, "csrf").unwrap();
    browser
        .post(&format!("{page_url}/cancel"), &[("csrf", &csrf)])
        .await
        .away()
}

fn assert_cancelled(app: &TestApp, callback: &Url, attempt: &Attempt) {
    assert!(callback.as_str().starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(
        error_of(callback),
        (
            "access_denied".to_owned(),
            attempt.state.secret().to_owned(),
            app.issuer()
        )
    );
}

#[tokio::test]
async fn cancel_on_every_page_returns_to_the_site_with_access_denied() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let rp = rp_for(&app, "Wiki").await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "ignore").await;
    let browser = Browser::new(&app);

    // The login page.
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    assert!(html.contains("Cancel and go back to Wiki"));
    assert_cancelled(&app, &cancel(&browser, &login_url, &html).await, &attempt);
    // The page is gone, and its code with it.
    let (status, _, _) = browser.open(&login_url).await.page();
    assert_eq!(status, 404);

    // The waiting page: the request is withdrawn, and a late "yes" changes nothing.
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    let (_, _, wait) = browser
        .post(&login_url, &[("jid", "alice@localhost"), ("csrf", &csrf)])
        .await
        .page();
    let request = alice.next_request().await;
    assert!(wait.contains("Cancel and go back to Wiki"));
    assert_cancelled(&app, &cancel(&browser, &login_url, &wait).await, &attempt);
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
        metrics.contains("jidconnect_confirmations_total{outcome=\"withdrawn\"} 1"),
        "{metrics}"
    );
    alice.send_message(COMPONENT, &request.code).await;
    let answer = alice.next_chat().await;
    assert!(
        answer.body.contains("matches no open login page"),
        "{answer:?}"
    );

    // The consent page.
    alice.set_mode("accept").await;
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let (_, consent_url, consent) = browser
        .log_in(&login_url, &html, "alice@localhost", &mut alice)
        .await
        .page();
    assert!(consent_url.ends_with("/consent"), "{consent_url}");
    assert!(consent.contains(">Cancel<"));
    let csrf = field(&consent, "csrf").unwrap();
    let callback = browser
        .post(&consent_url, &[("csrf", &csrf), ("decision", "deny")])
        .await
        .away();
    assert_cancelled(&app, &callback, &attempt);
    // The refused page offers both: a new request, or cancel. (Last: a "no" silences
    // requests from strangers' browsers for a while. A new browser: the last one has a
    // session now.)
    let browser = Browser::new(&app);
    alice.set_mode("deny").await;
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    browser
        .post(&login_url, &[("jid", "alice@localhost"), ("csrf", &csrf)])
        .await
        .page();
    alice.next_request().await;
    status_becomes(&browser, &login_url, "denied").await;
    let (_, _, refused) = browser.open(&login_url).await.page();
    assert!(refused.contains("You refused this login"), "{refused}");
    assert!(
        refused.contains("Send a new request") && refused.contains(">Cancel<"),
        "{refused}"
    );
    assert_cancelled(
        &app,
        &cancel(&browser, &login_url, &refused).await,
        &attempt,
    );
}

#[tokio::test]
async fn a_contact_hears_of_each_login_and_not_me_ends_it() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let rp = rp_for(&app, "Gitea").await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;
    alice.subscribe(COMPONENT).await;
    contact_becomes(&app, "alice@localhost", "both", Some("online")).await;

    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let code = full_login(&app, &browser, &rp, &mut alice, "alice@localhost", &attempt).await;
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    let notice = alice.next_chat().await;
    assert!(notice.from.starts_with(COMPONENT), "{notice:?}");
    assert!(
        notice.body.starts_with("Logged in to Gitea from 127.0.0.1"),
        "{notice:?}"
    );
    let userinfo = || async {
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(tokens.access_token().secret())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(userinfo().await, 200, "the access token works before");

    alice.send_message(COMPONENT, "not me").await;
    let answer = alice.next_chat().await;
    assert!(
        answer
            .body
            .starts_with("Done: that login (Logged in to Gitea"),
        "{answer:?}"
    );
    assert_eq!(userinfo().await, 401, "the access token is revoked");
    // The single sign-on session is gone: a silent login now needs a login.
    let attempt = rp.attempt(&[], true, &[("prompt", "none")]);
    let callback = browser.open(attempt.url.as_str()).await.away();
    assert_eq!(error_of(&callback).0, "login_required");
    // Twice is once.
    alice.send_message(COMPONENT, "Not me!").await;
    let answer = alice.next_chat().await;
    assert!(answer.body.contains("no recent login"), "{answer:?}");
}

#[tokio::test]
async fn the_service_can_have_an_address_with_a_local_part() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[("JIDCONNECT_XMPP__SERVICE_LOCALPART", "login")]).await;
    let service = format!("login@{COMPONENT}");
    let rp = rp_for(&app, "Forum").await;
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "ignore").await;
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let (to, body) = xmpp_link(&html);
    assert_eq!(to, service);
    bob.send_message(&to, &body).await;
    status_becomes(&browser, &login_url, "accepted").await;
    let answer = bob.next_chat().await;
    assert!(answer.from.starts_with(&service), "{answer:?}");

    // Added at that address, it reaches people behind a stranger filter.
    let mut dave = XmppUser::login(
        &prosody,
        "dave@strict.localhost",
        "gajim",
        Client::Xep0070,
        "accept",
    )
    .await;
    dave.subscribe(&service).await;
    contact_becomes(&app, "dave@strict.localhost", "both", Some("online")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempt = rp.attempt(&[], true, &[]);
    full_login(
        &app,
        &Browser::new(&app),
        &rp,
        &mut dave,
        "dave@strict.localhost",
        &attempt,
    )
    .await;
}

#[tokio::test]
async fn the_send_the_code_way_and_contacts_on_postgres() {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, Backend::Postgres, &[]).await;
    let rp = rp_for(&app, "Gitea").await;
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "ignore").await;
    let browser = Browser::new(&app);
    let subject = log_in_by_sending_the_code(&app, &rp, &browser, &mut bob, true).await;
    assert_eq!(subject, "bob@localhost");
    let mut dave = XmppUser::login(
        &prosody,
        "dave@strict.localhost",
        "gajim",
        Client::Xep0070,
        "accept",
    )
    .await;
    dave.subscribe(COMPONENT).await;
    contact_becomes(&app, "dave@strict.localhost", "both", Some("online")).await;
    let attempt = rp.attempt(&[], true, &[]);
    let _ = full_login(
        &app,
        &Browser::new(&app),
        &rp,
        &mut dave,
        "dave@strict.localhost",
        &attempt,
    )
    .await;
    let notice = dave.next_chat().await;
    assert!(notice.body.starts_with("Logged in to Gitea"), "{notice:?}");
}

/// Whoever was tricked into sending someone else's code can stop that login: the answer
/// says where the page was opened, and "not me" ends it, before or after it went on.
#[tokio::test]
async fn not_me_stops_a_login_made_with_a_code_someone_else_showed() {
    not_me_stops_a_login_by_someone_elses_code(Backend::Sqlite).await;
}

#[tokio::test]
async fn not_me_stops_a_login_made_with_a_code_someone_else_showed_on_postgres() {
    not_me_stops_a_login_by_someone_elses_code(Backend::Postgres).await;
}

async fn not_me_stops_a_login_by_someone_elses_code(backend: Backend) {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, backend, &[]).await;
    let rp = rp_for(&app, "Bank").await;
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "ignore").await;

    // Mallory's page, Bob's message: the page shows Bob's address, it does not go on alone.
    let mallory = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = mallory.open(attempt.url.as_str()).await.page();
    let (_, body) = xmpp_link(&html);
    bob.send_message(COMPONENT, &body).await;
    status_becomes(&mallory, &login_url, "accepted").await;
    let (_, _, page) = mallory.open(&login_url).await.page();
    assert!(page.contains("Continue as bob@localhost"), "{page}");
    assert!(
        page.contains("data-auto=\"false\""),
        "no automatic continue"
    );
    let answer = bob.next_chat().await;
    assert!(answer.body.contains("opened from 127.0.0.1"), "{answer:?}");
    assert!(!answer.thread.is_empty());
    bob.reply_in_thread(COMPONENT, "not me", &answer.thread)
        .await;
    let done = bob.next_chat().await;
    assert!(done.body.starts_with("Done"), "{done:?}");
    let csrf = field(&html, "csrf").unwrap();
    let (status, _, _) = mallory
        .post(&format!("{login_url}/continue"), &[("csrf", &csrf)])
        .await
        .page();
    assert_eq!(status, 404, "the login is gone");

    // The same after the site got its code: the session ends, the tokens die. A site
    // that asks no consent, and "continue" sent several times at once (a double click):
    // the one submission that issues the code links its session and grant to the notice.
    let mut settings = ClientSettings::new("Bank app", vec![REDIRECT_URI.into()]);
    settings.trusted = true;
    let (id, secret) = app.add_client(settings).await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = mallory.open(attempt.url.as_str()).await.page();
    let (_, body) = xmpp_link(&html);
    bob.send_message(COMPONENT, &body).await;
    status_becomes(&mallory, &login_url, "accepted").await;
    let first_answer = bob.next_chat().await;
    let csrf = field(&html, "csrf").unwrap();
    let continue_url = format!("{login_url}/continue");
    let continued = (0..4).map(|_| {
        mallory
            .http
            .post(&continue_url)
            .form(&[("csrf", &csrf)])
            .send()
    });
    let to_site: Vec<Url> = futures::future::join_all(continued)
        .await
        .into_iter()
        .filter_map(|response| {
            let location = response
                .unwrap()
                .headers()
                .get("location")?
                .to_str()
                .ok()?
                .to_owned();
            location
                .starts_with(REDIRECT_URI)
                .then(|| Url::parse(&location).unwrap())
        })
        .collect();
    assert_eq!(to_site.len(), 1, "{to_site:?}");
    let callback = &to_site[0];
    let code = rp.code_from(&app, callback, &attempt);
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    let userinfo = || async {
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(openidconnect::OAuth2TokenResponse::access_token(&tokens).secret())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(userinfo().await, 200);
    bob.reply_in_thread(COMPONENT, "Not me.", &first_answer.thread)
        .await;
    assert!(bob.next_chat().await.body.starts_with("Done"));
    assert_eq!(userinfo().await, 401);
    let attempt = rp.attempt(&[], true, &[("prompt", "none")]);
    let callback = mallory.open(attempt.url.as_str()).await.away();
    assert_eq!(error_of(&callback).0, "login_required");
}

/// A login confirmed by a code someone else showed, which the site then refuses (its
/// access list changed meanwhile): the person was confirmed all the same, so the session
/// starts for other sites; "not me" ends it.
#[tokio::test]
async fn not_me_ends_the_session_of_a_login_the_site_refused() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "ignore").await;
    let trusted = |name| {
        let mut settings = ClientSettings::new(name, vec![REDIRECT_URI.into()]);
        settings.trusted = true;
        settings
    };
    let mut bank_settings = trusted("Bank app");
    bank_settings.allow = vec!["bob@localhost".into()];
    let (bank_id, bank_secret) = app.add_client(bank_settings.clone()).await;
    let bank = RelyingParty::discover(&app, &bank_id, &bank_secret).await;
    let (wiki_id, wiki_secret) = app.add_client(trusted("Wiki")).await;
    let wiki = RelyingParty::discover(&app, &wiki_id, &wiki_secret).await;

    let mallory = Browser::new(&app);
    let attempt = bank.attempt(&[], true, &[]);
    let (_, login_url, html) = mallory.open(attempt.url.as_str()).await.page();
    let (_, body) = xmpp_link(&html);
    bob.send_message(COMPONENT, &body).await;
    status_becomes(&mallory, &login_url, "accepted").await;
    let answer = bob.next_chat().await;
    bank_settings.allow = vec!["carol@localhost".into()];
    app.state
        .store
        .update_client(&bank_id, bank_settings)
        .await
        .unwrap();
    let csrf = field(&html, "csrf").unwrap();
    let refused = mallory
        .post(&format!("{login_url}/continue"), &[("csrf", &csrf)])
        .await
        .away();
    assert_eq!(error_of(&refused).0, "access_denied", "{refused}");

    let silently = wiki.attempt(&[], true, &[("prompt", "none")]);
    let callback = mallory.open(silently.url.as_str()).await.away();
    wiki.code_from(&app, &callback, &silently);
    bob.reply_in_thread(COMPONENT, "not me", &answer.thread)
        .await;
    assert!(bob.next_chat().await.body.starts_with("Done"));
    let silently = wiki.attempt(&[], true, &[("prompt", "none")]);
    let callback = mallory.open(silently.url.as_str()).await.away();
    assert_eq!(error_of(&callback).0, "login_required", "{callback}");
}

/// "not me" answers the notice it replies to (its thread), not simply the last one.
#[tokio::test]
async fn not_me_ends_the_login_it_answers() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let rp = rp_for(&app, "Wiki").await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;
    alice.subscribe(COMPONENT).await;
    contact_becomes(&app, "alice@localhost", "both", Some("online")).await;
    let (early, late) = (Browser::new(&app), Browser::new(&app));
    for browser in [&early, &late] {
        let attempt = rp.attempt(&[], true, &[]);
        full_login(&app, browser, &rp, &mut alice, "alice@localhost", &attempt).await;
    }
    let first = alice.next_chat().await;
    let _second = alice.next_chat().await;
    alice
        .reply_in_thread(COMPONENT, "not me", &first.thread)
        .await;
    assert!(alice.next_chat().await.body.starts_with("Done"));
    for (browser, ended) in [(&early, true), (&late, false)] {
        let attempt = rp.attempt(&[], true, &[("prompt", "none")]);
        let callback = browser.open(attempt.url.as_str()).await.away();
        let error = error_of(&callback).0;
        assert_eq!(error == "login_required", ended, "{callback}");
    }
}

/// A device cookie planted in someone's browser is not adopted at their login: only a
/// value the server issued becomes a known browser.
#[tokio::test]
async fn a_planted_device_cookie_is_not_adopted() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let rp = rp_for(&app, "Wiki").await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;
    let browser = Browser::new(&app);
    browser.set_cookie("jidconnect_device", "planted0000000000000000000000000");
    let attempt = rp.attempt(&[], true, &[]);
    full_login(&app, &browser, &rp, &mut alice, "alice@localhost", &attempt).await;
    let issued = browser.cookie("jidconnect_device").unwrap();
    assert_ne!(issued, "planted0000000000000000000000000");
    // The issued one is kept at the next login.
    let attempt = rp.attempt(&[], true, &[("prompt", "login")]);
    full_login(&app, &browser, &rp, &mut alice, "alice@localhost", &attempt).await;
    assert_eq!(browser.cookie("jidconnect_device").unwrap(), issued);
}

/// A page confirmed by someone else's code (say, one they saw over a shoulder) can start
/// over, with a new code of its own.
#[tokio::test]
async fn a_page_confirmed_by_someone_elses_code_can_start_over() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[]).await;
    let rp = rp_for(&app, "Wiki").await;
    let mut carol = XmppUser::login(&prosody, "carol", "phone", Client::PlainText, "ignore").await;
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let (_, body) = xmpp_link(&html);
    carol.send_message(COMPONENT, &body).await;
    status_becomes(&browser, &login_url, "accepted").await;
    let csrf = field(&html, "csrf").unwrap();
    let (_, _, again) = browser
        .post(&format!("{login_url}/restart"), &[("csrf", &csrf)])
        .await
        .page();
    assert!(
        again.contains("name=\"jid\""),
        "the login page again:\n{again}"
    );
    let (_, new_body) = xmpp_link(&again);
    assert_ne!(new_body, body, "a new code");
    // The old code is spent.
    carol.send_message(COMPONENT, &body).await;
    carol.next_chat().await;
    let answer = carol.next_chat().await;
    assert!(
        answer.body.contains("matches no open login page"),
        "{answer:?}"
    );
}
