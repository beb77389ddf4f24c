//! Where the server may send requests of its own: webhook deliveries and
//! OIDC discovery and keys. URLs an organization's admin gives must not
//! make the server reach into networks only it can see (its own loopback,
//! the private network around it, the cloud metadata service): such hosts
//! are refused when a URL is saved, and again on every connection, on the
//! address a name resolves to then (see `robots_core::network`).

use std::net::IpAddr;

use robots_core::network::non_public;
use url::{Host, Url};

/// The operator's choice (`--outbound-allow-private`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outbound {
    /// Private, loopback and other non-public destinations allowed: for
    /// labs, and tests on one machine.
    pub allow_private: bool,
}

impl Outbound {
    /// Whether a URL's host may be sent to, as far as it can be told
    /// without resolving it: an address must be public, and `localhost`
    /// names are loopback by definition. Names are checked again on their
    /// resolved addresses when connecting ([`Self::check_address`]).
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        if self.allow_private {
            return Ok(());
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_address(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_address(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") {
                    Err(refusal("a loopback address"))
                } else {
                    Ok(())
                }
            }
            None => Err("has no host".to_owned()),
        }
    }

    /// Whether an address a connection is about to be made to may be.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), String> {
        match non_public(ip) {
            Some(why) if !self.allow_private => Err(refusal(why)),
            _ => Ok(()),
        }
    }
}

fn refusal(why: &str) -> String {
    format!(
        "points at {why}: this server sends requests only to public addresses \
         (its operator can allow private ones with --outbound-allow-private)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(url: &str, allow_private: bool) -> Result<(), String> {
        Outbound { allow_private }.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn private_hosts_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://localhost:8080/",
            "http://LocalHost./",
            "http://api.localhost/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            let refused = checked(url, false).expect_err(url);
            assert!(refused.contains("--outbound-allow-private"), "{url}: {refused}");
            assert_eq!(checked(url, true), Ok(()), "{url}");
        }
    }

    #[test]
    fn public_hosts_pass() {
        for url in [
            "https://hooks.example.com/x",
            "https://93.184.215.14/",
            "https://[2606:4700::1111]/",
        ] {
            assert_eq!(checked(url, false), Ok(()), "{url}");
        }
    }
}
