//! Faults against real processes: jidconnect killed with SIGKILL in the middle of logins
//! and token exchanges.

use std::process::{Command, Stdio};
use std::time::Duration;

use openidconnect::OAuth2TokenResponse;
use serde_json::Value;

use crate::browser::{full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{Client, External, Prosody, Provider, XmppUser, COMPONENT};

pub const BIN: &str = env!("CARGO_BIN_EXE_jidconnect");

/// `jidconnect serve` as a separate process, so it can be killed (and measured) for real.
pub struct Server {
    pub child: tokio::process::Child,
}

impl Server {
    pub async fn start(config: &std::path::Path, port: u16) -> Self {
        let child = tokio::process::Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
            {
                if response.status().is_success() {
                    break;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jidconnect did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child }
    }

    pub fn kill(&mut self) {
        let pid = self.child.id().unwrap().to_string();
        assert!(Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success());
    }
}

#[tokio::test]
async fn sigkill_loses_no_token_and_reuses_nothing() {
    let prosody = Prosody::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let db = dir.path().join("jidconnect.db");
    let config = dir.path().join("jidconnect.toml");
    std::fs::write(
        &config,
        format!(
            "issuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase_url = \"sqlite://{}\"\n\
             keys_dir = \"{}\"\n[xmpp]\ncomponent_jid = \"{COMPONENT}\"\nserver = \"127.0.0.1:{}\"\nsecret = \"{}\"\n",
            db.display(),
            dir.path().join("keys").display(),
            prosody.component_port,
            prosody.secret
        ),
    )
    .unwrap();
    let added = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args([
            "client",
            "add",
            "--name",
            "RP",
            "--redirect-uri",
            REDIRECT_URI,
            "--json",
        ])
        .output()
        .unwrap();
    let creds: Value = serde_json::from_slice(&added.stdout).unwrap();
    let (id, secret) = (
        creds["client_id"].as_str().unwrap(),
        creds["client_secret"].as_str().unwrap(),
    );

    let mut server = Server::start(&config, port).await;
    let app = External::new(port);
    let rp = RelyingParty::discover(&app, id, secret).await;
    let browser = Browser::new(&app);
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let attempt = rp.attempt(&["offline_access"], false, &[("prompt", "consent")]);
    let code = full_login(&app, &browser, &rp, &mut alice, "alice@localhost", &attempt).await;
    let tokens = rp.exchange(&code, None).await.unwrap();

    // A second login waits for Carol, who does not answer yet.
    let mut carol = XmppUser::login(&prosody, "carol", "phone", Client::Xep0070, "ignore").await;
    let carol_browser = Browser::new(&app);
    let pending = rp.attempt(&[], false, &[]);
    let (_, login_url, html) = carol_browser.open(pending.url.as_str()).await.page();
    let csrf = crate::browser::field(&html, "csrf").unwrap();
    carol_browser
        .post(&login_url, &[("jid", "carol@localhost"), ("csrf", &csrf)])
        .await
        .page();
    carol.next_request().await;

    // A refresh token already rotated once, then redeemed by many clients at once while
    // the server dies: however the kill falls, it succeeds at most once.
    let refresh = |token: String| {
        let (http, url) = (app.http.clone(), app.url("/token"));
        let (id, secret) = (id.to_owned(), secret.to_owned());
        async move {
            let sent = http
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    let body: Value = response.json().await.unwrap();
                    Some(body["refresh_token"].as_str().unwrap().to_owned())
                }
                _ => None,
            }
        }
    };
    // Bob's grant, so that the replays below revoke his tokens, not the ones checked later.
    let mut bob = XmppUser::login(&prosody, "bob", "pc", Client::Xep0070, "accept").await;
    let bobs = rp.attempt(&["offline_access"], false, &[("prompt", "consent")]);
    let bobs_code = full_login(
        &app,
        &Browser::new(&app),
        &rp,
        &mut bob,
        "bob@localhost",
        &bobs,
    )
    .await;
    let bobs_tokens = rp.exchange(&bobs_code, None).await.unwrap();
    let first_refresh = bobs_tokens.refresh_token().unwrap().secret().clone();
    let rotated = refresh(first_refresh.clone())
        .await
        .expect("the first refresh works");
    let racing: Vec<_> = (0..16)
        .map(|_| tokio::spawn(refresh(rotated.clone())))
        .collect();
    server.kill();
    let _ = server.child.wait().await;
    let mut redeemed = 0;
    for task in racing {
        redeemed += usize::from(task.await.unwrap().is_some());
    }
    let _server = Server::start(&config, port).await;
    for _ in 0..2 {
        redeemed += usize::from(refresh(rotated.clone()).await.is_some());
    }
    assert!(
        redeemed <= 1,
        "a refresh token was redeemed {redeemed} times"
    );
    assert!(
        refresh(first_refresh).await.is_none(),
        "the spent refresh token stays spent"
    );

    // Issued tokens stay valid: same keys, same store.
    assert_eq!(
        rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        "alice@localhost"
    );
    let info = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status().as_u16(), 200);
    // The code stays spent, too.
    assert!(
        rp.exchange(&code, None).await.is_err(),
        "the code stays spent"
    );
    // The interrupted login fails clearly and can be retried at once.
    let (status, _, html) = carol_browser.open(&login_url).await.page();
    assert_eq!(status, 200);
    assert!(
        html.contains("No answer arrived in time") && html.contains("name=\"jid\""),
        "{html}"
    );
    // SQLite survived the kill intact.
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, "ok");
}

/// A PostgreSQL of this test's own (the machine's server keeps serving the other tests),
/// run as the `postgres` user, which initdb requires.
struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.path().display()
        );
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-w", "-l"])
            .arg(self.dir.path().join("log"))
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {args:?}");
    }

    fn start() -> Self {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .max()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(Command::new("chown")
            .arg("postgres")
            .arg(dir.path())
            .status()
            .unwrap()
            .success());
        let this = Self {
            bin: version.join("bin"),
            port: crate::helpers::free_port(),
            dir,
        };
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(this.bin.join("initdb"))
            .args(["-U", "postgres", "--auth=trust", "-D"])
            .arg(this.dir.path().join("data"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        this.pg_ctl(&["start"]);
        this
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test]
async fn postgres_restart_fails_requests_cleanly_then_recovers() {
    let postgres = PrivatePostgres::start();
    let prosody = Prosody::start().await;
    let url = postgres.url();
    let app =
        crate::helpers::spawn_app_with(&prosody, &[("JIDCONNECT_DATABASE_URL", url.as_str())])
            .await;
    let discovery = app.url("/.well-known/openid-configuration");
    let token = |code: &'static str| {
        let http = app.http.clone();
        let url = app.url("/token");
        let (id, secret) = (app.client_id.clone(), app.client_secret.clone());
        async move {
            let started = tokio::time::Instant::now();
            let response = http
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", "https://wiki.example/callback"),
                ])
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), started.elapsed())
        }
    };
    assert_eq!(
        token("x").await.0,
        400,
        "up: an unknown code is invalid_grant"
    );

    // Load during the outage and the recovery: every answer is clean and prompt.
    let load = {
        let http = app.http.clone();
        let url = app.url("/token");
        let (id, secret) = (app.client_id.clone(), app.client_secret.clone());
        tokio::spawn(async move {
            let mut seen = std::collections::BTreeMap::<u16, usize>::new();
            let end = tokio::time::Instant::now() + Duration::from_secs(6);
            while tokio::time::Instant::now() < end {
                let started = tokio::time::Instant::now();
                let status = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", "x"),
                        ("redirect_uri", "https://wiki.example/callback"),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16();
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no request hangs"
                );
                *seen.entry(status).or_default() += 1;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    postgres.pg_ctl(&["-m", "fast", "stop"]);
    let (status, took) = token("x").await;
    assert_eq!(status, 500, "down: a clean server_error");
    assert!(took < Duration::from_secs(10), "no hang: {took:?}");
    let health = app.health().await;
    assert_eq!(health["status"], "degraded");
    assert!(
        health["database"].as_str().unwrap().starts_with("error"),
        "{health}"
    );
    assert_eq!(
        app.http
            .get(&discovery)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200,
        "what needs no database still works"
    );

    postgres.pg_ctl(&["start"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while token("x").await.0 != 400 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "jidconnect never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.health().await["database"],
        "ok",
        "recovered without a restart"
    );
    let seen = load.await.unwrap();
    assert!(
        seen.keys().all(|s| *s == 400 || *s == 500),
        "only invalid_grant or server_error: {seen:?}"
    );
    assert!(
        seen.contains_key(&400) && seen.contains_key(&500),
        "{seen:?}"
    );
}

/// A small filesystem of the test's own, to fill up or make read-only.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs (root needed)");
        Self { dir }
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Writes until the disk is full; returns the filler to delete later.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.dir.path().join("filler");
        let _ = Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", filler.display()))
            .args(["bs=4k", "count=100000"])
            .stderr(Stdio::null())
            .status();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn full_disk_and_read_only_database_fail_cleanly_and_show_in_healthz() {
    let disk = SmallDisk::mount("8m");
    let prosody = Prosody::start().await;
    let db = format!(
        "sqlite://{}",
        disk.dir.path().join("jidconnect.db").display()
    );
    let app =
        crate::helpers::spawn_app_with(&prosody, &[("JIDCONNECT_DATABASE_URL", db.as_str())]).await;
    assert_eq!(app.health().await["database"], "ok");
    let authorize = || {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = app.authorize_url();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(authorize().await, 303, "a login flow is stored");

    // A full disk at run time: SQLite keeps writing into space it already holds; the
    // first write that needs more fails, cleanly, and so does everything after it.
    let filler = disk.fill();
    let mut statuses = Vec::new();
    while statuses.len() < 500 && statuses.last() != Some(&500) {
        statuses.push(authorize().await);
    }
    assert_eq!(
        statuses.last(),
        Some(&500),
        "a clean error, no hang, no panic"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 500),
        "{statuses:?}"
    );
    let health = app.health().await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["database"].as_str().unwrap().contains("is full"),
        "{health}"
    );
    // Reading still works: discovery and the JWKS need no write.
    assert_eq!(
        app.http
            .get(app.url("/jwks"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    std::fs::remove_file(filler).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.health().await["database"] != "ok" {
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(authorize().await, 303, "recovered without a restart");
    app.stop().await;

    // A read-only database: refused at start, saying why.
    disk.remount("ro");
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "database_url = \"{db}\"\n[xmpp]\ncomponent_jid = \"{COMPONENT}\"\nsecret = \"x\"\n"
        ),
    )
    .unwrap();
    for command in ["check-config", "serve"] {
        let out = Command::new(BIN)
            .arg("--config")
            .arg(config.path())
            .arg(command)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{command} refuses a read-only database"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not writable: Read-only file system"),
            "{command}: {stderr}"
        );
    }
    disk.remount("rw");
}

/// Keys: a rotation reaches the running server without a restart, and a keys_dir that lost
/// its keys is refused at start instead of refilled (which would orphan every token).
#[tokio::test]
async fn rotated_keys_are_picked_up_and_lost_keys_refused() {
    let prosody = Prosody::start().await;
    let app = crate::helpers::spawn_app(&prosody).await;
    let rotated = Command::new(BIN)
        .args(["keys", "rotate"])
        .envs(app.env().iter().cloned())
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{rotated:?}");
    let stdout = String::from_utf8_lossy(&rotated.stdout).into_owned();
    let kid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("new RS256 key "))
        .unwrap()
        .to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let jwks = app.http.get(app.url("/jwks")).send().await.unwrap();
        if jwks.text().await.unwrap().contains(&kid) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new key was never published"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A key file broken at run time: the loaded keys keep signing, and /healthz says why
    // they could not be reloaded.
    let keys_dir_now = app
        .env()
        .iter()
        .find(|(k, _)| k == "JIDCONNECT_KEYS_DIR")
        .map(|(_, v)| v.clone())
        .unwrap();
    let broken = std::path::Path::new(&keys_dir_now).join("9999999999-RS256-broken.pem");
    std::fs::write(&broken, "not a key").unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let health = app.health().await;
        if health["keys"]
            .as_str()
            .is_some_and(|k| k.contains("9999999999-RS256-broken.pem"))
        {
            assert_eq!(health["status"], "degraded", "{health}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reported: {health}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let jwks = app.http.get(app.url("/jwks")).send().await.unwrap();
    assert!(
        jwks.text().await.unwrap().contains(&kid),
        "the loaded keys stay in use"
    );
    std::fs::remove_file(&broken).unwrap();

    // A token is issued, then keys_dir goes missing (say, an unmounted volume).
    let client_id = app.client_id.clone();
    let grant = app
        .state
        .store
        .create_grant(
            jidconnect::store::oidc::NewGrant {
                client_id: &client_id,
                subject: "alice@localhost",
                scope: "openid",
                nonce: None,
                claims: None,
                auth_time: app.clock.now(),
                session_hash: None,
            },
            app.clock.now(),
        )
        .await;
    assert!(grant.is_ok());
    let env = app.env().to_vec();
    let keys_dir = env
        .iter()
        .find(|(k, _)| k == "JIDCONNECT_KEYS_DIR")
        .map(|(_, v)| v.clone())
        .unwrap();
    let _files = app.stop_keeping_files().await;
    std::fs::remove_dir_all(&keys_dir).unwrap();
    let config = jidconnect::config::Config::load(None, env).unwrap();
    let error = jidconnect::startup::Application::build(config)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{error:#}").contains("holds no signing key"),
        "{error:#}"
    );
    let made_up = std::fs::read_dir(&keys_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(made_up, 0, "no key was made up");
}

/// A stopped server has finished its background work and closed the database, even while
/// something else still holds a handle on it: SQLite has checkpointed and removed its
/// write-ahead log, so the file alone is a complete copy.
#[tokio::test]
async fn a_stopped_server_has_released_its_database() {
    let prosody = Prosody::start().await;
    let app = crate::helpers::spawn_app(&prosody).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = http.get(app.authorize_url()).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 303, "a login flow is written");
    let db = app
        .env()
        .iter()
        .find(|(k, _)| k == "JIDCONNECT_DATABASE_URL")
        .map(|(_, v)| v.trim_start_matches("sqlite://").to_owned())
        .unwrap();
    let wal = std::path::PathBuf::from(format!("{db}-wal"));
    assert!(wal.exists(), "SQLite writes ahead while serving");
    let still_held = app.state.clone();
    let _dir = app.stop_keeping_files().await;
    // A connection handed back while the pool closes is closed on SQLite's worker thread,
    // a moment later: wait for it, bounded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while wal.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the write-ahead log is still open after the server stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(still_held);
}
