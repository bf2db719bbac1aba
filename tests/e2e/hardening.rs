//! Fixes from a security review (denial of service, session edges, standards gaps, secrets
//! in output, CORS): each test fails without its fix.

use openidconnect::core::CoreErrorResponseType;
use openidconnect::OAuth2TokenResponse;

use crate::browser::{field, full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{spawn_app_with, Client, Prosody, Provider, TestApp, XmppUser};
use jidconnect::store::clients::ClientSettings;

const ALICE: &str = "alice@localhost";

struct Setup {
    _prosody: Prosody,
    app: TestApp,
    rp: RelyingParty,
    browser: Browser,
    alice: XmppUser,
}

async fn setup(settings: ClientSettings, overrides: &[(&str, &str)]) -> Setup {
    let prosody = Prosody::start().await;
    let app = spawn_app_with(&prosody, overrides).await;
    let (id, secret) = app.add_client(settings).await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let browser = Browser::new(&app);
    let alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    Setup {
        _prosody: prosody,
        app,
        rp,
        browser,
        alice,
    }
}

fn site() -> ClientSettings {
    ClientSettings::new("Example RP", vec![REDIRECT_URI.into()])
}

/// RFC 6749 §6: a refresh with a narrower scope narrows the new access token only; the new
/// refresh token keeps the grant, so the client can widen again and stays offline. A wider
/// scope is refused without spending the refresh token.
#[tokio::test]
async fn a_narrowed_refresh_keeps_the_grant() {
    let mut s = setup(site(), &[]).await;
    let attempt = s.rp.attempt(
        &["profile", "offline_access"],
        false,
        &[("prompt", "consent")],
    );
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    // RFC 6749 §5.2: a scope beyond the grant is refused, and the refused request leaves
    // the refresh token as it was.
    let first = tokens.refresh_token().unwrap();
    assert_eq!(
        s.rp.refresh(first, Some("email")).await.unwrap_err(),
        CoreErrorResponseType::InvalidScope
    );
    let narrowed = s.rp.refresh(first, Some("openid")).await.unwrap();
    let scope = |t: &openidconnect::core::CoreTokenResponse| {
        let mut scopes: Vec<String> = t.scopes().unwrap().iter().map(|s| s.to_string()).collect();
        scopes.sort();
        scopes
    };
    assert_eq!(scope(&narrowed), ["openid"]);
    let again = narrowed
        .refresh_token()
        .expect("still a refresh token: the grant has offline_access");
    let widened = s.rp.refresh(again, None).await.unwrap();
    assert_eq!(scope(&widened), ["offline_access", "openid", "profile"]);
    assert!(widened.refresh_token().is_some());
    // A spent refresh token replayed with a scope beyond the grant is a replay all the
    // same (RFC 9700 §4.14.2): refused as such, and the grant revoked.
    assert_eq!(
        s.rp.refresh(again, Some("email")).await.unwrap_err(),
        CoreErrorResponseType::InvalidGrant
    );
    assert_eq!(
        s.rp.refresh(widened.refresh_token().unwrap(), None)
            .await
            .unwrap_err(),
        CoreErrorResponseType::InvalidGrant,
        "the replay revoked the grant"
    );
}

/// A code presented without its PKCE verifier or redirect URI (say, by whoever found it in
/// a log) is refused and not spent: its client still redeems it, and the grant lives.
#[tokio::test]
async fn a_refused_code_exchange_leaves_the_code_to_its_client() {
    let mut s = setup(site(), &[]).await;
    let attempt = s.rp.attempt(&[], true, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let wrong = openidconnect::PkceCodeVerifier::new("w".repeat(43));
    let refused = s.rp.exchange(&code, Some(wrong)).await.unwrap_err();
    assert!(refused.contains("invalid_grant"), "{refused}");
    let refused = s.rp.exchange(&code, None).await.unwrap_err();
    assert!(refused.contains("invalid_grant"), "{refused}");
    let tokens = s.rp.exchange(&code, attempt.verifier).await.unwrap();
    assert_eq!(
        s.rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        ALICE
    );
}

/// RFC 8252 §7.3: a native app registers `http://127.0.0.1/cb` and listens on whatever
/// port it gets; any port matches on a loopback IP literal, and nothing else does.
#[tokio::test]
async fn loopback_redirect_uris_match_any_port() {
    let mut app_settings = ClientSettings::new("Native app", vec!["http://127.0.0.1/cb".into()]);
    app_settings.public = true;
    let s = setup(site(), &[]).await;
    let (id, _) = s.app.add_client(app_settings).await;
    let authorize = |redirect_uri: &str| s.app.pkce_authorize_url(&id, redirect_uri);
    let (status, url, _) = s
        .browser
        .open(authorize("http://127.0.0.1:53124/cb").as_str())
        .await
        .page();
    assert_eq!(status, 200);
    assert!(url.contains("/login/"), "{url}");
    for refused in ["http://127.0.0.1:53124/other", "http://127.0.0.2:53124/cb"] {
        let (status, _, html) = s.browser.open(authorize(refused).as_str()).await.page();
        assert_eq!(status, 400, "{refused}: {html}");
    }
}

/// The consent page of a login that rode on the session: pressing its "continue" (never
/// shown, but posted by hand) must not end the session and start one with a new expiry.
#[tokio::test]
async fn a_flow_without_an_xmpp_confirmation_never_renews_the_session() {
    let mut s = setup(site(), &[]).await;
    let attempt = s.rp.attempt(&[], true, &[]);
    full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let session = s.browser.cookie("jidconnect_session").unwrap();
    let attempt = s.rp.attempt(&[], true, &[("prompt", "consent")]);
    let (_, consent_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert!(consent_url.ends_with("/consent"), "{consent_url}");
    let csrf = field(&html, "csrf").unwrap();
    let flow_url = consent_url.trim_end_matches("/consent");
    let (_, landed, _) = s
        .browser
        .post(&format!("{flow_url}/continue"), &[("csrf", &csrf)])
        .await
        .page();
    assert!(landed.ends_with("/consent"), "{landed}");
    assert_eq!(
        s.browser.cookie("jidconnect_session").as_deref(),
        Some(session.as_str()),
        "the same session, not a new one"
    );
}

/// Logout ends what the browser had open: a consent page from before, and a login
/// confirmed over XMPP but not continued, log nobody in afterwards.
#[tokio::test]
async fn logout_ends_the_browsers_open_logins() {
    let mut s = setup(site(), &[]).await;
    let attempt = s.rp.attempt(&[], true, &[]);
    full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    // A consent page left open…
    let attempt = s.rp.attempt(&[], true, &[("prompt", "consent")]);
    let (_, consent_url, consent) = s.browser.open(attempt.url.as_str()).await.page();
    // …and a second login confirmed in XMPP but not continued.
    let attempt = s.rp.attempt(&[], true, &[("prompt", "login")]);
    let (_, login_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    let csrf = field(&html, "csrf").unwrap();
    s.browser
        .post(&login_url, &[("jid", ALICE), ("csrf", &csrf)])
        .await
        .page();
    s.alice.next_request().await;
    s.browser
        .wait_for_status(&format!("{login_url}/status"), "accepted")
        .await;

    let (_, logout_url, logout) = s.browser.open(&s.app.url("/logout")).await.page();
    let logout_csrf = field(&logout, "csrf").unwrap();
    let (status, _, done) = s
        .browser
        .post(&logout_url, &[("csrf", &logout_csrf)])
        .await
        .page();
    assert_eq!(status, 200, "{done}");

    let consent_csrf = field(&consent, "csrf").unwrap();
    let (status, _, _) = s
        .browser
        .post(
            &consent_url,
            &[("csrf", &consent_csrf), ("decision", "allow")],
        )
        .await
        .page();
    assert_eq!(status, 404, "the consent page is dead");
    let (status, _, _) = s
        .browser
        .post(&format!("{login_url}/continue"), &[("csrf", &csrf)])
        .await
        .page();
    assert_eq!(status, 404, "the confirmed login is dead");
    assert!(s.browser.cookie("jidconnect_session").is_none());
}

/// `prompt=consent` shows the consent page even to a trusted client (OIDC Core §3.1.2.1),
/// and `offline_access` is granted only after consent to it (§11), never silently: not
/// to a trusted client without `prompt=consent`, not with `prompt=none`.
#[tokio::test]
async fn consent_when_asked_and_offline_access_only_with_consent() {
    let mut trusted = site();
    trusted.trusted = true;
    let mut s = setup(trusted, &[]).await;
    let attempt = s.rp.attempt(&["offline_access"], false, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert!(
        tokens.refresh_token().is_none(),
        "offline_access was ignored"
    );
    let scopes: Vec<String> = tokens
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["openid"]);
    // prompt=none cannot get it either.
    let attempt =
        s.rp.attempt(&["offline_access"], false, &[("prompt", "none")]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert!(tokens.refresh_token().is_none());
    // prompt=consent: the consent page, trusted or not, naming offline access.
    let attempt =
        s.rp.attempt(&["offline_access"], false, &[("prompt", "consent")]);
    let (_, consent_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert!(consent_url.ends_with("/consent"), "{consent_url}");
    assert!(html.contains("offline access"), "{html}");
    let csrf = field(&html, "csrf").unwrap();
    let callback = s
        .browser
        .post(&consent_url, &[("csrf", &csrf), ("decision", "allow")])
        .await
        .away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert!(tokens.refresh_token().is_some());
    // Allowed once, it is remembered.
    let attempt = s.rp.attempt(&["offline_access"], false, &[]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    assert!(s
        .rp
        .exchange(&code, None)
        .await
        .unwrap()
        .refresh_token()
        .is_some());
}

/// A client limited to `openid` gets no more through the `claims` parameter, and what
/// `claims` adds for other clients is named on the consent page.
#[tokio::test]
async fn the_claims_parameter_stays_within_the_clients_scopes() {
    let mut limited = site();
    limited.allowed_scopes = vec!["openid".into()];
    limited.jid_as_email = true;
    let mut s = setup(limited, &[]).await;
    let claims =
        r#"{"userinfo":{"email":null,"name":null},"id_token":{"preferred_username":null}}"#;
    let attempt = s.rp.attempt(&[], false, &[("claims", claims)]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let id_claims = s.rp.id_claims(&tokens, &attempt.nonce);
    assert!(id_claims.preferred_username().is_none());
    let userinfo: serde_json::Value = s
        .app
        .http
        .get(s.app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        userinfo.get("email").is_none() && userinfo.get("name").is_none(),
        "{userinfo}"
    );

    // An unrestricted client asking by name: the consent page says what it adds.
    let (id, secret) = s.app.add_client(site()).await;
    let rp = RelyingParty::discover(&s.app, &id, &secret).await;
    let attempt = rp.attempt(&[], false, &[("claims", r#"{"userinfo":{"name":null}}"#)]);
    let (_, consent_url, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert!(consent_url.ends_with("/consent"), "{consent_url}");
    assert!(html.contains("Your user name, alice"), "{html}");
}

/// The `access-control-*` headers of a response, and `vary`, for the CORS checks.
fn cors_headers(response: &reqwest::Response) -> (Option<String>, String) {
    let headers = response.headers();
    assert!(
        !headers.contains_key("access-control-allow-credentials"),
        "never with credentials: {headers:?}"
    );
    let allow = headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned());
    let vary = headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(", ");
    (allow, vary)
}

/// Discovery, RFC 8414 metadata and the JWKS are public: a browser app on any origin reads
/// them (and a GET preflight passes), without credentials.
#[tokio::test]
async fn browser_apps_on_any_origin_read_discovery_and_the_keys() {
    let s = setup(site(), &[]).await;
    let http = reqwest::Client::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/jwks",
    ] {
        for origin in ["https://anywhere.example", "http://127.0.0.1:5173"] {
            let response = http
                .get(s.app.url(path))
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(cors_headers(&response).0.as_deref(), Some("*"), "{path}");
            assert!(response.headers().contains_key("x-frame-options"));
        }
        let preflight = http
            .request(reqwest::Method::OPTIONS, s.app.url(path))
            .header("origin", "https://anywhere.example")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{path}");
        assert_eq!(cors_headers(&preflight).0.as_deref(), Some("*"), "{path}");
    }
}

/// `/token`, `/userinfo` and `/revoke` answer a browser app only on the web origins of
/// its client's redirect URIs (for `/userinfo`, the client of the token), errors included
/// so that the app can read them; preflights pass for the origins of registered clients.
/// Never with credentials; requests without `Origin` (server-side RPs) are as before.
#[tokio::test]
async fn token_userinfo_and_revoke_answer_only_the_clients_own_origins() {
    const OWN: &str = "https://rp.example";
    const OTHER: &str = "https://other.example";
    const NOBODY: &str = "https://evil.example";
    let mut spa = site();
    spa.public = true;
    let mut s = setup(spa, &[]).await;
    s.app
        .add_client(ClientSettings::new(
            "Other",
            vec![format!("{OTHER}/callback")],
        ))
        .await;
    let http = reqwest::Client::new();
    let client_id = s.rp.client.client_id().to_string();

    // Preflights: the origin of some client passes, others get nothing.
    for (path, methods) in [
        ("/token", "POST"),
        ("/revoke", "POST"),
        ("/userinfo", "GET"),
    ] {
        for origin in [OWN, OTHER, NOBODY] {
            let preflight = http
                .request(reqwest::Method::OPTIONS, s.app.url(path))
                .header("origin", origin)
                .header("access-control-request-method", methods)
                .header(
                    "access-control-request-headers",
                    "authorization, content-type",
                )
                .send()
                .await
                .unwrap();
            assert!(
                preflight.status().is_success(),
                "{path} {origin}: {preflight:?}"
            );
            let (allow, vary) = cors_headers(&preflight);
            if origin == NOBODY {
                assert_eq!(allow, None, "{path} from an unregistered origin");
                continue;
            }
            assert_eq!(allow.as_deref(), Some(origin), "{path}");
            assert!(vary.contains("origin"), "{vary}");
            let header = |name: &str| preflight.headers()[name].to_str().unwrap().to_lowercase();
            assert!(header("access-control-allow-methods").contains(&methods.to_lowercase()));
            let allowed = header("access-control-allow-headers");
            assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        }
    }

    // Errors: readable by the client's own origin only; an unknown client's error by the
    // origin of any client (it says nothing about one), by no other.
    let any_verifier = "x".repeat(43);
    let bad_code = [
        ("grant_type", "authorization_code"),
        ("code", "no-such-code"),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", client_id.as_str()),
        ("code_verifier", any_verifier.as_str()),
    ];
    for (origin, want) in [(OWN, Some(OWN)), (OTHER, None), (NOBODY, None)] {
        let response = http
            .post(s.app.url("/token"))
            .header("origin", origin)
            .form(&bad_code)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let (allow, vary) = cors_headers(&response);
        assert_eq!(allow.as_deref(), want, "/token error from {origin}");
        assert!(vary.contains("origin"), "{vary}");
    }
    for (origin, want) in [(OTHER, Some(OTHER)), (NOBODY, None)] {
        let response = http
            .post(s.app.url("/token"))
            .header("origin", origin)
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "nobody"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(cors_headers(&response).0.as_deref(), want, "{origin}");
    }

    // The body read to find the client is bounded as the endpoint's own read is.
    let response = http
        .post(s.app.url("/token"))
        .header("origin", OWN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id={client_id}&x={}", "y".repeat(100_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // A real login of the browser app (public, PKCE), its tokens fetched from its origin.
    let attempt = s.rp.attempt(&[], true, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let verifier = attempt.verifier.unwrap().secret().to_owned();
    let response = http
        .post(s.app.url("/token"))
        .header("origin", OWN)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(cors_headers(&response).0.as_deref(), Some(OWN));
    assert!(response.headers().contains_key("x-frame-options"));
    let tokens: serde_json::Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    // UserInfo: the token's client decides.
    for (origin, want) in [(Some(OWN), Some(OWN)), (Some(OTHER), None), (None, None)] {
        let mut request = http.get(s.app.url("/userinfo")).bearer_auth(access);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(cors_headers(&response).0.as_deref(), want, "{origin:?}");
    }
    let response = http
        .post(s.app.url("/userinfo"))
        .header("origin", OWN)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(cors_headers(&response).0.as_deref(), Some(OWN));

    // Revocation: the client named decides.
    for (origin, want) in [(OTHER, None), (OWN, Some(OWN))] {
        let response = http
            .post(s.app.url("/revoke"))
            .header("origin", origin)
            .form(&[("token", access), ("client_id", client_id.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(cors_headers(&response).0.as_deref(), want, "{origin}");
    }
    // The revoked token's error is readable, with its WWW-Authenticate.
    let response = http
        .get(s.app.url("/userinfo"))
        .header("origin", OWN)
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(cors_headers(&response).0.as_deref(), Some(OWN));
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
}
