//! Spin's `allowed_outbound_hosts` syntax: which hosts a component may call. The policy that
//! enforces it on every outbound request is the outbound capability's
//! (`capabilities::outbound`).

use std::net::IpAddr;

/// One entry of `allowed_outbound_hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Any,
    Default,
    Exact(u16),
}

impl AllowedHost {
    /// Parses a Spin `allowed_outbound_hosts` entry.
    ///
    /// # Errors
    /// A message saying what is malformed.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains("{{") {
            return Err("templated outbound hosts are not supported".into());
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{text}` needs a scheme, e.g. `https://{text}`"))?;
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_owned()),
            other => return Err(format!("unsupported scheme `{other}` in `{text}`")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!("`{text}` must not contain a path"));
        }
        let (host, port) = split_host_port(rest)
            .ok_or_else(|| format!("`{text}` has a malformed host or port"))?;
        let port = match port {
            None => PortPattern::Default,
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(
                p.parse()
                    .map_err(|_| format!("`{p}` is not a port number in `{text}`"))?,
            ),
        };
        let host = match host {
            "*" => HostPattern::Any,
            h if h.starts_with("*.") => HostPattern::Subdomains(h[2..].to_ascii_lowercase()),
            h if h.is_empty() || h.contains('*') => {
                return Err(format!("`{text}` has a malformed host"));
            }
            h => HostPattern::Exact(h.trim_matches(['[', ']']).to_ascii_lowercase()),
        };
        Ok(Self { scheme, host, port })
    }

    pub(crate) fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == scheme);
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1),
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(p) => p == port,
            PortPattern::Default => port == default_port(scheme),
        };
        scheme_ok && host_ok && port_ok
    }

    pub(crate) fn names_address(&self, ip: IpAddr) -> bool {
        matches!(&self.host, HostPattern::Exact(h) if h.parse::<IpAddr>().ok() == Some(ip))
    }
}

fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port))),
        Some(_) => None,
        None => Some((text, None)),
    }
}

pub(crate) fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}
