//! Anti-abuse limits on confirmation requests (XEP-0070 §6: anyone can type anyone's JID).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::Limits;
use crate::ratelimit::Gcra;

/// Why a request was refused; `Display` is what the person sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a confirmation request to this address is already waiting for an answer")]
    AlreadyPending,
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
    #[error("too many logins are in progress; try again in a minute")]
    TooManyPending,
}

impl Refusal {
    const ALL: [Refusal; 7] = [
        Refusal::AlreadyPending,
        Refusal::RecentlyDenied,
        Refusal::JidCooldown,
        Refusal::JidRate,
        Refusal::DomainRate,
        Refusal::IpRate,
        Refusal::TooManyPending,
    ];

    /// A stable name, for the database.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::AlreadyPending => "already_pending",
            Refusal::RecentlyDenied => "recently_denied",
            Refusal::JidCooldown => "jid_cooldown",
            Refusal::JidRate => "jid_rate",
            Refusal::DomainRate => "domain_rate",
            Refusal::IpRate => "ip_rate",
            Refusal::TooManyPending => "too_many_pending",
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

/// The unit the per-IP limit counts: an IPv4 address, or an IPv6 /64 (one subscriber's
/// network; counting single IPv6 addresses would let anyone use 2^64 of them).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            IpAddr::V6(std::net::Ipv6Addr::from(prefix))
        }
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
    checks_since_prune: u32,
}

const PRUNE_EVERY: u32 = 1024;

impl Limiter {
    pub fn new(limits: &Limits) -> Self {
        Self {
            cooldown: Duration::from_secs(limits.jid_cooldown_secs),
            deny_block: Duration::from_secs(limits.deny_block_secs),
            last_request: HashMap::new(),
            blocked_until: HashMap::new(),
            per_jid: Gcra::new(limits.jid_per_hour, Duration::from_secs(3600)),
            per_domain: Gcra::new(limits.domain_per_minute, Duration::from_secs(60)),
            per_ip: Gcra::new(limits.ip_per_minute, Duration::from_secs(60)),
            checks_since_prune: 0,
        }
    }

    /// Checks every time-based limit for a request to `jid` (a bare JID) on `domain` from
    /// `ip`, and counts the request only if all of them allow it.
    pub fn admit(
        &mut self,
        jid: &str,
        domain: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Refused> {
        self.maybe_prune(now);
        let refuse = |reason, retry_after| {
            Err(Refused {
                reason,
                retry_after,
            })
        };
        if let Some(until) = self.blocked_until.get(jid).filter(|u| **u > now) {
            return refuse(Refusal::RecentlyDenied, *until - now);
        }
        if let Some(last) = self.last_request.get(jid) {
            let since = now.saturating_duration_since(*last);
            if since < self.cooldown {
                return refuse(Refusal::JidCooldown, self.cooldown - since);
            }
        }
        if let Some(wait) = self.per_jid.wait(&jid.to_owned(), now) {
            return refuse(Refusal::JidRate, wait);
        }
        if let Some(wait) = self.per_domain.wait(&domain.to_owned(), now) {
            return refuse(Refusal::DomainRate, wait);
        }
        if let Some(wait) = ip.and_then(|ip| self.per_ip.wait(&network_of(ip), now)) {
            return refuse(Refusal::IpRate, wait);
        }
        self.record(jid, domain, ip, now);
        Ok(())
    }

    /// Counts a request sent at `at` against every limit.
    pub fn record(&mut self, jid: &str, domain: &str, ip: Option<IpAddr>, at: Instant) {
        let last = self.last_request.entry(jid.to_owned()).or_insert(at);
        *last = (*last).max(at);
        self.per_jid.record(jid.to_owned(), at);
        self.per_domain.record(domain.to_owned(), at);
        if let Some(ip) = ip {
            self.per_ip.record(network_of(ip), at);
        }
    }

    /// The user said no at `at`: leave them alone for a while.
    pub fn block(&mut self, jid: &str, at: Instant) {
        let until = at + self.deny_block;
        let blocked = self.blocked_until.entry(jid.to_owned()).or_insert(until);
        *blocked = (*blocked).max(until);
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
        }
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));

    fn reason(r: Result<(), Refused>) -> Option<Refusal> {
        r.err().map(|e| e.reason)
    }

    #[test]
    fn cooldown_between_requests_to_one_jid() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        assert!(l.admit("a@x", "x", IP, t0).is_ok());
        let refused = l
            .admit("a@x", "x", IP, t0 + Duration::from_secs(3))
            .unwrap_err();
        assert_eq!(refused.reason, Refusal::JidCooldown);
        assert_eq!(refused.retry_after, Duration::from_secs(7));
        assert!(l
            .admit("a@x", "x", IP, t0 + Duration::from_secs(10))
            .is_ok());
    }

    #[test]
    fn hourly_rate_per_jid() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l
                .admit("a@x", "x", None, t0 + Duration::from_secs(11 * i))
                .is_ok());
        }
        let r = l.admit("a@x", "x", None, t0 + Duration::from_secs(40));
        assert_eq!(reason(r), Some(Refusal::JidRate));
        // One slot frees up every 20 minutes.
        assert!(l
            .admit("a@x", "x", None, t0 + Duration::from_secs(1200))
            .is_ok());
    }

    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        for i in 0..4 {
            let from = ip(&format!("2001:db8:1:2::{i:x}"));
            assert!(l
                .admit(&format!("u{i}@x{i}"), &format!("x{i}"), from, t0)
                .is_ok());
        }
        let same_64 = l.admit("v@y", "y", ip("2001:db8:1:2:ffff::1"), t0);
        assert_eq!(reason(same_64), Some(Refusal::IpRate));
        assert!(l.admit("w@z", "z", ip("2001:db8:1:3::1"), t0).is_ok());
    }

    #[test]
    fn restored_history_counts_like_requests_made_here() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now() + Duration::from_secs(3600);
        l.record("a@x", "x", IP, t0 - Duration::from_secs(2));
        l.block("b@x", t0 - Duration::from_secs(60));
        assert_eq!(
            reason(l.admit("a@x", "x", IP, t0)),
            Some(Refusal::JidCooldown)
        );
        assert_eq!(
            reason(l.admit("b@x", "x", IP, t0)),
            Some(Refusal::RecentlyDenied)
        );
        assert!(l.admit("c@x", "x", IP, t0).is_ok());
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
            assert!(l.admit(&format!("u{i}@x"), "x", IP, t0).is_ok());
        }
        assert_eq!(reason(l.admit("u9@y", "y", IP, t0)), Some(Refusal::IpRate));
        assert!(l.admit("u4@x", "x", None, t0).is_ok());
        assert_eq!(
            reason(l.admit("u5@x", "x", None, t0)),
            Some(Refusal::DomainRate)
        );
        // A refused request is not counted: another domain from another IP still passes.
        assert!(l.admit("u6@z", "z", None, t0).is_ok());
    }

    #[test]
    fn a_no_blocks_the_jid() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        l.block("a@x", t0);
        let refused = l
            .admit("a@x", "x", IP, t0 + Duration::from_secs(60))
            .unwrap_err();
        assert_eq!(refused.reason, Refusal::RecentlyDenied);
        assert_eq!(refused.retry_after, Duration::from_secs(540));
        assert!(l
            .admit("a@x", "x", IP, t0 + Duration::from_secs(601))
            .is_ok());
    }

    #[test]
    fn pruning_forgets_only_expired_state() {
        let mut l = Limiter::new(&limits());
        let t0 = Instant::now();
        l.block("a@x", t0);
        for i in 0..PRUNE_EVERY {
            let _ = l.admit(&format!("p{i}@y"), "y", None, t0 + Duration::from_secs(300));
        }
        assert!(l.last_request.len() < PRUNE_EVERY as usize);
        assert_eq!(
            reason(l.admit("a@x", "x", None, t0 + Duration::from_secs(500))),
            Some(Refusal::RecentlyDenied)
        );
    }
}
