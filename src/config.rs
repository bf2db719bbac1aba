//! Configuration: one TOML file, overlaid by `JIDCONNECT_*` environment variables.
//!
//! Every key, with its default, is documented in `config.example.toml`. An environment
//! variable names a key by its path, upper-cased, with `__` between table and key:
//! `JIDCONNECT_LISTEN`, `JIDCONNECT_XMPP__SECRET`, `JIDCONNECT_LIMITS__IP_PER_MINUTE`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use url::Url;

/// The environment variable that may name the config file.
pub const CONFIG_ENV: &str = "JIDCONNECT_CONFIG";
const ENV_PREFIX: &str = "JIDCONNECT_";
/// `JIDCONNECT_*` variables that are read elsewhere, not keys of the file.
const NOT_KEYS: &[&str] = &[CONFIG_ENV, crate::telemetry::LOG_FORMAT_ENV];
/// XEP-0070 requests older than this are useless: the reference component caps at 300 s too.
pub const MAX_CONFIRM_TIMEOUT_SECS: u64 = 300;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The public base URL; tokens' `iss` and the `url` of every confirmation request.
    #[serde(default = "default_issuer")]
    pub issuer: Url,
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Printed (check-config) without its password.
    #[serde(
        default = "default_database_url",
        serialize_with = "serialize_redacted"
    )]
    pub database_url: String,
    #[serde(default = "default_keys_dir")]
    pub keys_dir: PathBuf,
    /// Behind a reverse proxy, take the client IP from `X-Forwarded-For` (rate limits).
    #[serde(default)]
    pub trust_forwarded_for: bool,
    pub xmpp: XmppConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub oidc: OidcConfig,
    #[serde(default)]
    pub registration: RegistrationConfig,
    /// Bare JIDs allowed into `/admin` (after an XMPP confirmation, like any login).
    #[serde(default)]
    pub admin_jids: Vec<String>,
    /// `/healthz` shows its detail to loopback and to `Authorization: Bearer <this>`;
    /// empty: to loopback only.
    #[serde(default)]
    pub health_token: Secret,
    /// This instance's name in `/healthz` when several share a PostgreSQL database; empty:
    /// the host name and process id.
    #[serde(default)]
    pub instance_name: String,
    /// Where the other instances reach this one's HTTP server (`http://host:port`): while
    /// it leads, they hand it their confirmation requests there instead of through the
    /// database. Empty: through the database.
    #[serde(default)]
    pub cluster_url: String,
}

/// Lifetimes of what the OpenID provider issues, in seconds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    pub code_ttl_secs: u64,
    pub access_token_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// How long single sign-on lasts after a confirmed login.
    pub session_ttl_secs: u64,
    /// How long a login page stays usable.
    pub login_ttl_secs: u64,
    /// How long a device's user code stays usable (RFC 8628 `expires_in`).
    pub device_code_ttl_secs: u64,
    /// How long a device waits between polls of the token endpoint (RFC 8628 `interval`).
    pub device_poll_interval_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            code_ttl_secs: 60,
            access_token_ttl_secs: 3600,
            id_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 30 * 86400,
            session_ttl_secs: 8 * 3600,
            login_ttl_secs: 900,
            device_code_ttl_secs: 600,
            device_poll_interval_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct XmppConfig {
    pub component_jid: String,
    /// The login service's address is `LOCALPART@component_jid` when set: some apps treat
    /// an address without `@` as a server (Converse.js shows its messages with no reply
    /// box, Conversations warns before adding it). Empty: the bare component domain.
    #[serde(default)]
    pub service_localpart: String,
    #[serde(default = "default_xmpp_server")]
    pub server: String,
    pub secret: Secret,
    #[serde(default = "default_confirm_timeout")]
    pub confirm_timeout_secs: u64,
    #[serde(default = "default_ping_interval")]
    pub ping_interval_secs: u64,
    /// How long to wait for the server's answer to a ping before the link counts as dead.
    #[serde(default = "default_ping_timeout")]
    pub ping_timeout_secs: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_secs: u64,
}

/// Whether sites may register as clients themselves (RFC 7591), without an operator.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// "closed" (only operators register clients) or "open".
    pub mode: RegistrationMode,
    /// Registrations accepted per hour from one IP network.
    pub per_ip_per_hour: u32,
    /// With open registration, a `client_id` that is an https URL names the client's
    /// metadata document, fetched from there.
    pub metadata_documents: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    Closed,
    Open,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            mode: RegistrationMode::Closed,
            per_ip_per_hour: 10,
            metadata_documents: true,
        }
    }
}

impl RegistrationConfig {
    pub fn is_open(&self) -> bool {
        self.mode == RegistrationMode::Open
    }

    /// Whether a URL `client_id` is fetched as the client's metadata document.
    pub fn accepts_metadata_documents(&self) -> bool {
        self.is_open() && self.metadata_documents
    }
}

/// What one HTTP client may hold of the server: slow or idle connections are cut off.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Time to send a request's headers; also how long a connection may sit idle.
    pub header_read_timeout_secs: u64,
    /// Time to answer a request, body read included (`/auth` waits for its own timeout).
    pub request_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 4096,
        }
    }
}

/// Anti-abuse limits for confirmation requests (XEP-0070 §6, "prompt bombing").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Minimum time between two requests to the same JID.
    pub jid_cooldown_secs: u64,
    /// Requests per hour to one JID.
    pub jid_per_hour: u32,
    /// Requests per minute to all JIDs of one domain.
    pub domain_per_minute: u32,
    /// Requests per minute started from one client IP address.
    pub ip_per_minute: u32,
    /// Requests pending at once, in total.
    pub max_pending: usize,
    /// After a user says "no", no request reaches that JID for this long.
    pub deny_block_secs: u64,
    /// Requests waiting at once for one JID, from different networks (one per IP network,
    /// and one per browser that has logged in as that JID before, on top).
    pub jid_max_pending: usize,
    /// Requests per minute started from one IPv6 /48 (a site), on top of the /64's limit.
    pub ipv6_site_per_minute: u32,
    /// The largest share of `max_pending` that one IP network or one client may hold, in %.
    pub max_pending_share_percent: u32,
    /// Messages with a login code accepted per minute from one XMPP address.
    pub sender_per_minute: u32,
    /// Messages with a login code accepted per minute from one domain's addresses.
    pub sender_domain_per_minute: u32,
    /// Codes that match no login page, per hour and XMPP address, before its messages are
    /// ignored for a while.
    pub wrong_codes_per_hour: u32,
    /// Login pages (stored login flows) opened per minute from one IP network.
    pub login_pages_per_minute: u32,
    /// A browser that logged in as a JID stays exempt from the per-JID limits that other
    /// browsers set off for this long after its last login.
    pub known_device_ttl_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            jid_cooldown_secs: 5,
            jid_per_hour: 20,
            domain_per_minute: 120,
            ip_per_minute: 20,
            max_pending: 100_000,
            deny_block_secs: 600,
            jid_max_pending: 3,
            ipv6_site_per_minute: 60,
            max_pending_share_percent: 10,
            sender_per_minute: 10,
            sender_domain_per_minute: 120,
            wrong_codes_per_hour: 10,
            known_device_ttl_secs: 365 * 86400,
            login_pages_per_minute: 60,
        }
    }
}

/// A string that never shows up in `Debug` output or logs.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Printed (check-config) as `***`.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn serialize_redacted<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::store::redacted(url))
}

fn default_issuer() -> Url {
    Url::parse("http://127.0.0.1:8080").expect("valid literal")
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_database_url() -> String {
    "sqlite://jidconnect.db".into()
}
fn default_keys_dir() -> PathBuf {
    PathBuf::from("keys")
}
fn default_xmpp_server() -> String {
    "127.0.0.1:5347".into()
}
fn default_confirm_timeout() -> u64 {
    120
}
fn default_ping_interval() -> u64 {
    30
}
fn default_ping_timeout() -> u64 {
    10
}
fn default_reconnect_max() -> u64 {
    30
}

impl Config {
    /// `cluster_url`, if set.
    pub fn cluster_url(&self) -> Option<Url> {
        self.parsed_cluster_url().ok().flatten()
    }

    fn parsed_cluster_url(&self) -> anyhow::Result<Option<Url>> {
        if self.cluster_url.is_empty() {
            return Ok(None);
        }
        let fix = "set it to http://HOST:PORT, where the other instances reach this one's \
                   listen address on the network between them";
        if !self.database_url.starts_with("postgres") {
            bail!("cluster_url is for several instances on one PostgreSQL database: remove it");
        }
        let url = Url::parse(&self.cluster_url)
            .with_context(|| format!("cluster_url {:?} is not a URL: {fix}", self.cluster_url))?;
        let unspecified = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
            Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
            Some(url::Host::Domain(_)) => false,
            None => true,
        };
        if unspecified {
            bail!(
                "cluster_url {:?} names no host the others can reach (0.0.0.0 is where this \
                 one listens, not its address): {fix}",
                self.cluster_url
            );
        }
        if url.scheme() != "http"
            || url.path() != "/"
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            bail!(
                "cluster_url {:?} is not of the form http://HOST:PORT: {fix}",
                self.cluster_url
            );
        }
        Ok(Some(url))
    }

    /// Reads `path` (if any), overlays `JIDCONNECT_*` variables from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut table = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("{} is not valid TOML", path.display()))?
            }
            None => toml::Table::new(),
        };
        overlay_env(&mut table, env)?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .context("invalid configuration (see config.example.toml for every key)")?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses setups that would be unsafe or cannot work, saying how to fix them.
    pub fn validate(&self) -> anyhow::Result<()> {
        match self.issuer.scheme() {
            "https" => {}
            "http" if is_loopback_host(&self.issuer) => {}
            _ => bail!(
                "issuer {} must be an https:// URL (plain http is allowed only on loopback, \
                 for development); put jidconnect behind a TLS reverse proxy and set issuer to \
                 its public https URL",
                self.issuer
            ),
        }
        if self.issuer.query().is_some() || self.issuer.fragment().is_some() {
            bail!("issuer must not have a query or fragment (OIDC Discovery §3)");
        }
        if self.issuer.path() != "/" {
            bail!(
                "issuer {} has a path: serve jidconnect at the root of its own host name \
                 (e.g. https://login.example.org)",
                self.issuer
            );
        }
        let jid = &self.xmpp.component_jid;
        if jid.is_empty() || jid.contains(['@', '/']) {
            bail!(
                "[xmpp] component_jid = {jid:?} must be a bare domain such as \"auth.example.org\", \
                 the name of the Component in your XMPP server's configuration"
            );
        }
        let localpart = &self.xmpp.service_localpart;
        if !localpart.is_empty() {
            let valid = jid::BareJid::new(&self.xmpp.service_jid())
                .is_ok_and(|j| j.node().is_some_and(|n| n.as_str() == localpart));
            if !valid {
                bail!(
                    "[xmpp] service_localpart = {localpart:?} is not a valid XMPP local part: use \
                     lower-case letters and digits, such as \"login\""
                );
            }
        }
        if self.xmpp.secret.expose().is_empty() {
            bail!(
                "[xmpp] secret is empty: set it (or JIDCONNECT_XMPP__SECRET) to the \
                 component_secret of Component \"{jid}\" in your XMPP server's configuration"
            );
        }
        if !(1..=MAX_CONFIRM_TIMEOUT_SECS).contains(&self.xmpp.confirm_timeout_secs) {
            bail!(
                "[xmpp] confirm_timeout_secs = {} is out of range: use 1..={MAX_CONFIRM_TIMEOUT_SECS}",
                self.xmpp.confirm_timeout_secs
            );
        }
        if self.xmpp.ping_interval_secs == 0 || self.xmpp.ping_timeout_secs == 0 {
            bail!("[xmpp] ping_interval_secs and ping_timeout_secs must be at least 1");
        }
        let http = &self.http;
        if http.header_read_timeout_secs == 0
            || http.request_timeout_secs == 0
            || http.max_connections == 0
        {
            bail!(
                "[http] header_read_timeout_secs, request_timeout_secs and max_connections must \
                 be at least 1 (see config.example.toml for sane values)"
            );
        }
        let o = &self.oidc;
        if [
            o.code_ttl_secs,
            o.access_token_ttl_secs,
            o.id_token_ttl_secs,
            o.refresh_token_ttl_secs,
            o.session_ttl_secs,
            o.login_ttl_secs,
            o.device_code_ttl_secs,
            o.device_poll_interval_secs,
        ]
        .contains(&0)
        {
            bail!("[oidc] lifetimes must be at least 1 second");
        }
        if o.code_ttl_secs > 600 {
            bail!(
                "[oidc] code_ttl_secs must be at most 600 (RFC 6749 §4.1.2 recommends 600 at most)"
            );
        }
        if o.device_code_ttl_secs > 3600 {
            bail!(
                "[oidc] device_code_ttl_secs must be at most 3600: a user code (about 40 bits) \
                 must not stay guessable for long"
            );
        }
        self.parsed_cluster_url()?;
        for jid in &self.admin_jids {
            match crate::xmpp::address::UserJid::parse(jid) {
                Ok(parsed) if parsed.full().is_none() => {}
                _ => bail!("admin_jids: {jid:?} must be a bare JID such as \"admin@example.org\""),
            }
        }
        let l = &self.limits;
        if l.max_pending == 0 || l.jid_max_pending == 0 {
            bail!("[limits] max_pending and jid_max_pending must be at least 1");
        }
        if !(1..=100).contains(&l.max_pending_share_percent) {
            bail!("[limits] max_pending_share_percent must be 1..=100");
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            bail!(
                "database_url must start with sqlite: (a file, the default) or postgres:// \
                 (several instances)"
            );
        }
        Ok(())
    }
}

impl XmppConfig {
    /// The login service's address: what people add as a contact and send codes to, and
    /// where requests come from.
    pub fn service_jid(&self) -> String {
        match self.service_localpart.as_str() {
            "" => self.component_jid.clone(),
            localpart => format!("{localpart}@{}", self.component_jid),
        }
    }
}

impl Config {
    /// The issuer identifier exactly as in `iss` and discovery: no trailing slash.
    pub fn issuer_id(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `JIDCONNECT_XMPP__SECRET=x` sets `xmpp.secret = "x"`. Values that parse as TOML integers
/// or booleans become those, a value in brackets is a TOML array
/// (`JIDCONNECT_ADMIN_JIDS='["admin@example.org"]'`); everything else is a string.
fn overlay_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<()> {
    for (name, value) in env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NOT_KEYS.contains(&name.as_str()) || path.is_empty() {
            continue;
        }
        let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
        let (last, parents) = keys.split_last().expect("split yields at least one item");
        let mut current = &mut *table;
        for key in parents {
            let entry = current
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current = entry
                .as_table_mut()
                .with_context(|| format!("{name}: {key} is not a table"))?;
        }
        current.insert(last.clone(), env_value(&value));
    }
    Ok(())
}

fn env_value(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if value.trim_start().starts_with('[') {
        if let Ok(mut table) = format!("v = {value}").parse::<toml::Table>() {
            if let Some(array) = table.remove("v") {
                return array;
            }
        }
    }
    match value {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const MINIMAL: &[(&str, &str)] = &[
        ("JIDCONNECT_XMPP__COMPONENT_JID", "auth.example.org"),
        ("JIDCONNECT_XMPP__SECRET", "s3cret"),
    ];

    #[test]
    fn env_overlays_nested_keys_with_types() {
        let mut vars = env(MINIMAL);
        vars.extend(env(&[
            ("JIDCONNECT_LIMITS__IP_PER_MINUTE", "7"),
            ("JIDCONNECT_TRUST_FORWARDED_FOR", "true"),
            (
                "JIDCONNECT_ADMIN_JIDS",
                r#"["admin@example.org", "root@example.org"]"#,
            ),
            ("OTHER_VAR", "ignored"),
            // Read by the logging setup, documented in docs/operations.md.
            ("JIDCONNECT_LOG_FORMAT", "json"),
        ]));
        let config = Config::load(None, vars).unwrap();
        assert_eq!(config.xmpp.component_jid, "auth.example.org");
        assert_eq!(config.limits.ip_per_minute, 7);
        assert!(config.trust_forwarded_for);
        assert_eq!(config.admin_jids, ["admin@example.org", "root@example.org"]);
        assert_eq!(config.xmpp.confirm_timeout_secs, 120);
        assert_eq!(config.database_url, "sqlite://jidconnect.db");
    }

    #[test]
    fn secret_is_never_printed() {
        let mut vars = env(MINIMAL);
        vars.push((
            "JIDCONNECT_DATABASE_URL".into(),
            "postgres://app:hunter2@db/jid".into(),
        ));
        let config = Config::load(None, vars).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        let shown = toml::to_string_pretty(&config).unwrap();
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app:***@db/jid"), "{shown}");
    }

    #[test]
    fn refuses_unsafe_or_broken_setups_with_a_fix() {
        let cases: &[(&str, &str, &str)] = &[
            ("JIDCONNECT_ISSUER", "http://idp.example.org", "https"),
            ("JIDCONNECT_XMPP__SECRET", "", "component_secret"),
            ("JIDCONNECT_XMPP__CONFIRM_TIMEOUT_SECS", "301", "1..=300"),
            (
                "JIDCONNECT_XMPP__COMPONENT_JID",
                "bot@example.org",
                "bare domain",
            ),
            ("JIDCONNECT_DATABASE_URL", "mysql://x", "sqlite:"),
            ("JIDCONNECT_XMPP__SERVICE_LOCALPART", "log in", "local part"),
        ];
        for (key, value, hint) in cases {
            let mut vars = env(MINIMAL);
            vars.push((key.to_string(), value.to_string()));
            let err = format!("{:#}", Config::load(None, vars).unwrap_err());
            assert!(err.contains(hint), "{key}={value}: {err}");
        }
    }

    /// `cluster_url`: an http origin, and only with PostgreSQL; empty by default.
    #[test]
    fn cluster_url_is_an_http_origin_on_postgres() {
        let load = |db: &str, url: &str| {
            let mut vars = env(MINIMAL);
            vars.push(("JIDCONNECT_DATABASE_URL".into(), db.into()));
            vars.push(("JIDCONNECT_CLUSTER_URL".into(), url.into()));
            Config::load(None, vars).map_err(|e| format!("{e:#}"))
        };
        let pg = "postgres://db/jid";
        let url = load(pg, "http://10.0.0.5:8080").unwrap().cluster_url();
        assert_eq!(url.unwrap().as_str(), "http://10.0.0.5:8080/");
        assert_eq!(load(pg, "").unwrap().cluster_url(), None);
        let refused = [
            (pg, "10.0.0.5:8080"),
            (pg, "https://10.0.0.5:8080"),
            (pg, "http://10.0.0.5:8080/jidconnect"),
            (pg, "http://user:pw@10.0.0.5:8080"),
            (pg, "http://0.0.0.0:8080"),
        ];
        for (db, url) in refused {
            let err = load(db, url).unwrap_err();
            assert!(err.contains("http://HOST:PORT"), "{url}: {err}");
        }
        let err = load("sqlite://jidconnect.db", "http://10.0.0.5:8080").unwrap_err();
        assert!(err.contains("PostgreSQL"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let mut vars = env(MINIMAL);
        vars.push(("JIDCONNECT_XMPP__SECERT".into(), "typo".into()));
        assert!(Config::load(None, vars).is_err());
    }

    fn key_paths(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        match value.as_table() {
            Some(table) => {
                for (key, value) in table {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    key_paths(value, &path, out);
                }
            }
            None => out.push(prefix.to_owned()),
        }
    }

    #[test]
    fn every_key_is_in_the_example_and_the_readme() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let example = std::fs::read_to_string(root.join("config.example.toml")).unwrap();
        let config = Config::load(Some(&root.join("config.example.toml")), Vec::new()).unwrap();
        let mut known = Vec::new();
        key_paths(&toml::Value::try_from(&config).unwrap(), "", &mut known);
        let mut documented = Vec::new();
        key_paths(
            &toml::Value::Table(example.parse().unwrap()),
            "",
            &mut documented,
        );
        known.sort();
        documented.sort();
        assert_eq!(known, documented, "config.example.toml shows every key");
        let reference = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
        for key in &known {
            assert!(
                reference.contains(&format!("| `{key}` |")),
                "docs/configuration.md documents {key}"
            );
        }
        // The example's values are the defaults.
        let defaults = Config::load(None, env(MINIMAL)).unwrap();
        assert_eq!(
            format!("{:?}", config.limits),
            format!("{:?}", defaults.limits)
        );
        assert_eq!(format!("{:?}", config.oidc), format!("{:?}", defaults.oidc));
        assert_eq!(
            config.xmpp.confirm_timeout_secs,
            defaults.xmpp.confirm_timeout_secs
        );
    }
}
