//! Access policy: a client's `allow` patterns (a bare JID, a domain, `group:NAME`). A
//! person who may not log in gets nothing pushed to their XMPP app, no code, and a clear
//! page; the send-the-code way and the compat `/auth` apply the same policy.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::browser::{full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::faults::BIN;
use crate::helpers::{spawn_app, Client, Prosody, Provider, XmppUser, COMPONENT};
use jidconnect::store::clients::ClientSettings;

#[tokio::test]
async fn only_the_people_a_client_allows_log_in_to_it() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    app.state
        .store
        .add_group("staff", &["carol@localhost".to_owned()], app.clock.now())
        .await
        .unwrap();
    let mut settings = ClientSettings::new("Staff Wiki", vec![REDIRECT_URI.into()]);
    settings.allow = vec!["bob@localhost".into(), "group:staff".into()];
    let (id, secret) = app.add_client(settings).await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let mut bob = XmppUser::login(&prosody, "bob", "laptop", Client::Xep0070, "accept").await;
    let mut carol = XmppUser::login(&prosody, "carol", "laptop", Client::Xep0070, "accept").await;

    // Alice is not let in: 403 at the JID form, and nothing reaches her app.
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], false, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let refused = browser
        .submit_jid(&login_url, &html, "Alice@Localhost")
        .await;
    assert_eq!(refused.status().as_u16(), 403);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("alice@localhost may not log in to Staff Wiki"),
        "{page}"
    );
    assert!(page.contains("Cancel and go back to Staff Wiki"), "{page}");
    assert!(!alice.receives_within(Duration::from_millis(500)).await);

    // Sending the page's code from her app does not confirm it either.
    let (to, body) = crate::reach::xmpp_link(&html);
    assert_eq!(to, COMPONENT);
    alice.send_message(COMPONENT, &body).await;
    let answer = alice.next_chat().await;
    assert!(
        answer.body.contains("may not log in to Staff Wiki"),
        "{answer:?}"
    );
    let status = browser.json(&format!("{login_url}/status")).await;
    assert_ne!(status["status"], "accepted", "{status}");

    // Bob (by address) and Carol (by group) log in.
    for (user, jid) in [(&mut bob, "bob@localhost"), (&mut carol, "carol@localhost")] {
        let browser = Browser::new(&app);
        let attempt = rp.attempt(&[], false, &[]);
        let code = full_login(&app, &browser, &rp, user, jid, &attempt).await;
        let tokens = rp.exchange(&code, None).await.unwrap();
        assert_eq!(
            rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
            jid
        );
    }

    // Alice's session from another site is refused here: a 403 page, no code.
    let alices_browser = Browser::new(&app);
    let (open_id, open_secret) = app
        .add_client(ClientSettings::new(
            "Public Site",
            vec![REDIRECT_URI.into()],
        ))
        .await;
    let public_rp = RelyingParty::discover(&app, &open_id, &open_secret).await;
    let attempt = public_rp.attempt(&[], false, &[]);
    full_login(
        &app,
        &alices_browser,
        &public_rp,
        &mut alice,
        "alice@localhost",
        &attempt,
    )
    .await;
    let attempt = rp.attempt(&[], false, &[]);
    let response = alices_browser
        .http
        .get(attempt.url.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403, "{:?}", response.url());
    assert!(
        !response.url().as_str().starts_with(REDIRECT_URI),
        "no code went to the site"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains("alice@localhost may not log in to Staff Wiki")
            && page.contains("name=\"jid\""),
        "the page offers another address: {page}"
    );

    // The compat /auth applies the policy: 403 for Alice and nothing sent; Bob is asked.
    let auth = |jid: &'static str, code: &'static str| {
        let request = app
            .http
            .get(app.url("/auth"))
            .basic_auth(&id, Some(&secret))
            .query(&[("jid", jid), ("transaction_id", code), ("timeout", "20")]);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, body) = auth("alice@localhost", "POLI-CY01").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("may not log in to Staff Wiki"), "{body}");
    assert!(!alice.receives_within(Duration::from_millis(500)).await);
    let (status, body) = auth("bob@localhost", "POLI-CY02").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bob.next_request().await.code, "POLI-CY02");
}

fn jidconnect(env: &[(String, String)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `group add|update|list|show|remove` and `client add|update --allow`, as scripts use them.
#[tokio::test]
async fn groups_and_allow_patterns_from_the_command_line() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let env = app.env();
    let run = |args: &[&str]| jidconnect(env, args);

    let (ok, _, err) = run(&[
        "group",
        "add",
        "staff",
        "--member",
        "Carol@Localhost",
        "--member",
        "dave@localhost",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["group", "add", "staff"]);
    assert!(!ok && err.contains("exists already"), "{err}");
    let (ok, _, err) = run(&["group", "add", "Not Valid"]);
    assert!(!ok && err.contains("group name"), "{err}");
    let (ok, out, _) = run(&["group", "show", "staff", "--json"]);
    assert!(ok);
    let group: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        group,
        serde_json::json!({"name": "staff", "members": ["carol@localhost", "dave@localhost"]})
    );
    let (ok, _, err) = run(&["group", "update", "staff", "--member", "erin@localhost"]);
    assert!(ok, "{err}");
    let (_, out, _) = run(&["group", "list", "--json"]);
    let groups: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(groups[0]["members"], serde_json::json!(["erin@localhost"]));

    let (ok, out, err) = run(&[
        "client",
        "add",
        "--name",
        "Team",
        "--redirect-uri",
        REDIRECT_URI,
        "--allow",
        "Bob@Localhost",
        "--allow",
        "Example.ORG",
        "--allow",
        "group:staff",
        "--json",
    ]);
    assert!(ok, "{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, out, _) = run(&["client", "show", &id, "--json"]);
    let client: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        client["allow"],
        serde_json::json!(["bob@localhost", "example.org", "group:staff"]),
        "{client}"
    );
    for bad in ["bob@localhost/laptop", "group:", "not a domain"] {
        let (ok, _, err) = run(&["client", "update", &id, "--allow", bad]);
        assert!(!ok && err.contains("--allow"), "{bad}: {err}");
    }
    let (ok, _, err) = run(&["client", "update", &id, "--clear-allow"]);
    assert!(ok, "{err}");
    let (_, out, _) = run(&["client", "show", &id]);
    assert!(out.contains("allow:           anyone"), "{out}");
    let (ok, _, err) = run(&["group", "remove", "staff"]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["group", "show", "staff"]);
    assert!(!ok && err.contains("no group named staff"), "{err}");
}

/// Scope `groups`: the ID token and userinfo name the person's groups, and the consent
/// page says so.
#[tokio::test]
async fn the_groups_scope_names_the_persons_groups() {
    use base64::Engine;
    use openidconnect::{OAuth2TokenResponse, TokenResponse};
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    for (group, members) in [
        ("staff", vec!["bob@localhost"]),
        ("ops", vec!["bob@localhost"]),
        ("other", vec![]),
    ] {
        let members: Vec<String> = members.into_iter().map(str::to_owned).collect();
        app.state
            .store
            .add_group(group, &members, app.clock.now())
            .await
            .unwrap();
    }
    let (id, secret) = app
        .add_client(ClientSettings::new("Team", vec![REDIRECT_URI.into()]))
        .await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let mut bob = XmppUser::login(&prosody, "bob", "laptop", Client::Xep0070, "accept").await;
    let browser = Browser::new(&app);

    let attempt = rp.attempt(&["groups"], false, &[]);
    let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    let consent = browser
        .log_in(&login_url, &html, "bob@localhost", &mut bob)
        .await;
    let crate::browser::Landing::Page {
        html: consent_html, ..
    } = &consent
    else {
        panic!("no consent page");
    };
    assert!(
        consent_html.contains("The names of your groups"),
        "{consent_html}"
    );
    let callback = browser.consent_if_asked(consent).await;
    let code = rp.code_from(&app, &callback, &attempt);
    let tokens = rp.exchange(&code, None).await.unwrap();
    // Verified by the relying-party library first, then read for the claim it does not model.
    rp.id_claims(&tokens, &attempt.nonce);
    let jwt = tokens.id_token().unwrap().to_string();
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims["groups"],
        serde_json::json!(["ops", "staff"]),
        "{claims}"
    );
    let userinfo = app.userinfo(tokens.access_token().secret()).await;
    assert_eq!(
        userinfo["groups"],
        serde_json::json!(["ops", "staff"]),
        "{userinfo}"
    );

    // Without the scope, no groups.
    let attempt = rp.attempt(&[], false, &[]);
    let code = full_login(
        &app,
        &Browser::new(&app),
        &rp,
        &mut bob,
        "bob@localhost",
        &attempt,
    )
    .await;
    let tokens = rp.exchange(&code, None).await.unwrap();
    let userinfo = app.userinfo(tokens.access_token().secret()).await;
    assert!(userinfo.get("groups").is_none(), "{userinfo}");
}
