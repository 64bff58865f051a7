//! Destinations the client refuses: link-local addresses, where clouds serve instance
//! metadata and credentials (169.254.169.254, fd00:ec2::254, …). A server URL from a config
//! file or an `McpServer` resource must not be a way to reach them, neither as an address
//! nor as a name that resolves to one, unless the operator allows it explicitly.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why `ip` is refused, or `None` when it may be reached.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => refusal_v4(v4),
            None => refusal_v6(v6),
        },
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.octets() == [169, 254, 169, 254] {
        Some("the cloud instance metadata address")
    } else if ip.octets() == [100, 100, 100, 200] {
        Some("a cloud instance metadata address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else {
        None
    }
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    const AWS_METADATA: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
    if ip == AWS_METADATA {
        Some("the cloud instance metadata address")
    } else if ip.segments()[0] & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else {
        None
    }
}

/// The error of a refused destination, naming the way to allow it.
fn refused_message(host: &str, ip: IpAddr, why: &str) -> String {
    if host == ip.to_string() {
        format!(
            "{ip} is {why}; refused (set mcp.allow_link_local_addresses to reach it on purpose)"
        )
    } else {
        format!(
            "`{host}` resolves to {ip}, {why}; refused (set mcp.allow_link_local_addresses to reach it on purpose)"
        )
    }
}

/// The addresses of `host` that may be reached; an error when every one is refused.
pub fn keep_allowed(host: &str, addresses: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
    let mut refused = None;
    let allowed: Vec<SocketAddr> = addresses
        .into_iter()
        .filter(|address| match refusal(address.ip()) {
            Some(why) => {
                refused.get_or_insert_with(|| refused_message(host, address.ip(), why));
                false
            }
            None => true,
        })
        .collect();
    match (allowed.is_empty(), refused) {
        (true, Some(message)) => Err(message),
        _ => Ok(allowed),
    }
}

/// Check the host of `url` before connecting to it: an address at once, a name by
/// resolving it (what the connection will then use is checked again by
/// [`GuardedResolver`] for HTTP).
pub async fn check_url(url: &url::Url) -> Result<(), String> {
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match refusal(ip) {
            Some(why) => Err(refused_message(host, ip, why)),
            None => Ok(()),
        };
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let addresses: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(addresses) => addresses.collect(),
        // An unresolvable name fails at connect time with its own clear error.
        Err(_) => return Ok(()),
    };
    keep_allowed(host, addresses).map(drop)
}

/// Follow redirects (at most 10) except to a refused address: a name is checked again by
/// [`GuardedResolver`] when the hop connects, an address here (reqwest resolves none).
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let host = attempt.url().host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>()
            && let Some(why) = refusal(ip)
        {
            let message = refused_message(host, ip, why);
            return attempt.error(std::io::Error::other(message));
        }
        if attempt.previous().len() >= 10 {
            attempt.error(std::io::Error::other("more than 10 redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// The system resolver, without the refused addresses: reqwest connects only to what is
/// left (and fails with the refusal when nothing is).
#[derive(Debug, Default, Clone)]
pub struct GuardedResolver;

impl GuardedResolver {
    /// For `reqwest::ClientBuilder::dns_resolver`.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = keep_allowed(&host, addresses).map_err(std::io::Error::other)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_addresses_are_refused() {
        for refused in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.169.254",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(refusal(ip).is_some(), "{refused}");
        }
        for allowed in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "::1",
            "fd00::1",
            "8.8.8.8",
            "fec0::1",
        ] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert_eq!(refusal(ip), None, "{allowed}");
        }
    }

    #[test]
    fn a_name_is_refused_only_when_all_its_addresses_are() {
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 80);
        let error = keep_allowed("metadata.internal", vec![at("169.254.169.254")]).unwrap_err();
        assert!(
            error.contains("`metadata.internal` resolves to 169.254.169.254"),
            "{error}"
        );
        assert!(error.contains("mcp.allow_link_local_addresses"), "{error}");
        let mixed = keep_allowed("both", vec![at("169.254.1.1"), at("10.1.2.3")]).unwrap();
        assert_eq!(mixed, vec![at("10.1.2.3")]);
        assert_eq!(keep_allowed("none", vec![]).unwrap(), vec![]);
    }

    #[tokio::test]
    async fn urls_with_refused_hosts_fail_before_any_connection() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/mcp",
            "ws://[fe80::1]:8080/ws",
            "http://[::ffff:169.254.169.254]/",
        ] {
            let url = url::Url::parse(url).unwrap();
            assert!(check_url(&url).await.is_err(), "{url}");
        }
        let local = url::Url::parse("http://127.0.0.1:9/mcp").unwrap();
        assert!(check_url(&local).await.is_ok());
    }

    proptest::proptest! {
        /// Any address: the check never panics, and an IPv4 address is judged the same in
        /// its IPv4-mapped IPv6 form.
        #[test]
        fn every_address_is_judged_alike_in_both_forms(octets in proptest::array::uniform4(0u8..)) {
            let v4 = Ipv4Addr::from(octets);
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            proptest::prop_assert_eq!(refusal(IpAddr::V4(v4)).is_some(), refusal(mapped).is_some());
            proptest::prop_assert_eq!(refusal(IpAddr::V4(v4)).is_some(), octets[0] == 169 && octets[1] == 254 || octets == [100, 100, 100, 200]);
        }
    }
}
