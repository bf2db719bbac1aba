//! A tiny relying party for the demo: a page with a "Log in with XMPP" button that logs in
//! through jidconnect with the `openidconnect` crate (PKCE, nonce, ID token validation with
//! the JWKS, userinfo) and shows what it learned.
//!
//! `cargo run --example demo_rp -- --issuer http://127.0.0.1:8080 --client-id ID --client-secret SECRET`

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use clap::Parser;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    issuer: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    client_secret: String,
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
}

type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Clone)]
struct Demo {
    client: Rp,
    http: reqwest::Client,
    issuer: String,
    origin: String,
    /// state → (PKCE verifier, nonce), for logins in progress.
    pending: Arc<Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Demo site</title><style>{}\
         body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }}\
         table {{ border-collapse: collapse; }} td {{ border-top: 1px solid #ccc; padding: .3rem .8rem .3rem 0; }}\
         </style></head><body>{body}</body></html>",
        include_str!("../static/button.css")
    ))
}

async fn home() -> Html<String> {
    page(&format!(
        "<h1>Demo site</h1><p>This site knows no passwords. It asks jidconnect who you are.</p>{}",
        include_str!("../static/button.html")
    ))
}

async fn login(State(demo): State<Demo>) -> Redirect {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = demo
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    demo.pending
        .lock()
        .unwrap()
        .insert(state.secret().clone(), (verifier, nonce));
    Redirect::to(url.as_str())
}

async fn callback(
    State(demo): State<Demo>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let failed = |why: String| {
        page(&format!(
            "<h1>Login failed</h1><p>{}</p><p><a href=\"/\">Try again</a></p>",
            escape(&why)
        ))
        .into_response()
    };
    if let Some(error) = params.get("error") {
        return failed(format!(
            "{error}: {}",
            params
                .get("error_description")
                .map(String::as_str)
                .unwrap_or("")
        ));
    }
    let Some((verifier, nonce)) = params
        .get("state")
        .and_then(|s| demo.pending.lock().unwrap().remove(s))
    else {
        return failed("unknown state".into());
    };
    if params.get("iss") != Some(&demo.issuer) {
        return failed("the answer does not come from our provider (iss)".into());
    }
    let Some(code) = params.get("code") else {
        return failed("no code".into());
    };
    let request = match demo
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
    {
        Ok(request) => request.set_pkce_verifier(verifier),
        Err(e) => return failed(e.to_string()),
    };
    let tokens = match request.request_async(&demo.http).await {
        Ok(tokens) => tokens,
        Err(e) => return failed(format!("token request failed: {e:?}")),
    };
    let Some(id_token) = tokens.id_token() else {
        return failed("no ID token".into());
    };
    let claims = match id_token.claims(&demo.client.id_token_verifier(), &nonce) {
        Ok(claims) => claims.clone(),
        Err(e) => return failed(format!("invalid ID token: {e}")),
    };
    let userinfo: Result<CoreUserInfoClaims, _> =
        match demo.client.user_info(tokens.access_token().clone(), None) {
            Ok(request) => request
                .request_async(&demo.http)
                .await
                .map_err(|e| format!("{e:?}")),
            Err(e) => Err(e.to_string()),
        };
    let userinfo = match userinfo {
        Ok(info) => serde_json::to_string_pretty(&info).unwrap_or_default(),
        Err(e) => format!("userinfo failed: {e}"),
    };
    let mut logout = url::Url::parse(&format!("{}/logout", demo.issuer)).expect("issuer is a URL");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token.to_string())
        .append_pair("post_logout_redirect_uri", &format!("{}/", demo.origin));
    page(&format!(
        "<h1>Logged in as {}</h1><p>The ID token was checked against jidconnect's keys.</p>\
         <table><tr><td>sub</td><td>{}</td></tr><tr><td>issuer</td><td>{}</td></tr>\
         <tr><td>authenticated at</td><td>{}</td></tr></table>\
         <h2>UserInfo</h2><pre>{}</pre><p><a href=\"{}\">Log out</a></p>",
        escape(claims.subject().as_str()),
        escape(claims.subject().as_str()),
        escape(claims.issuer().as_str()),
        claims
            .auth_time()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        escape(&userinfo),
        escape(logout.as_str()),
    ))
    .into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(args.issuer.clone())?, &http).await?;
    let origin = format!("http://{}", args.listen);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(args.client_id),
        Some(ClientSecret::new(args.client_secret)),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{origin}/callback"))?);
    let demo = Demo {
        client,
        http,
        issuer: args.issuer,
        origin,
        pending: Arc::default(),
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .with_state(demo);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("demo site on http://{}", args.listen);
    axum::serve(listener, app).await?;
    Ok(())
}
