//! Property tests through the real router: random authorization requests (GET and POST) and
//! random token requests against one running jidconnect with a real Prosody, a logged-in
//! session and three registered clients. For every response: no 5xx (a panic is a 500, the
//! catch-panic layer answers it), never a redirect to a URI the client did not register,
//! error redirects carry an RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 code with `iss` and the
//! sent `state`, no code without a session, other errors are HTML pages; at `/token` every
//! answer is JSON, errors carry an RFC 6749 §5.2 code with the status §5.2 asks for, and a
//! token is issued only for a fresh code or refresh token. Well-formed requests among the
//! random ones must succeed, so the properties also fail when everything is refused.
//!
//! `HTTP_CASES` sets the number of cases per property (default [`DEFAULT_CASES`]);
//! `scripts/fuzz` runs them with many more. A failing input is kept in
//! `proptest-regressions/e2e/fuzz.txt` and replayed first on every run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::Value;
use url::Url;

use crate::browser::{full_login, Browser, RelyingParty, REDIRECT_URI};
use crate::helpers::{spawn_app, Client, Prosody, Provider, TestApp, XmppUser};
use jidconnect::ratelimit::AuthFailures;
use jidconnect::state::AppState;
use jidconnect::store::clients::ClientSettings;
use jidconnect::web::{BROWSER_COOKIE, SESSION_COOKIE};

const DEFAULT_CASES: u32 = 128;
const REGRESSIONS: &str = "proptest-regressions/e2e/fuzz.txt";

/// RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6. `server_error` is left out on purpose: it is
/// the redirect form of a 5xx.
const AUTHORIZE_ERRORS: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
];

/// RFC 6749 §5.2.
const TOKEN_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// Parameters the authorization endpoint reads, and some it does not.
const AUTHORIZE_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "id_token_hint",
    "login_hint",
    "claims",
    "request",
    "request_uri",
    "response_mode",
    "ui_locales",
    "display",
    "acr_values",
    "registration",
    "code",
    "x",
];

const TOKEN_PARAMS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
    "scope",
    "client_assertion",
    "client_assertion_type",
    "username",
    "password",
    "x",
];

/// A parameter value, resolved against the running app when the case runs.
#[derive(Clone, Debug)]
enum V {
    Lit(String),
    /// The id of registered client `n` (0: confidential, 1: public and trusted, 2: the
    /// app's own, not consented to).
    ClientId(usize),
    /// Client `n`'s redirect URI `k` (modulo how many it has).
    Redirect(usize, usize),
    /// Client `n`'s redirect URI `k`, changed by near miss `m` (see [`near_miss`]).
    NearMiss(usize, usize, usize),
    /// The S256 challenge of the case's verifier.
    Challenge,
    /// The case's PKCE verifier.
    Verifier,
    /// A valid ID token of this provider (for alice).
    IdToken,
    /// The code minted for this case (garbage when none was).
    FreshCode,
    /// A code that was redeemed already.
    UsedCode,
    /// Client `n`'s secret (empty for the public one).
    Secret(usize),
    /// The latest refresh token issued during the run.
    RefreshToken,
}

#[derive(Clone, Debug)]
enum Cookies {
    None,
    /// alice's session and browser cookies.
    Session,
    Garbage(String),
}

#[derive(Clone, Debug)]
struct AuthorizeCase {
    post: bool,
    /// For POST: the Content-Type (see [`CONTENT_TYPES`]).
    content_type: usize,
    params: Vec<(String, V)>,
    /// Appended to the encoded query or body as is.
    raw_tail: String,
    cookies: Cookies,
    verifier: String,
    /// Built from the client's registration: must get a code (with alice's session,
    /// registered client consented to), the consent page, or the login page.
    well_formed: bool,
}

#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic(V, V),
    Raw(String),
}

#[derive(Clone, Debug)]
struct TokenCase {
    /// Mint a code first for client 0 or 1, with a PKCE challenge if true.
    mint: Option<(usize, bool)>,
    content_type: usize,
    params: Vec<(String, V)>,
    raw_tail: String,
    auth: Auth,
    verifier: String,
    /// A correct redemption of the minted code: must succeed.
    well_formed: bool,
}

const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/x-www-form-urlencoded"),
    Some("application/x-www-form-urlencoded; charset=UTF-8"),
    Some("APPLICATION/X-WWW-FORM-URLENCODED"),
    Some("application/json"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
    None,
];

// ---------------------------------------------------------------------------------------
// Strategies

fn junk() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        "[ -~]{0,40}",
        "\\PC{0,24}",
        "[a-zA-Z0-9_-]{43}",
        (256usize..1200).prop_map(|n| "l".repeat(n)),
        (4090usize..6000).prop_map(|n| "h".repeat(n)),
        prop::sample::select(vec![
            "\u{0}",
            "\r\n",
            "%00",
            "%zz",
            "\u{202e}evil",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "null",
            "{}",
            "[]",
            "-1",
            "0",
            "99999999999999999999999",
            "ａｄｍｉｎ",
        ])
        .prop_map(str::to_owned),
    ]
    .boxed()
}

fn lit(values: &[&'static str]) -> BoxedStrategy<V> {
    prop::sample::select(values.to_vec())
        .prop_map(|v| V::Lit(v.to_owned()))
        .boxed()
}

fn junk_v() -> BoxedStrategy<V> {
    junk().prop_map(V::Lit).boxed()
}

fn client_id() -> BoxedStrategy<V> {
    prop_oneof![
        3 => (0usize..3).prop_map(V::ClientId),
        1 => lit(&["unknown", "admin", "jidconnect-admin", " ", "%00"]),
        1 => (256usize..400).prop_map(|n| V::Lit("c".repeat(n))),
        1 => junk_v(),
    ]
    .boxed()
}

/// Mostly a form, as the endpoints expect.
fn content_type() -> BoxedStrategy<usize> {
    prop_oneof![4 => Just(0usize), 1 => 0..CONTENT_TYPES.len()].boxed()
}

fn redirect_uri() -> BoxedStrategy<V> {
    prop_oneof![
        3 => (0usize..3, 0usize..3).prop_map(|(c, k)| V::Redirect(c, k)),
        3 => (0usize..3, 0usize..3, 0usize..NEAR_MISSES).prop_map(|(c, k, m)| V::NearMiss(c, k, m)),
        1 => lit(&[
            "https://evil.example/callback",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/login/x",
            "//evil.example/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:1/cb",
            "http://[::1]/cb",
            "urn:ietf:wg:oauth:2.0:oob",
        ]),
        1 => junk_v(),
    ]
    .boxed()
}

fn authorize_value(name: &str) -> BoxedStrategy<V> {
    let specific = match name {
        "client_id" => client_id(),
        "redirect_uri" => redirect_uri(),
        "response_type" => lit(&[
            "code",
            "token",
            "id_token",
            "code id_token",
            "id_token token",
            "none",
            "CODE",
            "code ",
        ]),
        "scope" => lit(&[
            "openid",
            "openid profile",
            "openid email",
            "openid offline_access",
            "profile",
            "openid openid",
            "openid profile email address phone offline_access",
            "openid unknown",
            "OPENID",
            "openid\tprofile",
        ]),
        "code_challenge" => prop_oneof![3 => Just(V::Challenge), 1 => junk_v()].boxed(),
        "code_challenge_method" => lit(&["S256", "plain", "s256", "RS256", "S256 "]),
        "prompt" => lit(&[
            "none",
            "login",
            "consent",
            "select_account",
            "none login",
            "login consent",
            "create",
            "NONE",
        ]),
        "max_age" => lit(&[
            "0",
            "1",
            "-1",
            "3600",
            "1.5",
            "abc",
            "99999999999999999999",
            "9223372036854775807",
            "-9223372036854775808",
        ]),
        "id_token_hint" => prop_oneof![
            1 => Just(V::IdToken),
            1 => lit(&[
                "a.b.c",
                "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZUBsb2NhbGhvc3QifQ.",
                "eyJhbGciOiJIUzI1NiJ9.e30.xx",
                "...",
            ]),
        ]
        .boxed(),
        "claims" => lit(&[
            "{\"userinfo\":{\"email\":null}}",
            "{\"id_token\":{\"email\":{\"essential\":true},\"name\":null}}",
            "{\"userinfo\":[]}",
            "{\"id_token\":{\"sub\":{\"value\":\"bob@localhost\"}}}",
            "[]",
            "{",
            "null",
            "\"x\"",
            "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":1}}}}}}",
        ]),
        "request" => lit(&["eyJhbGciOiJub25lIn0.e30.", "x"]),
        "request_uri" => lit(&[
            "https://evil.example/request.jwt",
            "urn:ietf:params:oauth:request_uri:x",
        ]),
        "response_mode" => lit(&[
            "query",
            "fragment",
            "form_post",
            "jwt",
            "query.jwt",
            "QUERY",
        ]),
        "code" => Just(V::UsedCode).boxed(),
        _ => junk_v(),
    };
    prop_oneof![4 => specific, 1 => junk_v()].boxed()
}

fn token_value(name: &str) -> BoxedStrategy<V> {
    let specific = match name {
        "grant_type" => lit(&[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "implicit",
            "urn:ietf:params:oauth:grant-type:device_code",
            "AUTHORIZATION_CODE",
        ]),
        "code" => prop_oneof![3 => Just(V::FreshCode), 1 => Just(V::UsedCode)].boxed(),
        "redirect_uri" => redirect_uri(),
        "code_verifier" => prop_oneof![
            3 => Just(V::Verifier),
            1 => "[A-Za-z0-9._~-]{43,128}".prop_map(V::Lit),
        ]
        .boxed(),
        "client_id" => client_id(),
        "client_secret" => prop_oneof![
            3 => (0usize..3).prop_map(V::Secret),
            1 => junk_v(),
        ]
        .boxed(),
        "refresh_token" => Just(V::RefreshToken).boxed(),
        "scope" => lit(&["openid", "openid profile", "profile", "offline_access"]),
        _ => junk_v(),
    };
    prop_oneof![4 => specific, 1 => junk_v()].boxed()
}

fn param(
    names: &'static [&'static str],
    value: fn(&str) -> BoxedStrategy<V>,
) -> BoxedStrategy<(String, V)> {
    prop_oneof![
        8 => prop::sample::select(names.to_vec())
            .prop_flat_map(move |name| (Just(name.to_owned()), value(name))),
        1 => ("[a-z_]{1,12}|\\PC{1,6}", junk_v()),
    ]
    .boxed()
}

/// Changes to a well-formed request: drop, replace, repeat (same or other value), add.
#[derive(Clone, Debug)]
enum Edit {
    Drop(usize),
    Set(usize, V),
    Repeat(usize, V),
    Empty(usize),
    Add(String, V),
}

fn edits(
    names: &'static [&'static str],
    value: fn(&str) -> BoxedStrategy<V>,
) -> BoxedStrategy<Vec<Edit>> {
    let edit = prop_oneof![
        (0usize..16).prop_map(Edit::Drop),
        (0usize..16, junk_v()).prop_map(|(i, v)| Edit::Set(i, v)),
        (0usize..16, junk_v()).prop_map(|(i, v)| Edit::Repeat(i, v)),
        (0usize..16).prop_map(Edit::Empty),
        param(names, value).prop_map(|(n, v)| Edit::Add(n, v)),
        // The same parameter with a value meant for it.
        prop::sample::select(names.to_vec())
            .prop_flat_map(move |n| (Just(n), value(n)))
            .prop_map(|(n, v)| Edit::Add(n.to_owned(), v)),
    ];
    prop::collection::vec(edit, 1..4).boxed()
}

fn apply(mut params: Vec<(String, V)>, edits: &[Edit]) -> Vec<(String, V)> {
    for edit in edits {
        let len = params.len().max(1);
        match edit.clone() {
            Edit::Drop(i) if !params.is_empty() => {
                params.remove(i % len);
            }
            Edit::Set(i, v) if !params.is_empty() => params[i % len].1 = v,
            Edit::Repeat(i, v) if !params.is_empty() => {
                let name = params[i % len].0.clone();
                params.push((name, v));
            }
            Edit::Empty(i) if !params.is_empty() => {
                let name = params[i % len].0.clone();
                params.insert(i % len, (name, V::Lit(String::new())));
            }
            Edit::Add(name, v) => params.push((name, v)),
            _ => {}
        }
    }
    params
}

fn raw_tail() -> BoxedStrategy<String> {
    prop_oneof![
        6 => Just(String::new()),
        1 => prop::sample::select(vec![
            "&", "&&", "&=", "&=x", "&client_id", "&redirect_uri=", "&%", "&%zz=%ff",
            "&%ff%fe=%c3", ";client_id=x", "&scope=openid+profile", "&+=+",
        ])
        .prop_map(str::to_owned),
    ]
    .boxed()
}

fn verifier() -> BoxedStrategy<String> {
    "[A-Za-z0-9._~-]{43,64}".boxed()
}

/// A request as the client's registration allows; without PKCE if `!pkce` (not
/// well-formed for the public client).
fn well_formed_authorize(
    client: usize,
    index: usize,
    state: String,
    pkce: bool,
) -> Vec<(String, V)> {
    let mut params = vec![
        ("client_id".into(), V::ClientId(client)),
        ("redirect_uri".into(), V::Redirect(client, index)),
        ("response_type".into(), V::Lit("code".into())),
        ("scope".into(), V::Lit("openid".into())),
        ("state".into(), V::Lit(state)),
        ("nonce".into(), V::Lit("n-0S6_WzA2Mj".into())),
    ];
    if pkce {
        params.push(("code_challenge".into(), V::Challenge));
        params.push(("code_challenge_method".into(), V::Lit("S256".into())));
    }
    params
}

fn cookies() -> BoxedStrategy<Cookies> {
    prop_oneof![
        2 => Just(Cookies::None),
        3 => Just(Cookies::Session),
        1 => prop::sample::select(vec![
            "jidconnect_session=forged",
            "jidconnect_session=",
            "jidconnect_session=a; jidconnect_session=b",
            "jidconnect_browser=x; jidconnect_session=%00",
        ])
        .prop_map(|c| Cookies::Garbage(c.to_owned())),
    ]
    .boxed()
}

fn authorize_case() -> BoxedStrategy<AuthorizeCase> {
    let shape = (
        any::<bool>(),
        content_type(),
        raw_tail(),
        cookies(),
        verifier(),
    );
    let base = (
        0usize..3,
        0usize..3,
        "[ -~]{0,24}",
        prop::bool::weighted(0.75),
    );
    prop_oneof![
        // Well-formed: GET or form POST, nothing added.
        1 => (any::<bool>(), cookies(), verifier(), base.clone()).prop_map(
            |(post, cookies, verifier, (c, k, state, pkce))| AuthorizeCase {
                post,
                content_type: 0,
                params: well_formed_authorize(c, k, state, pkce),
                raw_tail: String::new(),
                cookies,
                verifier,
                well_formed: pkce || c != 1,
            }
        ),
        // Well-formed, then edited.
        3 => (shape.clone(), base, edits(AUTHORIZE_PARAMS, authorize_value)).prop_map(
            |((post, content_type, raw_tail, cookies, verifier), (c, k, state, pkce), edits)| {
                AuthorizeCase {
                    post,
                    content_type,
                    params: apply(well_formed_authorize(c, k, state, pkce), &edits),
                    raw_tail,
                    cookies,
                    verifier,
                    well_formed: false,
                }
            }
        ),
        // Any parameters at all.
        2 => (
            shape,
            prop::collection::vec(param(AUTHORIZE_PARAMS, authorize_value), 0..14)
        )
            .prop_map(
                |((post, content_type, raw_tail, cookies, verifier), params)| AuthorizeCase {
                    post,
                    content_type,
                    params,
                    raw_tail,
                    cookies,
                    verifier,
                    well_formed: false,
                }
            ),
    ]
    .boxed()
}

fn well_formed_token(client: usize, pkce: bool, body_auth: bool) -> (Vec<(String, V)>, Auth) {
    let mut params = vec![
        ("grant_type".into(), V::Lit("authorization_code".into())),
        ("code".into(), V::FreshCode),
        ("redirect_uri".into(), V::Redirect(client, 0)),
    ];
    if pkce {
        params.push(("code_verifier".into(), V::Verifier));
    }
    let auth = if client == 1 || body_auth {
        params.push(("client_id".into(), V::ClientId(client)));
        if client != 1 {
            params.push(("client_secret".into(), V::Secret(client)));
        }
        Auth::None
    } else {
        Auth::Basic(V::ClientId(client), V::Secret(client))
    };
    (params, auth)
}

fn auth() -> BoxedStrategy<Auth> {
    prop_oneof![
        2 => Just(Auth::None),
        2 => (client_id(), prop_oneof![3 => (0usize..3).prop_map(V::Secret), 1 => junk_v()])
            .prop_map(|(id, secret)| Auth::Basic(id, secret)),
        1 => prop_oneof![
            prop::sample::select(vec![
                "Basic", "Basic ", "Basic !!!", "Basic Og==", "Basic YQ==", "basic YTpi",
                "Bearer abc", "Digest x", "Basic YTpi YTpi",
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,40}".prop_map(|s| format!("Basic {s}")),
            (256usize..600).prop_map(|n| format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{}:x", "i".repeat(n)))
            )),
        ]
        .prop_map(Auth::Raw),
    ]
    .boxed()
}

fn token_case() -> BoxedStrategy<TokenCase> {
    let mint = (0usize..2, any::<bool>())
        .prop_map(|(c, pkce)| (c, pkce || c == 1))
        .boxed();
    prop_oneof![
        1 => (mint.clone(), any::<bool>(), verifier()).prop_map(|((c, pkce), body_auth, verifier)| {
            let (params, auth) = well_formed_token(c, pkce, body_auth);
            TokenCase {
                mint: Some((c, pkce)),
                content_type: 0,
                params,
                raw_tail: String::new(),
                auth,
                verifier,
                well_formed: true,
            }
        }),
        3 => (
            mint.clone(),
            any::<bool>(),
            verifier(),
            edits(TOKEN_PARAMS, token_value),
            content_type(),
            raw_tail(),
            prop::option::weighted(0.3, auth()),
        )
            .prop_map(|((c, pkce), body_auth, verifier, edits, content_type, raw_tail, other_auth)| {
                let (params, auth) = well_formed_token(c, pkce, body_auth);
                TokenCase {
                    mint: Some((c, pkce)),
                    content_type,
                    params: apply(params, &edits),
                    raw_tail,
                    auth: other_auth.unwrap_or(auth),
                    verifier,
                    well_formed: false,
                }
            }),
        2 => (
            prop::option::of(mint),
            verifier(),
            prop::collection::vec(param(TOKEN_PARAMS, token_value), 0..10),
            content_type(),
            raw_tail(),
            auth(),
        )
            .prop_map(|(mint, verifier, params, content_type, raw_tail, auth)| TokenCase {
                mint,
                content_type,
                params,
                raw_tail,
                auth,
                verifier,
                well_formed: false,
            }),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------
// Near misses of a registered redirect URI

const NEAR_MISSES: usize = 24;

fn near_miss(uri: &str, m: usize) -> String {
    let url = Url::parse(uri).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let path = url.path().to_owned();
    let with_host = |new: &str| uri.replacen(&host, new, 1);
    match m % NEAR_MISSES {
        0 => format!("{uri}/"),
        1 => format!("{uri}x"),
        2 => uri.replacen("://", "://evil@", 1),
        3 => format!("{uri}#frag"),
        4 => format!("{uri}#"),
        5 => format!("{uri}{}x=1", if uri.contains('?') { "&" } else { "?" }),
        6 => with_host(&format!("{host}:8443")),
        7 => with_host(&format!("{host}:443")),
        8 => uri.to_uppercase(),
        9 => match url.scheme() {
            "https" => uri.replacen("https://", "http://", 1),
            _ => uri.replacen("http://", "https://", 1),
        },
        10 => with_host(&format!("{host}.evil.example")),
        11 => with_host(&format!("evil.example/{host}")),
        12 => format!(" {uri}"),
        13 => format!("{uri}%00"),
        14 => with_host(&format!("{host}\\@evil.example")),
        15 => with_host("localhost"),
        16 => with_host("[::1]"),
        17 => with_host("0x7f.1"),
        18 => uri.replacen(&path, &format!("/x/..{path}"), 1),
        19 => uri.replacen("://", ":/\t/", 1),
        20 => uri.replacen(&path, &path.replacen('c', "%63", 1), 1),
        21 => uri.replacen(&path, &format!("/{path}"), 1),
        22 => with_host(&format!("{host}:0")),
        _ => with_host(&format!("{host}.")),
    }
}

// ---------------------------------------------------------------------------------------
// Oracles: pure functions of what was sent and what came back, so that they can be shown
// to fail (`the_oracles_catch_wrong_answers`).

/// What the provider knows: its issuer and each client's id and redirect URIs.
#[derive(Clone, Debug)]
struct Registry {
    issuer: String,
    clients: Vec<(String, Vec<String>)>,
    /// The ids of public clients (PKCE required).
    public: Vec<String>,
}

#[derive(Clone, Debug, Default)]
struct Observed {
    status: u16,
    location: Option<String>,
    content_type: Option<String>,
    www_authenticate: bool,
    retry_after: bool,
    cache_control: Option<String>,
    body: String,
}

/// The values of `name` as sent (empty ones included).
fn sent(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// `url` without the parameters an authorization response adds.
fn response_base(url: &Url) -> Url {
    const ADDED: &[&str] = &[
        "code",
        "state",
        "iss",
        "error",
        "error_description",
        "error_uri",
    ];
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| !ADDED.contains(&k.as_str()))
        .collect();
    let mut base = url.clone();
    if kept.is_empty() {
        base.set_query(None);
    } else {
        base.query_pairs_mut().clear().extend_pairs(kept);
    }
    base
}

/// Whether `target` (without the response parameters) is `registered`: the same URL, or
/// for an http loopback IP literal the same but for the port (RFC 8252 §7.3).
fn is_registered_target(target: &Url, registered: &str) -> bool {
    let Ok(registered) = Url::parse(registered) else {
        return false;
    };
    let registered = response_base(&registered);
    let target = response_base(target);
    if target == registered {
        return true;
    }
    let loopback_ip = match registered.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    let loopback = registered.scheme() == "http" && loopback_ip;
    let mut any_port = target.clone();
    loopback && any_port.set_port(registered.port()).is_ok() && any_port == registered
}

fn fail(message: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(message))
}

/// The authorization endpoint's answer to `params` (sent with a session if `session`).
fn check_authorize(
    registry: &Registry,
    params: &[(String, String)],
    session: bool,
    well_formed: bool,
    got: &Observed,
) -> Result<(), TestCaseError> {
    if got.status >= 500 {
        return fail(format!("server error {}: {}", got.status, got.body));
    }
    let Some(location) = &got.location else {
        if (300..400).contains(&got.status) {
            return fail(format!("{} without a Location", got.status));
        }
        let html = got
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/html"));
        if !html || got.status < 400 {
            return fail(format!(
                "neither a redirect nor an HTML error page: {} {:?}",
                got.status, got.content_type
            ));
        }
        if well_formed {
            return fail(format!("a well-formed request refused: {}", got.status));
        }
        return Ok(());
    };
    if !matches!(got.status, 302 | 303) {
        return fail(format!(
            "redirects are 302 or 303 (RFC 9700 §4.12), not {}",
            got.status
        ));
    }
    let issuer = Url::parse(&registry.issuer).unwrap();
    let Ok(target) = issuer.join(location) else {
        return fail(format!("unparsable Location {location:?}"));
    };
    if target.origin() == issuer.origin() {
        let segments: Vec<&str> = target.path().split('/').collect();
        let login_page = match segments.as_slice() {
            ["", "login", id] | ["", "login", id, "consent"] => {
                !id.is_empty()
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            }
            _ => false,
        };
        if !login_page || target.query().is_some() {
            return fail(format!("redirect within the provider to {target}"));
        }
        return Ok(());
    }
    let client_ids = sent(params, "client_id");
    let registered: Vec<&String> = registry
        .clients
        .iter()
        .filter(|(id, _)| client_ids.contains(id))
        .flat_map(|(_, uris)| uris)
        .collect();
    if !registered
        .iter()
        .any(|uri| is_registered_target(&target, uri))
    {
        return fail(format!(
            "redirect to {target}, not a registered redirect URI of client {client_ids:?}"
        ));
    }
    let asked = sent(params, "redirect_uri");
    let as_asked = asked
        .iter()
        .filter_map(|uri| Url::parse(uri).ok())
        .any(|uri| response_base(&uri) == response_base(&target));
    if !as_asked {
        return fail(format!(
            "redirect to {target}, which the request did not ask for"
        ));
    }
    let get = |name: &str| -> Vec<String> {
        target
            .query_pairs()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    };
    if get("iss") != [registry.issuer.clone()] {
        return fail(format!("no iss (RFC 9207) or another one: {target}"));
    }
    let state = get("state");
    if state.len() > 1 || state.iter().any(|s| !sent(params, "state").contains(s)) {
        return fail(format!("a state that was not sent: {target}"));
    }
    match (get("error").as_slice(), get("code").as_slice()) {
        ([error], []) => {
            if !AUTHORIZE_ERRORS.contains(&error.as_str()) {
                return fail(format!(
                    "error {error:?} is not an authorization error code"
                ));
            }
            if well_formed {
                return fail(format!("a well-formed request refused: {target}"));
            }
        }
        ([], [_]) if !session => return fail(format!("a code without a session: {target}")),
        ([], [_]) => {
            if let Err(skipped) = passes_pipeline(registry, params) {
                return fail(format!("a code for a request that {skipped}: {target}"));
            }
        }
        _ => return fail(format!("not one error or one code: {target}")),
    }
    Ok(())
}

/// The first non-empty value of `name`, as OAuth reads parameters (RFC 6749 §3.1).
fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Whether a request repeats or oversizes a parameter (refused by every endpoint).
fn repeated_or_oversized(params: &[(String, String)]) -> Result<(), String> {
    let mut seen: Vec<&str> = vec![];
    for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
        if seen.contains(&k.as_str()) {
            return Err(format!("repeats {k}"));
        }
        if v.len() > 4096 {
            return Err(format!("has an oversized {k}"));
        }
        seen.push(k);
    }
    Ok(())
}

/// What an authorization request must have for a code: OK, or what it lacks.
fn passes_pipeline(registry: &Registry, params: &[(String, String)]) -> Result<(), String> {
    repeated_or_oversized(params)?;
    if first(params, "response_type") != Some("code") {
        return Err("is not response_type=code".into());
    }
    if !first(params, "scope").is_some_and(|s| s.split_whitespace().any(|s| s == "openid")) {
        return Err("lacks the openid scope".into());
    }
    for name in ["request", "request_uri"] {
        if first(params, name).is_some() {
            return Err(format!("has {name}"));
        }
    }
    if !matches!(first(params, "response_mode"), None | Some("query")) {
        return Err("asks for another response_mode".into());
    }
    let prompt = first(params, "prompt").unwrap_or_default();
    if prompt
        .split_whitespace()
        .any(|p| p == "login" || p == "consent")
    {
        return Err(format!("has prompt={prompt}"));
    }
    let challenge = first(params, "code_challenge");
    let method = first(params, "code_challenge_method");
    let public =
        first(params, "client_id").is_some_and(|id| registry.public.iter().any(|p| p == id));
    match (challenge, method) {
        (None, None) if public => return Err("lacks PKCE for a public client".into()),
        (None, None) => {}
        (Some(c), Some("S256")) if c.len() == 43 => {}
        _ => return Err("has a bad PKCE challenge".into()),
    }
    Ok(())
}

/// The token endpoint's answer. `entitled`: whether the request may get tokens (or why
/// not); `basic` when it had an Authorization header.
fn check_token(
    got: &Observed,
    entitled: Result<(), String>,
    basic: bool,
    well_formed: bool,
) -> Result<(), TestCaseError> {
    if got.status >= 500 {
        return fail(format!("server error {}: {}", got.status, got.body));
    }
    let json = got
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/json"));
    let Ok(Value::Object(body)) = serde_json::from_str::<Value>(&got.body) else {
        return fail(format!("not a JSON object: {} {:?}", got.status, got.body));
    };
    if !json {
        return fail(format!("Content-Type {:?} for JSON", got.content_type));
    }
    if got.status == 200 {
        let has = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        };
        if !(has("access_token") && has("id_token") && body["token_type"] == "Bearer") {
            return fail(format!("a 200 without tokens: {}", got.body));
        }
        if got.cache_control.as_deref() != Some("no-store") {
            return fail("tokens without Cache-Control: no-store".into());
        }
        if let Err(why) = entitled {
            return fail(format!("tokens for a request that {why}: {}", got.body));
        }
        return Ok(());
    }
    if well_formed {
        return fail(format!(
            "a well-formed redemption refused: {} {}",
            got.status, got.body
        ));
    }
    let error = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !TOKEN_ERRORS.contains(&error) {
        return fail(format!(
            "error {error:?} is not a token error code: {}",
            got.body
        ));
    }
    let status_ok = match (got.status, error) {
        (429, "invalid_client") => got.retry_after,
        (401, "invalid_client") => !basic || got.www_authenticate,
        (400, "invalid_client") => !basic,
        (400, _) => true,
        _ => false,
    };
    if !status_ok {
        return fail(format!(
            "{error} with status {} (Authorization header sent: {basic}, WWW-Authenticate: {}); \
             RFC 6749 §5.2",
            got.status, got.www_authenticate
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The running app

struct Fuzz {
    registry: Registry,
    issuer: String,
    secrets: Vec<String>,
    state: AppState,
    http: reqwest::Client,
    session_cookies: String,
    id_token: String,
    used_code: String,
    refresh_tokens: Mutex<Vec<String>>,
    handle: tokio::runtime::Handle,
    /// How many answers of each kind, to show what the cases reached.
    outcomes: Mutex<BTreeMap<String, usize>>,
}

/// One app, three clients, and alice logged in (her session cookies kept for the cases).
async fn start() -> (Prosody, TestApp, Arc<Fuzz>) {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let mut confidential = ClientSettings::new(
        "Fuzz RP",
        vec![REDIRECT_URI.into(), "https://rp.example/cb?tenant=1".into()],
    );
    confidential.always_refresh = true;
    let (rp_id, rp_secret) = app.add_client(confidential).await;
    let mut public = ClientSettings::new(
        "Fuzz app",
        vec![
            "http://127.0.0.1/cb".into(),
            "https://app.example/cb".into(),
        ],
    );
    public.public = true;
    public.trusted = true;
    let (app_id, _) = app.add_client(public).await;
    let rp = RelyingParty::discover(&app, &rp_id, &rp_secret).await;
    let browser = Browser::new(&app);
    let mut alice = XmppUser::login(&prosody, "alice", "fuzz", Client::Xep0070, "accept").await;
    let attempt = rp.attempt(&[], false, &[]);
    let code = full_login(&app, &browser, &rp, &mut alice, "alice@localhost", &attempt).await;
    drop(alice);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let tokens: Value = http
        .post(app.url("/token"))
        .basic_auth(&rp_id, Some(&rp_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().expect("an ID token").to_owned();
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    // The test app's issuer is http: the cookies have no `__Host-` prefix.
    let (session, browser_binding) = (SESSION_COOKIE.on(false), BROWSER_COOKIE.on(false));
    let session_cookies = format!(
        "{session}={}; {browser_binding}={}",
        browser.cookie(session).expect("a session"),
        browser.cookie(browser_binding).expect("a browser cookie"),
    );
    let registry = Registry {
        issuer: app.issuer(),
        public: vec![app_id.clone()],
        clients: vec![
            (
                rp_id,
                vec![REDIRECT_URI.into(), "https://rp.example/cb?tenant=1".into()],
            ),
            (
                app_id,
                vec![
                    "http://127.0.0.1/cb".into(),
                    "https://app.example/cb".into(),
                ],
            ),
            (
                app.client_id.clone(),
                vec!["https://wiki.example/callback".into()],
            ),
        ],
    };
    let fuzz = Fuzz {
        registry,
        issuer: app.issuer(),
        secrets: vec![rp_secret, String::new(), app.client_secret.clone()],
        state: app.state.clone(),
        http,
        session_cookies,
        id_token,
        used_code: code,
        refresh_tokens: Mutex::new(vec![refresh.to_owned()]),
        handle: tokio::runtime::Handle::current(),
        outcomes: Mutex::default(),
    };
    (prosody, app, Arc::new(fuzz))
}

/// As the server reads a Basic user or password (RFC 6749 §2.3.1).
fn form_decoded(value: &str) -> String {
    url::form_urlencoded::parse(format!("x={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn s256(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Fuzz {
    fn resolve(&self, v: &V, verifier: &str, code: Option<&str>) -> String {
        let clients = &self.registry.clients;
        match v {
            V::Lit(s) => s.clone(),
            V::ClientId(c) => clients[*c].0.clone(),
            V::Redirect(c, k) => {
                let uris = &clients[*c].1;
                uris[*k % uris.len()].clone()
            }
            V::NearMiss(c, k, m) => {
                let uris = &clients[*c].1;
                near_miss(&uris[*k % uris.len()], *m)
            }
            V::Challenge => s256(verifier),
            V::Verifier => verifier.to_owned(),
            V::IdToken => self.id_token.clone(),
            V::FreshCode => code.unwrap_or("no-code-was-minted").to_owned(),
            V::UsedCode => self.used_code.clone(),
            V::Secret(c) => self.secrets[*c].clone(),
            V::RefreshToken => self
                .refresh_tokens
                .lock()
                .unwrap()
                .last()
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn encode(
        &self,
        params: &[(String, V)],
        tail: &str,
        verifier: &str,
        code: Option<&str>,
    ) -> (Vec<(String, String)>, String) {
        let resolved: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.clone(), self.resolve(v, verifier, code)))
            .collect();
        let mut encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&resolved)
            .finish();
        encoded.push_str(tail);
        // What the server reads: the pairs of the whole string, tail included.
        let sent = url::form_urlencoded::parse(encoded.as_bytes())
            .into_owned()
            .collect();
        (sent, encoded)
    }

    async fn observe(&self, request: reqwest::RequestBuilder) -> Result<Observed, TestCaseError> {
        let response = request
            .send()
            .await
            .map_err(|e| TestCaseError::fail(format!("no answer: {e:?}")))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let observed = Observed {
            status: response.status().as_u16(),
            location: header("location"),
            content_type: header("content-type"),
            www_authenticate: header("www-authenticate").is_some(),
            retry_after: header("retry-after").is_some(),
            cache_control: header("cache-control"),
            body: String::new(),
        };
        let body = response
            .text()
            .await
            .map_err(|e| TestCaseError::fail(format!("body cut off: {e:?}")))?;
        Ok(Observed { body, ..observed })
    }

    fn with_content_type(
        request: reqwest::RequestBuilder,
        index: usize,
    ) -> reqwest::RequestBuilder {
        match CONTENT_TYPES[index] {
            Some(t) => request.header("content-type", t),
            None => request,
        }
    }

    async fn authorize(&self, case: &AuthorizeCase) -> Result<(), TestCaseError> {
        let (params, encoded) = self.encode(&case.params, &case.raw_tail, &case.verifier, None);
        let url = format!("{}/authorize", self.issuer);
        let mut request = if case.post {
            Self::with_content_type(self.http.post(&url), case.content_type).body(encoded)
        } else {
            self.http.get(format!("{url}?{encoded}"))
        };
        let session = match &case.cookies {
            Cookies::None => false,
            Cookies::Session => {
                request = request.header("cookie", &self.session_cookies);
                true
            }
            Cookies::Garbage(c) => {
                request = request.header("cookie", c);
                false
            }
        };
        let got = self.observe(request).await?;
        self.count(&got);
        let form = !case.post || case.content_type < 3;
        check_authorize(
            &self.registry,
            &params,
            session,
            case.well_formed && form,
            &got,
        )
    }

    /// Counts the answer by status and what it says: a page, where a redirect goes, which
    /// error code.
    fn count(&self, got: &Observed) {
        let kind = match &got.location {
            Some(location) => match Url::parse(&self.issuer).unwrap().join(location) {
                Ok(target) if target.as_str().starts_with(&self.issuer) => {
                    if target.path().ends_with("/consent") {
                        "consent page".to_owned()
                    } else {
                        "login page".to_owned()
                    }
                }
                Ok(target) => {
                    let mut pairs = target.query_pairs();
                    match pairs.find(|(k, _)| k == "error" || k == "code") {
                        Some((k, v)) if k == "error" => format!("error={v}"),
                        Some(_) => "code".to_owned(),
                        None => "elsewhere".to_owned(),
                    }
                }
                Err(_) => "unparsable".to_owned(),
            },
            None => match serde_json::from_str::<Value>(&got.body) {
                Ok(body) if body["error"].is_string() => format!("error={}", body["error"]),
                Ok(body) if body["access_token"].is_string() => "tokens".to_owned(),
                _ => got.content_type.clone().unwrap_or_default(),
            },
        };
        *self
            .outcomes
            .lock()
            .unwrap()
            .entry(format!("{} {kind}", got.status))
            .or_default() += 1;
    }

    /// A fresh code for client `client` through alice's session.
    async fn mint(
        &self,
        client: usize,
        pkce: bool,
        verifier: &str,
    ) -> Result<String, TestCaseError> {
        let (id, uris) = &self.registry.clients[client];
        let mut url = Url::parse(&format!("{}/authorize", self.issuer)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", id)
            .append_pair("redirect_uri", &uris[0])
            .append_pair("response_type", "code")
            .append_pair("scope", "openid");
        if pkce {
            url.query_pairs_mut()
                .append_pair("code_challenge", &s256(verifier))
                .append_pair("code_challenge_method", "S256");
        }
        let got = self
            .observe(self.http.get(url).header("cookie", &self.session_cookies))
            .await?;
        let code = got
            .location
            .as_deref()
            .and_then(|l| Url::parse(l).ok())
            .and_then(|l| {
                l.query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
            });
        code.ok_or_else(|| TestCaseError::fail(format!("no code minted: {got:?}")))
    }

    /// Whether a token request may get tokens: the model of the token endpoint.
    fn entitled(
        &self,
        case: &TokenCase,
        code: Option<&str>,
        params: &[(String, String)],
        basic: bool,
        basic_credentials: Option<(String, String)>,
    ) -> Result<(), String> {
        if CONTENT_TYPES[case.content_type].is_none() || case.content_type >= 3 {
            return Err("is not a form".into());
        }
        repeated_or_oversized(params)?;
        // Who the client is, and whether it proved it.
        let (client_id, secret) = match (basic, basic_credentials) {
            (true, None) => return Err("has a malformed Authorization header".into()),
            (true, Some((id, secret))) => {
                if first(params, "client_secret").is_some() {
                    return Err("authenticates twice".into());
                }
                if first(params, "client_id").is_some_and(|body| body != id) {
                    return Err("names two clients".into());
                }
                (id, Some(secret))
            }
            (false, _) => (
                first(params, "client_id").unwrap_or_default().to_owned(),
                first(params, "client_secret").map(str::to_owned),
            ),
        };
        let Some(client) = self
            .registry
            .clients
            .iter()
            .position(|(id, _)| *id == client_id)
        else {
            return Err(format!("names no registered client ({client_id:?})"));
        };
        let proven = match client {
            1 => secret.is_none(),
            _ => secret.as_deref() == Some(self.secrets[client].as_str()),
        };
        if !proven {
            return Err("does not authenticate the client".into());
        }
        match first(params, "grant_type") {
            Some("authorization_code") => {
                let Some((minted_for, pkce)) = case.mint else {
                    return Err("has no fresh code".into());
                };
                if code.is_none() || first(params, "code") != code {
                    return Err("has no fresh code".into());
                }
                if client != minted_for {
                    return Err("redeems another client's code".into());
                }
                if first(params, "redirect_uri")
                    != Some(self.registry.clients[client].1[0].as_str())
                {
                    return Err("has another redirect_uri".into());
                }
                let verifier = first(params, "code_verifier");
                if pkce && verifier != Some(case.verifier.as_str()) {
                    return Err("has the wrong code_verifier".into());
                }
                if !pkce && verifier.is_some() {
                    return Err("has a code_verifier without a challenge".into());
                }
                Ok(())
            }
            Some("refresh_token") => {
                let presented = first(params, "refresh_token").unwrap_or_default();
                if client != 0
                    || !self
                        .refresh_tokens
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|t| t == presented)
                {
                    return Err("has no refresh token of this client".into());
                }
                Ok(())
            }
            _ => Err("has no supported grant_type".into()),
        }
    }

    async fn token(&self, case: &TokenCase) -> Result<(), TestCaseError> {
        // The brake on failed client authentication would soon answer every case with 429.
        *self.state.auth_failures() = AuthFailures::default();
        let code = match case.mint {
            Some((client, pkce)) => Some(self.mint(client, pkce, &case.verifier).await?),
            None => None,
        };
        let (sent, encoded) = self.encode(
            &case.params,
            &case.raw_tail,
            &case.verifier,
            code.as_deref(),
        );
        let mut request = Self::with_content_type(
            self.http.post(format!("{}/token", self.issuer)),
            case.content_type,
        )
        .body(encoded);
        let basic = !matches!(case.auth, Auth::None);
        let mut basic_credentials = None;
        match &case.auth {
            Auth::None => {}
            Auth::Basic(id, secret) => {
                let id = self.resolve(id, &case.verifier, None);
                let secret = self.resolve(secret, &case.verifier, None);
                let raw = format!("{id}:{secret}");
                let (user, password) = raw.split_once(':').unwrap();
                basic_credentials = Some((form_decoded(user), form_decoded(password)))
                    .filter(|(u, p)| u.len() <= 255 && p.len() <= 255);
                let credentials =
                    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
                request = request.header("authorization", format!("Basic {credentials}"));
            }
            Auth::Raw(value) => request = request.header("authorization", value),
        }
        let got = self.observe(request).await?;
        self.count(&got);
        let entitled = self.entitled(case, code.as_deref(), &sent, basic, basic_credentials);
        check_token(&got, entitled, basic, case.well_formed)?;
        if got.status == 200 {
            let body: Value = serde_json::from_str(&got.body).unwrap();
            if let Some(refresh) = body["refresh_token"].as_str() {
                self.refresh_tokens.lock().unwrap().push(refresh.to_owned());
            }
        }
        Ok(())
    }
}

fn runner() -> TestRunner {
    let cases = std::env::var("HTTP_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    TestRunner::new(Config {
        cases,
        max_shrink_iters: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..Config::default()
    })
}

/// Runs `check` on `cases` cases of `strategy` from a blocking thread (proptest is
/// synchronous; the requests run on the test's runtime).
async fn property<T, F>(fuzz: Arc<Fuzz>, strategy: fn() -> BoxedStrategy<T>, check: F)
where
    T: std::fmt::Debug + 'static,
    F: Fn(&Fuzz, T) -> Result<(), TestCaseError> + Send + 'static,
{
    let started = std::time::Instant::now();
    let outcomes = Arc::clone(&fuzz);
    let outcomes = &outcomes.outcomes;
    let result = tokio::task::spawn_blocking(move || {
        let mut runner = runner();
        let cases = runner.config().cases;
        let outcome = runner.run(&strategy(), |case| check(&fuzz, case));
        (cases, outcome.map_err(|e| e.to_string()))
    })
    .await
    .unwrap();
    let (cases, outcome) = result;
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    eprintln!(
        "{cases} cases in {:.1} s: {:?}",
        started.elapsed().as_secs_f64(),
        outcomes.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_authorization_request_gets_a_page_or_a_registered_redirect() {
    let (_prosody, app, fuzz) = start().await;
    property(fuzz, authorize_case, |fuzz, case| {
        fuzz.handle.block_on(fuzz.authorize(&case))
    })
    .await;
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_token_request_gets_tokens_or_an_rfc6749_error() {
    let (_prosody, app, fuzz) = start().await;
    property(fuzz, token_case, |fuzz, case| {
        fuzz.handle.block_on(fuzz.token(&case))
    })
    .await;
    assert_eq!(app.health().await["status"], "ok");
}

/// The oracles are real: each wrong answer below fails them.
#[test]
fn the_oracles_catch_wrong_answers() {
    let registry = Registry {
        issuer: "http://127.0.0.1:1".into(),
        clients: vec![
            ("rp".into(), vec!["https://rp.example/cb?tenant=1".into()]),
            ("app".into(), vec!["http://127.0.0.1/cb".into()]),
        ],
        public: vec!["app".into()],
    };
    let params = |client: &str, uri: &str| -> Vec<(String, String)> {
        vec![
            ("client_id".into(), client.into()),
            ("redirect_uri".into(), uri.into()),
            ("state".into(), "s".into()),
            ("response_type".into(), "code".into()),
            ("scope".into(), "openid".into()),
            ("code_challenge".into(), s256(&"v".repeat(43))),
            ("code_challenge_method".into(), "S256".into()),
        ]
    };
    let redirect = |location: &str| Observed {
        status: 303,
        location: Some(location.into()),
        ..Observed::default()
    };
    let with = |params: &[(String, String)], name: &str, value: &str| {
        let mut params = params.to_vec();
        params.push((name.into(), value.into()));
        params
    };
    let without = |params: &[(String, String)], name: &str| {
        let mut params = params.to_vec();
        params.retain(|(k, _)| k != name);
        params
    };
    let rp = params("rp", "https://rp.example/cb?tenant=1");
    let good = "https://rp.example/cb?tenant=1&error=invalid_request&state=s&iss=http%3A%2F%2F127.0.0.1%3A1";
    check_authorize(&registry, &rp, false, false, &redirect(good)).unwrap();
    check_authorize(&registry, &rp, false, false, &redirect("/login/abc_-1")).unwrap();
    let app = params("app", "http://127.0.0.1:5555/cb");
    let looped = "http://127.0.0.1:5555/cb?code=c&iss=http%3A%2F%2F127.0.0.1%3A1";
    check_authorize(&registry, &app, true, false, &redirect(looped)).unwrap();
    let wrong = [
        // Another URI, a near miss, another client's URI, a dropped query.
        (
            rp.clone(),
            false,
            good.replace("rp.example", "evil.example"),
        ),
        (rp.clone(), false, good.replace("/cb", "/cb/")),
        (rp.clone(), false, good.replace("tenant=1&", "")),
        (app.clone(), false, good.to_owned()),
        // Made-up and server errors, no iss, a state not sent, a code without a session.
        (rp.clone(), false, good.replace("invalid_request", "oops")),
        (
            rp.clone(),
            false,
            good.replace("invalid_request", "server_error"),
        ),
        (
            rp.clone(),
            false,
            good.replace("&iss=http%3A%2F%2F127.0.0.1%3A1", ""),
        ),
        (rp.clone(), false, good.replace("state=s", "state=t")),
        (app.clone(), false, looped.to_owned()),
        // A code for a request the pipeline must refuse.
        (without(&app, "code_challenge"), true, looped.to_owned()),
        (with(&app, "prompt", "login"), true, looped.to_owned()),
        (with(&app, "scope", "profile"), true, looped.to_owned()),
        (
            with(&app, "request_uri", "https://evil.example/r"),
            true,
            looped.to_owned(),
        ),
        (with(&app, "client_id", "app"), true, looped.to_owned()),
        // Elsewhere on the provider.
        (rp.clone(), false, "/admin".to_owned()),
        (
            rp.clone(),
            false,
            "/login/x?next=https://evil.example".to_owned(),
        ),
    ];
    for (params, session, location) in wrong {
        assert!(
            check_authorize(&registry, &params, session, false, &redirect(&location)).is_err(),
            "{location} passed"
        );
    }
    let page = |status: u16, content_type: &str| Observed {
        status,
        content_type: Some(content_type.into()),
        body: "{\"error\":\"invalid_request\"}".into(),
        ..Observed::default()
    };
    check_authorize(
        &registry,
        &rp,
        false,
        false,
        &page(400, "text/html; charset=utf-8"),
    )
    .unwrap();
    for wrong in [
        page(500, "text/html"),
        page(400, "text/plain"),
        page(200, "text/html"),
    ] {
        assert!(check_authorize(&registry, &rp, false, false, &wrong).is_err());
    }
    assert!(check_authorize(&registry, &rp, false, true, &redirect(good)).is_err());

    let json = |status: u16, body: &str| Observed {
        status,
        content_type: Some("application/json".into()),
        body: body.into(),
        cache_control: Some("no-store".into()),
        ..Observed::default()
    };
    let tokens = json(
        200,
        r#"{"access_token":"a","id_token":"i","token_type":"Bearer"}"#,
    );
    let entitled = || Ok(());
    let not = || Err("is wrong".to_owned());
    check_token(&tokens, entitled(), false, true).unwrap();
    check_token(
        &json(400, r#"{"error":"invalid_grant"}"#),
        entitled(),
        false,
        false,
    )
    .unwrap();
    let challenged = Observed {
        www_authenticate: true,
        ..json(401, r#"{"error":"invalid_client"}"#)
    };
    check_token(&challenged, not(), true, false).unwrap();
    let wrong = [
        (tokens.clone(), false, false),
        (json(500, r#"{"error":"server_error"}"#), false, false),
        (json(400, r#"{"error":"nope"}"#), false, false),
        (json(401, r#"{"error":"invalid_grant"}"#), false, false),
        (json(401, r#"{"error":"invalid_client"}"#), false, true),
        (json(429, r#"{"error":"invalid_client"}"#), false, false),
        (json(400, "not json"), false, false),
        (page(400, "text/html"), false, false),
    ];
    for (got, issuable, basic) in wrong {
        assert!(
            check_token(
                &got,
                if issuable { entitled() } else { not() },
                basic,
                false
            )
            .is_err(),
            "{got:?} passed"
        );
    }
    assert!(check_token(
        &json(400, r#"{"error":"invalid_grant"}"#),
        entitled(),
        false,
        true
    )
    .is_err());
}
