//! Where jidconnect may connect when a stranger names the URL (a Client ID Metadata
//! Document): public unicast addresses only, so that nobody can make it reach services
//! behind the firewall (SSRF). Names are resolved here, and the connection goes to the
//! address that was checked: no second lookup that could answer differently (DNS
//! rebinding).

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

/// Which addresses a fetch may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback too: only when the issuer itself is on loopback (a test or a demo), where
    /// the sites it logs in to run on the same machine.
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// Whether a connection to `ip` is allowed: a public unicast address (RFC 6890's
    /// special-purpose ranges are refused), or loopback when the policy allows it.
    pub fn permits(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.permits_v4(ip),
            IpAddr::V6(ip) => self.permits_v6(ip),
        }
    }

    fn permits_v4(&self, ip: Ipv4Addr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let [a, b, c, _] = ip.octets();
        let special = a == 0 // "this network", unspecified
            || ip.is_private() // RFC 1918
            || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
            || ip.is_link_local() // 169.254/16
            || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
            || ip.is_documentation() // TEST-NET-1, 2, 3
            || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
            || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
            || a >= 224; // multicast, reserved, broadcast
        !special
    }

    fn permits_v6(&self, ip: Ipv6Addr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        // An IPv4 address in IPv6 clothing reaches that IPv4 address.
        if let Some(v4) = ip.to_ipv4_mapped() {
            return self.permits_v4(v4);
        }
        let segments = ip.segments();
        if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
            // NAT64 (RFC 6052): the gateway connects to the embedded IPv4 address.
            let [.., hi, lo] = segments;
            return self.permits_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
        }
        // Global unicast is 2000::/3; within it, some ranges are special too.
        let global_unicast = segments[0] & 0xe000 == 0x2000;
        let special = match segments[0] {
            // IETF protocol assignments and Teredo (2001::/23), documentation (2001:db8::/32)
            0x2001 => segments[1] < 0x200 || segments[1] == 0xdb8,
            // 6to4: an IPv4 address inside
            0x2002 => true,
            // documentation (3fff::/20)
            0x3fff => segments[1] < 0x1000,
            _ => false,
        };
        global_unicast && !special
    }
}

/// Why a fetch was refused before any connection: named in the error the fetch returns.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A resolver for the HTTP client that drops the addresses the policy refuses, and fails
/// when none is left.
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver(pub AddressPolicy);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower::Service<Name> for CheckedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str();
            let allowed: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
                .await?
                .filter(|addr| policy.permits(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused(format!(
                    "{host} resolves to no public address (private, loopback, link-local and other special addresses are refused)"
                ))) as BoxError);
            }
            Ok(allowed.into_iter())
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const STRICT: AddressPolicy = AddressPolicy {
        allow_loopback: false,
    };
    pub(crate) const LOOPBACK_ISSUER: AddressPolicy = AddressPolicy {
        allow_loopback: true,
    };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_unicast_addresses_are_permitted() {
        for public in [
            "93.184.215.14",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2a01:4f8::1",
            "3fff:1000::1",
            "::ffff:93.184.215.14",
            "64:ff9b::5db8:d70e",
        ] {
            assert!(STRICT.permits(ip(public)), "{public}");
        }
    }

    #[test]
    fn special_addresses_are_refused() {
        for special in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.88.99.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "2002:a00:1::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(!STRICT.permits(ip(special)), "{special}");
        }
    }

    #[test]
    fn loopback_only_when_the_issuer_is_on_loopback() {
        for loopback in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(LOOPBACK_ISSUER.permits(ip(loopback)), "{loopback}");
            assert!(!STRICT.permits(ip(loopback)), "{loopback}");
        }
        // The exception is for loopback, not for the rest of the private ranges.
        for private in ["10.0.0.1", "192.168.0.1", "fd00::1", "169.254.169.254"] {
            assert!(!LOOPBACK_ISSUER.permits(ip(private)), "{private}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use tower::Service;
        let localhost = || "localhost".parse::<Name>().unwrap();
        let error = match CheckedResolver(STRICT).call(localhost()).await {
            Ok(_) => panic!("localhost resolves to loopback only"),
            Err(error) => error,
        };
        assert!(error.downcast_ref::<Refused>().is_some(), "{error}");
        let allowed: Vec<SocketAddr> = CheckedResolver(LOOPBACK_ISSUER)
            .call(localhost())
            .await
            .unwrap()
            .collect();
        assert!(!allowed.is_empty());
        assert!(allowed.iter().all(|addr| addr.ip().is_loopback()));
    }
}
