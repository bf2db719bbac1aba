//! The load test: 1,000 logins pending at once against a real Prosody, answered by 1,000
//! real XMPP sessions (slixmpp, tests/support/crowd.py), with attackers trying to accept
//! other people's requests. Slow: run it with `scripts/load`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::faults::{Server, BIN};
use crate::helpers::{Prosody, COMPONENT};

const LOGINS: usize = 1000;

/// The crowd's next JSON event.
async fn next(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(180), lines.next_line())
        .await
        .expect("the crowd answers in time")
        .unwrap()
        .expect("the crowd is running");
    serde_json::from_str(&line).unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
#[ignore = "slow: scripts/load"]
async fn a_thousand_pending_logins_none_lost_none_misattributed() {
    let prosody = Prosody::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let config = dir.path().join("jidconnect.toml");
    std::fs::write(
        &config,
        format!(
            "issuer = \"http://127.0.0.1:{port}\"\nlisten = \"127.0.0.1:{port}\"\n\
             database_url = \"sqlite://{}\"\nkeys_dir = \"{}\"\n\
             [xmpp]\ncomponent_jid = \"{COMPONENT}\"\nserver = \"127.0.0.1:{}\"\nsecret = \"{}\"\n\
             [limits]\ndomain_per_minute = 100000\n",
            dir.path().join("db.sqlite").display(),
            dir.path().join("keys").display(),
            prosody.component_port,
            prosody.secret
        ),
    )
    .unwrap();
    let added = std::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .args([
            "client",
            "add",
            "--name",
            "Load",
            "--redirect-uri",
            "https://load.example/cb",
            "--json",
        ])
        .output()
        .unwrap();
    let creds: Value = serde_json::from_slice(&added.stdout).unwrap();
    let (id, secret) = (
        creds["client_id"].as_str().unwrap().to_owned(),
        creds["client_secret"].as_str().unwrap().to_owned(),
    );
    let server = Server::start(&config, port).await;
    let pid = server.child.id().unwrap();

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/crowd.py");
    let mut crowd = tokio::process::Command::new("python3")
        .arg(script)
        .args([
            "--port",
            &prosody.c2s_port.to_string(),
            "--count",
            &LOGINS.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(crowd.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let jids: Vec<String> = serde_json::from_value(next(&mut lines).await["jids"].clone()).unwrap();
    println!(
        "{} XMPP sessions online in {:.1} s",
        jids.len(),
        started.elapsed().as_secs_f64()
    );
    let rss_idle = rss_kib(pid);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let requests = jids.iter().enumerate().map(|(i, jid)| {
        let http = http.clone();
        let url = format!("http://127.0.0.1:{port}/auth");
        let (id, secret, jid) = (id.clone(), secret.clone(), jid.clone());
        async move {
            let status = http
                .get(url)
                .basic_auth(id, Some(secret))
                .query(&[
                    ("jid", jid.as_str()),
                    ("transaction_id", &format!("LOAD-{i}")),
                    ("timeout", "120"),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (i, status)
        }
    });
    let all = tokio::spawn(join_all(requests));
    let started = Instant::now();
    let received = next(&mut lines).await["received"].as_u64().unwrap();
    let pending = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["pending_confirmations"]
        .as_u64()
        .unwrap();
    let rss_peak = rss_kib(pid);
    println!(
        "{received} requests delivered in {:.1} s; {pending} pending at once; RSS {rss_idle} KiB idle, {rss_peak} KiB with them pending: {:.1} KiB per pending login",
        started.elapsed().as_secs_f64(),
        (rss_peak.saturating_sub(rss_idle)) as f64 / pending.max(1) as f64
    );
    assert_eq!(
        received as usize, LOGINS,
        "every request reached its person"
    );
    assert_eq!(pending as usize, LOGINS, "all pending at once");

    let results = all.await.unwrap();
    next(&mut lines).await;
    let _ = crowd.stdin.take().unwrap().write_all(b"done\n").await;
    let accepted = results.iter().filter(|(_, s)| *s == 200).count();
    let refused = results.iter().filter(|(_, s)| *s == 401).count();
    println!(
        "{accepted} accepted, {refused} refused, {} other",
        LOGINS - accepted - refused
    );
    for (i, status) in &results {
        let expected = if i % 10 == 0 { 401 } else { 200 };
        assert_eq!(
            *status, expected,
            "login {i}: nobody but its owner decides it"
        );
    }
}
