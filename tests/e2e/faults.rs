//! Faults against real processes: jidconnect killed with SIGKILL in the middle of logins
//! and token exchanges.

use std::process::{Command, Stdio};
use std::time::Duration;

use openidconnect::OAuth2TokenResponse;
use serde_json::Value;

use crate::browser::{full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{Client, External, Prosody, Provider, XmppUser, COMPONENT};

const BIN: &str = env!("CARGO_BIN_EXE_jidconnect");

/// `jidconnect serve` as a separate process, so it can be killed for real.
struct Server {
    child: tokio::process::Child,
}

impl Server {
    async fn start(config: &std::path::Path, port: u16) -> Self {
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

    fn kill(&mut self) {
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
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

    server.kill();
    let _ = server.child.wait().await;
    let _server = Server::start(&config, port).await;

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
    // Nothing becomes usable twice.
    let refresh = tokens.refresh_token().unwrap();
    let first = rp
        .client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&rp.http)
        .await;
    assert!(first.is_ok(), "{first:?}");
    let again = rp
        .client
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&rp.http)
        .await;
    assert!(again.is_err(), "the refresh token stays single-use");
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
