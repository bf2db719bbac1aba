//! The `jidconnect` binary as operators and scripts use it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Prosody, Provider, COMPONENT};

const BIN: &str = env!("CARGO_BIN_EXE_jidconnect");

fn write_config(dir: &Path, prosody_port: u16, secret: &str) -> std::path::PathBuf {
    let path = dir.join("jidconnect.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n\
         database_url = \"sqlite://{db}\"\n\
         keys_dir = \"{keys}\"\n\
         [xmpp]\ncomponent_jid = \"{COMPONENT}\"\nserver = \"127.0.0.1:{prosody_port}\"\nsecret = \"{secret}\"\n",
        db = dir.join("cli.db").display(),
        keys = dir.join("keys").display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn client_commands_manage_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 5347, "s3cret");

    let added = json(&run(
        &config,
        &[
            "client",
            "add",
            "--name",
            "Wiki",
            "--redirect-uri",
            "https://wiki.example/cb",
            "--redirect-uri",
            "https://wiki.example/cb2",
            "--json",
        ],
    ));
    let id = added["client_id"].as_str().unwrap().to_owned();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    let unreserved = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    };
    assert!(unreserved(&id) && unreserved(&secret) && secret.len() >= 32);

    let public = json(&run(
        &config,
        &[
            "client",
            "add",
            "--name",
            "SPA",
            "--redirect-uri",
            "http://127.0.0.1:9000/cb",
            "--public",
            "--json",
        ],
    ));
    assert!(public["client_secret"].is_null());

    // A device-only client needs no redirect URI; device_code is short for RFC 8628's URN.
    let tv = json(&run(
        &config,
        &[
            "client",
            "add",
            "--name",
            "TV",
            "--public",
            "--grant-type",
            "device_code",
            "--grant-type",
            "refresh_token",
            "--json",
        ],
    ));
    let tv_id = tv["client_id"].as_str().unwrap();
    let shown_tv = json(&run(&config, &["client", "show", tv_id, "--json"]));
    assert_eq!(
        shown_tv["grant_types"],
        serde_json::json!([
            "urn:ietf:params:oauth:grant-type:device_code",
            "refresh_token"
        ])
    );
    // A language for the compat /auth API's requests: a shipped one (fr-CA is French), or
    // a clear refusal.
    assert!(shown_tv["language"].is_null(), "English by default");
    let french = run(&config, &["client", "update", tv_id, "--language", "fr-CA"]);
    assert!(
        french.status.success(),
        "{}",
        String::from_utf8_lossy(&french.stderr)
    );
    let shown_tv = json(&run(&config, &["client", "show", tv_id, "--json"]));
    assert_eq!(shown_tv["language"], "fr");
    let shown = run(&config, &["client", "show", tv_id]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("language:        fr"));
    let klingon = run(&config, &["client", "update", tv_id, "--language", "tlh"]);
    assert!(!klingon.status.success());
    let why = String::from_utf8_lossy(&klingon.stderr);
    assert!(
        why.contains("not a shipped language") && why.contains("de"),
        "{why}"
    );
    let no_redirect = run(
        &config,
        &[
            "client",
            "update",
            tv_id,
            "--grant-type",
            "authorization_code",
        ],
    );
    assert!(!no_redirect.status.success());
    assert!(String::from_utf8_lossy(&no_redirect.stderr).contains("--redirect-uri"));
    let unknown = run(
        &config,
        &["client", "update", tv_id, "--grant-type", "implicit"],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("device_code"));
    assert!(run(&config, &["client", "remove", tv_id]).status.success());

    let list = json(&run(&config, &["client", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(
        list[0]["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"]),
        "the default"
    );
    let shown = json(&run(&config, &["client", "show", &id, "--json"]));
    assert_eq!(shown["name"], "Wiki");
    assert_eq!(shown["id_token_alg"], "RS256");
    assert_eq!(shown["redirect_uris"][1], "https://wiki.example/cb2");
    assert!(
        !shown.to_string().contains(&secret),
        "the secret is never shown again"
    );

    let rotated = json(&run(&config, &["client", "rotate-secret", &id, "--json"]));
    assert_ne!(rotated["client_secret"].as_str().unwrap(), secret);
    assert!(!run(
        &config,
        &[
            "client",
            "rotate-secret",
            public["client_id"].as_str().unwrap()
        ]
    )
    .status
    .success());

    let updated = json(&run(
        &config,
        &[
            "client",
            "update",
            &id,
            "--trusted",
            "true",
            "--jid-as-email",
            "true",
            "--scope",
            "openid profile",
            "--post-logout-redirect-uri",
            "https://wiki.example/bye",
            "--id-token-alg",
            "ES256",
            "--json",
        ],
    ));
    assert_eq!(updated["trusted"], true);
    assert_eq!(updated["jid_as_email"], true);
    assert_eq!(
        updated["allowed_scopes"],
        serde_json::json!(["openid", "profile"])
    );
    assert_eq!(
        updated["post_logout_redirect_uris"][0],
        "https://wiki.example/bye"
    );
    assert_eq!(updated["id_token_alg"], "ES256");
    assert_eq!(
        updated["redirect_uris"].as_array().unwrap().len(),
        2,
        "untouched options stay"
    );
    let made_public = json(&run(
        &config,
        &["client", "update", &id, "--public", "true", "--json"],
    ));
    assert_eq!(made_public["public"], true);
    let confidential = json(&run(
        &config,
        &["client", "update", &id, "--public", "false", "--json"],
    ));
    assert!(
        confidential["client_secret"]
            .as_str()
            .is_some_and(|s| s.len() >= 32),
        "a new secret, once"
    );
    let bad = run(&config, &["client", "update", &id, "--scope", "admin"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scope"));

    assert!(run(&config, &["client", "remove", &id]).status.success());
    let gone = run(&config, &["client", "show", &id]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no client"));
}

#[test]
fn keys_rotate_adds_keys_and_keeps_the_old_ones_published() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 5347, "s3cret");
    let listed = |out: Output| -> Vec<String> {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_owned())
            .collect()
    };
    let before = listed(run(&config, &["keys", "list"]));
    assert_eq!(before.len(), 3, "one key per algorithm on first start");
    let rotate = run(&config, &["keys", "rotate"]);
    assert!(rotate.status.success());
    let after = listed(run(&config, &["keys", "list"]));
    assert_eq!(
        after.len(),
        6,
        "old keys stay published until their tokens expire"
    );
    assert!(before.iter().all(|kid| after.contains(kid)));
    let keys_dir = dir.path().join("keys");
    let files = std::fs::read_dir(&keys_dir).unwrap().count();
    assert_eq!(files, 6);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in std::fs::read_dir(&keys_dir).unwrap() {
            let mode = entry.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "private keys are readable by their owner only"
            );
        }
    }
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 5347, "s3cret");
    let out = run(
        &config,
        &[
            "client",
            "add",
            "--name",
            "X",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("https"));

    let empty_secret = write_config(dir.path(), 5347, "");
    let out = run(&empty_secret, &["check-config"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("component_secret"));
}

#[test]
fn check_config_hides_secrets_and_env_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 5347, "very-secret-value");
    let out = Command::new(BIN)
        .env("JIDCONNECT_CONFIG", &config)
        .env("JIDCONNECT_XMPP__CONFIRM_TIMEOUT_SECS", "45")
        .arg("check-config")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("confirm_timeout_secs = 45"), "{stdout}");
    assert!(stdout.contains("secret = \"***\""), "{stdout}");
    assert!(!stdout.contains("very-secret-value"));
}

#[tokio::test]
async fn serve_connects_and_stops_gracefully_on_sigterm() {
    let prosody = Prosody::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), prosody.component_port, &prosody.secret);
    let port = crate::helpers::free_port();
    let mut child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("JIDCONNECT_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read as it comes: a server whose stderr pipe fills up blocks on its next log line
    // (the test would then wait for ever instead of failing).
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_read = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut stderr = String::new();
        stderr_pipe.read_to_string(&mut stderr).await.unwrap();
        stderr
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let health = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        if let Ok(response) = health {
            let body: Value = response.json().await.unwrap();
            if body["xmpp"] == "connected" {
                assert_eq!(body["database"], "ok");
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM");
    let stderr = stderr_read.await.unwrap();
    assert!(
        !stderr.contains(&prosody.secret),
        "the component secret is never logged"
    );
    assert!(stderr.contains("XMPP component connected"), "{stderr}");
}

#[tokio::test]
async fn demo_user_answers_from_the_terminal() {
    use tokio::io::AsyncWriteExt;
    let prosody = Prosody::start().await;
    let app = crate::helpers::spawn_app(&prosody).await;
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "demo-user",
            "--jid",
            "carol@localhost",
            "--password",
            "carolpass",
        ])
        .args(["--server", &format!("127.0.0.1:{}", prosody.c2s_port)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    read_until(&mut out, "Waiting for confirmation requests").await;
    let auth = |code: &'static str| {
        let app_url = app.url("/auth");
        let http = app.http.clone();
        let (id, secret) = (app.client_id.clone(), app.client_secret.clone());
        tokio::spawn(async move {
            http.get(app_url)
                .basic_auth(id, Some(secret))
                .query(&[
                    ("jid", "carol@localhost"),
                    ("transaction_id", code),
                    ("timeout", "20"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let yes = auth("DEMO-YES2");
    let prompt = read_until(&mut out, "[y/N]").await;
    assert!(prompt.contains("DEMO-YES2"), "{prompt}");
    stdin.write_all(b"y\n").await.unwrap();
    assert_eq!(yes.await.unwrap(), 200);
    let no = auth("DEMO-NO22");
    read_until(&mut out, "[y/N]").await;
    stdin.write_all(b"n\n").await.unwrap();
    assert_eq!(no.await.unwrap(), 401);
}

/// Reads a child's output until `needle` shows up (prompts end without a newline).
async fn read_until(out: &mut (impl tokio::io::AsyncRead + Unpin), needle: &str) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains(needle) {
        let mut chunk = vec![0u8; 4096];
        let n = tokio::time::timeout_at(deadline, out.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"))
            .unwrap();
        assert!(n > 0, "the process exited: {seen}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    seen
}

#[tokio::test]
async fn a_wrong_component_secret_is_reported_by_healthz() {
    let prosody = Prosody::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), prosody.component_port, "not-the-secret");
    let port = crate::helpers::free_port();
    let _child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("JIDCONNECT_LISTEN", format!("127.0.0.1:{port}"))
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
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            if body["xmpp_error"].is_string() {
                assert_eq!(status, 503);
                assert_eq!(body["xmpp"], "disconnected");
                assert!(
                    body["xmpp_error"]
                        .as_str()
                        .unwrap()
                        .contains("refused the component secret"),
                    "{body}"
                );
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "healthz never named the problem"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_localhost_redirect_uri_is_allowed_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 5347, "s3cret");
    let added = run(
        &config,
        &[
            "client",
            "add",
            "--name",
            "Native app",
            "--public",
            "--redirect-uri",
            "http://localhost/cb",
            "--json",
        ],
    );
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(
        stderr.contains("warning: redirect URI http://localhost/cb uses localhost")
            && stderr.contains("RFC 8252"),
        "{stderr}"
    );
    assert!(json(&added)["client_id"].is_string(), "stdout stays JSON");
    let quiet = run(
        &config,
        &[
            "client",
            "add",
            "--name",
            "Native app 2",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--json",
        ],
    );
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
}

/// At `RUST_LOG=debug` every request is logged by its path: query strings carry codes,
/// `id_token_hint` and `/auth`'s transaction_id.
#[tokio::test]
async fn debug_logs_name_paths_never_query_strings() {
    let prosody = Prosody::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), prosody.component_port, &prosody.secret);
    let port = crate::helpers::free_port();
    let log = dir.path().join("stderr.log");
    let mut child = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("JIDCONNECT_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for path in [
        "/authorize?client_id=c&id_token_hint=SECRET-HINT-1",
        "/auth?jid=alice@localhost&transaction_id=SECRET-TX-2",
        "/admin/callback?code=SECRET-CODE-3&state=x",
    ] {
        http.get(format!("{base}{path}")).send().await.unwrap();
    }
    child.kill().await.unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("/authorize"),
        "requests are logged: {logged}"
    );
    for secret in ["SECRET-HINT-1", "SECRET-TX-2", "SECRET-CODE-3"] {
        assert!(!logged.contains(secret), "{secret} in the log: {logged}");
    }
}

/// The database and the signing keys are private whatever the umask, and a keys_dir that
/// other users can read is refused, with the fix in the message.
#[test]
fn database_and_keys_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 5347, "secret");
    let with_umask_000 = |command: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask 000 && exec \"$0\" --config \"$1\" {command}"
            ))
            .arg(BIN)
            .arg(&config)
            .output()
            .unwrap()
    };
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for command in ["check-config", "keys rotate"] {
        let out = with_umask_000(command);
        assert!(out.status.success(), "{command}: {out:?}");
    }
    let keys = dir.path().join("keys");
    assert_eq!(mode(&keys), 0o700);
    let pems: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!pems.is_empty());
    for pem in &pems {
        assert_eq!(mode(pem), 0o600, "{}", pem.display());
    }
    let database = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".db"))
        .collect::<Vec<_>>();
    assert!(!database.is_empty());
    for file in &database {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }

    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
    for command in ["keys", "serve"] {
        let args: &[&str] = if command == "keys" {
            &["keys", "rotate"]
        } else {
            &["serve"]
        };
        let out = run(&config, args);
        assert!(!out.status.success(), "{command} used a readable keys_dir");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("can be read by other users") && stderr.contains("chmod 700"),
            "{command}: {stderr}"
        );
    }
}
