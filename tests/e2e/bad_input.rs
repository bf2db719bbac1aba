//! Oversized and malformed requests to every endpoint get a 4xx, never a 5xx or a hang.

use reqwest::Method;

use crate::helpers::{spawn_app, Prosody, Provider};

const PATHS: &[&str] = &[
    "/authorize",
    "/token",
    "/userinfo",
    "/logout",
    "/revoke",
    "/introspect",
    "/jwks",
    "/.well-known/openid-configuration",
    "/auth",
    "/login/nonexistent",
    "/login/nonexistent/status",
    "/login/nonexistent/continue",
    "/login/nonexistent/consent",
    "/admin",
    "/admin/clients",
    "/healthz",
    "/metrics",
    "/button",
];

struct Case {
    name: &'static str,
    method: Method,
    query: String,
    body: Vec<u8>,
    header: Option<(&'static str, String)>,
}

fn case(
    name: &'static str,
    method: Method,
    query: &str,
    body: &[u8],
    header: Option<(&'static str, String)>,
) -> Case {
    Case {
        name,
        method,
        query: query.to_owned(),
        body: body.to_vec(),
        header,
    }
}

#[tokio::test]
async fn nothing_malformed_or_oversized_gets_a_server_error() {
    let prosody = Prosody::start().await;
    let app = spawn_app(&prosody).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let huge = "a".repeat(200_000);
    let form = "application/x-www-form-urlencoded";
    let cases = [
        case(
            "huge query",
            Method::GET,
            &format!("?client_id={huge}&redirect_uri={huge}"),
            b"",
            None,
        ),
        case(
            "huge body",
            Method::POST,
            "",
            format!("grant_type={huge}").repeat(10).as_bytes(),
            None,
        ),
        case(
            "huge header",
            Method::GET,
            "",
            b"",
            Some(("x-padding", huge.clone())),
        ),
        case(
            "huge authorization",
            Method::POST,
            "",
            b"token=x",
            Some(("authorization", format!("Basic {huge}"))),
        ),
        case(
            "non-UTF-8 body",
            Method::POST,
            "",
            b"grant_type=\xff\xfe&client_id=\xc3&token=\x80",
            None,
        ),
        case(
            "non-UTF-8 query",
            Method::GET,
            "?client_id=%ff%fe&redirect_uri=%c3&jid=%80",
            b"",
            None,
        ),
        case(
            "duplicated parameters",
            Method::POST,
            "?client_id=a&client_id=b",
            b"grant_type=a&grant_type=b&token=1&token=2",
            None,
        ),
        case(
            "garbage authorization",
            Method::POST,
            "",
            b"token=x",
            Some(("authorization", "Basic !!!not-base64".into())),
        ),
        case(
            "bearer garbage",
            Method::GET,
            "",
            b"",
            Some(("authorization", "Bearer \u{1}".into())),
        ),
        case(
            "wrong content type",
            Method::POST,
            "",
            b"{\"grant_type\":1}",
            Some(("content-type", "application/json".into())),
        ),
    ];
    for path in PATHS {
        for case in &cases {
            let mut request = http.request(
                case.method.clone(),
                app.url(&format!("{path}{}", case.query)),
            );
            if case.method == Method::POST
                && case
                    .header
                    .as_ref()
                    .is_none_or(|(h, _)| *h != "content-type")
            {
                request = request.header("content-type", form);
            }
            if let Some((header, value)) = &case.header {
                if let Ok(value) = reqwest::header::HeaderValue::from_str(value) {
                    request = request.header(*header, value);
                }
            }
            let response = request.body(case.body.clone()).send().await;
            // hyper may close the connection on a huge head it refuses: also not a 5xx. Any
            // other dropped connection would be a panic (the server turns those into 500s).
            let response = match response {
                Ok(response) => response,
                Err(_) if case.name.starts_with("huge") => continue,
                Err(e) => panic!("{} to {path}: no response: {e}", case.name),
            };
            let status = response.status().as_u16();
            assert!(status < 500, "{} to {path}: {status}", case.name);
        }
    }
    // And the server is still fine afterwards.
    assert_eq!(app.health().await["status"], "ok");
}
