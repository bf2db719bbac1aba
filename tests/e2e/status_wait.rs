//! The waiting pages ask for their login's status with `?wait=STATUS` and are answered
//! when it changes (a long poll): on the instance that recorded the answer, on another
//! instance of a cluster, and at shutdown. Real Prosody, slixmpp users that answer when
//! the test says, a browser with the page's cookies.

use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::browser::{field, Browser, RelyingParty, REDIRECT_URI};
use crate::cluster::{two_instances, Balancer};
use crate::helpers::{
    spawn_app, Client, Prosody, Provider, TestApp, TestDatabase, XmppUser, COMPONENT,
};
use crate::reach::xmpp_link;
use jidconnect::store::clients::ClientSettings;

/// Longer than any answer here, shorter than the server's hold (20 s): a request that
/// only a timeout would end fails instead of passing late.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request that should still be waiting is watched.
const STILL_WAITING: Duration = Duration::from_millis(500);

/// `GET url` in the background, with the browser's cookies.
fn ask(browser: &Browser, url: String) -> JoinHandle<Value> {
    let http = browser.http.clone();
    tokio::spawn(async move {
        let response = http
            .get(&url)
            .timeout(CLIENT_TIMEOUT)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(response.status(), 200, "{url}");
        response.json().await.unwrap()
    })
}

async fn still_waiting(request: &JoinHandle<Value>) {
    tokio::time::sleep(STILL_WAITING).await;
    assert!(
        !request.is_finished(),
        "answered while nothing changed: {request:?}"
    );
}

/// A trusted client of `app`, discovered at `issuer` (the app, or a cluster's balancer).
async fn rp_for(app: &TestApp, issuer: &impl Provider) -> RelyingParty {
    let mut settings = ClientSettings::new("Wiki", vec![REDIRECT_URI.into()]);
    settings.trusted = true;
    let (id, secret) = app.add_client(settings).await;
    RelyingParty::discover(issuer, &id, &secret).await
}

/// An authorization request of `rp`, sent to `app` itself.
fn authorize_at(rp: &RelyingParty, app: &TestApp) -> String {
    let mut url = rp.attempt(&[], true, &[]).url;
    url.set_port(Some(app.addr.port())).unwrap();
    url.to_string()
}

/// The JID form sent from `browser` at `app`: the wait page's URL (the user got the
/// request).
async fn send_request(
    browser: &Browser,
    rp: &RelyingParty,
    app: &TestApp,
    user: &mut XmppUser,
) -> String {
    let (status, login_url, html) = browser.open(&authorize_at(rp, app)).await.page();
    assert_eq!(status, 200, "{html}");
    let csrf = field(&html, "csrf").unwrap();
    let (_, wait_url, html) = browser
        .post(&login_url, &[("jid", "alice@localhost"), ("csrf", &csrf)])
        .await
        .page();
    assert!(html.contains("data-status=\"sent\""), "{html}");
    user.next_request().await;
    wait_url
}

/// A login on one instance, waiting for alice (a plain-text app that does not answer
/// by itself): the app, the browser, alice, and the wait page's URL.
async fn waiting_login(prosody: &Prosody) -> (TestApp, Browser, XmppUser, String) {
    let app = spawn_app(prosody).await;
    let rp = rp_for(&app, &app).await;
    let browser = Browser::new(&app);
    let mut alice = XmppUser::login(prosody, "alice", "phone", Client::PlainText, "ignore").await;
    let wait_url = send_request(&browser, &rp, &app, &mut alice).await;
    (app, browser, alice, wait_url)
}

/// The request's code as the wait page shows it.
async fn code_on(browser: &Browser, wait_url: &str) -> String {
    let html = browser.open(wait_url).await.page().2;
    let at = html.find("class=\"code\"").expect("the code on the page");
    let start = at + html[at..].find('>').unwrap() + 1;
    html[start..start + html[start..].find('<').unwrap()]
        .trim()
        .to_owned()
}

#[tokio::test]
async fn the_wait_page_is_answered_when_the_person_answers() {
    let prosody = Prosody::start().await;
    let (app, browser, mut alice, wait_url) = waiting_login(&prosody).await;

    // A page that shows another status than the flow's is answered at once.
    let stale = ask(&browser, format!("{wait_url}/status?wait=new"))
        .await
        .unwrap();
    assert_eq!(stale["status"], "sent", "{stale}");

    let waiting = ask(&browser, format!("{wait_url}/status?wait=sent"));
    still_waiting(&waiting).await;
    // Accepted in plain text: the code typed back into the chat.
    let code = code_on(&browser, &wait_url).await;
    alice.send_message(COMPONENT, &code).await;
    let answer = waiting.await.unwrap();
    assert_eq!(answer["status"], "accepted", "{answer}");

    // Without `wait` the status comes at once, as before.
    let now = browser.json(&format!("{wait_url}/status")).await;
    assert_eq!(now["status"], "accepted", "{now}");
    app.stop().await;
}

#[tokio::test]
async fn a_waiting_status_request_ends_at_shutdown() {
    let prosody = Prosody::start().await;
    let (app, browser, _alice, wait_url) = waiting_login(&prosody).await;
    let waiting = ask(&browser, format!("{wait_url}/status?wait=sent"));
    still_waiting(&waiting).await;
    app.stop().await;
    // Its request ends with the server (or is still open, on an instance that does not
    // hold the XMPP link): either way the page is answered now.
    let answer = waiting.await.unwrap();
    assert!(
        ["sent", "unreachable"].contains(&answer["status"].as_str().unwrap()),
        "{answer}"
    );
}

/// Two instances on `database` behind their balancer, a trusted client discovered there,
/// and alice (a plain-text app that answers only when the test says).
async fn cluster_with_alice(
    prosody: &Prosody,
    database: &TestDatabase,
) -> (Vec<TestApp>, Balancer, RelyingParty, XmppUser) {
    let (apps, balancer) = two_instances(prosody, database).await;
    let rp = rp_for(&apps[0], &balancer).await;
    let alice = XmppUser::login(prosody, "alice", "phone", Client::PlainText, "ignore").await;
    (apps, balancer, rp, alice)
}

/// Two instances: the browser waits at one, the answer is recorded by the leader (the
/// other, or the same), for a request and for a page whose code is sent from an app.
#[tokio::test]
async fn a_page_waiting_on_any_instance_is_answered() {
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let (apps, _balancer, rp, mut alice) = cluster_with_alice(&prosody, &database).await;
    for (asked, waits) in [(0, 1), (1, 0)] {
        let (at, there) = (&apps[asked], &apps[waits]);

        // A confirmation request answered in plain text.
        let browser = Browser::new(at);
        let wait_url = send_request(&browser, &rp, at, &mut alice).await;
        let flow_path = url::Url::parse(&wait_url).unwrap().path().to_owned();
        let waiting = ask(
            &browser,
            there.url(&format!("{flow_path}/status?wait=sent")),
        );
        still_waiting(&waiting).await;
        let code = code_on(&browser, &wait_url).await;
        alice.send_message(COMPONENT, &code).await;
        let answer = waiting.await.unwrap();
        assert_eq!(answer["status"], "accepted", "{answer}");

        // A login page whose code is sent from the app.
        let browser = Browser::new(at);
        let (_, login_url, html) = browser.open(&authorize_at(&rp, at)).await.page();
        let (to, body) = xmpp_link(&html);
        let flow_path = url::Url::parse(&login_url).unwrap().path().to_owned();
        let waiting = ask(&browser, there.url(&format!("{flow_path}/status?wait=new")));
        still_waiting(&waiting).await;
        alice.send_message(&to, &body).await;
        let answer = waiting.await.unwrap();
        assert_eq!(answer["status"], "accepted", "{answer}");
        assert_eq!(answer["by_code"], true, "{answer}");
    }
    for app in apps {
        app.stop().await;
    }
}

/// Two instances, no sticky sessions: an instance draws the page a redirect leads to from
/// the flow it just wrote, but not once another instance has moved the flow on. Here
/// `/authorize` runs at one, the login page and the JID form at the other, and the next
/// page is asked of the first: it shows the request sent, not the JID form it wrote.
#[tokio::test]
async fn a_page_written_here_is_not_shown_after_another_instance_moved_it_on() {
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let (apps, _balancer, rp, mut alice) = cluster_with_alice(&prosody, &database).await;
    let (first, second) = (&apps[0], &apps[1]);
    let browser = Browser::new(first);
    let authorized = browser
        .http
        .get(authorize_at(&rp, first))
        .send()
        .await
        .unwrap();
    let flow_path = authorized.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(flow_path.starts_with("/login/"), "{flow_path}");
    let (status, login_url, html) = browser.open(&second.url(&flow_path)).await.page();
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-status=\"new\""), "{html}");
    let csrf = field(&html, "csrf").unwrap();
    let sent = browser
        .http
        .post(&login_url)
        .form(&[("jid", "alice@localhost"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    assert_eq!(sent.headers()["location"], flow_path.as_str());
    alice.next_request().await;
    let (_, _, html) = browser.open(&first.url(&flow_path)).await.page();
    assert!(html.contains("data-status=\"sent\""), "{html}");
    for app in apps {
        app.stop().await;
    }
}
