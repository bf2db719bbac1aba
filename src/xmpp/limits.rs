//! Anti-abuse limits on confirmation requests (XEP-0070 §6: anyone can type anyone's JID),
//! and on the messages people send to the component.
//!
//! Per-JID limits are kept per *requester class*: a browser that has logged in as that JID
//! before (its device cookie) has its own budget, so that strangers who fill a JID's limits
//! do not lock its owner out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::config::Limits;
use crate::ratelimit::Gcra;

/// Why a request was refused; `Display` is what the person sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a confirmation request to this address is already waiting for an answer")]
    AlreadyPending,
    #[error("several confirmation requests to this address are already waiting for an answer")]
    JidPending,
    #[error("this address refused a login recently; try again later")]
    RecentlyDenied,
    #[error("a confirmation request was just sent to this address; wait a moment")]
    JidCooldown,
    #[error("too many confirmation requests to this address; try again later")]
    JidRate,
    #[error("too many confirmation requests to this server; try again later")]
    DomainRate,
    #[error("too many login attempts from your network; try again later")]
    IpRate,
    #[error("too many logins from your network are waiting for an answer; try again in a minute")]
    NetworkShare,
    #[error("too many logins to this site are waiting for an answer; try again in a minute")]
    ClientShare,
    #[error("too many logins are in progress; try again in a minute")]
    TooManyPending,
    #[error("too many messages from your address; wait a minute")]
    SenderRate,
    #[error("too many codes from your address matched no login page; wait a while")]
    WrongCodes,
}

impl Refusal {
    const ALL: [Refusal; 12] = [
        Refusal::AlreadyPending,
        Refusal::JidPending,
        Refusal::RecentlyDenied,
        Refusal::JidCooldown,
        Refusal::JidRate,
        Refusal::DomainRate,
        Refusal::IpRate,
        Refusal::NetworkShare,
        Refusal::ClientShare,
        Refusal::TooManyPending,
        Refusal::SenderRate,
        Refusal::WrongCodes,
    ];

    /// A stable name, for the database.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::AlreadyPending => "already_pending",
            Refusal::JidPending => "jid_pending",
            Refusal::RecentlyDenied => "recently_denied",
            Refusal::JidCooldown => "jid_cooldown",
            Refusal::JidRate => "jid_rate",
            Refusal::DomainRate => "domain_rate",
            Refusal::IpRate => "ip_rate",
            Refusal::NetworkShare => "network_share",
            Refusal::ClientShare => "client_share",
            Refusal::TooManyPending => "too_many_pending",
            Refusal::SenderRate => "sender_rate",
            Refusal::WrongCodes => "wrong_codes",
        }
    }

    /// Why, as the login page says it, in `l`.
    pub fn message(self, l: crate::i18n::Lang) -> String {
        match self {
            Refusal::AlreadyPending => l.t("refusal-already-pending"),
            Refusal::JidPending => l.t("refusal-jid-pending"),
            Refusal::RecentlyDenied => l.t("refusal-recently-denied"),
            Refusal::JidCooldown => l.t("refusal-jid-cooldown"),
            Refusal::JidRate => l.t("refusal-jid-rate"),
            Refusal::DomainRate => l.t("refusal-domain-rate"),
            Refusal::IpRate => l.t("refusal-ip-rate"),
            Refusal::NetworkShare => l.t("refusal-network-share"),
            Refusal::ClientShare => l.t("refusal-client-share"),
            Refusal::TooManyPending => l.t("refusal-too-many-pending"),
            Refusal::SenderRate => l.t("refusal-sender-rate"),
            Refusal::WrongCodes => l.t("refusal-wrong-codes"),
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub reason: Refusal,
    pub retry_after: Duration,
}

/// Who asks for a confirmation request: what the per-JID, per-network and per-client
/// limits count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    /// The browser's (or the `/auth` caller's) IP address.
    pub ip: Option<IpAddr>,
    /// The registered client the login is for.
    pub client_id: Option<String>,
    /// The digest of the device cookie of a browser that has logged in as the asked JID
    /// before: such a browser is exempt from the per-JID limits that others set off.
    pub device: Option<String>,
}

/// The unit the per-IP limits count: an IPv4 address, or an IPv6 /64 (one subscriber's
/// network; counting single IPv6 addresses would let anyone use 2^64 of them).
pub fn network_of(ip: IpAddr) -> IpAddr {
    // `::ffff:192.0.2.1` (a dual-stack listener) is the IPv4 address it carries.
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(prefix(v6, 64)),
    }
}

/// An IPv6 /48, what one site is usually given: a second, wider per-IP limit.
fn site_of(ip: IpAddr) -> Option<Ipv6Addr> {
    match ip.to_canonical() {
        IpAddr::V4(_) => None,
        IpAddr::V6(v6) => Some(prefix(v6, 48)),
    }
}

fn prefix(ip: Ipv6Addr, bits: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(ip) & !(u128::MAX >> bits))
}

/// The domain the per-domain limits count: the registrable domain (`chat.example.co.uk` →
/// `example.co.uk`), so that a domain's subdomains share one budget.
pub fn registrable_domain(domain: &str) -> &str {
    psl::domain_str(domain).unwrap_or(domain)
}

/// The per-JID key of one requester class: strangers share one, each known device has its own.
fn jid_key(jid: &str, device: Option<&str>) -> String {
    match device {
        Some(device) => format!("{jid}#{device}"),
        None => jid.to_owned(),
    }
}

pub struct Limiter {
    cooldown: Duration,
    deny_block: Duration,
    last_request: HashMap<String, Instant>,
    blocked_until: HashMap<String, Instant>,
    per_jid: Gcra<String>,
    per_domain: Gcra<String>,
    per_ip: Gcra<IpAddr>,
    per_site: Gcra<Ipv6Addr>,
    per_sender: Gcra<String>,
    /// Wrong codes per domain: checked only for senders that sent wrong codes themselves,
    /// so that a flood from a domain's other addresses locks out none with a clean record.
    wrong_per_domain: Gcra<String>,
    /// Help answers per domain (to a message that is none of the service's).
    help_per_domain: Gcra<String>,
    /// New subscriptions per domain.
    subscriptions_per_domain: Gcra<String>,
    presence_per_sender: Gcra<String>,
    wrong_codes: Gcra<String>,
    checks_since_prune: u32,
}

const PRUNE_EVERY: u32 = 1024;
/// Presence stanzas per minute from one address: enough for status changes and a few apps
/// coming and going, not for a flood.
const PRESENCE_PER_MINUTE: u32 = 60;

/// Counts one against `key` if it has budget left.
fn admit(gcra: &mut Gcra<String>, key: String, now: Instant) -> bool {
    if gcra.wait(&key, now).is_some() {
        return false;
    }
    gcra.record(key, now);
    true
}

impl Limiter {
    pub fn new(limits: &Limits) -> Self {
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        Self {
            cooldown: Duration::from_secs(limits.jid_cooldown_secs),
            deny_block: Duration::from_secs(limits.deny_block_secs),
            last_request: HashMap::new(),
            blocked_until: HashMap::new(),
            per_jid: Gcra::new(limits.jid_per_hour, hour),
            per_domain: Gcra::new(limits.domain_per_minute, minute),
            per_ip: Gcra::new(limits.ip_per_minute, minute),
            per_site: Gcra::new(limits.ipv6_site_per_minute, minute),
            per_sender: Gcra::new(limits.sender_per_minute, minute),
            wrong_per_domain: Gcra::new(limits.sender_domain_per_minute, minute),
            help_per_domain: Gcra::new(limits.sender_domain_per_minute, minute),
            subscriptions_per_domain: Gcra::new(limits.sender_domain_per_minute, minute),
            presence_per_sender: Gcra::new(PRESENCE_PER_MINUTE, minute),
            wrong_codes: Gcra::new(limits.wrong_codes_per_hour, hour),
            checks_since_prune: 0,
        }
    }

    /// Checks every time-based limit for a request to `jid` (a bare JID) on `domain` by
    /// `requester`, and counts the request only if all of them allow it.
    pub fn admit(
        &mut self,
        jid: &str,
        domain: &str,
        requester: &Requester,
        now: Instant,
    ) -> Result<(), Refused> {
        self.maybe_prune(now);
        let refuse = |reason, retry_after| {
            Err(Refused {
                reason,
                retry_after,
            })
        };
        let key = jid_key(jid, requester.device.as_deref());
        if let Some(until) = self.blocked_until.get(&key).filter(|u| **u > now) {
            return refuse(Refusal::RecentlyDenied, *until - now);
        }
        if let Some(last) = self.last_request.get(&key) {
            let since = now.saturating_duration_since(*last);
            if since < self.cooldown {
                return refuse(Refusal::JidCooldown, self.cooldown - since);
            }
        }
        if let Some(wait) = self.per_jid.wait(&key, now) {
            return refuse(Refusal::JidRate, wait);
        }
        let domain = registrable_domain(domain).to_owned();
        if let Some(wait) = self.per_domain.wait(&domain, now) {
            return refuse(Refusal::DomainRate, wait);
        }
        if let Some(ip) = requester.ip {
            let wait = self
                .per_ip
                .wait(&network_of(ip), now)
                .max(site_of(ip).and_then(|site| self.per_site.wait(&site, now)));
            if let Some(wait) = wait {
                return refuse(Refusal::IpRate, wait);
            }
        }
        self.record(jid, &domain, requester, now);
        Ok(())
    }

    /// Counts a request sent at `at` against every limit.
    pub fn record(&mut self, jid: &str, domain: &str, requester: &Requester, at: Instant) {
        let key = jid_key(jid, requester.device.as_deref());
        let last = self.last_request.entry(key.clone()).or_insert(at);
        *last = (*last).max(at);
        self.per_jid.record(key, at);
        self.per_domain
            .record(registrable_domain(domain).to_owned(), at);
        if let Some(ip) = requester.ip {
            self.per_ip.record(network_of(ip), at);
            if let Some(site) = site_of(ip) {
                self.per_site.record(site, at);
            }
        }
    }

    /// The person said no at `at` to a request from `device` (or from a stranger): leave
    /// that requester class alone for a while.
    pub fn block(&mut self, jid: &str, device: Option<&str>, at: Instant) {
        let until = at + self.deny_block;
        let blocked = self
            .blocked_until
            .entry(jid_key(jid, device))
            .or_insert(until);
        *blocked = (*blocked).max(until);
    }

    /// A message to the service from `sender` (a bare JID) on `domain`: counted per
    /// address, and refused while the address has sent too many codes that matched
    /// nothing. An address that sent wrong codes also counts against its domain's budget
    /// of wrong codes; a clean address never does, whatever others on its domain do.
    pub fn admit_sender(
        &mut self,
        sender: &str,
        domain: &str,
        now: Instant,
    ) -> Result<(), Refused> {
        self.maybe_prune(now);
        let sender = sender.to_owned();
        let refused = |reason, retry_after| Refused {
            reason,
            retry_after,
        };
        if let Some(wait) = self.wrong_codes.wait(&sender, now) {
            return Err(refused(Refusal::WrongCodes, wait));
        }
        if let Some(wait) = self.per_sender.wait(&sender, now) {
            return Err(refused(Refusal::SenderRate, wait));
        }
        if self.wrong_codes.is_charged(&sender, now) {
            let domain = registrable_domain(domain).to_owned();
            if let Some(wait) = self.wrong_per_domain.wait(&domain, now) {
                return Err(refused(Refusal::WrongCodes, wait));
            }
        }
        self.per_sender.record(sender, now);
        Ok(())
    }

    /// `count` codes from `sender` on `domain` matched no login page.
    pub fn wrong_codes(&mut self, sender: &str, domain: &str, count: usize, now: Instant) {
        let domain = registrable_domain(domain).to_owned();
        for _ in 0..count {
            self.wrong_codes.record(sender.to_owned(), now);
            self.wrong_per_domain.record(domain.clone(), now);
        }
    }

    /// Whether the service may answer a stray message from `domain` with its help text.
    pub fn admit_help(&mut self, domain: &str, now: Instant) -> bool {
        admit(
            &mut self.help_per_domain,
            registrable_domain(domain).to_owned(),
            now,
        )
    }

    /// Presence from `sender` (a bare JID): bounded per address; a subscription request
    /// also per domain (each contact is a row).
    pub fn admit_presence(
        &mut self,
        sender: &str,
        domain: &str,
        subscribe: bool,
        now: Instant,
    ) -> bool {
        self.maybe_prune(now);
        if self
            .presence_per_sender
            .wait(&sender.to_owned(), now)
            .is_some()
        {
            return false;
        }
        if subscribe {
            let domain = registrable_domain(domain).to_owned();
            if !admit(&mut self.subscriptions_per_domain, domain, now) {
                return false;
            }
        }
        self.presence_per_sender.record(sender.to_owned(), now);
        true
    }

    fn maybe_prune(&mut self, now: Instant) {
        self.checks_since_prune += 1;
        if self.checks_since_prune < PRUNE_EVERY {
            return;
        }
        self.checks_since_prune = 0;
        let cooldown = self.cooldown;
        self.last_request
            .retain(|_, last| now.saturating_duration_since(*last) < cooldown);
        self.blocked_until.retain(|_, until| *until > now);
        self.per_jid.prune(now);
        self.per_domain.prune(now);
        self.per_ip.prune(now);
        self.per_site.prune(now);
        self.per_sender.prune(now);
        self.wrong_per_domain.prune(now);
        self.help_per_domain.prune(now);
        self.subscriptions_per_domain.prune(now);
        self.presence_per_sender.prune(now);
        self.wrong_codes.prune(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            jid_cooldown_secs: 10,
            jid_per_hour: 3,
            domain_per_minute: 5,
            ip_per_minute: 4,
            max_pending: 100,
            deny_block_secs: 600,
            ipv6_site_per_minute: 6,
            sender_per_minute: 3,
            sender_domain_per_minute: 5,
            wrong_codes_per_hour: 2,
            ..Limits::default()
        }
    }

    fn from(ip: &str) -> Requester {
        Requester {
            ip: Some(ip.parse().unwrap()),
            ..Requester::default()
        }
    }

    fn anyone() -> Requester {
        Requester::default()
    }

    fn device(d: &str) -> Requester {
        Requester {
            device: Some(d.into()),
            ..from("198.51.100.7")
        }
    }

    const IP: &str = "192.0.2.1";

    fn reason(r: Result<(), Refused>) -> Option<Refusal> {
        r.err().map(|e| e.reason)
    }

    #[test]
    fn cooldown_between_requests_to_one_jid() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        assert!(l.admit("a@x", "x", &from(IP), t0).is_ok());
        let refused = l
            .admit("a@x", "x", &from(IP), t0 + Duration::from_secs(3))
            .unwrap_err();
        assert_eq!(refused.reason, Refusal::JidCooldown);
        assert_eq!(refused.retry_after, Duration::from_secs(7));
        assert!(l
            .admit("a@x", "x", &from(IP), t0 + Duration::from_secs(10))
            .is_ok());
    }

    #[test]
    fn hourly_rate_per_jid() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l
                .admit("a@x", "x", &anyone(), t0 + Duration::from_secs(11 * i))
                .is_ok());
        }
        let r = l.admit("a@x", "x", &anyone(), t0 + Duration::from_secs(40));
        assert_eq!(reason(r), Some(Refusal::JidRate));
        // One slot frees up every 20 minutes.
        assert!(l
            .admit("a@x", "x", &anyone(), t0 + Duration::from_secs(1200))
            .is_ok());
    }

    #[test]
    fn a_known_device_has_its_own_per_jid_budget() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        // Strangers use up the JID's hourly budget and get a "no"…
        for i in 0..3u64 {
            let at = t0 + Duration::from_secs(11 * i);
            assert!(l
                .admit("a@x", "x", &from(&format!("192.0.2.{i}")), at)
                .is_ok());
        }
        l.block("a@x", None, t0 + Duration::from_secs(30));
        let later = t0 + Duration::from_secs(40);
        assert_eq!(
            reason(l.admit("a@x", "x", &from("192.0.2.9"), later)),
            Some(Refusal::RecentlyDenied)
        );
        // …and the owner's browser is not affected.
        assert!(l.admit("a@x", "x", &device("d1"), later).is_ok());
        assert_eq!(
            reason(l.admit("a@x", "x", &device("d1"), later)),
            Some(Refusal::JidCooldown),
            "the owner's own budget still holds"
        );
        // A "no" to the owner's own request blocks only that device.
        l.block("a@x", Some("d1"), later);
        let much_later = t0 + Duration::from_secs(3600);
        assert_eq!(
            reason(l.admit("a@x", "x", &device("d1"), later + Duration::from_secs(20))),
            Some(Refusal::RecentlyDenied)
        );
        assert!(l.admit("a@x", "x", &from("192.0.2.9"), much_later).is_ok());
    }

    #[test]
    fn an_ipv6_network_counts_as_one_address_and_a_site_as_a_few() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        for i in 0..4 {
            let ip = format!("2001:db8:1:2::{i:x}");
            assert!(l
                .admit(
                    &format!("u{i}@x{i}.org"),
                    &format!("x{i}.org"),
                    &from(&ip),
                    t0
                )
                .is_ok());
        }
        let same_64 = l.admit("v@y.org", "y.org", &from("2001:db8:1:2:ffff::1"), t0);
        assert_eq!(reason(same_64), Some(Refusal::IpRate));
        // Other /64s of the same /48: two more, then the site's limit (6) holds.
        assert!(l
            .admit("w@z.org", "z.org", &from("2001:db8:1:3::1"), t0)
            .is_ok());
        assert!(l
            .admit("w2@z2.org", "z2.org", &from("2001:db8:1:4::1"), t0)
            .is_ok());
        let same_48 = l.admit("w3@z3.org", "z3.org", &from("2001:db8:1:5::1"), t0);
        assert_eq!(reason(same_48), Some(Refusal::IpRate));
        assert!(l
            .admit("q@q.org", "q.org", &from("2001:db8:2::1"), t0)
            .is_ok());
    }

    #[test]
    fn an_ipv4_address_mapped_into_ipv6_is_that_ipv4_address() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(network_of(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(site_of(mapped), None);
        let other: IpAddr = "::ffff:198.51.100.1".parse().unwrap();
        assert_ne!(network_of(mapped), network_of(other));
    }

    #[test]
    fn a_domain_counts_with_its_subdomains() {
        assert_eq!(registrable_domain("chat.example.co.uk"), "example.co.uk");
        assert_eq!(registrable_domain("example.org"), "example.org");
        assert_eq!(registrable_domain("localhost"), "localhost");
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        for i in 0..5 {
            let domain = format!("s{i}.example.org");
            assert!(l
                .admit(&format!("u@{domain}"), &domain, &anyone(), t0)
                .is_ok());
        }
        let r = l.admit("u@example.org", "example.org", &anyone(), t0);
        assert_eq!(reason(r), Some(Refusal::DomainRate));
    }

    #[test]
    fn restored_history_counts_like_requests_made_here() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now() + Duration::from_secs(3600);
        l.record("a@x", "x", &from(IP), t0 - Duration::from_secs(2));
        l.block("b@x", None, t0 - Duration::from_secs(60));
        assert_eq!(
            reason(l.admit("a@x", "x", &from(IP), t0)),
            Some(Refusal::JidCooldown)
        );
        assert_eq!(
            reason(l.admit("b@x", "x", &from(IP), t0)),
            Some(Refusal::RecentlyDenied)
        );
        assert!(l.admit("c@x", "x", &from(IP), t0).is_ok());
    }

    #[test]
    fn refusal_codes_round_trip() {
        for refusal in Refusal::ALL {
            assert_eq!(Refusal::from_code(refusal.code()), Some(refusal));
        }
        assert_eq!(Refusal::from_code("nonsense"), None);
    }

    #[test]
    fn domain_and_ip_rates() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        for i in 0..4 {
            assert!(l.admit(&format!("u{i}@x"), "x", &from(IP), t0).is_ok());
        }
        assert_eq!(
            reason(l.admit("u9@y", "y", &from(IP), t0)),
            Some(Refusal::IpRate)
        );
        assert!(l.admit("u4@x", "x", &anyone(), t0).is_ok());
        assert_eq!(
            reason(l.admit("u5@x", "x", &anyone(), t0)),
            Some(Refusal::DomainRate)
        );
        // A refused request is not counted: another domain from another IP still passes.
        assert!(l.admit("u6@z", "z", &anyone(), t0).is_ok());
    }

    #[test]
    fn a_no_blocks_the_jid() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        l.block("a@x", None, t0);
        let refused = l
            .admit("a@x", "x", &from(IP), t0 + Duration::from_secs(60))
            .unwrap_err();
        assert_eq!(refused.reason, Refusal::RecentlyDenied);
        assert_eq!(refused.retry_after, Duration::from_secs(540));
        assert!(l
            .admit("a@x", "x", &from(IP), t0 + Duration::from_secs(601))
            .is_ok());
    }

    #[test]
    fn senders_are_limited_and_wrong_codes_count_against_them() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.admit_sender("m@evil.example", "evil.example", t0).is_ok());
        }
        assert_eq!(
            reason(l.admit_sender("m@evil.example", "evil.example", t0)),
            Some(Refusal::SenderRate)
        );
        // Two wrong codes an hour, then the address is ignored for a while.
        let t1 = t0 + Duration::from_secs(120);
        l.wrong_codes("q@example.org", "example.org", 1, t1);
        assert!(l.admit_sender("q@example.org", "example.org", t1).is_ok());
        l.wrong_codes("q@example.org", "example.org", 1, t1);
        assert_eq!(
            reason(l.admit_sender("q@example.org", "example.org", t1)),
            Some(Refusal::WrongCodes)
        );
        assert!(l.admit_sender("r@example.org", "example.org", t1).is_ok());
        // Addresses of one domain sending wrong codes use up its budget (5) for those that
        // did; the domain's clean addresses are not held up.
        let t2 = t1 + Duration::from_secs(7200);
        for i in 0..5 {
            l.wrong_codes(
                &format!("w{i}@chat.evil.example"),
                "chat.evil.example",
                1,
                t2,
            );
        }
        assert_eq!(
            reason(l.admit_sender("w0@chat.evil.example", "chat.evil.example", t2)),
            Some(Refusal::WrongCodes)
        );
        assert!(l
            .admit_sender("clean@evil.example", "evil.example", t2)
            .is_ok());
        assert!(l
            .admit_sender("clean2@evil.example", "evil.example", t2)
            .is_ok());
    }

    #[test]
    fn pruning_forgets_only_expired_state() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        l.block("a@x", None, t0);
        for i in 0..PRUNE_EVERY {
            let _ = l.admit(
                &format!("p{i}@y"),
                "y",
                &anyone(),
                t0 + Duration::from_secs(300),
            );
        }
        assert!(l.last_request.len() < PRUNE_EVERY as usize);
        assert_eq!(
            reason(l.admit("a@x", "x", &anyone(), t0 + Duration::from_secs(500))),
            Some(Refusal::RecentlyDenied)
        );
    }
}
