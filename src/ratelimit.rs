//! Rate limiting shared by the anti-abuse limits: a keyed GCRA, with time as a parameter.
//!
//! Written here rather than with `governor`: the callers mix rates with cooldowns and
//! blocks, tests control the time, and the state will move to a shared store for several
//! instances.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Generic cell rate algorithm: `per` requests per `period`, bursting up to `per`.
/// One `Instant` per key: the theoretical arrival time of the next request.
pub struct Gcra<K> {
    interval: Duration,
    tolerance: Duration,
    next_free: HashMap<K, Instant>,
}

impl<K: Hash + Eq + Clone> Gcra<K> {
    pub fn new(per: u32, period: Duration) -> Self {
        let interval = period / per.max(1);
        Self {
            interval,
            tolerance: period.saturating_sub(interval),
            next_free: HashMap::new(),
        }
    }

    /// The time to wait before a request for `key` would be allowed.
    pub fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let tat = self.next_free.get(key).copied().unwrap_or(now).max(now);
        let ahead = tat - now;
        (ahead > self.tolerance).then(|| ahead - self.tolerance)
    }

    /// Whether `key` has used any of its budget that has not come back yet.
    pub fn is_charged(&self, key: &K, now: Instant) -> bool {
        self.next_free.get(key).is_some_and(|tat| *tat > now)
    }

    pub fn record(&mut self, key: K, now: Instant) {
        let tat = self.next_free.get(&key).copied().unwrap_or(now).max(now);
        self.next_free.insert(key, tat + self.interval);
    }

    pub fn prune(&mut self, now: Instant) {
        self.next_free.retain(|_, tat| *tat > now);
    }
}

/// Failed client authentications, per (client, IP) and per IP: a brute-force brake on
/// client secrets at the token, revocation, introspection and `/auth` endpoints.
pub struct AuthFailures {
    per_client: Gcra<(String, IpAddr)>,
    per_ip: Gcra<IpAddr>,
    since_prune: u32,
}

/// Failures allowed per minute for one client id from one address, and from one address.
const FAILURES_PER_CLIENT: u32 = 10;
const FAILURES_PER_IP: u32 = 30;

impl Default for AuthFailures {
    fn default() -> Self {
        Self {
            per_client: Gcra::new(FAILURES_PER_CLIENT, Duration::from_secs(60)),
            per_ip: Gcra::new(FAILURES_PER_IP, Duration::from_secs(60)),
            since_prune: 0,
        }
    }
}

impl AuthFailures {
    /// How long `ip` must wait before trying `client_id` again, if it is braked.
    pub fn wait(&self, client_id: &str, ip: IpAddr, now: Instant) -> Option<Duration> {
        let client = self.per_client.wait(&(client_id.to_owned(), ip), now);
        let address = self.per_ip.wait(&ip, now);
        client.max(address)
    }

    pub fn record(&mut self, client_id: &str, ip: IpAddr, now: Instant) {
        self.since_prune += 1;
        if self.since_prune >= 1024 {
            self.since_prune = 0;
            self.per_client.prune(now);
            self.per_ip.prune(now);
        }
        self.per_client.record((client_id.to_owned(), ip), now);
        self.per_ip.record(ip, now);
    }
}

/// Anonymous writes per IP network (an IPv4 address, an IPv6 /64): login pages opened
/// (each stores a login flow until it expires), client registrations.
pub struct PerNetwork {
    per_network: Gcra<IpAddr>,
    since_prune: u32,
}

impl PerNetwork {
    pub fn new(per: u32, period: Duration) -> Self {
        Self {
            per_network: Gcra::new(per, period),
            since_prune: 0,
        }
    }

    /// Counts one from `ip`, unless its network has used its budget.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.since_prune += 1;
        if self.since_prune >= 1024 {
            self.since_prune = 0;
            self.per_network.prune(now);
        }
        let network = crate::xmpp::limits::network_of(ip);
        if self.per_network.wait(&network, now).is_some() {
            return false;
        }
        self.per_network.record(network, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_flows_are_counted_per_network() {
        let mut flows = PerNetwork::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same_network: IpAddr = "2001:db8::2".parse().unwrap();
        let elsewhere: IpAddr = "198.51.100.7".parse().unwrap();
        assert!((0..3).all(|_| flows.admit(a, t0)));
        assert!(!flows.admit(same_network, t0), "one /64 is one network");
        assert!(flows.admit(elsewhere, t0));
        assert!(flows.admit(a, t0 + Duration::from_secs(20)), "it refills");
    }

    #[test]
    fn failures_brake_per_client_and_address() {
        let mut failures = AuthFailures::default();
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..FAILURES_PER_CLIENT {
            assert_eq!(failures.wait("c1", ip, t0), None);
            failures.record("c1", ip, t0);
        }
        assert!(failures.wait("c1", ip, t0).is_some(), "the 11th try waits");
        assert_eq!(
            failures.wait("c1", other, t0),
            None,
            "another address is not locked out"
        );
        assert_eq!(failures.wait("c2", ip, t0), None);
        // Spraying many client ids from one address hits the per-address brake.
        for i in 0..FAILURES_PER_IP {
            failures.record(&format!("spray{i}"), other, t0);
        }
        assert!(failures.wait("fresh", other, t0).is_some());
        assert_eq!(
            failures.wait("c1", ip, t0 + Duration::from_secs(60)),
            None,
            "it wears off"
        );
    }
}
