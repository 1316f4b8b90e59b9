//! The client's address, behind the reverse proxies the operator trusts.
//!
//! Login throttling, refresh-token records and consent records use the client's address.
//! Behind a load balancer every connection comes from the balancer, so the address is the
//! one the proxies report in `X-Forwarded-For`. That header is believed only when the
//! connection itself comes from a trusted proxy (`--trusted-proxies`), and only as far back
//! as the chain stays trusted: the client's address is the nearest entry, reading from the
//! right, that is not a trusted proxy. Anybody can write `X-Forwarded-For`; nobody outside
//! the trusted proxies can choose what the host reads from it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;

/// The header proxies append the address they received a request from to.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The proxies whose `X-Forwarded-For` is believed: addresses and CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR ranges (`10.0.0.0/8`,
    /// `2001:db8::/32`, `192.0.2.1`); an empty list trusts nobody.
    ///
    /// # Errors
    /// A message naming the entry that is not an address or range.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (address, prefix) = match entry.split_once('/') {
                Some((address, prefix)) => (address, Some(prefix)),
                None => (entry, None),
            };
            let invalid = || format!("trusted proxy `{entry}` is not an IP address or CIDR range");
            let address: IpAddr = address.parse().map_err(|_| invalid())?;
            let address = address.to_canonical();
            let width = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(prefix) => prefix
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= width)
                    .ok_or_else(invalid)?,
                None => width,
            };
            ranges.push((address, prefix));
        }
        Ok(Self { ranges })
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.ranges
            .iter()
            .any(|(network, prefix)| in_range(address, *network, *prefix))
    }

    /// The client's address for a connection from `peer` carrying `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        // Every `X-Forwarded-For` line, in order, as one list; read from the nearest hop.
        let hops: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            // A hop that is not an address ends what can be believed: the last trusted
            // proxy is the best answer.
            let Some(address) = parse_hop(hop) else {
                return client;
            };
            client = address;
            if !self.contains(address) {
                return client;
            }
        }
        client
    }
}

/// The client's address for a request, from its connection (`None` when the server was run
/// without connection info) and the trusted proxies the edge put in its extensions.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(
        match parts.extensions.get::<std::sync::Arc<TrustedProxies>>() {
            Some(trusted) => trusted.client_address(peer.ip(), &parts.headers),
            None => peer.ip().to_canonical(),
        },
    )
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|socket| socket.ip().to_canonical())
}

fn in_range(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(address) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(address) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(X_FORWARDED_FOR, line.parse().expect("header value"));
        }
        headers
    }

    #[test]
    fn ranges_and_addresses_are_parsed_and_matched() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1 ,2001:db8::/32").expect("parse");
        assert!(trusted.contains(ip("10.200.3.4")));
        assert!(trusted.contains(ip("192.0.2.1")));
        assert!(!trusted.contains(ip("192.0.2.2")));
        assert!(trusted.contains(ip("2001:db8:1::7")));
        assert!(!trusted.contains(ip("2001:db9::1")));
        // An IPv4 address seen through an IPv6 socket is the same address.
        assert!(trusted.contains(ip("::ffff:10.1.2.3")));
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .expect("all")
                .contains(ip("8.8.8.8"))
        );
        assert_eq!(
            TrustedProxies::parse(" ").expect("empty"),
            TrustedProxies::default()
        );
        for bad in [
            "10.0.0.0/33",
            "proxy.internal",
            "10.0.0.0/",
            "::/129",
            "1.2.3.4/x",
        ] {
            let error = TrustedProxies::parse(bad).expect_err(bad);
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_trusted() {
        let nobody = TrustedProxies::default();
        let headers = forwarded(&["203.0.113.9"]);
        assert_eq!(
            nobody.client_address(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        let proxy = TrustedProxies::parse("10.0.0.1").expect("parse");
        assert_eq!(
            proxy.client_address(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxy.client_address(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("parse");
        // The client wrote a fake first entry; two proxies appended theirs.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        // Ports and brackets as some proxies write them.
        let headers = forwarded(&["[2001:db8::5]:4711, 203.0.113.9:1234"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
        // Every hop trusted: the farthest one.
        let headers = forwarded(&["10.1.1.1, 10.2.2.2"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &headers),
            ip("10.1.1.1")
        );
        // No header: the proxy itself.
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // Garbage stops the walk at the last trusted hop.
        let headers = forwarded(&["203.0.113.9, unknown, 10.0.0.8"]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), &headers),
            ip("10.0.0.8")
        );
    }
}
