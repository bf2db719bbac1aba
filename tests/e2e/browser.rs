//! A person's browser (cookies, forms, no JavaScript) and a relying party built on the
//! `openidconnect` crate, for the OpenID tests.

use std::time::Duration;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::redirect::Policy;
use url::Url;

use crate::helpers::{Provider, XmppUser};

/// Where following a response led.
#[derive(Debug)]
pub enum Landing {
    /// A page of the provider.
    Page {
        status: u16,
        url: String,
        html: String,
        headers: HeaderMap,
    },
    /// A redirect out of the provider (to the relying party).
    Away(Url),
}

impl Landing {
    pub fn away(self) -> Url {
        match self {
            Landing::Away(url) => url,
            Landing::Page {
                status, url, html, ..
            } => panic!("expected a redirect away, got {status} at {url}:\n{html}"),
        }
    }

    pub fn page(self) -> (u16, String, String) {
        match self {
            Landing::Page {
                status, url, html, ..
            } => (status, url, html),
            Landing::Away(url) => panic!("expected a page, got a redirect to {url}"),
        }
    }
}

/// The value of `<input name=NAME value=...>` in a page.
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let value = rest.find("value=\"")? + "value=\"".len();
    let end = rest[value..].find('"')?;
    Some(rest[value..value + end].to_owned())
}

pub struct Browser {
    pub http: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    origin: String,
}

impl Browser {
    pub fn new(app: &impl Provider) -> Self {
        Self::from_address(app, None)
    }

    /// A browser whose `Accept-Language` is `languages` (e.g. "de-AT,de;q=0.9,en;q=0.5").
    pub fn speaking(app: &impl Provider, languages: &str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, languages.parse().unwrap());
        Self::built(app, reqwest::Client::builder().default_headers(headers))
    }

    /// A browser whose connections come from `address` (another loopback address, e.g.
    /// 127.0.0.2: another network as far as the provider's limits can tell).
    pub fn from_address(app: &impl Provider, address: Option<std::net::IpAddr>) -> Self {
        Self::built(app, reqwest::Client::builder().local_address(address))
    }

    /// A browser from `builder`: with its own cookies, following no redirects by itself.
    fn built(app: &impl Provider, builder: reqwest::ClientBuilder) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Self {
            http: builder
                .cookie_provider(jar.clone())
                .redirect(Policy::none())
                .build()
                .unwrap(),
            jar,
            origin: app.issuer(),
        }
    }

    /// Plants a cookie for the provider, as another site or a script might.
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = Url::parse(&self.origin).unwrap();
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    /// The value of the provider's cookie `name` in this browser.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = Url::parse(&self.origin).unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// Follows redirects within the provider; stops at a page or a redirect elsewhere.
    pub async fn follow(&self, response: reqwest::Response) -> Landing {
        let mut response = response;
        loop {
            let status = response.status().as_u16();
            let url = response.url().to_string();
            if let Some(location) = response.headers().get(LOCATION) {
                assert!(
                    matches!(status, 302 | 303),
                    "redirects are 302/303, never 307 (RFC 9700 §4.12): {status}"
                );
                let next = Url::parse(&url)
                    .unwrap()
                    .join(location.to_str().unwrap())
                    .unwrap();
                if next.origin().ascii_serialization() != self.origin {
                    return Landing::Away(next);
                }
                response = self.http.get(next).send().await.unwrap();
                continue;
            }
            let headers = response.headers().clone();
            let html = response.text().await.unwrap();
            return Landing::Page {
                status,
                url,
                html,
                headers,
            };
        }
    }

    pub async fn open(&self, url: &str) -> Landing {
        let response = self.http.get(url).send().await.unwrap();
        self.follow(response).await
    }

    /// Submits the login page's JID form with `jid`, and hands back the answer unfollowed.
    pub async fn submit_jid(&self, login_url: &str, html: &str, jid: &str) -> reqwest::Response {
        let csrf = field(html, "csrf").expect("csrf field");
        self.http
            .post(login_url)
            .form(&[("jid", jid), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap()
    }

    /// A JSON document as the pages' script reads it (a login's status).
    pub async fn json(&self, url: &str) -> serde_json::Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Landing {
        let response = self.http.post(url).form(form).send().await.unwrap();
        self.follow(response).await
    }

    /// Types `jid` into the login page at `login_url` and waits for the XMPP client's
    /// answer; returns the code shown and where "continue" led.
    pub async fn log_in(
        &self,
        login_url: &str,
        html: &str,
        jid: &str,
        user: &mut XmppUser,
    ) -> Landing {
        assert!(html.contains("name=\"jid\""), "not the login page:\n{html}");
        let csrf = field(html, "csrf").expect("csrf field");
        let (_, wait_url, wait_html) = self
            .post(login_url, &[("jid", jid), ("csrf", &csrf)])
            .await
            .page();
        // A page that did not send (a limit, the link down) fails here, with the page,
        // instead of after a long wait for a request that never comes.
        assert!(
            ["data-status=\"sent\"", "data-status=\"accepted\""]
                .iter()
                .any(|status| wait_html.contains(status)),
            "the request was not sent:\n{wait_html}"
        );
        let request = user.next_request().await;
        assert!(
            wait_html.contains(&request.code),
            "the page shows the code the XMPP client got ({}):\n{wait_html}",
            request.code
        );
        self.wait_for_status(&format!("{wait_url}/status"), "accepted")
            .await;
        self.post(&format!("{wait_url}/continue"), &[("csrf", &csrf)])
            .await
    }

    /// Polls a login's `status_url` (as the page's script does) until it reads `want`;
    /// anything but "sent" on the way fails the test.
    pub async fn wait_for_status(&self, status_url: &str, want: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let status: serde_json::Value = self
                .http
                .get(status_url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if status["status"] == want {
                return;
            }
            assert_eq!(status["status"], "sent", "waiting for {want}: {status}");
            assert!(tokio::time::Instant::now() < deadline, "never {want}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Approves the consent page if there is one; returns the callback URL.
    pub async fn consent_if_asked(&self, landing: Landing) -> Url {
        match landing {
            Landing::Away(url) => url,
            Landing::Page { url, html, .. } => {
                assert!(
                    url.ends_with("/consent"),
                    "expected consent at {url}:\n{html}"
                );
                let csrf = field(&html, "csrf").unwrap();
                self.post(&url, &[("csrf", &csrf), ("decision", "allow")])
                    .await
                    .away()
            }
        }
    }
}

pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub const REDIRECT_URI: &str = "https://rp.example/callback";

/// An `openidconnect` relying party registered with the provider.
pub struct RelyingParty {
    pub client: Rp,
    pub http: reqwest::Client,
}

/// One authorization request as the RP made it.
pub struct Attempt {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: Option<PkceCodeVerifier>,
}

impl RelyingParty {
    pub async fn discover(app: &impl Provider, client_id: &str, client_secret: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer()).unwrap(), &http)
                .await
                .expect("discovery");
        let secret =
            (!client_secret.is_empty()).then(|| ClientSecret::new(client_secret.to_owned()));
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            secret,
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
        Self { client, http }
    }

    /// An authorization URL with `scopes` beyond openid, PKCE if `pkce`, and extra params.
    pub fn attempt(&self, scopes: &[&str], pkce: bool, extra: &[(&str, &str)]) -> Attempt {
        let mut request = self.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        for (k, v) in extra {
            request = request.add_extra_param(*k, *v);
        }
        let verifier = if pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            Some(verifier)
        } else {
            None
        };
        let (url, state, nonce) = request.url();
        Attempt {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// A public client's login without PKCE comes back with `invalid_request`.
    pub async fn refused_without_pkce(&self, app: &impl Provider) {
        let without_pkce = self.attempt(&[], false, &[]);
        let callback = Browser::new(app)
            .open(without_pkce.url.as_str())
            .await
            .away();
        assert!(
            callback.as_str().contains("error=invalid_request"),
            "{callback}"
        );
    }

    /// Checks the callback (state, RFC 9207 iss) and returns the code.
    pub fn code_from(&self, app: &impl Provider, callback: &Url, attempt: &Attempt) -> String {
        assert!(callback.as_str().starts_with(REDIRECT_URI), "{callback}");
        let get = |name: &str| {
            callback
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(get("error"), None, "{callback}");
        assert_eq!(
            get("state").as_deref(),
            Some(attempt.state.secret().as_str())
        );
        assert_eq!(get("iss"), Some(app.issuer()));
        get("code").expect("a code")
    }

    pub async fn exchange(
        &self,
        code: &str,
        verifier: Option<PkceCodeVerifier>,
    ) -> Result<CoreTokenResponse, String> {
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .expect("token endpoint known");
        if let Some(verifier) = verifier {
            request = request.set_pkce_verifier(verifier);
        }
        request
            .request_async(&self.http)
            .await
            .map_err(|e| format!("{e:?}"))
    }

    /// A refresh (RFC 6749 §6), narrowed to `scope` if given; a refusal is its error code
    /// (RFC 6749 §5.2).
    pub async fn refresh(
        &self,
        token: &openidconnect::RefreshToken,
        scope: Option<&str>,
    ) -> Result<CoreTokenResponse, openidconnect::core::CoreErrorResponseType> {
        let mut request = self
            .client
            .exchange_refresh_token(token)
            .expect("token endpoint known");
        if let Some(scope) = scope {
            request = request.add_scope(openidconnect::Scope::new(scope.into()));
        }
        request
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(refused) => {
                    refused.error().clone()
                }
                other => panic!("no answer from the token endpoint: {other:?}"),
            })
    }

    fn verifier(&self) -> openidconnect::core::CoreIdTokenVerifier<'_> {
        self.client.id_token_verifier().set_allowed_algs(vec![
            openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            openidconnect::core::CoreJwsSigningAlgorithm::EdDsa,
        ])
    }

    /// Validates the ID token (signature with the JWKS, iss, aud, exp, nonce).
    pub fn id_claims(&self, tokens: &CoreTokenResponse, nonce: &Nonce) -> CoreIdTokenClaims {
        tokens
            .id_token()
            .expect("an ID token")
            .claims(&self.verifier(), nonce)
            .expect("a valid ID token")
            .clone()
    }

    /// Validates an ID token from a refresh, which carries no nonce (OIDC Core §12.2).
    pub fn refreshed_id_claims(&self, tokens: &CoreTokenResponse) -> CoreIdTokenClaims {
        let no_nonce = |nonce: Option<&Nonce>| match nonce {
            None => Ok(()),
            Some(_) => Err("a refreshed ID token carries no nonce".to_owned()),
        };
        tokens
            .id_token()
            .expect("an ID token")
            .claims(&self.verifier(), no_nonce)
            .expect("a valid ID token")
            .clone()
    }
}

/// The whole login: authorize → JID form → XMPP confirmation → (consent) → callback.
pub async fn full_login(
    app: &impl Provider,
    browser: &Browser,
    rp: &RelyingParty,
    user: &mut XmppUser,
    jid: &str,
    attempt: &Attempt,
) -> String {
    let (status, login_url, html) = browser.open(attempt.url.as_str()).await.page();
    assert_eq!(status, 200, "{html}");
    let landing = browser.log_in(&login_url, &html, jid, user).await;
    let callback = browser.consent_if_asked(landing).await;
    rp.code_from(app, &callback, attempt)
}
