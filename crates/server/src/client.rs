//! Where a request really comes from. Behind a reverse proxy every request
//! comes from the proxy; with `--trusted-proxy` the client is the last
//! address in `X-Forwarded-For` that is not itself a trusted proxy. The
//! rate limits (`robots_service::limits`) count what that address does.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// An address range, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or range (e.g. 10.0.0.0/8)"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl IpRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
            if prefix == 0 { 0 } else { bits >> (width - prefix) }
        }
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                masked(u32::from(network).into(), self.prefix, 32) == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                masked(network.into(), self.prefix, 128) == masked(ip.into(), self.prefix, 128)
            }
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// Whether `ip` is one of the `--trusted-proxy` ranges.
pub fn is_trusted(ip: IpAddr, trusted: &[IpRange]) -> bool {
    trusted.iter().any(|range| range.contains(ip))
}

/// The client's address: the peer, or behind trusted proxies the last
/// `X-Forwarded-For` hop they did not add themselves.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpRange]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: IpAddr| is_trusted(ip, trusted);
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // An unreadable hop: trust nothing before it.
            Err(_) => break,
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<IpRange> = vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.9, 203.0.113.5, 10.1.2.3".parse().unwrap(),
        );
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        // From a trusted proxy: the last hop it did not add itself.
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), &headers, &trusted),
            Some(ip("203.0.113.5"))
        );
        // From anyone else, the header is the client's own claim: ignored.
        assert_eq!(
            client_address(Some(ip("192.0.2.1")), &headers, &trusted),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), &HeaderMap::new(), &trusted),
            Some(ip("127.0.0.1"))
        );
        let mut garbage = HeaderMap::new();
        garbage.insert("x-forwarded-for", "nonsense, 10.9.9.9".parse().unwrap());
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), &garbage, &trusted),
            Some(ip("10.9.9.9"))
        );
    }

    #[test]
    fn ranges_parse_and_match() {
        let range: IpRange = "10.0.0.0/8".parse().unwrap();
        assert!(range.contains("10.200.0.1".parse().unwrap()));
        assert!(!range.contains("11.0.0.1".parse().unwrap()));
        assert!(range.contains("::ffff:10.0.0.1".parse().unwrap()));
        let everything: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains("192.0.2.1".parse().unwrap()));
        let v6: IpRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("example.com".parse::<IpRange>().is_err());
    }
}
