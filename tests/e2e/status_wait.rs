//! The waiting pages ask for their login's status with `?wait=STATUS` and are answered
//! when it changes (a long poll): on the instance that recorded the answer, on another
//! instance of a cluster, and at shutdown. Real Prosody, slixmpp users that answer when
//! the test says, a browser with the page's cookies.

use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;

use crate::browser::{field, Browser, RelyingParty, REDIRECT_URI};
use crate::cluster::{counted_by_leader, two_instances, Balancer};
use crate::helpers::{
    free_port, spawn_app, spawn_app_on, spawn_instance, Backend, Client, Prosody, Provider,
    TestApp, TestDatabase, XmppUser, COMPONENT,
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

/// `/authorize` at `stored`, which stores the flow and keeps it for its page; the login
/// page then opened and its JID form sent at `sent` (which answers with the wait page's
/// address, the same path): the flow's path, `/login/ID`. alice got the request.
async fn flow_stored_and_sent(
    browser: &Browser,
    rp: &RelyingParty,
    (stored, sent): (&TestApp, &TestApp),
    alice: &mut XmppUser,
) -> String {
    let authorized = browser
        .http
        .get(authorize_at(rp, stored))
        .send()
        .await
        .unwrap();
    let flow_path = authorized.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(flow_path.starts_with("/login/"), "{flow_path}");
    let (status, login_url, html) = browser.open(&sent.url(&flow_path)).await.page();
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-status=\"new\""), "{html}");
    let csrf = field(&html, "csrf").unwrap();
    let form = browser
        .http
        .post(&login_url)
        .form(&[("jid", "alice@localhost"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 303);
    assert_eq!(form.headers()["location"], flow_path.as_str());
    alice.next_request().await;
    flow_path
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
    let flow_path = flow_stored_and_sent(&browser, &rp, (first, second), &mut alice).await;
    let (_, _, html) = browser.open(&first.url(&flow_path)).await.page();
    assert!(html.contains("data-status=\"sent\""), "{html}");
    for app in apps {
        app.stop().await;
    }
}

/// alice answers the request on the wait page `wait_url` (typing its code back), and the
/// page learns it: the answer is committed.
async fn answer_and_see_it(browser: &Browser, wait_url: &str, alice: &mut XmppUser) {
    let code = code_on(browser, wait_url).await;
    alice.send_message(COMPONENT, &code).await;
    let answer = ask(browser, format!("{wait_url}/status?wait=sent"))
        .await
        .unwrap();
    assert_eq!(answer["status"], "accepted", "{answer}");
}

/// What the flows channel said about flow `id` so far (the status of each notice), as
/// far as a marker sent now: notifications arrive in the order of their commits.
async fn notices_about(flows: &mut PgListener, database: &TestDatabase, id: &str) -> Vec<String> {
    let marker = format!("marker-{}", jidconnect::random::token(8));
    let mut conn = PgConnection::connect(&database.url).await.unwrap();
    sqlx::query("SELECT pg_notify('jidconnect_flows', $1)")
        .bind(&marker)
        .execute(&mut conn)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    loop {
        let notice = tokio::time::timeout(CLIENT_TIMEOUT, flows.recv())
            .await
            .expect("the marker comes back")
            .unwrap();
        let mut payload = notice.payload().split(' ');
        match payload.next() {
            Some(first) if first == marker => return statuses,
            Some(first) if first == id => {
                statuses.push(payload.next().unwrap_or_default().to_owned())
            }
            _ => {}
        }
    }
}

async fn listen_to_flows(database: &TestDatabase) -> PgListener {
    let mut flows = PgListener::connect(&database.url).await.unwrap();
    flows.listen("jidconnect_flows").await.unwrap();
    flows
}

/// The JID form announces the flow as sent to every instance only when another process
/// may keep the flow's page, i.e. when the flow was stored at another instance (seen on
/// the flows channel). The answer is announced either way: the other instance runs.
#[tokio::test]
async fn a_flow_is_announced_as_sent_only_to_reach_a_copy_kept_elsewhere() {
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let (apps, _balancer, rp, mut alice) = cluster_with_alice(&prosody, &database).await;
    let mut flows = listen_to_flows(&database).await;
    for (stored, sent, announced) in [(0, 0, false), (0, 1, true), (1, 1, false), (1, 0, true)] {
        let browser = Browser::new(&apps[stored]);
        let at = (&apps[stored], &apps[sent]);
        let flow_path = flow_stored_and_sent(&browser, &rp, at, &mut alice).await;
        let id = flow_path.strip_prefix("/login/").expect("a login page");
        let wait_url = apps[sent].url(&flow_path);
        answer_and_see_it(&browser, &wait_url, &mut alice).await;
        let expected = match announced {
            true => vec!["sent", "accepted"],
            false => vec!["accepted"],
        };
        assert_eq!(
            notices_about(&mut flows, &database, id).await,
            expected,
            "stored at {stored}, sent at {sent}"
        );
    }
    for app in apps {
        app.stop().await;
    }
}

/// The leader counts the instances, in `/healthz`: one that starts at once, one that
/// stops within a heartbeat. While it counts only itself, it announces no answer on the
/// flows channel, as no other instance can be waiting for one; with another, it does.
#[tokio::test]
async fn a_leader_alone_announces_no_answers() {
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let balancer_port = free_port();
    let issuer = format!("http://127.0.0.1:{balancer_port}");
    let spawn = |name| {
        let instance = [("JIDCONNECT_INSTANCE_NAME", name)];
        let (prosody, url, issuer) = (&prosody, database.url.clone(), issuer.clone());
        async move { spawn_instance(prosody, &url, &issuer, &instance).await }
    };
    let leader = spawn("a").await;
    let _balancer = Balancer::start(balancer_port, vec![leader.addr.port()]).await;
    leader.wait_for_xmpp(true).await;
    let rp = rp_for(&leader, &_balancer).await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::PlainText, "ignore").await;
    let mut flows = listen_to_flows(&database).await;
    let mut login = async |alice: &mut XmppUser| {
        let browser = Browser::new(&leader);
        let wait_url = send_request(&browser, &rp, &leader, alice).await;
        answer_and_see_it(&browser, &wait_url, alice).await;
        let path = url::Url::parse(&wait_url).unwrap().path().to_owned();
        let id = path.strip_prefix("/login/").unwrap().to_owned();
        notices_about(&mut flows, &database, &id).await
    };

    counted_by_leader(std::slice::from_ref(&leader), 1).await;
    assert_eq!(login(&mut alice).await, Vec::<String>::new());
    let other = spawn("b").await;
    counted_by_leader(std::slice::from_ref(&leader), 2).await;
    assert_eq!(login(&mut alice).await, ["accepted"]);
    other.stop().await;
    counted_by_leader(std::slice::from_ref(&leader), 1).await;
    assert_eq!(login(&mut alice).await, Vec::<String>::new());
    assert_eq!(
        leader.health().await["is_leader"],
        true,
        "the first instance led throughout"
    );
    leader.stop().await;
}

/// "Continue" sent as soon as the page learnt the answer is drawn from the flow as that
/// answer left it, and the command that issues the code checks that the flow is still
/// accepted by that person at that time. Here the flow changes behind the instance's back
/// after the answer (as another instance's write would, before it is heard of): no code
/// is issued, neither for the person the instance saw accept nor for the one now stored.
#[tokio::test]
async fn a_continue_drawn_from_the_answer_issues_nothing_once_the_flow_moved_on() {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, Backend::Postgres, &[]).await;
    let rp = rp_for(&app, &app).await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::PlainText, "ignore").await;
    let browser = Browser::new(&app);
    let wait_url = send_request(&browser, &rp, &app, &mut alice).await;
    let (_, _, page) = browser.open(&wait_url).await.page();
    let csrf = field(&page, "csrf").unwrap();
    let mut conn = PgConnection::connect(app.database_url().unwrap())
        .await
        .unwrap();
    // The page waits when the answer comes, as its script does.
    let waiting = ask(&browser, format!("{wait_url}/status?wait=sent"));
    still_waiting(&waiting).await;
    alice
        .send_message(COMPONENT, &code_on(&browser, &wait_url).await)
        .await;
    assert_eq!(waiting.await.unwrap()["status"], "accepted");

    let id = url::Url::parse(&wait_url).unwrap().path()["/login/".len()..].to_owned();
    let moved = sqlx::query("UPDATE login_flows SET jid = 'mallory@localhost' WHERE id = $1")
        .bind(&id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    let continued = browser
        .http
        .post(format!("{wait_url}/continue"))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(continued.status(), 404, "{:?}", continued.headers());
    let (status, codes): (String, i64) = sqlx::query_as(
        "SELECT status, (SELECT count(*) FROM auth_codes) FROM login_flows WHERE id = $1",
    )
    .bind(&id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), codes),
        ("accepted", 0),
        "nothing finished"
    );
    app.stop().await;
}

/// Changes login flow `id` in `app`'s database behind its back (as another instance's
/// write would, before it is heard of).
async fn change_flow(app: &TestApp, id: &str, set: &str) {
    let statement = format!("UPDATE login_flows SET {set} WHERE id = $1");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(app.store_url()).await.unwrap();
    let done = sqlx::query(&statement).bind(id).execute(&mut conn).await;
    assert_eq!(done.unwrap().rows_affected(), 1, "{statement}");
}

/// A new login's JID form sent to `app` with `jid`, its flow changed behind the instance's
/// back by `set` after its page: the answer's status and page, and the flow's id.
async fn form_after(
    browser: &Browser,
    rp: &RelyingParty,
    app: &TestApp,
    set: &str,
    jid: &str,
) -> (u16, String, String) {
    let (_, login_url, html) = browser.open(&authorize_at(rp, app)).await.page();
    assert_eq!(crate::languages::lang_of(&html), "en");
    let id = url::Url::parse(&login_url).unwrap().path()["/login/".len()..].to_owned();
    change_flow(app, &id, set).await;
    let csrf = field(&html, "csrf").unwrap();
    let (status, _, page) = browser
        .post(&login_url, &[("jid", jid), ("csrf", &csrf)])
        .await
        .page();
    (status, page, id)
}

/// The JID form takes the flow from the copy kept since `/authorize` (no read), but what
/// may have changed since is the store's: the language of the request and of the pages,
/// and the send-the-code code on them. Here each changes behind the instance's back
/// before the form is sent: a request goes out as the store has the flow, and a form
/// refused before any request shows the store's flow.
#[tokio::test]
async fn a_jid_form_sent_from_the_kept_flow_goes_out_as_the_store_has_it() {
    use crate::languages::lang_of;
    let prosody = Prosody::start().await;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_on(&prosody, backend, &[]).await;
        let rp = rp_for(&app, &app).await;
        let mut alice =
            XmppUser::login(&prosody, "alice", "phone", Client::PlainText, "ignore").await;
        let browser = Browser::new(&app);
        let form = |set, jid| form_after(&browser, &rp, &app, set, jid);
        let sent = "data-status=\"sent\"";

        // The language picked on a page at another instance.
        let (_, wait, id) = form("lang = 'de'", "alice@localhost").await;
        assert!(wait.contains(sent), "{backend:?}: {wait}");
        assert_eq!(lang_of(&wait), "de", "{backend:?}");
        assert_eq!(alice.next_request().await.lang, "de", "{backend:?}");
        // One request waits per address: this one gives way to the next.
        app.state.dispatcher.withdraw(&id).await;

        // The page's send-the-code code spent and replaced meanwhile.
        let (_, wait, id) = form("send_code = '2345-6789'", "alice@localhost").await;
        assert!(wait.contains(sent), "{backend:?}: {wait}");
        assert!(wait.contains("2345-6789"), "{backend:?}: {wait}");
        alice.next_request().await;
        app.state.dispatcher.withdraw(&id).await;

        // Finished meanwhile (say, cancelled at another instance): gone, as the store says.
        let done = "status = 'done', send_code = NULL";
        let (status, gone, _) = form(done, "alice@localhost").await;
        assert_eq!(status, 404, "{backend:?}: {gone}");

        // What never changes is the copy's: a CSRF token changed behind the instance's back
        // (nothing does that) shows that the form read no flow.
        let (_, wait, _) = form("csrf = 'changed'", "alice@localhost").await;
        assert!(wait.contains(sent), "{backend:?}: {wait}");
        alice.next_request().await;

        // Refused before any request: drawn from the store's flow too.
        let (status, refused, _) = form("send_code = '3456-789A'", "not an address").await;
        assert_eq!(status, 400, "{backend:?}: {refused}");
        assert!(refused.contains("3456-789A"), "{backend:?}: {refused}");
        app.stop().await;
    }

    // Two instances: at the leader, and at the other, whose request is queued for the
    // leader in the statement that checks the copy.
    let database = TestDatabase::postgres().await;
    let (apps, _balancer, rp, mut alice) = cluster_with_alice(&prosody, &database).await;
    for app in &apps {
        let browser = Browser::new(app);
        let (_, wait, id) = form_after(&browser, &rp, app, "lang = 'de'", "alice@localhost").await;
        assert!(wait.contains("data-status=\"sent\""), "{wait}");
        assert_eq!(lang_of(&wait), "de");
        assert_eq!(alice.next_request().await.lang, "de");
        app.state.dispatcher.withdraw(&id).await;
    }
    for app in apps {
        app.stop().await;
    }
}
