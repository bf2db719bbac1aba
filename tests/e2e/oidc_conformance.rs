//! Our own versions of the OpenID Foundation's Basic OP and Config OP conformance modules,
//! each named after its module, run with the `openidconnect` crate as relying party, a real
//! Prosody and a real XMPP client confirming.

use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{AuthType, OAuth2TokenResponse, TokenResponse};
use serde_json::Value;

use crate::browser::{full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{spawn_app, Client, Prosody, Provider, TestApp, XmppUser};
use jidconnect::store::clients::ClientSettings;

const ALICE: &str = "alice@localhost";

/// A provider with one confidential client, a browser, and Alice accepting in her client.
struct Setup {
    _prosody: Prosody,
    app: TestApp,
    rp: RelyingParty,
    browser: Browser,
    alice: XmppUser,
}

async fn setup_with(settings: ClientSettings) -> Setup {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
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

fn rp_settings() -> ClientSettings {
    ClientSettings::new("Example RP", vec![REDIRECT_URI.into()])
}

async fn setup() -> Setup {
    setup_with(rp_settings()).await
}

#[tokio::test]
async fn oidcc_server() {
    let mut s = setup().await;
    let attempt = s.rp.attempt(&[], false, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let claims = s.rp.id_claims(&tokens, &attempt.nonce);
    assert_eq!(claims.subject().as_str(), ALICE);
    assert_eq!(claims.issuer().as_str(), s.app.issuer());
    assert!(claims.auth_time().is_some());
    // kid present and published.
    let header = jsonwebtoken::decode_header(tokens.id_token().unwrap().to_string()).unwrap();
    let jwks: Value = s
        .app
        .http
        .get(s.app.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = header.kid.expect("kid in the JWS header");
    assert_eq!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kid"] == kid.as_str())
            .count(),
        1
    );
    // userinfo agrees.
    let info: CoreUserInfoClaims =
        s.rp.client
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&s.rp.http)
            .await
            .unwrap();
    assert_eq!(info.subject().as_str(), ALICE);
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Logs Alice in once (consenting); returns the ID token claims' auth_time and the raw ID token.
async fn first_login(s: &mut Setup, scopes: &[&str]) -> (i64, String) {
    let attempt = s.rp.attempt(scopes, false, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let claims = s.rp.id_claims(&tokens, &attempt.nonce);
    (
        claims.auth_time().unwrap().timestamp(),
        tokens.id_token().unwrap().to_string(),
    )
}

/// An authorization that must complete without any page (SSO).
async fn silent(
    s: &Setup,
    scopes: &[&str],
    extra: &[(&str, &str)],
) -> (url::Url, crate::browser::Attempt) {
    let attempt = s.rp.attempt(scopes, false, extra);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    (callback, attempt)
}

#[tokio::test]
async fn oidcc_server_client_secret_post() {
    let mut s = setup().await;
    s.rp.client = s.rp.client.clone().set_auth_type(AuthType::RequestBody);
    let attempt = s.rp.attempt(&[], false, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert_eq!(
        s.rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        ALICE
    );
}

#[tokio::test]
async fn oidcc_response_type_missing() {
    let s = setup().await;
    let mut url = s.rp.attempt(&[], false, &[]).url;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "response_type")
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = s.browser.open(url.as_str()).await.away();
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(param(&callback, "state").is_some());
    assert_eq!(param(&callback, "iss"), Some(s.app.issuer()));
}

#[tokio::test]
async fn oidcc_idtoken_signature() {
    // RS256 is the default; every advertised algorithm verifies against the JWKS.
    for alg in ["RS256", "ES256", "EdDSA"] {
        let mut settings = rp_settings();
        settings.id_token_alg = jidconnect::keys::SigningAlg::parse(alg).unwrap();
        let mut s = setup_with(settings).await;
        let attempt = s.rp.attempt(&[], false, &[]);
        let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
        let tokens = s.rp.exchange(&code, None).await.unwrap();
        let header = jsonwebtoken::decode_header(tokens.id_token().unwrap().to_string()).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        assert_eq!(
            s.rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
            ALICE
        );
    }
}

#[tokio::test]
async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow() {
    let mut s = setup().await;
    let mut attempt = s.rp.attempt(&[], false, &[]);
    let pairs: Vec<(String, String)> = attempt
        .url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "nonce")
        .collect();
    attempt.url.query_pairs_mut().clear().extend_pairs(pairs);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let raw = tokens.id_token().unwrap().to_string();
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            raw.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(payload.get("nonce").is_none());
    assert_eq!(payload["sub"], ALICE);
}

#[tokio::test]
async fn oidcc_prompt_login() {
    let mut s = setup().await;
    let (first_auth_time, _) = first_login(&mut s, &[]).await;
    s.app.clock.advance(5);
    let attempt = s.rp.attempt(&[], false, &[("prompt", "login")]);
    // A new XMPP confirmation is needed even though the session is alive.
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let auth_time =
        s.rp.id_claims(&tokens, &attempt.nonce)
            .auth_time()
            .unwrap()
            .timestamp();
    assert!(
        auth_time > first_auth_time,
        "{auth_time} > {first_auth_time}"
    );
}

#[tokio::test]
async fn oidcc_prompt_none_not_logged_in() {
    let s = setup().await;
    let attempt = s.rp.attempt(&[], false, &[("prompt", "none")]);
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    assert_eq!(param(&callback, "error").as_deref(), Some("login_required"));
    assert_eq!(
        param(&callback, "state").as_deref(),
        Some(attempt.state.secret().as_str())
    );
    assert_eq!(param(&callback, "iss"), Some(s.app.issuer()));
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in() {
    let mut s = setup().await;
    let (first_auth_time, _) = first_login(&mut s, &[]).await;
    let (callback, attempt) = silent(&s, &[], &[("prompt", "none")]).await;
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let claims = s.rp.id_claims(&tokens, &attempt.nonce);
    assert_eq!(claims.subject().as_str(), ALICE);
    assert_eq!(claims.auth_time().unwrap().timestamp(), first_auth_time);
    assert!(
        !s.alice
            .receives_within(std::time::Duration::from_millis(300))
            .await,
        "no second XMPP request"
    );
}

#[tokio::test]
async fn oidcc_max_age_1() {
    let mut s = setup().await;
    let (first_auth_time, _) = first_login(&mut s, &[]).await;
    s.app.clock.advance(2);
    let attempt = s.rp.attempt(&[], false, &[("max_age", "1")]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let auth_time =
        s.rp.id_claims(&tokens, &attempt.nonce)
            .auth_time()
            .unwrap()
            .timestamp();
    assert!(auth_time > first_auth_time);
}

#[tokio::test]
async fn oidcc_max_age_10000() {
    let mut s = setup().await;
    let (first_auth_time, _) = first_login(&mut s, &[]).await;
    s.app.clock.advance(2);
    let (callback, attempt) = silent(&s, &[], &[("max_age", "10000")]).await;
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert_eq!(
        s.rp.id_claims(&tokens, &attempt.nonce)
            .auth_time()
            .unwrap()
            .timestamp(),
        first_auth_time
    );
}

#[tokio::test]
async fn oidcc_id_token_hint() {
    let mut s = setup().await;
    let (_, id_token) = first_login(&mut s, &[]).await;
    let (callback, attempt) =
        silent(&s, &[], &[("prompt", "none"), ("id_token_hint", &id_token)]).await;
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    assert!(s.rp.exchange(&code, None).await.is_ok());
    // A hint that is not ours is an invalid request.
    let attempt = s.rp.attempt(
        &[],
        false,
        &[("prompt", "none"), ("id_token_hint", "e30.e30.")],
    );
    let callback = s.browser.open(attempt.url.as_str()).await.away();
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn oidcc_login_hint() {
    let s = setup().await;
    let attempt =
        s.rp.attempt(&[], false, &[("login_hint", "carol@localhost")]);
    let (status, _, html) = s.browser.open(attempt.url.as_str()).await.page();
    assert_eq!(status, 200);
    assert!(html.contains("value=\"carol@localhost\""), "{html}");
}

#[tokio::test]
async fn oidcc_codereuse() {
    let mut s = setup().await;
    let attempt = s.rp.attempt(&[], false, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let token = tokens.access_token().secret().clone();
    let userinfo = |token: String| {
        let http = s.app.http.clone();
        let url = s.app.url("/userinfo");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(userinfo(token.clone()).await, 200);
    let second = s.rp.exchange(&code, None).await.unwrap_err();
    assert!(second.contains("invalid_grant"), "{second}");
    assert_eq!(
        userinfo(token).await,
        401,
        "tokens from the reused code are revoked"
    );
}

#[tokio::test]
async fn oidcc_codereuse_30seconds() {
    let mut s = setup().await;
    let attempt =
        s.rp.attempt(&["offline_access"], false, &[("prompt", "consent")]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    s.app.clock.advance(30);
    let second = s.rp.exchange(&code, None).await.unwrap_err();
    assert!(second.contains("invalid_grant"), "{second}");
    let refresh =
        s.rp.client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
            .unwrap()
            .request_async(&s.rp.http)
            .await;
    assert!(refresh.is_err(), "the refresh token died with the grant");
}

#[tokio::test]
async fn oidcc_ensure_registered_redirect_uri() {
    let s = setup().await;
    let mut url = s.rp.attempt(&[], false, &[]).url;
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k, "https://evil.example/cb".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, _, html) = s.browser.open(url.as_str()).await.page();
    assert_eq!(status, 400);
    assert!(html.contains("not registered"), "{html}");
}

#[tokio::test]
async fn oidcc_ensure_post_request_succeeds() {
    let mut s = setup().await;
    let attempt = s.rp.attempt(&[], false, &[]);
    let pairs: Vec<(String, String)> = attempt.url.query_pairs().into_owned().collect();
    let form: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, login_url, html) = s.browser.post(&s.app.url("/authorize"), &form).await.page();
    assert_eq!(status, 200);
    let landing = s
        .browser
        .log_in(&login_url, &html, ALICE, &mut s.alice)
        .await;
    let callback = s.browser.consent_if_asked(landing).await;
    let code = s.rp.code_from(&s.app, &callback, &attempt);
    assert!(s.rp.exchange(&code, None).await.is_ok());
}

#[tokio::test]
async fn oidcc_request_and_request_uri_rejected_as_unsupported() {
    let s = setup().await;
    for (name, value, error) in [
        (
            "request",
            "eyJhbGciOiJub25lIn0.e30.",
            "request_not_supported",
        ),
        (
            "request_uri",
            "https://rp.example/request.jwt",
            "request_uri_not_supported",
        ),
    ] {
        let attempt = s.rp.attempt(&[], false, &[(name, value)]);
        let callback = s.browser.open(attempt.url.as_str()).await.away();
        assert_eq!(param(&callback, "error").as_deref(), Some(error));
    }
}

#[tokio::test]
async fn oidcc_claims_essential() {
    let mut s = setup().await;
    let claims = r#"{"userinfo":{"name":{"essential":true}}}"#;
    let attempt = s.rp.attempt(&[], false, &[("claims", claims)]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let token =
        s.rp.exchange(&code, None)
            .await
            .unwrap()
            .access_token()
            .secret()
            .clone();
    let info: Value = s
        .app
        .http
        .get(s.app.url("/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "alice");
}

#[tokio::test]
async fn oidcc_refresh_token() {
    let mut s = setup().await;
    let attempt =
        s.rp.attempt(&["offline_access"], false, &[("prompt", "consent")]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    let first = tokens
        .refresh_token()
        .expect("a refresh token with offline_access")
        .clone();
    let refresh = |token: openidconnect::RefreshToken| {
        let client = s.rp.client.clone();
        let http = s.rp.http.clone();
        async move {
            client
                .exchange_refresh_token(&token)
                .unwrap()
                .request_async(&http)
                .await
        }
    };
    let rotated = refresh(first.clone()).await.expect("refresh works");
    let second = rotated.refresh_token().expect("rotated").clone();
    assert_ne!(second.secret(), first.secret());
    let claims = s.rp.refreshed_id_claims(&rotated);
    assert_eq!(claims.subject().as_str(), ALICE);
    // Bound to the client: another client cannot use it.
    let (other_id, other_secret) = s.app.add_client(rp_settings()).await;
    let other = s
        .app
        .http
        .post(s.app.url("/token"))
        .basic_auth(&other_id, Some(&other_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 400);
    // Replaying the old one revokes the family, including the newest.
    assert!(refresh(first).await.is_err());
    assert!(
        refresh(second).await.is_err(),
        "the whole family is revoked"
    );
}

#[tokio::test]
async fn oidcc_ensure_request_with_valid_pkce_succeeds() {
    let mut settings = rp_settings();
    settings.public = true;
    let mut s = setup_with(settings).await;
    let attempt = s.rp.attempt(&[], true, &[]);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let verifier = attempt.verifier.unwrap();
    let tokens = s.rp.exchange(&code, Some(verifier)).await.unwrap();
    assert_eq!(
        s.rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        ALICE
    );
}

#[tokio::test]
async fn oidcc_discovery_endpoint_verification() {
    let s = setup().await;
    let response = s
        .app
        .http
        .get(s.app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let d: Value = response.json().await.unwrap();
    let issuer = s.app.issuer();
    assert_eq!(d["issuer"], issuer.as_str());
    for (key, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/logout"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(d[key], format!("{issuer}{path}"), "{key}");
    }
    let list = |key: &str| -> Vec<String> {
        d[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list("response_types_supported"), ["code"]);
    assert_eq!(list("subject_types_supported"), ["public"]);
    assert!(list("id_token_signing_alg_values_supported").contains(&"RS256".to_owned()));
    assert_eq!(list("id_token_signing_alg_values_supported").len(), 3);
    assert_eq!(
        list("token_endpoint_auth_methods_supported"),
        ["client_secret_basic", "client_secret_post", "none"]
    );
    assert_eq!(list("code_challenge_methods_supported"), ["S256"]);
    assert!(list("scopes_supported").contains(&"openid".to_owned()));
    assert!(list("claims_supported").contains(&"sub".to_owned()));
    assert!(list("grant_types_supported").contains(&"authorization_code".to_owned()));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    // RFC 8414 metadata is the same document; the JWKS is reachable and every key has a kid.
    let rfc8414: Value = s
        .app
        .http
        .get(s.app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rfc8414, d);
    let jwks: Value = s
        .app
        .http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k["kid"].is_string()));
}

/// Logs Alice in with `scopes` and `extra` parameters; returns her access token after
/// checking the ID token.
async fn login_with(s: &mut Setup, scopes: &[&str], extra: &[(&str, &str)]) -> String {
    let attempt = s.rp.attempt(scopes, false, extra);
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &attempt).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert_eq!(
        s.rp.id_claims(&tokens, &attempt.nonce).subject().as_str(),
        ALICE
    );
    tokens.access_token().secret().clone()
}

async fn userinfo(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn oidcc_userinfo_get() {
    let mut s = setup().await;
    let token = login_with(&mut s, &["profile"], &[]).await;
    let info = userinfo(s.app.http.get(s.app.url("/userinfo")).bearer_auth(&token)).await;
    assert_eq!(
        (info["sub"].as_str(), info["preferred_username"].as_str()),
        (Some(ALICE), Some("alice"))
    );
    assert_eq!(info["jid"], ALICE);
    let wrong = s
        .app
        .http
        .get(s.app.url("/userinfo"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
}

#[tokio::test]
async fn oidcc_userinfo_post_header() {
    let mut s = setup().await;
    let token = login_with(&mut s, &[], &[]).await;
    let info = userinfo(s.app.http.post(s.app.url("/userinfo")).bearer_auth(&token)).await;
    assert_eq!(info["sub"], ALICE);
}

#[tokio::test]
async fn oidcc_userinfo_post_body() {
    let mut s = setup().await;
    let token = login_with(&mut s, &[], &[]).await;
    let info = userinfo(
        s.app
            .http
            .post(s.app.url("/userinfo"))
            .form(&[("access_token", &token)]),
    )
    .await;
    assert_eq!(info["sub"], ALICE);
    // RFC 6750 §2: one method only.
    let both = s
        .app
        .http
        .post(s.app.url("/userinfo"))
        .bearer_auth(&token)
        .form(&[("access_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status().as_u16(), 400);
}

async fn scope_test(scopes: &[&str], jid_as_email: bool) -> Value {
    let mut settings = rp_settings();
    settings.jid_as_email = jid_as_email;
    let mut s = setup_with(settings).await;
    let token = login_with(&mut s, scopes, &[]).await;
    userinfo(s.app.http.get(s.app.url("/userinfo")).bearer_auth(&token)).await
}

#[tokio::test]
async fn oidcc_scope_profile() {
    let info = scope_test(&["profile"], false).await;
    assert_eq!(
        (info["name"].as_str(), info["preferred_username"].as_str()),
        (Some("alice"), Some("alice"))
    );
    assert!(info.get("email").is_none());
}

#[tokio::test]
async fn oidcc_scope_email() {
    // No email unless the client opted in: a JID is not a mailbox.
    assert!(scope_test(&["email"], false).await.get("email").is_none());
    let info = scope_test(&["email"], true).await;
    assert_eq!(info["email"], ALICE);
    assert_eq!(info["email_verified"], false);
}

#[tokio::test]
async fn oidcc_scope_address() {
    // Unknown for a JID: requested, ignored, no error.
    let info = scope_test(&["address"], false).await;
    assert!(info.get("address").is_none());
    assert_eq!(info["sub"], ALICE);
}

#[tokio::test]
async fn oidcc_scope_phone() {
    let info = scope_test(&["phone"], false).await;
    assert!(info.get("phone_number").is_none());
    assert_eq!(info["sub"], ALICE);
}

#[tokio::test]
async fn oidcc_scope_all() {
    let info = scope_test(&["profile", "email", "address", "phone"], true).await;
    assert_eq!(info["name"], "alice");
    assert_eq!(info["email"], ALICE);
}

#[tokio::test]
async fn oidcc_alternate_happy_flow() {
    let mut s = setup().await;
    // Scopes in another order, and the parameters in another order too.
    let attempt = s.rp.attempt(&["email", "profile"], false, &[]);
    let mut pairs: Vec<(String, String)> = attempt.url.query_pairs().into_owned().collect();
    pairs.reverse();
    let mut url = attempt.url.clone();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let reordered = crate::browser::Attempt { url, ..attempt };
    let code = full_login(&s.app, &s.browser, &s.rp, &mut s.alice, ALICE, &reordered).await;
    let tokens = s.rp.exchange(&code, None).await.unwrap();
    assert_eq!(
        s.rp.id_claims(&tokens, &reordered.nonce).subject().as_str(),
        ALICE
    );
}

async fn parameter_is_accepted(name: &str, value: &str) {
    let mut s = setup().await;
    login_with(&mut s, &[], &[(name, value)]).await;
}

#[tokio::test]
async fn oidcc_display_page() {
    parameter_is_accepted("display", "page").await;
}

#[tokio::test]
async fn oidcc_display_popup() {
    parameter_is_accepted("display", "popup").await;
}

#[tokio::test]
async fn oidcc_ui_locales() {
    parameter_is_accepted("ui_locales", "fr-CA fr en").await;
}

#[tokio::test]
async fn oidcc_claims_locales() {
    parameter_is_accepted("claims_locales", "de en").await;
}

#[tokio::test]
async fn oidcc_ensure_request_with_unknown_parameter_succeeds() {
    parameter_is_accepted("extra", "foobar").await;
}

#[tokio::test]
async fn oidcc_ensure_request_with_acr_values_succeeds() {
    parameter_is_accepted("acr_values", "urn:mace:incommon:iap:silver").await;
}
