//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): with open
//! registration, a `client_id` that is an https URL names the client's metadata, fetched
//! from there as it is needed and cached as its HTTP headers allow. Such a client is public
//! (it has no way to receive a secret), so PKCE is required, and its `redirect_uris` are
//! checked as a self-registered client's are.
//!
//! The client is never written to the clients table: the document is the registration, and
//! the site may change it at any time. Grants, tokens and consents name it by its URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use url::Url;

use super::client_auth::MAX_CREDENTIAL_LEN;
use super::registration::{settings_from_metadata, MetadataSource};
use crate::outbound::{AddressPolicy, CheckedResolver, Refused};
use crate::store::clients::{is_loopback_ip_literal, Client};

/// The draft recommends at most 5 kilobytes; a bigger body is cut off, not read.
const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds on how long a document is used without fetching it again: at least a minute (a
/// login reads the client several times), at most a day (a site's changes take effect).
const MIN_FRESHNESS: Duration = Duration::from_secs(60);
const MAX_FRESHNESS: Duration = Duration::from_secs(24 * 3600);
/// Without a `Cache-Control` max-age.
const DEFAULT_FRESHNESS: Duration = Duration::from_secs(300);
/// Documents kept at once; anyone can make us fetch one, so memory stays bounded.
const MAX_CACHED: usize = 1000;

/// Whether `client_id` names a metadata document rather than a client in the database
/// (whose ids are alphanumeric).
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// Why a metadata document cannot be used, for the person (the error page) and the client
/// (`invalid_client`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(String);

struct Cached {
    client: Client,
    fresh_until: Instant,
}

type HttpClient = hyper_util::client::legacy::Client<
    HttpsConnector<HttpConnector<CheckedResolver>>,
    Empty<Bytes>,
>;

/// Fetches and caches metadata documents. Each instance keeps its own cache.
pub struct MetadataDocuments {
    http: HttpClient,
    policy: AddressPolicy,
    cache: Mutex<HashMap<String, Cached>>,
}

impl MetadataDocuments {
    /// Documents on loopback are fetched only when the issuer is on loopback itself (tests,
    /// the demo); then also over http.
    pub fn new(issuer: &Url) -> anyhow::Result<Arc<Self>> {
        let policy = AddressPolicy {
            allow_loopback: is_loopback_ip_literal(issuer)
                || issuer.host() == Some(url::Host::Domain("localhost")),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        // Connects where the resolver says, follows no redirect, and uses no proxy (which
        // would connect wherever it likes, past the address checks).
        let mut connector = HttpConnector::new_with_resolver(CheckedResolver(policy));
        connector.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        // Documents are fetched seldom: no idle connections kept open to strangers' hosts.
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Ok(Arc::new(Self {
            http,
            policy,
            cache: Mutex::new(HashMap::new()),
        }))
    }

    /// The client the document at `client_id` describes, from the cache while it is fresh.
    pub async fn client(&self, client_id: &str) -> Result<Client, DocumentError> {
        if let Some(cached) = self.cache().get(client_id) {
            if cached.fresh_until > Instant::now() {
                return Ok(cached.client.clone());
            }
        }
        let fetched = self.fetch_client(client_id).await;
        let mut cache = self.cache();
        match &fetched {
            Ok((client, Some(freshness))) => {
                make_room(&mut cache);
                cache.insert(
                    client_id.to_owned(),
                    Cached {
                        client: client.clone(),
                        fresh_until: Instant::now() + *freshness,
                    },
                );
            }
            // `no-store`; and, as the draft wants, errors and invalid documents are never
            // cached.
            _ => {
                cache.remove(client_id);
            }
        }
        fetched.map(|(client, _)| client)
    }

    /// Whether `origin` is the web origin of a redirect URI of a document in the cache, even
    /// a stale one: a CORS preflight names no client, and tells nothing about any.
    pub fn is_known_origin(&self, origin: &str) -> bool {
        self.cache()
            .values()
            .any(|cached| cached.client.has_web_origin(origin))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // Whole entries are inserted or removed: a panic elsewhere leaves none half-written.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn fetch_client(
        &self,
        client_id: &str,
    ) -> Result<(Client, Option<Duration>), DocumentError> {
        let url = check_client_id(client_id, self.policy)?;
        let (headers, body) = tokio::time::timeout(FETCH_TIMEOUT, self.fetch(&url))
            .await
            .map_err(|_| {
                DocumentError(format!(
                    "fetching {url} took longer than {} s",
                    FETCH_TIMEOUT.as_secs()
                ))
            })??;
        let client = client_from_document(&url, &body)?;
        Ok((client, freshness(&headers)))
    }

    /// The body of a 200 answer, cut off past [`MAX_DOCUMENT_BYTES`].
    async fn fetch(&self, url: &Url) -> Result<(HeaderMap, Vec<u8>), DocumentError> {
        let request = Request::get(url.as_str())
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("jidconnect/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| DocumentError(format!("cannot fetch {url}: {e}")))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| fetch_error(url, &e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(DocumentError(format!(
                "fetching {url} answered with a redirect (HTTP {status}), which is not followed"
            )));
        }
        if status != StatusCode::OK {
            return Err(DocumentError(format!(
                "fetching {url} answered HTTP {status}, not 200"
            )));
        }
        let too_big = || {
            DocumentError(format!(
                "the document at {url} is larger than {MAX_DOCUMENT_BYTES} bytes"
            ))
        };
        let (parts, mut incoming) = response.into_parts();
        let mut body = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| fetch_error(url, &e))?;
            if let Some(data) = frame.data_ref() {
                if body.len() + data.len() > MAX_DOCUMENT_BYTES {
                    return Err(too_big());
                }
                body.extend_from_slice(data);
            }
        }
        Ok((parts.headers, body))
    }
}

/// Past the bound, stale documents go first, then those that go stale soonest.
fn make_room(cache: &mut HashMap<String, Cached>) {
    if cache.len() < MAX_CACHED {
        return;
    }
    let now = Instant::now();
    cache.retain(|_, cached| cached.fresh_until > now);
    while cache.len() >= MAX_CACHED {
        let Some(soonest) = cache
            .iter()
            .min_by_key(|(_, cached)| cached.fresh_until)
            .map(|(id, _)| id.clone())
        else {
            break;
        };
        cache.remove(&soonest);
    }
}

/// Names the resolver's refusal, or the deepest cause of the failure.
fn fetch_error(url: &Url, error: &(dyn std::error::Error + 'static)) -> DocumentError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return DocumentError(format!("{url} is not fetched: {refused}"));
        }
        source = cause.source();
    }
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    DocumentError(format!("cannot fetch {url}: {cause}"))
}

/// The draft's rules for a client identifier URL: https, a path, no dot segments, no
/// fragment, no user name or password; and ours: in normal form (so that it compares
/// equal to the document's `client_id`), short enough to be a client id at `/token`, and
/// not an IP address the fetch may not reach.
fn check_client_id(client_id: &str, policy: AddressPolicy) -> Result<Url, DocumentError> {
    let refuse = |why: String| Err(DocumentError(format!("the client_id {client_id} {why}")));
    if client_id.len() > MAX_CREDENTIAL_LEN {
        return refuse(format!("is longer than {MAX_CREDENTIAL_LEN} characters"));
    }
    let Ok(url) = Url::parse(client_id) else {
        return refuse("is not a URL".into());
    };
    let loopback_exception = policy.allow_loopback && is_loopback_ip_literal(&url);
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback_exception) {
        return refuse("must be an https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("must not contain a user name or password".into());
    }
    if url.fragment().is_some() {
        return refuse("must not have a fragment".into());
    }
    let path = client_id.split(['?', '#']).next().unwrap_or_default();
    let dot_segment = path.split('/').skip(3).any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    });
    if dot_segment {
        return refuse("must not contain . or .. path segments".into());
    }
    if url.path() == "/" {
        return refuse("must have a path (such as /client-metadata.json)".into());
    }
    if url.as_str() != client_id {
        return refuse(format!("is not in normal form (it reads {url})"));
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.into()),
        Some(url::Host::Ipv6(ip)) => Some(ip.into()),
        _ => None,
    };
    // The resolver checks names; a literal address is connected to without it.
    if literal.is_some_and(|ip| !policy.permits(ip)) {
        return refuse("is on an address that may not be fetched (private, loopback, link-local or another special address)".into());
    }
    Ok(url)
}

/// How long a document may be used before fetching it again: its `Cache-Control` max-age
/// within bounds; `None` for `no-store`.
fn freshness(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    let directives = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for directive in directives {
        let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" => return None,
            "max-age" => max_age = argument.trim().trim_matches('"').parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(max_age.map_or(DEFAULT_FRESHNESS, |secs| {
        Duration::from_secs(secs).clamp(MIN_FRESHNESS, MAX_FRESHNESS)
    }))
}

/// The draft: a JSON object whose `client_id` is the document's URL, exactly; nothing of a
/// shared secret; then the metadata as a registration's, for a public client.
fn client_from_document(url: &Url, body: &[u8]) -> Result<Client, DocumentError> {
    let refuse = |why: String| DocumentError(format!("the document at {url} {why}"));
    let Ok(Value::Object(metadata)) = serde_json::from_slice::<Value>(body) else {
        return Err(refuse("is not a JSON object".into()));
    };
    if metadata.get("client_id").and_then(Value::as_str) != Some(url.as_str()) {
        return Err(refuse(
            "must have a client_id equal to its own URL, exactly".into(),
        ));
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if metadata.contains_key(secret) {
            return Err(refuse(format!(
                "must not have {secret}: a client known by its document has no secret"
            )));
        }
    }
    let (settings, _) =
        settings_from_metadata(&metadata, MetadataSource::Document { client_id: url })
            .map_err(|e| refuse(format!("is refused: {}", e.description)))?;
    Ok(Client::from_metadata_document(url.as_str(), settings))
}

/// The host the person is told the site identified itself from (the draft's phishing
/// advice), for a client known by its document.
pub fn document_host(client: &Client) -> Option<String> {
    if !is_document_url(&client.client_id) {
        return None;
    }
    Url::parse(&client.client_id)
        .ok()?
        .host_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::tests::{LOOPBACK_ISSUER, STRICT};
    use axum::http::HeaderValue;
    use serde_json::json;

    fn refusal(client_id: &str, policy: AddressPolicy) -> String {
        match check_client_id(client_id, policy) {
            Ok(url) => panic!("{client_id} was accepted as {url}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_client_id_is_an_https_url_with_a_path_in_normal_form() {
        for good in [
            "https://app.example/client.json",
            "https://app.example:8443/oauth/client?v=1",
            "https://93.184.215.14/client.json",
        ] {
            assert_eq!(check_client_id(good, STRICT).unwrap().as_str(), good);
        }
        for (bad, why) in [
            ("http://app.example/client.json", "https"),
            ("ftp://app.example/client.json", "https"),
            ("https://app.example", "path"),
            ("https://app.example/", "path"),
            ("https://app.example/client.json#me", "fragment"),
            ("https://me@app.example/client.json", "user name"),
            ("https://me:pw@app.example/client.json", "user name"),
            ("https://app.example/a/../client.json", ". or .."),
            ("https://app.example/./client.json", ". or .."),
            ("https://app.example/a/%2E%2e/client.json", ". or .."),
            ("https://APP.example/client.json", "normal form"),
            ("https://app.example:443/client.json", "normal form"),
            ("not a url", "not a URL"),
            ("https://10.0.0.1/client.json", "may not be fetched"),
            ("https://[::1]/client.json", "may not be fetched"),
            ("https://169.254.169.254/latest", "may not be fetched"),
        ] {
            let refused = refusal(bad, STRICT);
            assert!(refused.contains(why), "{bad}: {refused}");
        }
        let long = format!("https://app.example/{}", "a".repeat(300));
        assert!(refusal(&long, STRICT).contains("longer than"));
    }

    #[test]
    fn loopback_documents_only_for_a_loopback_issuer() {
        for id in [
            "http://127.0.0.1:8081/client.json",
            "https://127.0.0.1/client.json",
        ] {
            assert!(check_client_id(id, LOOPBACK_ISSUER).is_ok(), "{id}");
            assert!(check_client_id(id, STRICT).is_err(), "{id}");
        }
        // http only on a loopback literal, even then.
        assert!(refusal("http://app.example/client.json", LOOPBACK_ISSUER).contains("https"));
        assert!(refusal("http://localhost/client.json", LOOPBACK_ISSUER).contains("https"));
    }

    #[tokio::test]
    async fn names_that_resolve_to_special_addresses_are_not_fetched() {
        let documents =
            MetadataDocuments::new(&Url::parse("https://idp.example").unwrap()).unwrap();
        let error = documents
            .client("https://localhost:1/client.json")
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("resolves to no public address"), "{error}");
    }

    /// A TLS server on loopback whose certificate no public authority signed.
    async fn self_signed_server() -> std::net::SocketAddr {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = tempfile::tempdir().unwrap();
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_file(&cert).unwrap()],
            PrivateKeyDer::from_pem_file(&key).unwrap(),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = acceptor.accept(stream).await;
            }
        });
        address
    }

    #[tokio::test]
    async fn https_needs_a_certificate_from_a_public_authority() {
        let address = self_signed_server().await;
        let loopback_issuer = Url::parse("http://127.0.0.1:8080").unwrap();
        let documents = MetadataDocuments::new(&loopback_issuer).unwrap();
        let error = documents
            .client(&format!("https://{address}/client.json"))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid peer certificate"), "{error}");
    }

    fn cache_control(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn cache_headers_within_bounds() {
        let secs = |values: &[&str]| freshness(&cache_control(values)).map(|d| d.as_secs());
        assert_eq!(secs(&[]), Some(300));
        assert_eq!(secs(&["public, max-age=3600"]), Some(3600));
        assert_eq!(secs(&["max-age=\"7200\""]), Some(7200));
        assert_eq!(secs(&["max-age=0"]), Some(60));
        assert_eq!(secs(&["max-age=31536000"]), Some(86400));
        assert_eq!(secs(&["max-age=soon"]), Some(300));
        assert_eq!(secs(&["no-store"]), None);
        assert_eq!(secs(&["max-age=600", "No-Store"]), None);
    }

    fn document_url() -> Url {
        Url::parse("https://app.example/client.json").unwrap()
    }

    fn document(changes: Value) -> Vec<u8> {
        let mut document = json!({
            "client_id": "https://app.example/client.json",
            "client_name": "App",
            "redirect_uris": ["https://app.example/callback"],
        });
        for (name, value) in changes.as_object().unwrap() {
            match value {
                Value::Null => document.as_object_mut().unwrap().remove(name),
                value => document
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone()),
            };
        }
        document.to_string().into_bytes()
    }

    #[test]
    fn a_document_makes_a_public_client_that_is_never_trusted() {
        let client = client_from_document(&document_url(), &document(json!({}))).unwrap();
        assert_eq!(client.client_id, "https://app.example/client.json");
        assert_eq!(client.settings.name, "App");
        assert!(client.settings.public && !client.settings.trusted);
        assert!(client.self_registered);
        assert!(client.accepts_redirect_uri("https://app.example/callback"));
        assert_eq!(document_host(&client).as_deref(), Some("app.example"));
        // Without a name, the client is named after its host.
        let unnamed =
            client_from_document(&document_url(), &document(json!({"client_name": null}))).unwrap();
        assert_eq!(unnamed.settings.name, "app.example");
        let explicit = document(json!({"token_endpoint_auth_method": "none"}));
        assert!(client_from_document(&document_url(), &explicit).is_ok());
    }

    #[test]
    fn documents_are_checked() {
        for (changes, why) in [
            (json!({"client_id": null}), "client_id equal to its own URL"),
            (
                json!({"client_id": "https://app.example/client.json/"}),
                "client_id equal to its own URL",
            ),
            (
                json!({"client_id": "https://evil.example/client.json"}),
                "client_id equal to its own URL",
            ),
            (json!({"client_secret": "s3cret"}), "client_secret"),
            (
                json!({"client_secret_expires_at": 0}),
                "client_secret_expires_at",
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
                "token_endpoint_auth_method",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt"}),
                "token_endpoint_auth_method",
            ),
            (json!({"redirect_uris": null}), "redirect_uris is required"),
            (
                json!({"redirect_uris": ["http://app.example/callback"]}),
                "must be https",
            ),
            (
                json!({"redirect_uris": ["https://app.example/callback#x"]}),
                "fragment",
            ),
            (json!({"grant_types": ["implicit"]}), "grant type"),
        ] {
            let refused = client_from_document(&document_url(), &document(changes.clone()))
                .unwrap_err()
                .to_string();
            assert!(refused.contains(why), "{changes}: {refused}");
        }
        for body in [&b"[1, 2]"[..], b"<html>", b""] {
            let refused = client_from_document(&document_url(), body)
                .unwrap_err()
                .to_string();
            assert!(refused.contains("not a JSON object"), "{refused}");
        }
    }
}
