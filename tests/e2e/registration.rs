//! Dynamic client registration (RFC 7591) and its read and delete (RFC 7592): a site
//! registers itself, then logs people in with the `openidconnect` crate; metadata is
//! checked strictly; closed by default.

use serde_json::{json, Value};

use crate::browser::{full_login, Browser, Landing, RelyingParty, REDIRECT_URI};
use crate::helpers::{spawn_app, spawn_app_with, Client, Prosody, Provider, TestApp, XmppUser};

/// The site registers the redirect URI its relying-party library (`RelyingParty`) uses.
const SITE: &str = REDIRECT_URI;

async fn register(app: &TestApp, metadata: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/register"))
        .json(&metadata)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn discovery(app: &TestApp) -> Value {
    app.json("/.well-known/openid-configuration").await
}

#[tokio::test]
async fn a_site_registers_itself_and_logs_people_in() {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, &[("JIDCONNECT_REGISTRATION__MODE", "open")]).await;
    let endpoint = discovery(&app).await["registration_endpoint"]
        .as_str()
        .expect("discovery names the registration endpoint")
        .to_owned();
    assert_eq!(endpoint, app.url("/register"));

    let (status, registered) = register(
        &app,
        json!({
            "redirect_uris": [SITE],
            "client_name": "Self Site",
            "client_uri": "https://rp.example/",
            "grant_types": ["authorization_code", "refresh_token"],
            "id_token_signed_response_alg": "ES256",
            "software_id": "ignored-unknown-field",
        }),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    assert_eq!(registered["client_name"], "Self Site");
    assert_eq!(
        registered["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(registered["id_token_signed_response_alg"], "ES256");
    assert!(registered.get("software_id").is_none(), "{registered}");
    let id = registered["client_id"].as_str().unwrap().to_owned();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let token = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = registered["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(uri, app.url(&format!("/register/{id}")));

    // A login with the new client, by the relying-party library; the consent page shows
    // every time and says that the site registered itself.
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    for _ in 0..2 {
        let browser = Browser::new(&app);
        let attempt = rp.attempt(&[], false, &[]);
        let (_, login_url, html) = browser.open(attempt.url.as_str()).await.page();
        let landing = browser
            .log_in(&login_url, &html, "alice@localhost", &mut alice)
            .await;
        let Landing::Page { html: consent, .. } = &landing else {
            panic!("a self-registered site is always asked about");
        };
        assert!(
            consent.contains("This site registered itself")
                && consent.contains("rp.example")
                && consent.contains("you are asked at every login"),
            "{consent}"
        );
        let callback = browser.consent_if_asked(landing).await;
        let code = rp.code_from(&app, &callback, &attempt);
        let tokens = rp.exchange(&code, None).await.unwrap();
        let claims = rp.id_claims(&tokens, &attempt.nonce);
        assert_eq!(claims.subject().as_str(), "alice@localhost");
    }

    // RFC 7592: read with the registration access token; nothing without it; delete.
    let read = |bearer: Option<&str>| {
        let mut request = app.http.get(&uri);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, metadata) = read(Some(&token)).await;
    assert_eq!(status, 200, "{metadata}");
    assert_eq!(metadata["client_id"], id.as_str());
    assert_eq!(metadata["redirect_uris"], json!([SITE]));
    assert!(metadata.get("client_secret").is_none());
    for bearer in [None, Some("wrong"), Some(secret.as_str())] {
        assert_eq!(read(bearer).await.0, 401, "{bearer:?}");
    }
    // An operator's client cannot be read or deleted through RFC 7592.
    let (status, _) = {
        let response = app
            .http
            .get(app.url(&format!("/register/{}", app.client_id)))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 401);
    let deleted = app
        .http
        .delete(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(read(Some(&token)).await.0, 401);
    assert!(app.state.store.client(&id).await.unwrap().is_none());

    // A public client (a browser app or native app) gets no secret; PKCE is then required.
    let (status, public) = register(
        &app,
        json!({
            "redirect_uris": [SITE, "http://127.0.0.1:8765/cb"],
            "client_name": "Browser App",
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    assert_eq!(status, 201, "{public}");
    assert!(public.get("client_secret").is_none(), "{public}");
    let rp = RelyingParty::discover(&app, public["client_id"].as_str().unwrap(), "").await;
    rp.refused_without_pkce(&app).await;
    let attempt = rp.attempt(&[], true, &[]);
    let code = full_login(
        &app,
        &Browser::new(&app),
        &rp,
        &mut alice,
        "alice@localhost",
        &attempt,
    )
    .await;
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    assert_eq!(
        rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        "alice@localhost"
    );
}

#[tokio::test]
async fn registration_checks_metadata_and_is_closed_by_default() {
    let prosody = Prosody::start().await;
    let closed = spawn_app(&prosody).await;
    assert!(discovery(&closed)
        .await
        .get("registration_endpoint")
        .is_none());
    let (status, body) = register(
        &closed,
        json!({"redirect_uris": [SITE], "client_name": "X"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    closed.stop().await;

    let app = spawn_app_with(
        &prosody,
        &[
            ("JIDCONNECT_REGISTRATION__MODE", "open"),
            ("JIDCONNECT_REGISTRATION__PER_IP_PER_HOUR", "12"),
        ],
    )
    .await;
    let ok = json!({"redirect_uris": [SITE], "client_name": "Fine"});
    let with = |field: &str, value: Value| {
        let mut metadata = ok.clone();
        metadata[field] = value;
        metadata
    };
    let without = |field: &str| {
        let mut metadata = ok.clone();
        metadata.as_object_mut().unwrap().remove(field);
        metadata
    };
    for (metadata, error) in [
        (
            with("redirect_uris", json!(["http://self.example/cb"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["https://self.example/cb#x"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["com.example.app:/cb"])),
            "invalid_redirect_uri",
        ),
        (with("redirect_uris", json!([])), "invalid_redirect_uri"),
        (without("redirect_uris"), "invalid_redirect_uri"),
        (without("client_name"), "invalid_client_metadata"),
        (with("client_name", json!("   ")), "invalid_client_metadata"),
        (
            with("grant_types", json!(["implicit"])),
            "invalid_client_metadata",
        ),
        (
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
        ),
        (
            // A device-only client (RFC 8628) is never redirected to: no code responses.
            {
                let mut device = with(
                    "grant_types",
                    json!(["urn:ietf:params:oauth:grant-type:device_code"]),
                );
                device["response_types"] = json!(["code"]);
                device
            },
            "invalid_client_metadata",
        ),
        (
            with("token_endpoint_auth_method", json!("private_key_jwt")),
            "invalid_client_metadata",
        ),
        (
            with("id_token_signed_response_alg", json!("none")),
            "invalid_client_metadata",
        ),
        (
            with("client_uri", json!("http://self.example/")),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let (status, body) = register(&app, metadata.clone()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{metadata}: {body}"
        );
    }
    let before = app.state.store.clients().await.unwrap().len();
    // The rate per network: the refusals above stored nothing and did not count.
    let mut statuses = Vec::new();
    for _ in 0..13 {
        statuses.push(register(&app, ok.clone()).await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        12,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    assert_eq!(app.state.store.clients().await.unwrap().len(), before + 12);
}
