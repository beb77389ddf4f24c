//! The HTTP client for what the server fetches or sends itself (webhook
//! deliveries, OIDC issuers' discovery and keys). No redirects: an answer
//! comes from the URL an administrator configured. Names resolve through
//! [`GuardedResolver`], which drops addresses the operator's
//! [`Outbound`] policy refuses, so a name that points (or is re-pointed,
//! DNS rebinding) at a private address reaches nothing. Addresses written
//! into a URL bypass resolution: callers check those with
//! [`Outbound::check_url`] before each request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use robots_service::outbound::Outbound;

/// Builds the client for `policy`: 10 s at most per request.
pub fn client(policy: Outbound) -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .build()
}

/// The system's resolver, keeping only the addresses `policy` allows.
#[derive(Debug)]
struct GuardedResolver {
    policy: Outbound,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| match policy.check_address(address.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refused = Some(why);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(why)) => Err(format!("{host} {why}").into()),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolving_to_private_addresses_reach_nothing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let guarded = client(Outbound::default()).unwrap();
        // `localhost` resolves (through the system, as any name would) to
        // loopback: refused after resolution, before any connection.
        let refused = guarded
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        let chain = format!("{refused:?}");
        assert!(chain.contains("loopback"), "{chain}");

        let resolved = GuardedResolver {
            policy: Outbound { allow_private: true },
        }
        .resolve("localhost".parse().unwrap())
        .await
        .unwrap();
        assert!(resolved.into_iter().any(|address| address.ip().is_loopback()));
    }
}
