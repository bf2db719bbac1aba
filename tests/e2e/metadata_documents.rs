//! Client ID Metadata Documents: with open registration, a site whose `client_id` is the
//! URL of its metadata document logs people in with the `openidconnect` crate, without
//! registering; the document is fetched from a loopback origin (allowed because the test
//! issuer is on loopback too), cached as its headers say, and checked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::{json, Value};

use crate::browser::{Browser, Landing, RelyingParty, REDIRECT_URI};
use crate::helpers::{
    spawn_app, spawn_app_on, Backend, Client, Prosody, Provider, TestApp, XmppUser,
};

/// What the site answers for its document, as the test sets it.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    headers: Vec<(header::HeaderName, String)>,
    body: String,
    /// Sent in chunks without a Content-Length, as a server streaming a body does.
    streamed: bool,
}

/// A site on a loopback origin serving its metadata document at `/client.json`.
struct DocumentSite {
    client_id: String,
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
}

impl DocumentSite {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client_id = format!("http://{}/client.json", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new(Answer {
            status: StatusCode::NOT_FOUND,
            headers: vec![],
            body: String::new(),
            streamed: false,
        }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (answer.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/client.json",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = served.lock().unwrap().clone();
                async move { respond(answer) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            client_id,
            answer,
            fetches,
        }
    }

    fn document(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "client_name": "Document Site",
            "redirect_uris": [REDIRECT_URI],
            "post_logout_redirect_uris": ["https://rp.example/bye"],
            "grant_types": ["authorization_code"],
        })
    }

    fn serve(&self, status: u16, cache_control: &str, body: impl Into<String>) {
        *self.answer.lock().unwrap() = Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![
                (header::CONTENT_TYPE, "application/json".into()),
                (header::CACHE_CONTROL, cache_control.into()),
            ],
            body: body.into(),
            streamed: false,
        };
    }

    fn answer(&self, change: impl FnOnce(&mut Answer)) {
        change(&mut self.answer.lock().unwrap());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn respond(answer: Answer) -> Response {
    let body = if answer.streamed {
        let chunks: Vec<Result<Bytes, std::io::Error>> = answer
            .body
            .into_bytes()
            .chunks(1024)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect();
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(answer.body)
    };
    let mut response = (answer.status, body).into_response();
    for (name, value) in answer.headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).unwrap());
    }
    response
}

async fn discovery(app: &TestApp) -> Value {
    app.json("/.well-known/openid-configuration").await
}

async fn a_site_known_by_its_document_logs_people_in(backend: Backend) {
    let prosody = Prosody::start().await;
    let site = DocumentSite::start().await;
    site.serve(200, "public, max-age=600", site.document().to_string());
    let app = spawn_app_on(
        &prosody,
        backend,
        &[("JIDCONNECT_REGISTRATION__MODE", "open")],
    )
    .await;
    assert_eq!(
        discovery(&app).await["client_id_metadata_document_supported"],
        true
    );

    let rp = RelyingParty::discover(&app, &site.client_id, "").await;
    // A public client: PKCE is required.
    rp.refused_without_pkce(&app).await;

    let mut alice = XmppUser::login(&prosody, "alice", "laptop", Client::Xep0070, "accept").await;
    let browser = Browser::new(&app);
    let attempt = rp.attempt(&[], true, &[]);
    let (status, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    assert_eq!(status, 200, "{html}");
    let landing = browser
        .log_in(&login_url, &html, "alice@localhost", &mut alice)
        .await;
    // Never trusted: the consent page names the document's host and the redirect host.
    let Landing::Page { html: consent, .. } = &landing else {
        panic!("a site known by its document is always asked about");
    };
    assert!(
        consent.contains("identified itself by its metadata document")
            && consent.contains("127.0.0.1")
            && consent.contains("rp.example")
            && consent.contains("Document Site")
            && consent.contains("you are asked at every login"),
        "{consent}"
    );
    let callback = browser.consent_if_asked(landing).await;
    let code = rp.code_from(&app, &callback, &attempt);
    let tokens = rp.exchange(&code, attempt.verifier).await.unwrap();
    let claims = rp.id_claims(&tokens, &attempt.nonce);
    assert_eq!(claims.subject().as_str(), "alice@localhost");
    assert_eq!(claims.audiences()[0].as_str(), site.client_id);
    let userinfo = app.userinfo(tokens.access_token().secret()).await;
    assert_eq!(userinfo["sub"], "alice@localhost", "{userinfo}");

    // A browser app on the origin of its redirect URIs may call the token endpoint (CORS).
    for (origin, allowed) in [
        ("https://rp.example", true),
        ("https://evil.example", false),
    ] {
        let preflight = app
            .http
            .request(reqwest::Method::OPTIONS, app.url("/token"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        let allowed_origin = preflight.headers().get("access-control-allow-origin");
        assert_eq!(
            allowed_origin.and_then(|value| value.to_str().ok()),
            allowed.then_some(origin),
            "{origin}"
        );
    }

    // Logging out sends the person back to a post-logout URI of the document.
    let mut logout = url::Url::parse(&app.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &tokens.id_token().unwrap().to_string())
        .append_pair("post_logout_redirect_uri", "https://rp.example/bye")
        .append_pair("state", "s1");
    let back = browser.open(logout.as_str()).await.away();
    assert_eq!(back.as_str(), "https://rp.example/bye?state=s1");

    // Cached as its Cache-Control allows: one fetch for all of it, and never stored.
    assert_eq!(site.fetches(), 1);
    assert!(app
        .state
        .store
        .client(&site.client_id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_site_known_by_its_document_logs_people_in_sqlite() {
    a_site_known_by_its_document_logs_people_in(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_site_known_by_its_document_logs_people_in_postgres() {
    a_site_known_by_its_document_logs_people_in(Backend::Postgres).await;
}

#[tokio::test]
async fn metadata_documents_are_checked_and_only_with_open_registration() {
    let prosody = Prosody::start().await;
    let site = DocumentSite::start().await;
    site.serve(200, "no-store", site.document().to_string());

    // Closed registration: a URL client_id is an unknown client, and nothing is fetched.
    let closed = spawn_app(&prosody).await;
    assert!(discovery(&closed)
        .await
        .get("client_id_metadata_document_supported")
        .is_none());
    let (status, _, html) = Browser::new(&closed)
        .open(
            closed
                .pkce_authorize_url(&site.client_id, REDIRECT_URI)
                .as_str(),
        )
        .await
        .page();
    assert_eq!(status, 400);
    assert!(html.contains("is not registered here"), "{html}");
    assert_eq!(site.fetches(), 0);
    closed.stop().await;

    let app = spawn_app_on(
        &prosody,
        Backend::Sqlite,
        &[("JIDCONNECT_REGISTRATION__MODE", "open")],
    )
    .await;
    let refused = |client_id: String, redirect_uri: &'static str| {
        let url = app.pkce_authorize_url(&client_id, redirect_uri);
        let browser = Browser::new(&app);
        async move { browser.open(url.as_str()).await.page() }
    };
    let with = |field: &str, value: Value| {
        let mut document = site.document();
        document[field] = value;
        document.to_string()
    };
    let padded = with("software_statement_padding", json!("x".repeat(6000)));
    for (status, body, why) in [
        (
            200,
            with("client_id", json!("http://127.0.0.1:1/other.json")),
            "client_id equal to its own URL",
        ),
        (
            200,
            with("token_endpoint_auth_method", json!("client_secret_basic")),
            "token_endpoint_auth_method",
        ),
        (200, with("client_secret", json!("s3cret")), "client_secret"),
        (
            200,
            with("redirect_uris", json!(["http://rp.example/callback"])),
            "must be https",
        ),
        (200, "<html>a web page</html>".into(), "not a JSON object"),
        (200, padded.clone(), "larger than 5120 bytes"),
        (
            404,
            site.document().to_string(),
            "HTTP 404 Not Found, not 200",
        ),
    ] {
        site.serve(status, "no-store", body);
        let (page_status, _, html) = refused(site.client_id.clone(), REDIRECT_URI).await;
        assert_eq!(page_status, 400, "{why}: {html}");
        assert!(
            html.contains("identifies itself by a metadata document that cannot be used")
                && html.contains(why),
            "{why}: {html}"
        );
    }
    // A redirect is not followed; a body without a length is cut off as it comes.
    site.serve(302, "no-store", "");
    site.answer(|answer| {
        answer
            .headers
            .push((header::LOCATION, "http://127.0.0.1:1/elsewhere.json".into()))
    });
    let (_, _, html) = refused(site.client_id.clone(), REDIRECT_URI).await;
    assert!(html.contains("redirect (HTTP 302 Found)"), "{html}");
    site.serve(200, "no-store", padded);
    site.answer(|answer| answer.streamed = true);
    let (_, _, html) = refused(site.client_id.clone(), REDIRECT_URI).await;
    assert!(html.contains("larger than 5120 bytes"), "{html}");
    // Client ids the draft does not allow, and addresses that are never fetched.
    let before = site.fetches();
    for (client_id, why) in [
        (format!("{}#me", site.client_id), "fragment"),
        (
            site.client_id.replace("/client.json", "/x/../client.json"),
            ". or ..",
        ),
        ("https://10.0.0.1/client.json".into(), "may not be fetched"),
        ("https://[fd00::1]/client.json".into(), "may not be fetched"),
    ] {
        let (status, _, html) = refused(client_id.clone(), REDIRECT_URI).await;
        assert_eq!(status, 400, "{client_id}");
        assert!(html.contains(why), "{client_id}: {html}");
    }
    assert_eq!(site.fetches(), before);

    // The document is fine now (no-store: the change counts at once, and errors were not
    // cached); its redirect URIs are enforced.
    site.serve(200, "no-store", site.document().to_string());
    let (status, _, html) = refused(site.client_id.clone(), "https://evil.example/cb").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("is not registered for this website"),
        "{html}"
    );
    let (status, url, html) = Browser::new(&app)
        .open(
            app.pkce_authorize_url(&site.client_id, REDIRECT_URI)
                .as_str(),
        )
        .await
        .page();
    assert_eq!(status, 200, "{html}");
    assert!(url.contains("/login/"), "{url}");

    // At the token endpoint a refused document is invalid_client (RFC 6749 §5.2).
    site.serve(200, "no-store", with("client_secret", json!("s3cret")));
    let response = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "whatever"),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", site.client_id.as_str()),
            ("code_verifier", "a".repeat(43).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "invalid_client", "{error}");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("client_secret"),
        "{error}"
    );
}
