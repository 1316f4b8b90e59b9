//! Outbound HTTP (`wasi:http/outgoing-handler`) under the manifest's
//! `allowed_outbound_hosts`.
//!
//! Grants: requests to the scheme, host and port patterns the component's manifest entry
//! lists, with Spin's syntax (`https://api.example.com`, `https://*.example.com`,
//! `http://127.0.0.1:8080`, `*://host:*`).
//! Never gives: any other destination, and never a loopback, private, link-local or otherwise
//! non-public address reached through a name (DNS rebinding, cloud metadata at
//! 169.254.169.254) unless the manifest names that address literally. Plain-HTTP requests
//! connect to the very address that was checked; HTTPS requests are re-resolved by the TLS
//! connector after the check (a name that flips between the check and the connect is the one
//! gap, narrowed by the check itself).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

pub use crate::manifest::allowed_hosts::AllowedHost;
use crate::manifest::allowed_hosts::default_port;

/// Whether an address is reachable on the public internet. Everything else (loopback,
/// private, link-local, CGNAT, unique-local, multicast, unspecified, documentation) is
/// refused unless named explicitly.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            // An address that carries an IPv4 address is as public as that address: mapped
            // (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96 and the
            // local-use 64:ff9b:1::/48) and 6to4 (2002:AABB:CCDD::/48) would otherwise reach
            // loopback or private IPv4 hosts through a translator.
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10, site-local fec0::/10.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                // Documentation 2001:db8::/32, Teredo 2001::/32 (an obfuscated IPv4 inside),
                // benchmarking 2001:2::/48, ORCHID 2001:10::/28, discard-only 100::/64.
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] == 0)
                || (s[0] == 0x2001 && s[1] == 2 && s[2] == 0)
                || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x10)
                || (s[0] == 0x100 && s[1] == 0 && s[2] == 0 && s[3] == 0))
        }
    }
}

/// The IPv4 address an IPv6 address carries by a transition scheme, if any.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let o = v6.octets();
    let last = std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let low = std::net::Ipv4Addr::new(o[2], o[3], o[4], o[5]);
    match s {
        // IPv4-compatible (deprecated), but not :: and ::1 themselves.
        [0, 0, 0, 0, 0, 0, _, _] if !v6.is_unspecified() && !v6.is_loopback() => Some(last),
        // NAT64: the well-known prefix and the local-use one (the IPv4 in the last 32 bits).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(last),
        // 6to4: 2002:AABB:CCDD::/48.
        [0x2002, ..] => Some(low),
        _ => None,
    }
}

/// The outbound policy of one component, installed as the store's wasi:http hooks.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allowed: Arc<[AllowedHost]>,
    component: Arc<str>,
}

impl OutboundPolicy {
    /// The policy for a component's allowed hosts.
    pub fn new(component: &str, allowed: &[AllowedHost]) -> Self {
        Self {
            allowed: allowed.into(),
            component: component.into(),
        }
    }

    /// Checks a destination before any connection is made, and picks the address to use.
    ///
    /// # Errors
    /// `HttpRequestDenied` for a destination not allowed; `DestinationIpProhibited` for a
    /// name resolving to a non-public address not named explicitly.
    pub async fn check(
        allowed: &[AllowedHost],
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Result<Option<SocketAddr>, HttpError> {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        if !allowed.iter().any(|a| a.allows(scheme, &host, port)) {
            return Err(HttpError::HttpRequestDenied);
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            let named = allowed.iter().any(|a| a.names_address(ip));
            return if is_public(ip) || named {
                Ok(Some(SocketAddr::new(ip, port)))
            } else {
                Err(HttpError::DestinationIpProhibited)
            };
        }
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| HttpError::DnsError {
                rcode: None,
                info_code: None,
            })?
            .collect();
        if addresses.is_empty() {
            return Err(HttpError::DestinationNotFound);
        }
        for address in &addresses {
            let ip = address.ip();
            if !is_public(ip) && !allowed.iter().any(|a| a.names_address(ip)) {
                return Err(HttpError::DestinationIpProhibited);
            }
        }
        Ok(addresses.first().copied())
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let allowed = self.allowed.clone();
        let component = self.component.clone();
        Box::new(async move {
            drop(fut);
            let uri = request.uri().clone();
            let scheme = uri.scheme_str().unwrap_or("https").to_owned();
            let host = uri
                .host()
                .ok_or(HttpError::HttpRequestUriInvalid)?
                .to_owned();
            let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
            let checked = match Self::check(&allowed, &scheme, &host, port).await {
                Ok(address) => address,
                Err(error) => {
                    tracing::warn!(%component, %scheme, %host, port, ?error, "outbound request refused");
                    return Err(error);
                }
            };
            if let (Some(address), "http") = (checked, scheme.as_str()) {
                let mut parts = uri.into_parts();
                parts.authority = Some(
                    address
                        .to_string()
                        .parse()
                        .map_err(|_| HttpError::HttpRequestUriInvalid)?,
                );
                *request.uri_mut() =
                    http::Uri::from_parts(parts).map_err(|_| HttpError::HttpRequestUriInvalid)?;
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            use http_body_util::BodyExt;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &[&str]) -> Vec<AllowedHost> {
        list.iter()
            .map(|t| AllowedHost::parse(t).expect("valid"))
            .collect()
    }

    #[test]
    fn parses_spin_patterns() {
        assert!(AllowedHost::parse("https://api.example.com").is_ok());
        assert!(AllowedHost::parse("https://*.example.com:8443").is_ok());
        assert!(AllowedHost::parse("*://example.com:*").is_ok());
        assert!(AllowedHost::parse("http://[::1]:8080").is_ok());
        assert!(AllowedHost::parse("example.com").is_err());
        assert!(AllowedHost::parse("ftp://example.com").is_err());
        assert!(AllowedHost::parse("https://example.com/path").is_err());
        assert!(AllowedHost::parse("https://example.com:http").is_err());
    }

    #[test]
    fn matches_scheme_host_and_port() {
        let list = allowed(&["https://api.example.com", "http://*.svc.test:8080"]);
        let ok = |s: &str, h: &str, p: u16| list.iter().any(|a| a.allows(s, h, p));
        assert!(ok("https", "api.example.com", 443));
        assert!(!ok("http", "api.example.com", 80));
        assert!(!ok("https", "api.example.com", 8443));
        assert!(!ok("https", "evil.com", 443));
        assert!(ok("http", "a.svc.test", 8080));
        assert!(!ok("http", "svc.test", 8080));
        assert!(!ok("http", "a.svc.test.evil.com", 8080));
    }

    #[test]
    fn classifies_non_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            // IPv4 inside IPv6: compatible, NAT64 (well-known and local-use), 6to4.
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::c0a8:1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            // Site-local, Teredo, benchmarking, ORCHID, discard-only.
            "fec0::1",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "100::1",
        ] {
            assert!(
                !is_public(ip.parse().expect("ip")),
                "{ip} must not be public"
            );
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            // Transition addresses of public IPv4 hosts stay reachable.
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip.parse().expect("ip")), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn refuses_names_resolving_to_loopback_unless_address_is_named() {
        let by_name = allowed(&["http://localhost:9000"]);
        assert!(matches!(
            OutboundPolicy::check(&by_name, "http", "localhost", 9000).await,
            Err(HttpError::DestinationIpProhibited)
        ));
        let by_address = allowed(&["http://127.0.0.1:9000"]);
        assert!(
            OutboundPolicy::check(&by_address, "http", "127.0.0.1", 9000)
                .await
                .is_ok()
        );
        let metadata = allowed(&["http://*:*"]);
        assert!(matches!(
            OutboundPolicy::check(&metadata, "http", "169.254.169.254", 80).await,
            Err(HttpError::DestinationIpProhibited)
        ));
    }
}
