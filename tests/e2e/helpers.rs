//! Real parts for end-to-end tests: a private Prosody per test, slixmpp users, and the
//! application started through the same `Application::build` as the binary.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jidconnect::clock::Clock;
use jidconnect::config::Config;
use jidconnect::startup::Application;
use jidconnect::state::AppState;
use jidconnect::store::clients::ClientSettings;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DOMAIN: &str = "localhost";
pub const COMPONENT: &str = "auth.localhost";
/// Users every test Prosody has; the password is the name followed by "pass".
pub const USERS: &[&str] = &["alice", "bob", "carol"];
/// A second host whose server drops messages and IQs from strangers (Prosody's
/// mod_block_strangers, from Debian's prosody-modules): only contacts reach its users.
pub const STRICT_DOMAIN: &str = "strict.localhost";
pub const STRICT_USERS: &[&str] = &["dave", "erin"];
const WAIT: Duration = Duration::from_secs(20);

/// What a per-minute limit may have given back since `started`: a limit test allows its
/// burst plus this, so a slow machine stretching the burst cannot fail it.
pub fn refilled(per_minute: u64, started: Instant) -> u64 {
    (per_minute as f64 * started.elapsed().as_secs_f64() / 60.0).ceil() as u64
}

/// A free port below the kernel's ephemeral range: a port from `bind(:0)` is one the
/// kernel also hands out as the source port of outgoing connections, so between our
/// check and Prosody's bind another test's HTTP connection could take it. Never the same
/// twice in this process: tests run side by side, and a port is bound only later.
pub fn free_port() -> u16 {
    use rand::Rng;
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|start| *start > 12_000)
        .unwrap_or(32_768);
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(10_000..ephemeral_start);
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
}

/// A private Prosody 0.12 from Debian, on loopback ports of its own.
pub struct Prosody {
    dir: TempDir,
    pub c2s_port: u16,
    pub component_port: u16,
    pub secret: String,
    child: Option<Child>,
}

impl Prosody {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut prosody = Self {
            c2s_port: free_port(),
            component_port: free_port(),
            secret: jidconnect::random::token(24),
            child: None,
            dir,
        };
        std::fs::create_dir_all(prosody.dir.path().join("data")).unwrap();
        std::fs::write(prosody.config_path(), prosody.config_text()).unwrap();
        let accounts = USERS.iter().map(|u| (u, DOMAIN));
        let strict = STRICT_USERS.iter().map(|u| (u, STRICT_DOMAIN));
        for (user, domain) in accounts.chain(strict) {
            let status = Command::new("prosodyctl")
                .arg("--config")
                .arg(prosody.config_path())
                .args(["register", user, domain, &format!("{user}pass")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("prosodyctl runs (apt-get install prosody)");
            assert!(
                status.success(),
                "prosodyctl register {user}@{domain} failed"
            );
        }
        prosody.launch().await;
        prosody
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("prosody.cfg.lua")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("prosody.log")
    }

    fn config_text(&self) -> String {
        let dir = self.dir.path().display();
        format!(
            r#"run_as_root = true
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{dir}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {component} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "disco", "ping", "offline" }}
modules_disabled = {{ "s2s" }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "{DOMAIN}"
VirtualHost "anon.{DOMAIN}"
    authentication = "anonymous"
VirtualHost "{STRICT_DOMAIN}"
    modules_enabled = {{ "roster", "saslauth", "disco", "ping", "offline", "block_strangers" }}
Component "{COMPONENT}"
    component_secret = "{secret}"
"#,
            c2s = self.c2s_port,
            component = self.component_port,
            secret = self.secret,
        )
    }

    async fn launch(&mut self) {
        let child = Command::new("prosody")
            .arg("-F")
            .arg("--config")
            .arg(self.config_path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prosody starts (apt-get install prosody)");
        self.child = Some(child);
        for port in [self.c2s_port, self.component_port] {
            wait_for_port(port, &self.log_path()).await;
        }
    }

    /// SIGKILL: the XMPP server vanishes without closing its streams.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same ports with the same accounts.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_for_port(port: u16, log: &Path) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("port {port} never opened; prosody log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// What the user's client reported about a confirmation request it received.
#[derive(Debug, Clone)]
pub struct Received {
    pub kind: String,
    pub code: String,
    pub from: String,
    pub body: String,
    /// The stanza's `xml:lang`, empty if none.
    pub lang: String,
}

/// A person at a real XMPP client: slixmpp (tests/support/xmpp_user.py) logged in to Prosody.
pub struct XmppUser {
    pub jid: String,
    _child: tokio::process::Child,
    stdin: ChildStdin,
    events: Lines<BufReader<ChildStdout>>,
    /// Events read while the test waited for another kind: requests stored while offline
    /// come before "online", answers and notices while a request is awaited.
    buffered: std::collections::VecDeque<Value>,
}

/// A chat message the client received.
#[derive(Debug, Clone)]
pub struct Chat {
    pub from: String,
    pub body: String,
    /// Its thread (XEP-0201), empty if none.
    pub thread: String,
    /// The stanza's `xml:lang`, empty if none.
    pub lang: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Client {
    /// Supports XEP-0070 (slixmpp's xep_0070 plugin) and announces it with XEP-0115 caps.
    Xep0070,
    /// Shows only the body; the person answers by typing.
    PlainText,
}

impl XmppUser {
    /// Logs `user/resource` in; `mode` says how it answers (see xmpp_user.py). `user` is
    /// a local part on the main host, or `name@strict.localhost`.
    pub async fn login(
        prosody: &Prosody,
        user: &str,
        resource: &str,
        client: Client,
        mode: &str,
    ) -> Self {
        let (user, domain) = user.split_once('@').unwrap_or((user, DOMAIN));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/xmpp_user.py");
        let mut command = tokio::process::Command::new("python3");
        command
            .arg(script)
            .args(["--jid", &format!("{user}@{domain}/{resource}")])
            .args(["--password", &format!("{user}pass")])
            .args(["--port", &prosody.c2s_port.to_string()])
            .args(["--mode", mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Client::PlainText = client {
            command.arg("--no-xep0070");
        }
        let mut child = command.spawn().expect("python3 runs (pip install slixmpp)");
        let stdin = child.stdin.take().unwrap();
        let events = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut this = Self {
            jid: format!("{user}@{domain}/{resource}"),
            _child: child,
            stdin,
            events,
            buffered: Default::default(),
        };
        this.next_of("online").await;
        this
    }

    async fn read_event(&mut self) -> Value {
        let line = tokio::time::timeout(WAIT, self.events.next_line())
            .await
            .unwrap_or_else(|_| panic!("{}: no event within {WAIT:?}", self.jid))
            .expect("read from the XMPP user")
            .unwrap_or_else(|| panic!("{}: the XMPP user process ended", self.jid));
        serde_json::from_str(&line).expect("JSON event")
    }

    /// The next event of `kind`; the others on the way are kept for later.
    async fn next_of(&mut self, kind: &str) -> Value {
        if let Some(at) = self.buffered.iter().position(|e| e["event"] == kind) {
            return self.buffered.remove(at).expect("found");
        }
        loop {
            let event = self.read_event().await;
            if event["event"] == kind {
                return event;
            }
            self.buffered.push_back(event);
        }
    }

    /// The next confirmation request this client received.
    pub async fn next_request(&mut self) -> Received {
        let event = self.next_of("confirm").await;
        let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
        Received {
            kind: text("kind"),
            code: text("code"),
            from: text("from"),
            body: text("body"),
            lang: text("lang"),
        }
    }

    /// The next chat message (an answer or a notice from the login service).
    pub async fn next_chat(&mut self) -> Chat {
        let event = self.next_of("chat").await;
        let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
        Chat {
            from: text("from"),
            body: text("body"),
            thread: text("thread"),
            lang: text("lang"),
        }
    }

    /// The next presence from someone else: (from, "available" or "unavailable").
    pub async fn next_presence(&mut self) -> (String, String) {
        let event = self.next_of("presence").await;
        let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
        (text("from"), text("type"))
    }

    /// Forgets the presences received so far, and those that arrive within `quiet`.
    pub async fn forget_presences(&mut self, quiet: Duration) {
        self.buffered.retain(|e| e["event"] != "presence");
        let deadline = tokio::time::Instant::now() + quiet;
        while let Ok(line) = tokio::time::timeout_at(deadline, self.events.next_line()).await {
            let line = line
                .expect("read from the XMPP user")
                .unwrap_or_else(|| panic!("{}: the XMPP user process ended", self.jid));
            let event: Value = serde_json::from_str(&line).expect("JSON event");
            if event["event"] != "presence" {
                self.buffered.push_back(event);
            }
        }
    }

    /// Whether a request arrives within `wait`; it is taken (other events are kept).
    pub async fn receives_within(&mut self, wait: Duration) -> bool {
        if let Some(at) = self.buffered.iter().position(|e| e["event"] == "confirm") {
            self.buffered.remove(at);
            return true;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(line) = tokio::time::timeout_at(deadline, self.events.next_line()).await else {
                return false;
            };
            let line = line
                .expect("read from the XMPP user")
                .unwrap_or_else(|| panic!("{}: the XMPP user process ended", self.jid));
            let event: Value = serde_json::from_str(&line).expect("JSON event");
            if event["event"] == "confirm" {
                return true;
            }
            self.buffered.push_back(event);
        }
    }

    async fn command(&mut self, command: Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    pub async fn set_mode(&mut self, mode: &str) {
        self.command(json!({"cmd": "mode", "mode": mode})).await;
    }

    /// Sends a stanza as is; the server stamps our real `from` on it.
    pub async fn send_raw(&mut self, xml: &str) {
        self.command(json!({"cmd": "raw", "xml": xml})).await;
    }

    /// Sends a chat message as a person types it; the server stamps our JID on it.
    pub async fn send_message(&mut self, to: &str, body: &str) {
        self.command(json!({"cmd": "send", "to": to, "body": body}))
            .await;
    }

    /// Answers the message of `thread` (as apps that keep threads do).
    pub async fn reply_in_thread(&mut self, to: &str, body: &str, thread: &str) {
        self.command(json!({"cmd": "send", "to": to, "body": body, "thread": thread}))
            .await;
    }

    /// Adds `jid` as a contact (the client approves its request back, as apps do).
    pub async fn subscribe(&mut self, jid: &str) {
        self.command(json!({"cmd": "subscribe", "to": jid})).await;
    }
}

/// jidconnect, running in-process on a free port against `prosody`.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client_id: String,
    pub client_secret: String,
    pub http: reqwest::Client,
    pub state: AppState,
    /// The server's clock: tests move it forward.
    pub clock: Clock,
    env: Vec<(String, String)>,
    _dir: TempDir,
    /// The PostgreSQL database of its own, if it has one.
    database: Option<TestDatabase>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app(prosody: &Prosody) -> TestApp {
    spawn_app_with(prosody, &[]).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `overrides` are `JIDCONNECT_*` variables, as an operator would set them.
pub async fn spawn_app_with(prosody: &Prosody, overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_on(prosody, Backend::Sqlite, overrides).await
}

pub async fn spawn_app_on(
    prosody: &Prosody,
    backend: Backend,
    overrides: &[(&str, &str)],
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let (db, database) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}", dir.path().join("jidconnect.db").display()),
            None,
        ),
        Backend::Postgres => {
            let database = TestDatabase::postgres().await;
            (database.url.clone(), Some(database))
        }
    };
    // The issuer must be the address the tests reach, so bind first.
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    spawn_app_at(prosody, dir, port, &issuer, db, database, overrides).await
}

/// One of several instances on the shared PostgreSQL `database_url`, all with the public
/// `issuer` of the load balancer in front of them.
pub async fn spawn_instance(
    prosody: &Prosody,
    database_url: &str,
    issuer: &str,
    overrides: &[(&str, &str)],
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    spawn_app_at(
        prosody,
        dir,
        port,
        issuer,
        database_url.to_owned(),
        None,
        overrides,
    )
    .await
}

async fn spawn_app_at(
    prosody: &Prosody,
    dir: TempDir,
    port: u16,
    issuer: &str,
    db: String,
    database: Option<TestDatabase>,
    overrides: &[(&str, &str)],
) -> TestApp {
    let mut env: Vec<(String, String)> = vec![
        ("JIDCONNECT_LISTEN".into(), format!("127.0.0.1:{port}")),
        ("JIDCONNECT_ISSUER".into(), issuer.to_owned()),
        ("JIDCONNECT_DATABASE_URL".into(), db),
        (
            "JIDCONNECT_KEYS_DIR".into(),
            dir.path().join("keys").display().to_string(),
        ),
        ("JIDCONNECT_XMPP__COMPONENT_JID".into(), COMPONENT.into()),
        (
            "JIDCONNECT_XMPP__SERVER".into(),
            format!("127.0.0.1:{}", prosody.component_port),
        ),
        ("JIDCONNECT_XMPP__SECRET".into(), prosody.secret.clone()),
        ("JIDCONNECT_XMPP__RECONNECT_MAX_SECS".into(), "1".into()),
        // Tests send several requests to one JID in a row.
        ("JIDCONNECT_LIMITS__JID_COOLDOWN_SECS".into(), "0".into()),
        // Tests open many login pages from one address (tests/e2e/hardening.rs checks the
        // shipped limit).
        (
            "JIDCONNECT_LIMITS__LOGIN_PAGES_PER_MINUTE".into(),
            "100000".into(),
        ),
    ];
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let clock = Clock::system();
    let (state, addr, stop, handle) = start(&env, &clock).await;
    let creds = state
        .store
        .add_client(
            ClientSettings::new("Test Wiki", vec!["https://wiki.example/callback".into()]),
            clock.now(),
        )
        .await
        .unwrap();
    let test_app = TestApp {
        addr,
        client_id: creds.client_id,
        client_secret: creds.client_secret.unwrap(),
        http: reqwest::Client::new(),
        state,
        clock,
        env,
        _dir: dir,
        database,
        stop: Some(stop),
        handle: Some(handle),
    };
    test_app.wait_for_xmpp(true).await;
    test_app
}

/// Where a jidconnect under test answers: in-process ([`TestApp`]) or a separate process.
pub trait Provider {
    fn issuer(&self) -> String;

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer())
    }
}

impl Provider for TestApp {
    fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl TestApp {
    /// An authorization request of the app's own client ("Test Wiki"), for tests that need
    /// a login page but no relying party library.
    pub fn authorize_url(&self) -> url::Url {
        let mut url = url::Url::parse(&self.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", "https://wiki.example/callback")
            .append_pair("response_type", "code")
            .append_pair("scope", "openid");
        url
    }

    /// An authorization request of a public client, with PKCE, as a relying party sends it.
    pub fn pkce_authorize_url(&self, client_id: &str, redirect_uri: &str) -> url::Url {
        let mut url = url::Url::parse(&self.url("/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            )
            .append_pair("code_challenge_method", "S256");
        url
    }

    /// The database the app was given (`JIDCONNECT_DATABASE_URL`), SQLite or PostgreSQL.
    pub fn store_url(&self) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == "JIDCONNECT_DATABASE_URL")
            .map(|(_, v)| v.as_str())
            .expect("every app is given its database")
    }

    /// The `JIDCONNECT_*` variables it was started with, for the CLI.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

/// A jidconnect started as its own process on `port`.
pub struct External {
    pub port: u16,
    pub http: reqwest::Client,
}

impl External {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            http: reqwest::Client::new(),
        }
    }
}

impl Provider for External {
    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

type Running = (
    AppState,
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<anyhow::Result<()>>,
);

/// Builds and runs the application from `env`, as `jidconnect serve` would.
async fn start(env: &[(String, String)], clock: &Clock) -> Running {
    let config = Config::load(None, env.to_vec()).expect("test config is valid");
    let app = Application::build_with_clock(config, clock.clone())
        .await
        .expect("app builds");
    let state = app.state().clone();
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (state, addr, stop, handle)
}

impl TestApp {
    /// Stops the server and starts it again on the same port, database and keys.
    pub async fn restart(mut self) -> TestApp {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
        let (state, addr, stop, handle) = start(&self.env, &self.clock).await;
        self.state = state;
        self.addr = addr;
        self.stop = Some(stop);
        self.handle = Some(handle);
        self.wait_for_xmpp(true).await;
        self
    }

    /// Registers a client; returns its id and secret (empty for public clients).
    pub async fn add_client(&self, settings: ClientSettings) -> (String, String) {
        let creds = self
            .state
            .store
            .add_client(settings, self.clock.now())
            .await
            .unwrap();
        (creds.client_id, creds.client_secret.unwrap_or_default())
    }

    /// What `/userinfo` says for `access_token`.
    pub async fn userinfo(&self, access_token: &str) -> Value {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The JSON document at `path` (discovery, `/healthz`).
    pub async fn json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The address of the PostgreSQL database of its own, if it has one.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|database| database.url.as_str())
    }

    pub async fn health(&self) -> Value {
        self.json("/healthz").await
    }

    pub async fn wait_for_xmpp(&self, connected: bool) {
        let want = if connected {
            "connected"
        } else {
            "disconnected"
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if self.health().await["xmpp"] == want {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "XMPP never became {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /auth` as the seed's Django backend calls it, with this app's client credentials.
    pub async fn auth(&self, params: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .http
            .get(self.url("/auth"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .query(params)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Stops the server but keeps its files (database, keys) for the caller.
    pub async fn stop_keeping_files(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
        self._dir
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }
}

/// The PostgreSQL server the tests may use (`.ci/run` makes sure it runs).
pub fn postgres_admin_url() -> String {
    std::env::var("JIDCONNECT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own for one test, dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    pub async fn sqlite(dir: &Path) -> Self {
        Self {
            url: format!("sqlite://{}", dir.join("test.db").display()),
            name: String::new(),
        }
    }

    pub async fn postgres() -> Self {
        use sqlx::{Connection, Executor};
        let admin = postgres_admin_url();
        let name = format!(
            "jidconnect_test_{}",
            jidconnect::random::token(12).to_lowercase()
        );
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (set JIDCONNECT_TEST_POSTGRES)");
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Self {
            url: url.to_string(),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        let _ = Command::new("psql")
            .arg(postgres_admin_url())
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
