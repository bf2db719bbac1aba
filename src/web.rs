//! What every page shares: security headers, cookies, static files, the error page.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::i18n::Lang;
use crate::state::AppState;

/// A cookie's name. On an https issuer it has the `__Host-` prefix: the browser then
/// takes it only from this host, Secure and for the whole path, so that no sibling
/// subdomain can set or shadow it (a planted session or browser binding).
#[derive(Clone, Copy)]
pub struct CookieName {
    plain: &'static str,
    host_only: &'static str,
}

impl CookieName {
    pub fn on(self, secure: bool) -> &'static str {
        if secure {
            self.host_only
        } else {
            self.plain
        }
    }
}

/// Binds login flows to the browser that started them (and serves as CSRF anchor).
pub const BROWSER_COOKIE: CookieName = CookieName {
    plain: "jidconnect_browser",
    host_only: "__Host-jidconnect_browser",
};
/// The single sign-on session.
pub const SESSION_COOKIE: CookieName = CookieName {
    plain: "jidconnect_session",
    host_only: "__Host-jidconnect_session",
};
/// Set after a completed login and kept long: the browser is then exempt from that JID's
/// per-JID limits that other browsers set off (stored as a digest, with the JID).
pub const DEVICE_COOKIE: CookieName = CookieName {
    plain: "jidconnect_device",
    host_only: "__Host-jidconnect_device",
};
/// A language picked on a page (not personal: any page may set it).
pub const LANG_COOKIE: CookieName = CookieName {
    plain: "jidconnect_lang",
    host_only: "__Host-jidconnect_lang",
};
/// The admin page's own login (its state and PKCE verifier).
pub const ADMIN_LOGIN_COOKIE: CookieName = CookieName {
    plain: "jidconnect_admin_login",
    host_only: "__Host-jidconnect_admin_login",
};

/// A cookie as every jidconnect cookie is: HttpOnly, SameSite=Lax, Secure on https.
pub fn cookie(name: CookieName, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name.on(secure), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// What removes a cookie set by [`cookie`] (the same name, path and Secure flag).
pub fn removed_cookie(name: CookieName, secure: bool) -> Cookie<'static> {
    cookie(name, String::new(), secure)
}

/// As [`cookie`], kept by the browser for `max_age_secs`.
pub fn lasting_cookie(
    name: CookieName,
    value: String,
    secure: bool,
    max_age_secs: u64,
) -> Cookie<'static> {
    let mut cookie = cookie(name, value, secure);
    cookie.set_max_age(::cookie::time::Duration::seconds(
        i64::try_from(max_age_secs).unwrap_or(i64::MAX),
    ));
    cookie
}

/// Anti-framing (RFC 9700 §4.16), no referrer leaks (§4.2), a strict CSP, and no caching
/// of anything personal.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

/// The button's markup and style, shared by `/button` and `examples/login-button.html`.
pub const BUTTON_HTML: &str = include_str!("../static/button.html");
pub const BUTTON_CSS: &str = include_str!("../static/button.css");

#[derive(Template, WebTemplate)]
#[template(path = "button.html")]
struct ButtonPage<'a> {
    /// For website developers: English, like the docs.
    l: Lang,
    issuer: &'a str,
    snippet: &'a str,
    snippet_light: String,
    snippet_dark: String,
    css: &'a str,
}

async fn button_page(axum::extract::State(app): axum::extract::State<AppState>) -> Response {
    ButtonPage {
        l: Lang::default(),
        issuer: &app.oidc.issuer,
        snippet: BUTTON_HTML,
        snippet_light: BUTTON_HTML.replace(
            "class=\"xmpp-login\"",
            "class=\"xmpp-login xmpp-login--light\"",
        ),
        snippet_dark: BUTTON_HTML.replace(
            "class=\"xmpp-login\"",
            "class=\"xmpp-login xmpp-login--dark\"",
        ),
        css: BUTTON_CSS,
    }
    .into_response()
}

pub fn static_router() -> Router<AppState> {
    const CSS: &str = include_str!("../static/style.css");
    const JS: &str = include_str!("../static/login.js");
    let asset = |content_type: &'static str, body: &'static str| {
        (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            body,
        )
    };
    Router::new()
        .route(
            "/static/style.css",
            get(move || async move { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/static/login.js",
            get(move || async move { asset("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/static/button.css",
            get(move || async move { asset("text/css; charset=utf-8", BUTTON_CSS) }),
        )
        .route("/button", get(button_page))
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    l: Lang,
    title: &'a str,
    message: &'a str,
    next_step: &'a str,
}

/// A friendly page for errors that must not (or cannot) go back to the website, in `l`.
pub fn error_page(
    l: Lang,
    status: StatusCode,
    title: &str,
    message: &str,
    next_step: &str,
) -> Response {
    (
        status,
        ErrorPage {
            l,
            title,
            message,
            next_step,
        },
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_example_carries_the_served_button() {
        let example = include_str!("../examples/login-button.html");
        assert!(
            example.contains(BUTTON_CSS.trim()),
            "examples/login-button.html has static/button.css"
        );
        let icon_and_label: String = BUTTON_HTML.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert!(
            example.contains(&icon_and_label),
            "examples/login-button.html has static/button.html"
        );
    }
}
