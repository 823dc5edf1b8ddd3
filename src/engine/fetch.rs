//! Fetching `.torrent` files by URL, with a guard against server-side request forgery.
//!
//! A user with `full` on a profile can make the daemon fetch a URL. Without a guard that user
//! could reach what only the daemon's host can reach (the router's admin page, a metadata
//! service, other services on loopback) and, from the error texts, scan ports. So fetches made
//! for non-administrators ([`FetchAccess::Public`]):
//! - resolve the name first and keep only public addresses (plus the networks an operator
//!   listed in `PYTORRENT_FETCH_ALLOWED_NETWORKS`); the connection goes to exactly those
//!   addresses, because the filter *is* the HTTP client's resolver;
//! - check IP-literal hosts (which never reach a resolver) before connecting, at every
//!   redirect hop too;
//! - answer every refusal or failure with one generic message, so nothing tells a closed port
//!   from a refused address or an HTTP error.
//!
//! Administrators fetch anything ([`FetchAccess::Any`]) and get the detailed reason.
//! docs/security.md describes the rule.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ipnet::IpNet;

use super::{EngineError, MAX_TORRENT_BYTES, Result};

/// Whose fetch this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FetchAccess {
    /// Only public addresses (and the configured exceptions): every non-admin caller.
    #[default]
    Public,
    /// Anything the daemon can reach: administrators.
    Any,
}

/// The message of every failed or refused guarded fetch.
pub const GENERIC_FETCH_ERROR: &str = "could not download a .torrent file from this URL";

const MAX_REDIRECTS: usize = 5;

/// The two HTTP clients, each built on its first use: most daemons never fetch a URL, and a
/// client costs its TLS roots in memory and its set-up code in resident pages (BENCHMARKS.md,
/// "Memory").
pub(crate) struct Fetcher {
    open: OnceLock<reqwest::Client>,
    guarded: OnceLock<reqwest::Client>,
    allowed: Arc<Vec<IpNet>>,
}

impl Fetcher {
    pub(crate) fn new(allowed: Vec<IpNet>) -> Fetcher {
        Fetcher {
            open: OnceLock::new(),
            guarded: OnceLock::new(),
            allowed: Arc::new(allowed),
        }
    }

    /// The client for `guarded` (public addresses only) or open fetches.
    fn client(&self, guarded: bool) -> Result<reqwest::Client> {
        let slot = if guarded { &self.guarded } else { &self.open };
        if let Some(c) = slot.get() {
            return Ok(c.clone());
        }
        let builder = if guarded {
            let hop_allowed = self.allowed.clone();
            reqwest::Client::builder()
                .dns_resolver(Arc::new(PublicResolver {
                    allowed: self.allowed.clone(),
                }))
                .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() >= MAX_REDIRECTS {
                        attempt.error("too many redirects")
                    } else if url_host_refused(attempt.url(), &hop_allowed) {
                        attempt.error("redirect to a refused address")
                    } else {
                        attempt.follow()
                    }
                }))
        } else {
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        };
        let client = builder
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            // An environment proxy would connect on our behalf to addresses we never checked.
            .no_proxy()
            .build()
            .map_err(|e| EngineError::failed("building the HTTP client", e))?;
        // Two first uses at once build two clients; one is kept, both work.
        Ok(slot.get_or_init(|| client).clone())
    }

    /// Downloads at most [`MAX_TORRENT_BYTES`] from `url` under `access`.
    pub(crate) async fn fetch(&self, url: &str, access: FetchAccess) -> Result<Vec<u8>> {
        let too_large = "the .torrent file is larger than 10 MiB";
        match self
            .get(url, access, None, MAX_TORRENT_BYTES, too_large)
            .await?
        {
            Fetched::Body { bytes, .. } => Ok(bytes),
            // Not asked for: no validators were sent.
            Fetched::NotModified => Err(EngineError::FetchFailed(GENERIC_FETCH_ERROR.into())),
        }
    }

    /// Downloads an RSS or Atom feed (at most [`MAX_FEED_BYTES`]) under `access`, as a
    /// conditional GET when `validators` (from the previous answer) are given.
    pub(crate) async fn fetch_feed(
        &self,
        url: &str,
        access: FetchAccess,
        validators: &Validators,
    ) -> Result<Fetched> {
        self.get(
            url,
            access,
            Some(validators),
            MAX_FEED_BYTES,
            "the feed is larger than 8 MiB",
        )
        .await
    }

    async fn get(
        &self,
        url: &str,
        access: FetchAccess,
        validators: Option<&Validators>,
        max: usize,
        too_large: &str,
    ) -> Result<Fetched> {
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| EngineError::InvalidUrl(format!("the URL is not valid: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(EngineError::InvalidUrl(
                "only http and https URLs can be fetched".into(),
            ));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(EngineError::InvalidUrl("the URL has no host".into()));
        }
        let guarded = access == FetchAccess::Public;
        // Everything that goes wrong from here on is one message for a guarded caller.
        let fail = |detail: String| {
            if guarded {
                tracing::info!("guarded fetch refused or failed: {detail}");
                EngineError::FetchFailed(GENERIC_FETCH_ERROR.into())
            } else {
                EngineError::FetchFailed(detail)
            }
        };
        if guarded && url_host_refused(&parsed, &self.allowed) {
            return Err(fail(format!("{parsed}: address not allowed")));
        }
        let client = self.client(guarded)?;
        let mut req = client.get(parsed.clone());
        if let Some(v) = validators {
            if let Some(e) = &v.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            if let Some(m) = &v.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
            }
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| fail(format!("could not fetch {parsed}: {}", error_chain(&e))))?;
        if validators.is_some() && resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !resp.status().is_success() {
            return Err(fail(format!(
                "fetching {parsed} answered HTTP {}",
                resp.status().as_u16()
            )));
        }
        let too_large = || EngineError::InvalidTorrent(too_large.into());
        if resp.content_length().is_some_and(|l| l > max as u64) {
            return Err(too_large());
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= 256)
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| fail(format!("could not fetch {parsed}: {}", error_chain(&e))))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > max {
                return Err(too_large());
            }
        }
        Ok(Fetched::Body { bytes, validators })
    }
}

/// The largest feed document read.
pub const MAX_FEED_BYTES: usize = 8 * 1024 * 1024;

/// What a server said about the version it sent: sent back to ask "changed since?".
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The answer to a (conditional) GET.
#[derive(Debug)]
pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

/// reqwest's top-level error text hides the cause ("error sending request"): walk the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// Whether a URL names an IP literal that a guarded fetch may not reach. Names are left to
/// [`PublicResolver`].
fn url_host_refused(url: &url::Url, allowed: &[IpNet]) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !address_allowed(IpAddr::V4(ip), allowed),
        Some(url::Host::Ipv6(ip)) => !address_allowed(IpAddr::V6(ip), allowed),
        Some(url::Host::Domain(_)) => false,
        None => true,
    }
}

/// The resolver of the guarded client: system DNS, then only allowed addresses. When none is
/// left the connection fails, so a name that resolves to loopback is never dialled.
struct PublicResolver {
    allowed: Arc<Vec<IpNet>>,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.allowed.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| address_allowed(a.ip(), &allowed))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host}: no allowed address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// True for addresses a guarded fetch may reach: public unicast, or inside `allowed`.
pub(crate) fn address_allowed(ip: IpAddr, allowed: &[IpNet]) -> bool {
    crate::config::ip_in(allowed, ip) || is_public(ip)
}

fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    // Addresses that carry an IPv4 address inside: judge the IPv4 one.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded(seg[6], seg[7])); // NAT64
    }
    if seg[0] == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2])); // 6to4
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] {
        return false; // ::, ::1 and the deprecated IPv4-compatible form
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_and_refused_addresses() {
        for refused in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
        ] {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn allowed_networks_open_private_ranges() {
        let allowed: Vec<IpNet> = vec!["192.168.1.0/24".parse().unwrap()];
        assert!(address_allowed(ip("192.168.1.20"), &allowed));
        assert!(!address_allowed(ip("192.168.2.20"), &allowed));
        assert!(address_allowed(ip("::ffff:192.168.1.20"), &allowed));
    }

    #[test]
    fn url_hosts_in_every_spelling() {
        for u in [
            "http://127.0.0.1/x",
            "http://2130706433/x",
            "http://0x7f.1/x",
            "http://[::ffff:127.0.0.1]/x",
            "http://[::1]:8080/x",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(url_host_refused(&url, &[]), "{u} must be refused");
        }
        let url = url::Url::parse("http://example.com/x").unwrap();
        assert!(!url_host_refused(&url, &[]), "names go to the resolver");
    }
}
