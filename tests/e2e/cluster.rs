//! Several instances on one PostgreSQL and one Prosody, behind a round-robin balancer:
//! any instance serves any request, one holds the component, and another takes over
//! when it is killed.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::CoreTokenResponse;
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::browser::{field, full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::faults::{Server, BIN};
use crate::helpers::{
    free_port, spawn_instance, Client, Prosody, Provider, TestApp, TestDatabase, XmppUser,
    COMPONENT,
};
use jidconnect::store::clients::ClientSettings;

const WAIT: Duration = Duration::from_secs(20);

/// A TCP load balancer: each new connection goes to the next live backend in turn.
pub struct Balancer {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    pub async fn start(port: u16, backends: Vec<u16>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let next = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let (backends, next) = (backends.clone(), next.clone());
                tokio::spawn(async move {
                    for _ in 0..backends.len() {
                        let port = backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()];
                        if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", port)).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Self { port, task }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Provider for Balancer {
    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Instances "a" and "b" on `database`, behind a balancer that is their issuer; requests
/// reach the leader through the database.
pub async fn two_instances(prosody: &Prosody, database: &TestDatabase) -> (Vec<TestApp>, Balancer) {
    two_instances_handing_off(prosody, database, HandOff::Queued).await
}

/// How the instances of a test hand their requests to the leader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HandOff {
    /// Through the database: no `cluster_url`.
    Queued,
    /// Over HTTP: each instance's `cluster_url` is its own address.
    Direct,
    /// `cluster_url` set, but where nothing listens: every direct hand-off fails.
    Unreachable,
}

/// [`two_instances`], handing requests to the leader as `handoff` says.
pub async fn two_instances_handing_off(
    prosody: &Prosody,
    database: &TestDatabase,
    handoff: HandOff,
) -> (Vec<TestApp>, Balancer) {
    let balancer_port = free_port();
    let issuer = format!("http://127.0.0.1:{balancer_port}");
    let mut apps = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let cluster_url = match handoff {
            HandOff::Queued => String::new(),
            HandOff::Direct => format!("http://{listen}"),
            HandOff::Unreachable => format!("http://127.0.0.1:{}", free_port()),
        };
        let overrides = [
            ("JIDCONNECT_INSTANCE_NAME", name),
            ("JIDCONNECT_LISTEN", listen.as_str()),
            ("JIDCONNECT_CLUSTER_URL", cluster_url.as_str()),
        ];
        apps.push(spawn_instance(prosody, &database.url, &issuer, &overrides).await);
    }
    let balancer =
        Balancer::start(balancer_port, apps.iter().map(|a| a.addr.port()).collect()).await;
    counted_by_leader(&apps, 2).await;
    (apps, balancer)
}

/// Of instances "a" and "b" (as [`two_instances_handing_off`] names them), the one that
/// leads, then the other, once both agree on it.
async fn leader_then_other(apps: &[TestApp]) -> (&TestApp, &TestApp) {
    let urls: Vec<String> = apps.iter().map(|a| a.issuer()).collect();
    match agreed_leader(&urls).await.as_str() {
        "a" => (&apps[0], &apps[1]),
        _ => (&apps[1], &apps[0]),
    }
}

/// A trusted client of the instances `apps` (no consent page), as a relying party that
/// reaches them through `balancer`.
async fn shared_wiki(apps: &[TestApp], balancer: &Balancer) -> RelyingParty {
    let mut settings = ClientSettings::new("Shared Wiki", vec![REDIRECT_URI.into()]);
    settings.trusted = true;
    let (client_id, secret) = apps[0].add_client(settings).await;
    RelyingParty::discover(balancer, &client_id, &secret).await
}

/// How many requests `app` handed to the leader each way (direct, queued), per its metrics.
async fn handoffs(app: &TestApp) -> (u64, u64) {
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |way: &str| {
        let line = format!("jidconnect_cluster_handoffs_total{{way=\"{way}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .map_or(0, |n| n.parse().unwrap())
    };
    (count("direct"), count("queued"))
}

/// Until the leader among `apps` counts `instances` in its `/healthz`: it announces answers
/// to the others only when it counts them.
pub async fn counted_by_leader(apps: &[TestApp], instances: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut seen = Vec::new();
        for app in apps {
            seen.push(app.health().await);
        }
        if seen.iter().any(|health| health["instances"] == instances) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no leader counted {instances} instances: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A browser that opens the authorization request `authorize` at the instance `app`
/// (whatever the issuer's address): the browser, the login page's URL and its CSRF token.
async fn open_login_at(app: &TestApp, authorize: &url::Url) -> (Browser, String, String) {
    let mut at_app = authorize.clone();
    at_app.set_port(Some(app.addr.port())).unwrap();
    let browser = Browser::new(app);
    let (status, login_url, html) = browser.open(at_app.as_str()).await.page();
    assert_eq!(status, 200, "{}: {html}", app.issuer());
    let csrf = field(&html, "csrf").unwrap();
    (browser, login_url, csrf)
}

async fn health(url: &str) -> Option<Value> {
    reqwest::get(format!("{url}/healthz"))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Waits until every instance names the same live leader with XMPP connected; returns it.
async fn agreed_leader(urls: &[String]) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut views = Vec::new();
        for url in urls {
            views.push(health(url).await);
        }
        let leaders: Vec<Option<&str>> = views
            .iter()
            .map(|v| v.as_ref().and_then(|v| v["leader"].as_str()))
            .collect();
        let leading = views
            .iter()
            .filter(|v| v.as_ref().is_some_and(|v| v["is_leader"] == true))
            .count();
        let connected = views
            .iter()
            .all(|v| v.as_ref().is_some_and(|v| v["xmpp"] == "connected"));
        if let Some(Some(first)) = leaders.first() {
            if leading == 1 && connected && leaders.iter().all(|l| l == &Some(*first)) {
                return first.to_string();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the instances never agreed on one connected leader: {views:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_token(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `/auth` long poll at `app` for `jid`, as the seed's Django site calls it.
/// `/auth` long poll at `app` for `jid` with `timeout` seconds, as the seed's Django site
/// calls it; owns what it needs, so it can be spawned.
fn auth_at(
    app: &TestApp,
    id: &str,
    secret: &str,
    jid: &str,
    code: &str,
    timeout: &str,
) -> impl std::future::Future<Output = u16> + 'static {
    let request = app
        .http
        .get(app.url("/auth"))
        .basic_auth(id, Some(secret))
        .query(&[("jid", jid), ("transaction_id", code), ("timeout", timeout)]);
    async move { request.send().await.unwrap().status().as_u16() }
}

#[tokio::test]
async fn any_instance_serves_any_request() {
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let balancer_port = free_port();
    let issuer = format!("http://127.0.0.1:{balancer_port}");
    let overrides = [("JIDCONNECT_LIMITS__JID_COOLDOWN_SECS", "60")];
    let mut apps = Vec::new();
    for name in ["a", "b", "c"] {
        let instance = [overrides[0], ("JIDCONNECT_INSTANCE_NAME", name)];
        apps.push(spawn_instance(&prosody, &database.url, &issuer, &instance).await);
    }
    let urls: Vec<String> = apps.iter().map(|a| a.issuer()).collect();
    let leader = agreed_leader(&urls).await;
    assert!(["a", "b", "c"].contains(&leader.as_str()), "{leader}");
    let balancer =
        Balancer::start(balancer_port, apps.iter().map(|a| a.addr.port()).collect()).await;
    let (a, b, c) = (&apps[0], &apps[1], &apps[2]);
    // Metrics are per instance; only the leader reports leading.
    for (app, name) in apps.iter().zip(["a", "b", "c"]) {
        let metrics = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let expected = if name == leader { 1 } else { 0 };
        assert!(
            metrics.contains(&format!("jidconnect_cluster_leader {expected}")),
            "{name}: {metrics}"
        );
    }

    // Every instance publishes the same keys (each has a keys_dir of its own).
    let jwks = |app: &TestApp| {
        let url = app.url("/jwks");
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    assert_eq!(jwks(a).await, jwks(b).await);
    assert_eq!(jwks(b).await, jwks(c).await);

    let mut settings = ClientSettings::new("Shared Wiki", vec![REDIRECT_URI.into()]);
    settings.trusted = true;
    settings.always_refresh = true;
    let (client_id, secret) = a.add_client(settings).await;
    let rp = RelyingParty::discover(&balancer, &client_id, &secret).await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;

    // Authorize and the JID form at A, the status at B, "continue" at C.
    let attempt = rp.attempt(&[], true, &[]);
    let (browser, login_url, csrf) = open_login_at(a, &attempt.url).await;
    let (_, wait_url, _) = browser
        .post(&login_url, &[("jid", "alice@localhost"), ("csrf", &csrf)])
        .await
        .page();
    alice.next_request().await;
    let flow_path = url::Url::parse(&wait_url).unwrap().path().to_owned();
    browser
        .wait_for_status(&b.url(&format!("{flow_path}/status")), "accepted")
        .await;
    let callback = browser
        .post(&c.url(&format!("{flow_path}/continue")), &[("csrf", &csrf)])
        .await
        .away();
    let code = rp.code_from(&balancer, &callback, &attempt);

    // The code from C is redeemed at B; the ID token verifies with the shared JWKS.
    let verifier = attempt.verifier.unwrap();
    let redeem_at = |app| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.secret().as_str()),
        ];
        let (client_id, secret) = (client_id.clone(), secret.clone());
        async move { post_token(app, &client_id, &secret, &form).await }
    };
    let (status, body) = redeem_at(b).await;
    assert_eq!(status, 200, "{body}");
    let tokens: CoreTokenResponse = serde_json::from_value(body).unwrap();
    let claims = rp.id_claims(&tokens, &attempt.nonce);
    assert_eq!(claims.subject().as_str(), "alice@localhost");
    // A refresh token rotated at B is refused when replayed at A, and the family is gone.
    let first = tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();
    let (status, rotated) = post_token(
        b,
        &client_id,
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = post_token(
        a,
        &client_id,
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = post_token(
        c,
        &client_id,
        &secret,
        &[("grant_type", "refresh_token"), ("refresh_token", &second)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the replay revoked the whole family"
    );

    // Replaying the code at A fails too.
    let (status, body) = redeem_at(a).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The limits hold for the deployment: one request per JID at a time, and the cooldown.
    let mut bob = XmppUser::login(&prosody, "bob", "pc", Client::Xep0070, "ignore").await;
    let waiting = tokio::spawn(auth_at(
        a,
        &client_id,
        &secret,
        "bob@localhost",
        "BOB-1",
        "5",
    ));
    bob.next_request().await;
    assert_eq!(
        auth_at(b, &client_id, &secret, "bob@localhost", "BOB-2", "60").await,
        429
    );
    assert_eq!(waiting.await.unwrap(), 401, "bob never answered");
    assert_eq!(
        auth_at(c, &client_id, &secret, "bob@localhost", "BOB-3", "60").await,
        429,
        "the cooldown after a request at A holds at C"
    );
    assert!(!bob.receives_within(Duration::from_millis(500)).await);

    // A key rotated through one database is published by every instance at once.
    let before = jwks(c).await;
    let rotated = std::process::Command::new(BIN)
        .args(["keys", "rotate"])
        .envs(a.env().iter().cloned())
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    let stdout = String::from_utf8_lossy(&rotated.stdout);
    let new_kid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("new RS256 key "))
        .expect("the new RS256 kid")
        .to_owned();
    for app in &apps {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !jwks(app).await.contains(&new_kid) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never published {new_kid}",
                app.issuer()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let published = jwks(app).await;
        let old: Value = serde_json::from_str(&before).unwrap();
        for key in old["keys"].as_array().unwrap() {
            assert!(
                published.contains(key["kid"].as_str().unwrap()),
                "old keys stay published"
            );
        }
    }
    // …and signs the next ID token, whichever instance serves the login.
    let mut carol = XmppUser::login(&prosody, "carol", "pc", Client::Xep0070, "accept").await;
    // An RP fetches the JWKS again when it meets an unknown kid.
    let rp = RelyingParty::discover(&balancer, &client_id, &secret).await;
    let attempt = rp.attempt(&[], true, &[]);
    let browser = Browser::new(&balancer);
    let code = full_login(
        &balancer,
        &browser,
        &rp,
        &mut carol,
        "carol@localhost",
        &attempt,
    )
    .await;
    let nonce = attempt.nonce.clone();
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    assert_eq!(
        rp.id_claims(&tokens, &nonce).subject().as_str(),
        "carol@localhost"
    );
    let id_token = tokens.id_token().unwrap().to_string();
    let header: Value =
        serde_json::from_slice(&base64_url(id_token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"].as_str(), Some(new_kid.as_str()));
    drop(balancer);
    for app in apps {
        app.stop().await;
    }
}

/// The send-the-code way and the service's contacts with two instances: whichever holds
/// the component takes the codes and the subscriptions (stored in PostgreSQL), and the
/// instance that takes over re-announces the service to its contacts and reaches them.
#[tokio::test]
async fn codes_and_contacts_go_to_the_leader_and_survive_a_change_of_leader() {
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let (mut apps, balancer) = two_instances(&prosody, &database).await;
    let urls: Vec<String> = apps.iter().map(|a| a.issuer()).collect();
    let leader = agreed_leader(&urls).await;
    let (leading, other) = if leader == "a" { (0, 1) } else { (1, 0) };
    let (client_id, secret) = apps[0]
        .add_client(ClientSettings::new(
            "Shared Wiki",
            vec![REDIRECT_URI.into()],
        ))
        .await;
    let rp = RelyingParty::discover(&balancer, &client_id, &secret).await;

    // A code sent to the service: the page is on the instance that does not lead, its
    // status is read at the leader.
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "ignore").await;
    let attempt = rp.attempt(&[], true, &[]);
    let mut at_other = attempt.url.clone();
    at_other.set_port(Some(apps[other].addr.port())).unwrap();
    let browser = Browser::new(&apps[other]);
    let (_, login_url, html) = browser.open(at_other.as_str()).await.page();
    let at = html.find("?message;body=").unwrap() + "?message;body=".len();
    let body = &html[at..at + html[at..].find('"').unwrap()];
    let body = percent_encoding::percent_decode_str(body)
        .decode_utf8()
        .unwrap();
    bob.send_message(COMPONENT, &body).await;
    let flow_path = url::Url::parse(&login_url).unwrap().path().to_owned();
    let status_url = apps[leading].url(&format!("{flow_path}/status"));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status: Value = browser
            .http
            .get(&status_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] == "accepted" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never accepted: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = bob.next_chat().await;
    assert!(answer.body.contains("Shared Wiki"), "{answer:?}");
    let csrf = field(&html, "csrf").unwrap();
    let landing = browser
        .post(
            &apps[other].url(&format!("{flow_path}/continue")),
            &[("csrf", &csrf)],
        )
        .await;
    let callback = browser.consent_if_asked(landing).await;
    let code = rp.code_from(&balancer, &callback, &attempt);
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    assert_eq!(
        rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        "bob@localhost"
    );

    // A person on a server that drops strangers' messages adds the service.
    let mut dave = XmppUser::login(
        &prosody,
        "dave@strict.localhost",
        "gajim",
        Client::Xep0070,
        "accept",
    )
    .await;
    dave.subscribe(COMPONENT).await;
    let (from, kind) = dave.next_presence().await;
    assert_eq!((from.as_str(), kind.as_str()), (COMPONENT, "available"));
    let contact = || async {
        let contacts = apps[other].state.store.contacts().await.unwrap();
        contacts
            .into_iter()
            .find(|c| c.jid == "dave@strict.localhost")
            .map(|c| (c.subscription, c.presence))
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while contact().await != Some(("both".into(), Some("online".into()))) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            contact().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // He logs in through the instance that does not lead: it tells the leader, which sends
    // his login notice.
    let attempt = rp.attempt(&[], true, &[]);
    let mut at_other = attempt.url.clone();
    at_other.set_port(Some(apps[other].addr.port())).unwrap();
    let browser = Browser::new(&apps[other]);
    let (_, login_url, html) = browser.open(at_other.as_str()).await.page();
    let landing = browser
        .log_in(&login_url, &html, "dave@strict.localhost", &mut dave)
        .await;
    let callback = browser.consent_if_asked(landing).await;
    rp.code_from(&balancer, &callback, &attempt);
    let notice = dave.next_chat().await;
    assert!(
        notice.body.starts_with("Logged in to Shared Wiki"),
        "{notice:?}"
    );
    dave.forget_presences(Duration::from_millis(500)).await;
    // Unknown until a leader learns it again.
    apps[other]
        .state
        .store
        .set_presence(Some("dave@strict.localhost"), None)
        .await
        .unwrap();

    // The leader goes; the other instance takes the component, tells dave it is there,
    // probes him, and reaches him through his server's filter.
    apps.remove(leading).stop().await;
    let survivor = &apps[0];
    agreed_leader(&[survivor.issuer()]).await;
    let (from, kind) = dave.next_presence().await;
    assert_eq!(
        (from.as_str(), kind.as_str()),
        (COMPONENT, "available"),
        "re-announced"
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while contact_presence(survivor).await != Some("online".into()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "dave never probed online again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // His app's caps, asked again by the new leader.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let browser = Browser::new(&balancer);
    let attempt = rp.attempt(&[], true, &[]);
    let code = full_login(
        &balancer,
        &browser,
        &rp,
        &mut dave,
        "dave@strict.localhost",
        &attempt,
    )
    .await;
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    assert_eq!(
        rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        "dave@strict.localhost"
    );
}

async fn contact_presence(app: &TestApp) -> Option<String> {
    let contacts = app.state.store.contacts().await.unwrap();
    contacts
        .into_iter()
        .find(|c| c.jid == "dave@strict.localhost")
        .and_then(|c| c.presence)
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// Three `jidconnect serve` processes; the leader is killed with logins pending.
#[tokio::test]
async fn killed_leader_is_replaced_and_nothing_hangs() {
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    let mut urls = Vec::new();
    for name in ["a", "b", "c"] {
        let port = free_port();
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "issuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\n\
                 database_url = \"{}\"\nkeys_dir = \"{}\"\ninstance_name = \"{name}\"\n\
                 [xmpp]\ncomponent_jid = \"{COMPONENT}\"\nserver = \"127.0.0.1:{}\"\nsecret = \"{}\"\n\
                 confirm_timeout_secs = 60\nreconnect_max_secs = 1\n[limits]\njid_cooldown_secs = 0\n",
                database.url,
                dir.path().join(format!("keys-{name}")).display(),
                prosody.component_port,
                prosody.secret,
            ),
        )
        .unwrap();
        urls.push(format!("http://127.0.0.1:{port}"));
        let server = Server::start(&config, port).await;
        servers.push((name, config, server));
    }
    let leader = agreed_leader(&urls).await;
    let client = std::process::Command::new(BIN)
        .arg("--config")
        .arg(&servers[0].1)
        .args([
            "client",
            "add",
            "--name",
            "Site",
            "--redirect-uri",
            "https://site.example/cb",
            "--json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let creds: Value = serde_json::from_slice(&client.stdout).unwrap();
    let (id, secret) = (
        creds["client_id"].as_str().unwrap().to_owned(),
        creds["client_secret"].as_str().unwrap().to_owned(),
    );

    // Three people who do not answer yet, asked through the two instances that survive.
    let survivors: Vec<String> = servers
        .iter()
        .zip(&urls)
        .filter(|((name, ..), _)| *name != leader)
        .map(|(_, url)| url.clone())
        .collect();
    let mut users = Vec::new();
    let mut pending = Vec::new();
    for (i, user) in ["alice", "bob", "carol"].into_iter().enumerate() {
        let mut person = XmppUser::login(&prosody, user, "pc", Client::Xep0070, "ignore").await;
        let url = format!("{}/auth", survivors[i % survivors.len()]);
        let (id, secret) = (id.clone(), secret.clone());
        pending.push(tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let status = reqwest::Client::new()
                .get(url)
                .basic_auth(id, Some(secret))
                .query(&[
                    ("jid", format!("{user}@localhost")),
                    ("transaction_id", format!("CODE-{i}")),
                    ("timeout", "60".into()),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            (status, started.elapsed())
        }));
        person.next_request().await;
        users.push(person);
    }

    let (_, _, leader_server) = servers
        .iter_mut()
        .find(|(name, ..)| *name == leader)
        .unwrap();
    leader_server.kill();

    // Every pending login ends, clearly (523: the XMPP side is gone), long before its
    // 60 s timeout: the new leader ends what the dead one had sent.
    for waiting in pending {
        let (status, took) = tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .expect("a pending login hung after the leader died")
            .unwrap();
        assert_eq!(status, 523, "after {took:?}");
    }
    let new_leader = agreed_leader(&survivors).await;
    assert_ne!(new_leader, leader);

    // The next login works through either survivor; none of the old ones was accepted.
    for person in &mut users {
        person.set_mode("accept").await;
    }
    for (i, url) in survivors.iter().enumerate() {
        let status = reqwest::Client::new()
            .get(format!("{url}/auth"))
            .basic_auth(&id, Some(&secret))
            .query(&[
                ("jid", "alice@localhost"),
                ("transaction_id", &format!("AFTER-{i}")),
                ("timeout", "30"),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 200);
    }
    let counts = std::process::Command::new("psql")
        .arg(&database.url)
        .args([
            "-Atc",
            "SELECT code, status FROM confirmations ORDER BY code",
        ])
        .output()
        .unwrap();
    let counts = String::from_utf8_lossy(&counts.stdout).into_owned();
    assert_eq!(
        counts.lines().collect::<Vec<_>>(),
        [
            "AFTER-0|accepted",
            "AFTER-1|accepted",
            "CODE-0|unreachable",
            "CODE-1|unreachable",
            "CODE-2|unreachable"
        ],
        "each request ended once, and only the new ones were accepted"
    );
}

#[tokio::test]
async fn a_second_instance_on_one_sqlite_file_refuses_to_start() {
    let prosody = Prosody::start().await;
    let first = crate::helpers::spawn_app(&prosody).await;
    let mut env = first.env().to_vec();
    env.retain(|(k, _)| k != "JIDCONNECT_LISTEN");
    env.push((
        "JIDCONNECT_LISTEN".into(),
        format!("127.0.0.1:{}", free_port()),
    ));
    let config = jidconnect::config::Config::load(None, env).unwrap();
    let error = jidconnect::startup::Application::build(config)
        .await
        .err()
        .expect("a second server on the same SQLite file is refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("SQLite serves a single instance"),
        "{message}"
    );
    assert!(
        message.contains("postgres://"),
        "says how to run several: {message}"
    );
    first.stop().await;
}

/// On a loaded machine the leader's heartbeat row can fall behind; the leader still knows
/// its own link and sends what it is asked to (it used to refuse, as if disconnected).
#[tokio::test]
async fn the_leader_sends_while_its_heartbeat_row_lags_behind() {
    use sqlx::Connection;
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let app = spawn_instance(
        &prosody,
        &database.url,
        &issuer,
        &[("JIDCONNECT_LISTEN", &format!("127.0.0.1:{port}"))],
    )
    .await;
    agreed_leader(&[app.issuer()]).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;

    // Another connection keeps the heartbeat row stale, as a busy leader would leave it.
    let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let stale = tokio::spawn(async move {
        loop {
            sqlx::query("UPDATE cluster_leader SET heartbeat_at = 0")
                .execute(&mut conn)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    for code in ["LAGG-0001", "LAGG-0002", "LAGG-0003"] {
        let status = auth_at(
            &app,
            &app.client_id,
            &app.client_secret,
            "alice@localhost",
            code,
            "20",
        )
        .await;
        assert_eq!(status, 200, "{code}");
        assert_eq!(alice.next_request().await.code, code);
    }
    stale.abort();
}

/// The JID form sent several times at once (a double click, a replayed request) sends
/// one request, whether the instance sends its own (the leader) or hands it to the leader,
/// through the database or directly (and, the leader's address unreachable, through the
/// database after all): the flow records the request in the statement that writes its row,
/// so the other submissions find it sent and go back to its page (rather than meeting the
/// per-JID limit). The instance that does not lead hands its requests over the way it was
/// set up for, and the `/auth` API's requests, which no flow waits for, get their answers
/// too.
#[tokio::test]
async fn a_jid_form_sent_several_times_at_once_sends_one_request() {
    let prosody = Prosody::start().await;
    for handoff in [HandOff::Queued, HandOff::Direct, HandOff::Unreachable] {
        let database = TestDatabase::postgres().await;
        let (apps, balancer) = two_instances_handing_off(&prosody, &database, handoff).await;
        let (leader, _) = leader_then_other(&apps).await;
        let rp = shared_wiki(&apps, &balancer).await;
        for (app, user) in [(&apps[0], "alice"), (&apps[1], "bob")] {
            let role = if app.addr == leader.addr {
                "leader"
            } else {
                "handed off"
            };
            let mut person =
                XmppUser::login(&prosody, user, "phone", Client::Xep0070, "accept").await;
            let attempt = rp.attempt(&[], false, &[]);
            let (browser, login_url, csrf) = open_login_at(app, &attempt.url).await;
            let jid = format!("{user}@localhost");
            let submissions = (0..6).map(|_| {
                browser
                    .http
                    .post(&login_url)
                    .form(&[("jid", jid.as_str()), ("csrf", csrf.as_str())])
                    .send()
            });
            let flow_path = url::Url::parse(&login_url).unwrap().path().to_owned();
            for response in futures::future::join_all(submissions).await {
                let response = response.unwrap();
                let location = response
                    .headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap());
                assert_eq!(
                    (response.status().as_u16(), location),
                    (303, Some(flow_path.as_str())),
                    "{handoff:?}, {role}"
                );
            }
            person.next_request().await;
            assert!(
                !person.receives_within(Duration::from_millis(500)).await,
                "{handoff:?}, {role}: one request"
            );
            browser
                .wait_for_status(&format!("{login_url}/status"), "accepted")
                .await;
            let code = format!("AUTH-{user}{}", handoff as u8);
            let answered = tokio::spawn(auth_at(
                app,
                &app.client_id,
                &app.client_secret,
                &jid,
                &code,
                "20",
            ));
            assert_eq!(person.next_request().await.code, code);
            assert_eq!(answered.await.unwrap(), 200, "{handoff:?}, {role}: /auth");
            let (direct, queued) = handoffs(app).await;
            let expected = match (role, handoff) {
                ("leader", _) => (0, 0),
                (_, HandOff::Direct) => (2, 0),
                // A failed direct hand-off queues the request; the next goes straight to
                // the queue (the direct way rests a while).
                _ => (0, 2),
            };
            assert_eq!(
                (direct, queued),
                expected,
                "{handoff:?}, {role}: (direct, queued)"
            );
        }
        drop(balancer);
        for app in apps {
            app.stop().await;
        }
    }
}

/// The leader takes a hand-off only if it is signed with the leader's key for its term
/// (which only the database holds) and fresh, and each once; an instance that does not
/// lead takes none; no page shows the key.
#[tokio::test]
async fn a_handoff_must_be_signed_with_the_terms_key() {
    use aws_lc_rs::hmac;
    use sqlx::Connection;
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let (apps, _balancer) = two_instances_handing_off(&prosody, &database, HandOff::Direct).await;
    let (leader, other) = leader_then_other(&apps).await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;
    let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let key = loop {
        let key: Option<String> =
            sqlx::query_scalar("SELECT handoff_key FROM cluster_leader WHERE id = 1")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        if let Some(key) = key {
            break key;
        }
        assert!(tokio::time::Instant::now() < deadline, "no key published");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let handoff = |made_at: i64| {
        serde_json::json!({
            "asker": "elsewhere", "keeper": "elsewhere", "made_at": made_at,
            "request": {
                "id": "handed-1", "jid": "alice@localhost", "code": "SIGN-0001",
                "method": "GET", "url": "https://wiki.example/", "requester": "Wiki",
                "origin": null, "purpose": "site_check", "lang": "en", "ip": "192.0.2.9",
                "client_id": null, "device": null, "timeout_secs": 60
            },
            "flow": null
        })
        .to_string()
    };
    let sign = |key: &str, body: &str| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
        hex::encode(hmac::sign(&key, body.as_bytes()))
    };
    let post = |app: &TestApp, body: &str, signature: &str| {
        let request = app
            .http
            .post(app.url("/cluster/handoff"))
            .header("x-jidconnect-signature", signature)
            .body(body.to_owned());
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let now = leader.clock.now();
    let body = handoff(now);
    let stale = handoff(now - 120);
    // Checked before the body is read: a body that does not parse, badly signed, is 401.
    let garbage = "{not json".to_owned();
    let refused = [
        (leader, body.clone(), sign("another key", &body), 401),
        (leader, body.clone(), String::new(), 401),
        (leader, garbage.clone(), sign("another key", &garbage), 401),
        (leader, stale.clone(), sign(&key, &stale), 401),
        // Nor does it tell who leads.
        (other, body.clone(), sign(&key, &body), 401),
    ];
    for (app, body, signature, expected) in refused {
        let (status, text) = post(app, &body, &signature).await;
        assert_eq!(status, expected, "{text}");
    }
    assert!(
        !alice.receives_within(Duration::from_millis(500)).await,
        "a refused hand-off sends nothing"
    );
    let (status, text) = post(leader, &body, &sign(&key, &body)).await;
    assert_eq!(status, 200, "{text}");
    let outcome: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(outcome["outcome"], "sent", "{text}");
    assert_eq!(alice.next_request().await.code, "SIGN-0001");
    let (status, text) = post(leader, &body, &sign(&key, &body)).await;
    assert_eq!(status, 409, "a replay: {text}");
    assert!(
        !alice.receives_within(Duration::from_millis(500)).await,
        "a replayed hand-off sends nothing"
    );
    for app in &apps {
        let health = app.health().await.to_string();
        assert!(!health.contains(&key), "/healthz shows no key: {health}");
    }
    for app in apps {
        app.stop().await;
    }
}

/// A direct hand-off the leader does not answer in time is settled once: here the leader's
/// statement waits for the flow's row (locked by the test) longer than the asker waits,
/// so the asker writes the request's row itself, as ended; the leader's statement then
/// fails on that row and sends nothing. The JID form, done again from the store, goes
/// through the database (the direct way to that leader rests after a failure): one
/// request, and the login goes on.
#[tokio::test]
async fn a_handoff_not_answered_in_time_is_settled_once() {
    use sqlx::Connection;
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let (apps, balancer) = two_instances_handing_off(&prosody, &database, HandOff::Direct).await;
    let (_, other) = leader_then_other(&apps).await;
    let rp = shared_wiki(&apps, &balancer).await;
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;
    let attempt = rp.attempt(&[], false, &[]);
    let (browser, login_url, csrf) = open_login_at(other, &attempt.url).await;
    let flow_id = login_url.rsplit('/').next().unwrap().to_owned();
    let form = [("jid", "alice@localhost"), ("csrf", csrf.as_str())];

    let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let mut lock = conn.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM login_flows WHERE id = $1 FOR UPDATE")
        .bind(&flow_id)
        .execute(&mut *lock)
        .await
        .unwrap();
    let sent = tokio::spawn(browser.http.post(&login_url).form(&form).send());
    tokio::time::sleep(Duration::from_secs(3)).await;
    lock.rollback().await.unwrap();
    let page = sent.await.unwrap().unwrap();
    assert_eq!(
        page.status().as_u16(),
        303,
        "{}",
        page.text().await.unwrap()
    );
    alice.next_request().await;
    assert!(
        !alice.receives_within(Duration::from_millis(500)).await,
        "one request"
    );
    browser
        .wait_for_status(&format!("{login_url}/status"), "accepted")
        .await;
    assert_eq!(handoffs(other).await, (0, 1), "(direct, queued)");
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM confirmations WHERE requested_by = $1 AND status = 'unreachable' \
         AND sent_by IS NULL",
    )
    .bind(if other.addr == apps[0].addr { "a" } else { "b" })
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        ended, 1,
        "the asker ended the row the leader did not answer for"
    );
    drop(balancer);
    for app in apps {
        app.stop().await;
    }
}

/// An instance is counted while it can hear the leader's announcements: the shared lock
/// that counts it is held on its listening connection, and taken again on the connection
/// that replaces it when that one drops (else the leader, counting itself alone, would
/// announce nothing, and the instance's pages would wait for their recheck).
#[tokio::test]
async fn an_instance_whose_listener_dropped_is_counted_again() {
    use sqlx::Connection;
    let prosody = Prosody::start().await;
    let database = TestDatabase::postgres().await;
    let (apps, _balancer) = two_instances(&prosody, &database).await;
    let mut conn = sqlx::PgConnection::connect(&database.url).await.unwrap();
    // The backend of b's listener on this test's database, if it holds the lock that
    // counts b in ("jidmemb": other tests run instances named b too).
    let counted = "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid \
                   WHERE a.application_name = 'jidconnect listener b' \
                   AND a.datname = current_database() \
                   AND l.locktype = 'advisory' AND l.granted AND l.mode = 'ShareLock' \
                   AND l.classid::bigint = x'006a6964'::bigint \
                   AND l.objid::bigint = x'6d656d62'::bigint";
    let dropped: i32 = sqlx::query_scalar(counted)
        .fetch_one(&mut conn)
        .await
        .expect("b's listener holds the lock");
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(dropped)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(ended);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let holder: Option<i32> = sqlx::query_scalar(counted)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
        if holder.is_some_and(|pid| pid != dropped) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "b's new listener does not count it in"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    counted_by_leader(&apps, 2).await;
    for app in apps {
        app.stop().await;
    }
}
