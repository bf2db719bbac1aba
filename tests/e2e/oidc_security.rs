//! RFC 9700 (OAuth 2.0 Security BCP) checks and the web-security basics of the pages.

use serde_json::Value;

use crate::browser::{field, full_login, Browser, Landing, RelyingParty, REDIRECT_URI};
use crate::helpers::{
    spawn_app, spawn_app_on, spawn_app_with, Backend, Client, Prosody, Provider, TestApp, XmppUser,
};
use jidconnect::store::clients::ClientSettings;

const ALICE: &str = "alice@localhost";

async fn app_and_rp(public: bool) -> (Prosody, TestApp, RelyingParty, String, String) {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut settings = ClientSettings::new(
        "Example RP",
        vec![REDIRECT_URI.into(), "http://127.0.0.1:9999/cb".into()],
    );
    settings.public = public;
    let (id, secret) = app.add_client(settings).await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    (prosody, app, rp, id, secret)
}

fn with_param(url: &url::Url, name: &str, value: Option<&str>) -> url::Url {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let mut url = url.clone();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_and_errors_never_redirect() {
    let (_p, app, rp, _, _) = app_and_rp(false).await;
    let browser = Browser::new(&app);
    let base = rp.attempt(&[], false, &[]).url;
    for variant in [
        "https://rp.example/callback/",
        "https://RP.example/callback",
        "https://rp.example/Callback",
        "https://rp.example/callback?x=1",
        "https://rp.example:8443/callback",
        "https://user@rp.example/callback",
        "https://rp.example/callback#frag",
        "http://rp.example/callback",
        // Another port is fine on a loopback IP literal (RFC 8252 §7.3); nothing else is.
        "http://127.0.0.1:9998/cb/",
        "http://127.0.0.2:9999/cb",
    ] {
        let landing = browser
            .open(with_param(&base, "redirect_uri", Some(variant)).as_str())
            .await;
        let Landing::Page {
            status, headers, ..
        } = landing
        else {
            panic!("{variant}: redirected to an unverified redirect_uri");
        };
        assert_eq!(status, 400, "{variant}");
        assert_eq!(headers["x-frame-options"], "DENY");
    }
    for (name, value) in [
        ("client_id", Some("unknown")),
        ("client_id", None),
        ("redirect_uri", None),
    ] {
        let landing = browser.open(with_param(&base, name, value).as_str()).await;
        assert!(
            matches!(landing, Landing::Page { status: 400, .. }),
            "{name}={value:?}"
        );
    }
}

#[tokio::test]
async fn pkce_is_required_for_public_clients_and_cannot_be_downgraded() {
    let (prosody, app, rp, id, _) = app_and_rp(true).await;
    let browser = Browser::new(&app);
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    // No challenge from a public client: refused back at the client.
    let attempt = rp.attempt(&[], false, &[]);
    let callback = browser.open(attempt.url.as_str()).await.away();
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        param(&callback, "iss"),
        Some(app.issuer()),
        "iss on errors too (RFC 9207)"
    );
    // plain is not offered.
    let plain = with_param(
        &rp.attempt(&[], true, &[]).url,
        "code_challenge_method",
        Some("plain"),
    );
    assert_eq!(
        param(&browser.open(plain.as_str()).await.away(), "error").as_deref(),
        Some("invalid_request")
    );

    // With a challenge, a wrong verifier fails.
    let attempt = rp.attempt(&[], true, &[]);
    let code = full_login(&app, &browser, &rp, &mut alice, ALICE, &attempt).await;
    let token = |form: Vec<(&'static str, String)>| {
        let http = app.http.clone();
        let url = app.url("/token");
        async move {
            let response = http.post(url).form(&form).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let base = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("client_id", id.clone()),
        ("redirect_uri", REDIRECT_URI.to_owned()),
        ("code", code.clone()),
    ];
    let mut wrong = base.clone();
    wrong.push(("code_verifier", "a".repeat(43)));
    assert_eq!(token(wrong).await, (400, "invalid_grant".into()));
}

#[tokio::test]
async fn verifier_without_challenge_is_a_downgrade() {
    let (prosody, app, rp, id, secret) = app_and_rp(false).await;
    let browser = Browser::new(&app);
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let attempt = rp.attempt(&[], false, &[]);
    let code = full_login(&app, &browser, &rp, &mut alice, ALICE, &attempt).await;
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &"v".repeat(50)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc6749() {
    let (_p, app, _rp, id, secret) = app_and_rp(false).await;
    let post = |auth: Option<(&str, &str)>, form: &[(&str, &str)]| {
        let mut request = app.http.post(app.url("/token")).form(form);
        if let Some((user, pass)) = auth {
            request = request.basic_auth(user, Some(pass));
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let challenge = response.headers().contains_key("www-authenticate");
            let cache = response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap();
            (
                status,
                body["error"].as_str().unwrap().to_owned(),
                challenge,
                cache,
            )
        }
    };
    let (status, error, _, cache) = post(
        Some((&id, &secret)),
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "unsupported_grant_type"));
    assert_eq!(cache.as_deref(), Some("no-store"));
    let (status, error, challenge, _) = post(
        Some((&id, "wrong")),
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(
        (status, error.as_str(), challenge),
        (401, "invalid_client", true)
    );
    let (status, error, _, _) =
        post(None, &[("grant_type", "authorization_code"), ("code", "x")]).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    // Found by fuzz::any_token_request_gets_tokens_or_an_rfc6749_error: a body client_id
    // too long to check, next to HTTP Basic, still gets the Basic challenge.
    let long_id = "c".repeat(256);
    let (status, error, challenge, _) = post(
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &long_id),
        ],
    )
    .await;
    assert_eq!(
        (status, error.as_str(), challenge),
        (401, "invalid_client", true)
    );
    let (status, error, _, _) = post(
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (status, error, _, _) = post(
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "refresh_token"),
        ],
    )
    .await;
    assert_eq!((status, error.as_str()), (400, "invalid_request"));
    let (status, error, _, _) = post(
        Some((&id, &secret)),
        &[
            ("client_secret", &secret),
            ("grant_type", "authorization_code"),
        ],
    )
    .await;
    assert_eq!(
        (status, error.as_str()),
        (400, "invalid_request"),
        "two authentication methods"
    );
}

#[tokio::test]
async fn pages_resist_framing_csrf_and_session_fixation() {
    let (prosody, app, rp, _, _) = app_and_rp(false).await;
    let browser = Browser::new(&app);
    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let attempt = rp.attempt(&[], false, &[]);
    let Landing::Page {
        status,
        url: login_url,
        html,
        headers,
    } = browser.open(attempt.url.as_str()).await
    else {
        panic!("login page expected");
    };
    assert_eq!(status, 200);
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(headers["referrer-policy"], "no-referrer");

    // CSRF: a missing or wrong token, or another browser, is refused.
    let csrf = field(&html, "csrf").unwrap();
    for form in [
        vec![("jid", ALICE)],
        vec![("jid", ALICE), ("csrf", "forged")],
    ] {
        assert!(matches!(
            browser.post(&login_url, &form).await,
            Landing::Page { status: 403, .. }
        ));
    }
    let stranger = Browser::new(&app);
    assert!(matches!(
        stranger
            .post(&login_url, &[("jid", ALICE), ("csrf", &csrf)])
            .await,
        Landing::Page { status: 403, .. }
    ));
    assert!(
        !alice
            .receives_within(std::time::Duration::from_millis(300))
            .await,
        "no prompt was sent"
    );

    // Cookies: HttpOnly and SameSite=Lax; the session id is new at every login.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let first = no_redirects.get(attempt.url.as_str()).send().await.unwrap();
    let cookies = set_cookie(&first);
    assert!(!cookies.is_empty());
    assert!(
        cookies
            .iter()
            .all(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "{cookies:?}"
    );

    let landing = browser.log_in(&login_url, &html, ALICE, &mut alice).await;
    let _ = browser.consent_if_asked(landing).await;
    let first_session = browser
        .cookie("jidconnect_session")
        .expect("a session after login");
    // A second login (prompt=login) gets another session id.
    let again = rp.attempt(&[], false, &[("prompt", "login")]);
    let response = browser.http.get(again.url.as_str()).send().await.unwrap();
    let landing = browser.follow(response).await;
    let (_, url, html) = landing.page();
    let csrf = field(&html, "csrf").unwrap();
    let sent = browser
        .http
        .post(&url)
        .form(&[("jid", ALICE), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.status().as_u16(),
        303,
        "303 after POST (RFC 9700 §4.12)"
    );
    alice.next_request().await;
    browser
        .wait_for_status(&format!("{url}/status"), "accepted")
        .await;
    // Every other form of the flow refuses a missing or forged token, and another
    // browser's right one; the flow is unharmed afterwards.
    for path in ["continue", "restart", "consent"] {
        for form in [vec![], vec![("csrf", "forged")]] {
            let refused = browser
                .http
                .post(format!("{url}/{path}"))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status().as_u16(), 403, "{path} {form:?}");
        }
        let elsewhere = stranger
            .http
            .post(format!("{url}/{path}"))
            .form(&[("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            elsewhere.status().as_u16(),
            403,
            "{path} from another browser"
        );
    }
    let done = browser
        .http
        .post(format!("{url}/continue"))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    let new_session: Vec<String> = set_cookie(&done)
        .into_iter()
        .filter(|c| c.starts_with("jidconnect_session="))
        .collect();
    assert_eq!(new_session.len(), 1, "a fresh session cookie at login");
    assert_ne!(
        browser.cookie("jidconnect_session").unwrap(),
        first_session,
        "session fixation"
    );
}

#[tokio::test]
async fn cookies_are_secure_when_the_issuer_is_https() {
    let prosody = Prosody::start().await;
    // Behind a TLS proxy: the issuer is https, the listener plain HTTP on loopback.
    let app = spawn_app_with(
        &prosody,
        &[("JIDCONNECT_ISSUER", "https://login.example.org")],
    )
    .await;
    let url = app.authorize_url();
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(!cookies.is_empty(), "{}", response.status());
    assert!(
        cookies
            .iter()
            .all(|c| c.contains("Secure") && c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn xss_through_reflected_parameters_is_escaped() {
    let (prosody, app, _rp, _, _) = app_and_rp(false).await;
    let evil = "<script>alert(1)</script>";
    let (id, secret) = app
        .add_client(ClientSettings::new(
            format!("Evil {evil} RP"),
            vec![REDIRECT_URI.into()],
        ))
        .await;
    let rp = RelyingParty::discover(&app, &id, &secret).await;
    let browser = Browser::new(&app);
    let attempt = rp.attempt(
        &[],
        false,
        &[(
            "login_hint",
            &format!("\"><img src=x onerror=alert(1)>{evil}"),
        )],
    );
    let (_, url, html) = browser.open(attempt.url.as_str()).await.page();
    assert!(
        !html.contains("<script>alert") && !html.contains("<img src=x"),
        "{html}"
    );
    let csrf = field(&html, "csrf").unwrap();
    let (status, _, html) = browser
        .post(
            &url,
            &[("jid", &format!("{evil}@localhost")), ("csrf", &csrf)],
        )
        .await
        .page();
    assert_eq!(status, 400);
    assert!(!html.contains("<script>alert"), "{html}");
    drop(prosody);
}

#[tokio::test]
async fn client_secret_guessing_is_braked() {
    let (_p, app, _rp, id, secret) = app_and_rp(false).await;
    let try_secret = |secret: String| {
        let http = app.http.clone();
        let url = app.url("/token");
        let id = id.clone();
        async move {
            let response = http
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", "x"),
                    ("redirect_uri", REDIRECT_URI),
                ])
                .send()
                .await
                .unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (response.status().as_u16(), retry_after)
        }
    };
    for guess in 0..10 {
        assert_eq!(try_secret(format!("guess{guess}")).await.0, 401);
    }
    let (status, retry_after) = try_secret("guess10".into()).await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some());
    // Even the right secret waits now, so guessing gains nothing.
    assert_eq!(try_secret(secret.clone()).await.0, 429);
    // The /auth API shares the brake.
    let response = app
        .http
        .get(app.url("/auth"))
        .basic_auth(&id, Some("wrong"))
        .query(&[("jid", "alice@localhost"), ("transaction_id", "X")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
}

/// On an https issuer every cookie has the `__Host-` prefix (Secure, Path=/, no Domain),
/// so that no sibling subdomain can plant one; a cookie without the prefix counts for
/// nothing there.
#[tokio::test]
async fn https_issuers_name_cookies_with_the_host_prefix() {
    let prosody = Prosody::start().await;
    let port = crate::helpers::free_port();
    let issuer = format!("https://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let app = spawn_app_with(
        &prosody,
        &[
            ("JIDCONNECT_ISSUER", issuer.as_str()),
            ("JIDCONNECT_LISTEN", listen.as_str()),
        ],
    )
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(app.authorize_url()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let login = response.headers()["location"].to_str().unwrap().to_owned();
    let cookies = set_cookie(&response);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("__Host-jidconnect_browser="), "{cookie}");
    for attribute in ["Secure", "Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();

    let page = |name: &'static str| {
        let http = http.clone();
        let url = app.url(&login);
        let value = value.clone();
        async move {
            let response = http
                .get(url)
                .header("cookie", format!("{name}={value}"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (status, html) = page("__Host-jidconnect_browser").await;
    assert_eq!(status, 200, "{html}");
    assert!(field(&html, "csrf").is_some(), "the login form: {html}");
    let (status, html) = page("jidconnect_browser").await;
    assert!(
        field(&html, "csrf").is_none(),
        "a cookie without the prefix continued the login ({status})"
    );
}

fn set_cookie(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A login's last form sent several times at once (a double click, a replayed request)
/// issues one code: finishing the flow, starting its session and issuing the code are one
/// command, gated on the flow being accepted. The session then carries the next login. On
/// both backends.
#[tokio::test]
async fn a_login_continued_several_times_at_once_issues_one_code() {
    let prosody = Prosody::start().await;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_on(&prosody, backend, &[]).await;
        let mut settings = ClientSettings::new("Example RP", vec![REDIRECT_URI.into()]);
        settings.trusted = true;
        let (id, secret) = app.add_client(settings).await;
        let rp = RelyingParty::discover(&app, &id, &secret).await;
        let mut alice =
            XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
        let browser = Browser::new(&app);
        let attempt = rp.attempt(&[], false, &[]);
        let (_, url, html) = browser.open(attempt.url.as_str()).await.page();
        let csrf = field(&html, "csrf").unwrap();
        browser.submit_jid(&url, &html, ALICE).await;
        alice.next_request().await;
        browser
            .wait_for_status(&format!("{url}/status"), "accepted")
            .await;
        let continued = (0..6).map(|_| {
            browser
                .http
                .post(format!("{url}/continue"))
                .form(&[("csrf", &csrf)])
                .send()
        });
        let mut codes = vec![];
        for response in futures::future::join_all(continued).await {
            let response = response.unwrap();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            match location {
                Some(to) if to.starts_with(REDIRECT_URI) => codes.push(to),
                // The others lost the race: back to the flow's page, or told it is gone.
                Some(to) => assert!(to.starts_with("/login/"), "{backend:?}: {to}"),
                None => assert_eq!(response.status().as_u16(), 404, "{backend:?}"),
            }
        }
        assert_eq!(codes.len(), 1, "{backend:?}: {codes:?}");
        let callback = url::Url::parse(&codes[0]).unwrap();
        let code = rp.code_from(&app, &callback, &attempt);
        let tokens = rp.exchange(&code, None).await.unwrap();
        let claims = rp.id_claims(&tokens, &attempt.nonce);
        assert_eq!(claims.subject().as_str(), ALICE);
        // The winner's session, written with its code, carries the next login.
        let again = rp.attempt(&[], false, &[("prompt", "none")]);
        let callback = browser.open(again.url.as_str()).await.away();
        let code = rp.code_from(&app, &callback, &again);
        let tokens = rp.exchange(&code, None).await.unwrap();
        let claims = rp.id_claims(&tokens, &again.nonce);
        assert_eq!(claims.subject().as_str(), ALICE, "{backend:?}");
        drop(alice);
        app.stop().await;
    }
}
