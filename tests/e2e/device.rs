//! Devices (RFC 8628): a TV or a command-line tool logs in with the `openidconnect` crate's
//! device flow while the person types its code in a browser, or sends the code from their
//! XMPP app with no browser at all; the polling rules (authorization_pending, slow_down,
//! expired_token, access_denied), single use, and who may use the grant.

use std::time::Duration;

use openidconnect::core::{CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata};
use openidconnect::{
    ClientId, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse,
};
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::browser::{field, Browser};
use crate::helpers::{
    spawn_app_on, Backend, Client, Prosody, Provider, TestApp, XmppUser, COMPONENT, DOMAIN,
};
use jidconnect::store::clients::{ClientSettings, DEVICE_CODE_GRANT};

const FAST_POLLS: (&str, &str) = ("JIDCONNECT_OIDC__DEVICE_POLL_INTERVAL_SECS", "1");

/// A public device client ("Living-room TV") that may use the device grant and refresh.
async fn add_tv(app: &TestApp, allow: &[&str]) -> String {
    let settings = ClientSettings {
        public: true,
        grant_types: vec![DEVICE_CODE_GRANT.into(), "refresh_token".into()],
        allow: allow.iter().map(|a| a.to_string()).collect(),
        ..ClientSettings::new("Living-room TV", vec![])
    };
    app.add_client(settings).await.0
}

/// The device: the `openidconnect` crate, from discovery.
struct Device {
    client: openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    http: reqwest::Client,
}

impl Device {
    async fn discover(app: &TestApp, client_id: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer()).unwrap(), &http)
                .await
                .expect("discovery");
        // CoreProviderMetadata keeps no extra fields: the endpoint is read from the document.
        let discovery = app.json("/.well-known/openid-configuration").await;
        let endpoint = discovery["device_authorization_endpoint"]
            .as_str()
            .expect("discovery names the device authorization endpoint");
        assert!(
            discovery["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&Value::from(DEVICE_CODE_GRANT)),
            "{discovery}"
        );
        let client =
            CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.into()), None)
                .set_device_authorization_url(
                    DeviceAuthorizationUrl::new(endpoint.to_owned()).unwrap(),
                );
        Self { client, http }
    }

    async fn start(&self, scopes: &[&str]) -> CoreDeviceAuthorizationResponse {
        let mut request = self.client.exchange_device_code();
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).into()));
        }
        request
            .request_async(&self.http)
            .await
            .expect("a device authorization")
    }

    /// Polls as the crate does (interval, slow_down) until the person decided.
    async fn poll(
        &self,
        details: &CoreDeviceAuthorizationResponse,
    ) -> Result<openidconnect::core::CoreTokenResponse, String> {
        self.client
            .exchange_device_access_token(details)
            .expect("token endpoint known")
            .request_async(
                &self.http,
                tokio::time::sleep,
                Some(Duration::from_secs(60)),
            )
            .await
            .map_err(|e| format!("{e:?}"))
    }

    fn subject(&self, tokens: &openidconnect::core::CoreTokenResponse) -> String {
        // A device flow has no nonce (RFC 8628 has no authorization request).
        let no_nonce = |_: Option<&Nonce>| Ok(());
        tokens
            .id_token()
            .expect("an ID token")
            .claims(&self.client.id_token_verifier(), no_nonce)
            .expect("a valid ID token")
            .subject()
            .to_string()
    }
}

/// A raw poll of the token endpoint, to see each RFC 8628 answer.
async fn raw_poll(app: &TestApp, client_id: &str, device_code: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", DEVICE_CODE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn device_authorization(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/device_authorization"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The code page, filled in from `verification_uri_complete`, sent: the login page.
async fn take_code(
    browser: &Browser,
    details: &CoreDeviceAuthorizationResponse,
) -> (String, String) {
    let complete = details
        .verification_uri_complete()
        .expect("verification_uri_complete")
        .secret()
        .clone();
    let (status, url, html) = browser.open(&complete).await.page();
    assert_eq!(status, 200, "{html}");
    let user_code = details.user_code().secret();
    assert_eq!(
        field(&html, "user_code").as_deref(),
        Some(user_code.as_str())
    );
    let csrf = field(&html, "csrf").expect("csrf");
    let (status, login_url, login_html) = browser
        .post(
            &url,
            &[("csrf", &csrf), ("user_code", &user_code.to_lowercase())],
        )
        .await
        .page();
    assert_eq!(status, 200, "{login_html}");
    assert!(login_html.contains("Log in your device to"), "{login_html}");
    (login_url, login_html)
}

async fn a_tv_logs_in_through_a_browser(backend: Backend) {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, backend, &[FAST_POLLS]).await;
    let tv = add_tv(&app, &[]).await;
    let device = Device::discover(&app, &tv).await;
    let details = device.start(&["openid", "profile", "offline_access"]).await;
    assert_eq!(details.verification_uri().as_str(), app.url("/device"));
    let user_code = details.user_code().secret().clone();
    assert!(
        user_code.len() == 9 && user_code.as_bytes()[4] == b'-',
        "grouped: {user_code}"
    );
    let polling = {
        let details = details.clone();
        let device = Device::discover(&app, &tv).await;
        tokio::spawn(async move { device.poll(&details).await.map(|t| (device.subject(&t), t)) })
    };

    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;
    let browser = Browser::new(&app);
    let (login_url, html) = take_code(&browser, &details).await;
    let landing = browser
        .log_in(&login_url, &html, &format!("alice@{DOMAIN}"), &mut alice)
        .await;
    let (status, consent_url, consent) = landing.page();
    assert_eq!(status, 200, "{consent}");
    assert!(consent.contains("This login is for a device"), "{consent}");
    assert!(consent.contains("Living-room TV"), "{consent}");
    let csrf = field(&consent, "csrf").unwrap();
    let (_, _, done) = browser
        .post(&consent_url, &[("csrf", &csrf), ("decision", "allow")])
        .await
        .page();
    assert!(done.contains("Done: go back to your device"), "{done}");

    let (subject, tokens) = polling.await.unwrap().expect("the device gets tokens");
    assert_eq!(subject, format!("alice@{DOMAIN}"));
    let refresh = tokens
        .refresh_token()
        .expect("offline_access: a refresh token");
    let userinfo = app.userinfo(tokens.access_token().secret()).await;
    assert_eq!(userinfo["sub"], format!("alice@{DOMAIN}"));

    // The device code is spent: presented again, the grant goes with it (as for codes).
    let (status, replay) = raw_poll(&app, &tv, details.device_code().secret()).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant")),
        "{replay}"
    );
    let refreshed = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.secret().as_str()),
            ("client_id", tv.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 400, "the replay revoked the grant");
    app.stop().await;
}

#[tokio::test]
async fn a_tv_logs_in_through_a_browser_with_the_openidconnect_device_flow() {
    a_tv_logs_in_through_a_browser(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_tv_logs_in_through_a_browser_on_postgres() {
    a_tv_logs_in_through_a_browser(Backend::Postgres).await;
}

async fn a_tv_logs_in_from_an_xmpp_app(backend: Backend) {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, backend, &[FAST_POLLS]).await;
    let tv = add_tv(&app, &[]).await;
    let device = Device::discover(&app, &tv).await;
    let details = device.start(&["openid"]).await;
    let user_code = details.user_code().secret().clone();
    let polling = {
        let details = details.clone();
        let device = Device::discover(&app, &tv).await;
        tokio::spawn(async move { device.poll(&details).await.map(|t| device.subject(&t)) })
    };
    // An app without XEP-0070 (as most phones' apps): the person sends the code shown on
    // the TV, and answers the request by typing its code back.
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::PlainText, "body-code").await;
    bob.send_message(COMPONENT, &format!("TV code {user_code}"))
        .await;
    let request = bob.next_request().await;
    assert!(
        request.body.contains("A device asks to log in as you")
            && request.body.contains("Living-room TV"),
        "{}",
        request.body
    );
    assert_ne!(request.code, user_code, "the request has its own code");
    assert_eq!(
        polling.await.unwrap().expect("the device gets tokens"),
        format!("bob@{DOMAIN}")
    );
    // The code the TV showed served once.
    bob.send_message(COMPONENT, &user_code).await;
    let answer = bob.next_chat().await;
    assert!(
        answer.body.contains("matches no open login"),
        "{}",
        answer.body
    );
    app.stop().await;
}

#[tokio::test]
async fn a_tv_logs_in_from_an_xmpp_app_that_sends_its_code() {
    a_tv_logs_in_from_an_xmpp_app(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_tv_logs_in_from_an_xmpp_app_on_postgres() {
    a_tv_logs_in_from_an_xmpp_app(Backend::Postgres).await;
}

#[tokio::test]
async fn polling_follows_rfc_8628() {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, Backend::Sqlite, &[]).await;
    let tv = add_tv(&app, &[]).await;

    // Only clients allowed the grant, and with openid.
    let (status, body) = device_authorization(
        &app,
        &[
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let (status, body) =
        device_authorization(&app, &[("client_id", &tv), ("scope", "profile")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (status, body) =
        device_authorization(&app, &[("client_id", "nobody"), ("scope", "openid")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    let (status, started) =
        device_authorization(&app, &[("client_id", &tv), ("scope", "openid")]).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);
    let device_code = started["device_code"].as_str().unwrap();
    let pending = raw_poll(&app, &tv, device_code).await;
    assert_eq!(pending.1["error"], "authorization_pending", "{}", pending.1);
    let too_soon = raw_poll(&app, &tv, device_code).await;
    assert_eq!(too_soon.1["error"], "slow_down", "{}", too_soon.1);
    app.clock.advance(11);
    let pending = raw_poll(&app, &tv, device_code).await;
    assert_eq!(
        pending.1["error"], "authorization_pending",
        "waited 10 s: {}",
        pending.1
    );
    assert_eq!(
        raw_poll(&app, &tv, "not-a-code").await.1["error"],
        "invalid_grant"
    );
    let other = add_tv(&app, &[]).await;
    assert_eq!(
        raw_poll(&app, &other, device_code).await.1["error"],
        "invalid_grant",
        "another client's device code"
    );

    // The person refuses over XMPP: final for the device.
    let mut carol = XmppUser::login(&prosody, "carol", "desk", Client::Xep0070, "deny").await;
    carol
        .send_message(COMPONENT, started["user_code"].as_str().unwrap())
        .await;
    carol.next_request().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        app.clock.advance(10);
        let (status, answer) = raw_poll(&app, &tv, device_code).await;
        if answer["error"] == "access_denied" {
            assert_eq!(status, 400);
            break;
        }
        assert_eq!(answer["error"], "authorization_pending", "{answer}");
        assert!(tokio::time::Instant::now() < deadline, "never denied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A code nobody answers expires.
    let (_, late) = device_authorization(&app, &[("client_id", &tv), ("scope", "openid")]).await;
    app.clock.advance(601);
    let expired = raw_poll(&app, &tv, late["device_code"].as_str().unwrap()).await;
    assert_eq!(expired.1["error"], "expired_token", "{}", expired.1);
    app.stop().await;
}

#[tokio::test]
async fn user_codes_are_checked_and_the_policy_applies() {
    let prosody = Prosody::start().await;
    let app = spawn_app_on(&prosody, Backend::Sqlite, &[]).await;
    let tv = add_tv(&app, &[&format!("bob@{DOMAIN}")]).await;
    let (_, started) = device_authorization(&app, &[("client_id", &tv), ("scope", "openid")]).await;
    let user_code = started["user_code"].as_str().unwrap();

    // A code typed wrong, a form from elsewhere.
    let browser = Browser::new(&app);
    let (_, url, html) = browser.open(&app.url("/device")).await.page();
    let csrf = field(&html, "csrf").unwrap();
    let (status, _, html) = browser
        .post(&url, &[("csrf", &csrf), ("user_code", "ZZZZ-ZZZZ")])
        .await
        .page();
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("No device waits for this code"), "{html}");
    let (status, _, _) = browser
        .post(&url, &[("csrf", "forged"), ("user_code", user_code)])
        .await
        .page();
    assert_eq!(status, 403);

    // alice may not log in to the TV: nothing is pushed to her, she is told why.
    let mut alice = XmppUser::login(&prosody, "alice", "phone", Client::Xep0070, "accept").await;
    alice.send_message(COMPONENT, user_code).await;
    let refusal = alice.next_chat().await;
    assert!(
        refusal.body.contains("may not log in to Living-room TV"),
        "{}",
        refusal.body
    );
    assert!(!alice.receives_within(Duration::from_secs(1)).await);

    // The first browser to take the code has it; another is turned away, and so is the
    // XMPP way.
    let (status, login_url, login) = browser
        .post(&url, &[("csrf", &csrf), ("user_code", user_code)])
        .await
        .page();
    assert_eq!(status, 200, "{login}");
    let other = Browser::new(&app);
    let (_, other_url, other_html) = other.open(&app.url("/device")).await.page();
    let other_csrf = field(&other_html, "csrf").unwrap();
    let (status, _, taken) = other
        .post(
            &other_url,
            &[("csrf", &other_csrf), ("user_code", user_code)],
        )
        .await
        .page();
    assert_eq!(status, 409, "{taken}");
    let mut bob = XmppUser::login(&prosody, "bob", "phone", Client::Xep0070, "accept").await;
    bob.send_message(COMPONENT, user_code).await;
    assert!(bob
        .next_chat()
        .await
        .body
        .contains("being used on a web page"));

    // In the browser, alice is refused at the JID form, as for any client.
    let response = browser
        .submit_jid(&login_url, &login, &format!("alice@{DOMAIN}"))
        .await;
    assert_eq!(response.status(), 403);

    // A client that may not use the code grant gets none, and cannot redeem one.
    let settings = ClientSettings {
        grant_types: vec![DEVICE_CODE_GRANT.into()],
        ..ClientSettings::new("Device only", vec![crate::browser::REDIRECT_URI.into()])
    };
    let (device_only, _) = app.add_client(settings).await;
    let mut authorize = app.authorize_url();
    authorize
        .query_pairs_mut()
        .clear()
        .append_pair("client_id", &device_only)
        .append_pair("redirect_uri", crate::browser::REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid");
    let callback = Browser::new(&app).open(authorize.as_str()).await.away();
    assert!(
        callback.as_str().contains("error=unauthorized_client"),
        "{callback}"
    );
    app.stop().await;
}
