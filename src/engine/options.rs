//! Engine settings (README "Engine settings"): the BitTorrent listen port, DHT, local peer
//! discovery, UPnP, peer exchange, peer limits, an IP blocklist and the network interface to
//! bind to (a VPN's). Stored in redb; the environment variables (`PYTORRENT_BT_PORT`,
//! `PYTORRENT_DHT_ENABLE`, `PYTORRENT_LSD_ENABLE`, `PYTORRENT_UPNP_ENABLE`) only give the
//! values of the first start. Peer exchange and the global peer limit change at once
//! (vendored patches 0006 and 0007); the others are read when the engine starts, so a change
//! says "applies after restart" until then.

use serde::{Deserialize, Serialize};

use super::{EngineError, Result};
use crate::config::Config;

/// The key of the engine settings in the `settings` table.
pub const SETTINGS_KEY: &str = "engine";

/// Peer connections per torrent at most (and librqbit's default).
pub const PEER_LIMIT_TORRENT_MAX: u32 = 1000;
pub const PEER_LIMIT_TORRENT_DEFAULT: u32 = 128;
/// Peer connections of all torrents together at most.
pub const PEER_LIMIT_GLOBAL_MAX: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EngineSettings {
    /// BitTorrent listen port (TCP and uTP); 0 = a random port at each start.
    pub listen_port: u16,
    /// The distributed hash table (finds peers without trackers).
    pub dht: bool,
    /// Local peer discovery (multicast on the LAN).
    pub lsd: bool,
    /// Port forwarding on the router by UPnP.
    pub upnp: bool,
    /// Peer exchange with connected peers (never for private torrents).
    pub pex: bool,
    /// Peer connections of all torrents together; 0 = no cap.
    pub peer_limit_global: u32,
    /// Peer connections per torrent (1 to 1000).
    pub peer_limit_torrent: u32,
    /// A blocklist of IP ranges (P2P/PeerGuardian format, gzip allowed) loaded at start from
    /// an http(s):// or file:// URL; peers in it are refused.
    pub blocklist_url: Option<String>,
    /// The network interface all BitTorrent traffic goes through (e.g. a VPN's `wg0`). When
    /// it is missing at start, the engine does not start rather than use another one.
    pub bind_interface: Option<String>,
}

impl EngineSettings {
    /// The first start's values, from the environment.
    pub fn from_config(c: &Config) -> EngineSettings {
        EngineSettings {
            listen_port: c.bt_port,
            dht: c.dht_enable,
            lsd: c.lsd_enable,
            upnp: c.upnp_enable,
            pex: true,
            peer_limit_global: 0,
            peer_limit_torrent: PEER_LIMIT_TORRENT_DEFAULT,
            blocklist_url: None,
            bind_interface: None,
        }
    }

    /// The settings that differ from `running` and only apply when the engine starts.
    pub fn restart_needed(&self, running: &EngineSettings) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.listen_port != running.listen_port {
            v.push("listen_port");
        }
        if self.dht != running.dht {
            v.push("dht");
        }
        if self.lsd != running.lsd {
            v.push("lsd");
        }
        if self.upnp != running.upnp {
            v.push("upnp");
        }
        if self.peer_limit_torrent != running.peer_limit_torrent {
            v.push("peer_limit_torrent");
        }
        if self.blocklist_url != running.blocklist_url {
            v.push("blocklist_url");
        }
        if self.bind_interface != running.bind_interface {
            v.push("bind_interface");
        }
        v
    }
}

/// A change of the engine settings: absent fields stay; for the URL and the interface,
/// null or "" removes them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineChange {
    pub listen_port: Option<u16>,
    pub dht: Option<bool>,
    pub lsd: Option<bool>,
    pub upnp: Option<bool>,
    pub pex: Option<bool>,
    #[schema(maximum = 100000)]
    pub peer_limit_global: Option<u32>,
    #[schema(minimum = 1, maximum = 1000)]
    pub peer_limit_torrent: Option<u32>,
    #[serde(default, deserialize_with = "super::share::double_option")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub blocklist_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::share::double_option")]
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_.:-]{0,15}$")]
    pub bind_interface: Option<Option<String>>,
}

fn invalid(msg: String) -> EngineError {
    EngineError::Invalid(msg)
}

impl EngineChange {
    pub fn is_empty(&self) -> bool {
        self.listen_port.is_none()
            && self.dht.is_none()
            && self.lsd.is_none()
            && self.upnp.is_none()
            && self.pex.is_none()
            && self.peer_limit_global.is_none()
            && self.peer_limit_torrent.is_none()
            && self.blocklist_url.is_none()
            && self.bind_interface.is_none()
    }

    /// Checks every value, then applies them to `to` (nothing changes on an error).
    pub fn apply(&self, to: &mut EngineSettings) -> Result<()> {
        let mut n = to.clone();
        if let Some(p) = self.listen_port {
            n.listen_port = p;
        }
        for (v, f) in [
            (self.dht, &mut n.dht),
            (self.lsd, &mut n.lsd),
            (self.upnp, &mut n.upnp),
            (self.pex, &mut n.pex),
        ] {
            if let Some(v) = v {
                *f = v;
            }
        }
        if let Some(g) = self.peer_limit_global {
            if g > PEER_LIMIT_GLOBAL_MAX {
                return Err(invalid(format!(
                    "peer_limit_global must be 0 (no cap) to {PEER_LIMIT_GLOBAL_MAX} (got {g})"
                )));
            }
            n.peer_limit_global = g;
        }
        if let Some(t) = self.peer_limit_torrent {
            if !(1..=PEER_LIMIT_TORRENT_MAX).contains(&t) {
                return Err(invalid(format!(
                    "peer_limit_torrent must be 1 to {PEER_LIMIT_TORRENT_MAX} (got {t})"
                )));
            }
            n.peer_limit_torrent = t;
        }
        if let Some(u) = &self.blocklist_url {
            let u = u.as_deref().map(str::trim).filter(|u| !u.is_empty());
            if let Some(u) = u {
                let ok = u.len() <= 2048
                    && url::Url::parse(u)
                        .is_ok_and(|p| matches!(p.scheme(), "http" | "https" | "file"));
                if !ok {
                    return Err(invalid(format!(
                        "blocklist_url must be an http://, https:// or file:// URL (got {})",
                        crate::limits::quote(u)
                    )));
                }
            }
            n.blocklist_url = u.map(str::to_owned);
        }
        if let Some(i) = &self.bind_interface {
            let i = i.as_deref().map(str::trim).filter(|i| !i.is_empty());
            if let Some(i) = i {
                let ok = i.len() <= 15
                    && i.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
                if !ok {
                    return Err(invalid(format!(
                        "bind_interface must be a network interface name (at most 15 letters, digits, '_', '.', ':' or '-'; got {})",
                        crate::limits::quote(i)
                    )));
                }
                if !std::path::Path::new("/sys/class/net").join(i).exists() {
                    return Err(invalid(format!(
                        "there is no network interface {} on this machine",
                        crate::limits::quote(i)
                    )));
                }
            }
            n.bind_interface = i.map(str::to_owned);
        }
        *to = n;
        Ok(())
    }
}

impl super::Engine {
    /// The stored engine settings.
    pub fn engine_settings(&self) -> EngineSettings {
        self.engine_opts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The stored settings that wait for a restart of the daemon.
    pub fn engine_restart_needed(&self) -> Vec<&'static str> {
        self.engine_settings().restart_needed(&self.engine_running)
    }

    /// Changes the engine settings: stored first; peer exchange and the global peer limit
    /// at once, the others at the next start.
    pub fn set_engine_settings(&self, change: &EngineChange) -> Result<EngineSettings> {
        let mut next = self.engine_settings();
        change.apply(&mut next)?;
        self.store
            .write(|tx| tx.put(crate::store::Table::Settings, SETTINGS_KEY, &next))?;
        *self.engine_opts.lock().unwrap_or_else(|e| e.into_inner()) = next.clone();
        self.apply_live_options(&next);
        Ok(next)
    }

    pub(crate) fn apply_live_options(&self, s: &EngineSettings) {
        self.session.set_pex(s.pex);
        self.session.set_global_peer_limit(
            (s.peer_limit_global > 0).then_some(s.peer_limit_global as usize),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> EngineSettings {
        EngineSettings {
            listen_port: 6881,
            dht: true,
            lsd: true,
            upnp: false,
            pex: true,
            peer_limit_global: 0,
            peer_limit_torrent: 128,
            blocklist_url: None,
            bind_interface: None,
        }
    }

    #[test]
    fn bad_values_change_nothing_and_restarts_are_named() {
        let mut s = base();
        for bad in [
            r#"{"peer_limit_torrent": 0}"#,
            r#"{"peer_limit_global": 100001}"#,
            r#"{"blocklist_url": "ftp://x/list", "dht": false}"#,
            r#"{"bind_interface": "a very long interface name"}"#,
            r#"{"bind_interface": "no-such-if0"}"#,
        ] {
            let c: EngineChange = serde_json::from_str(bad).unwrap();
            assert!(c.apply(&mut s).is_err(), "{bad}");
            assert_eq!(s, base());
        }
        let c: EngineChange = serde_json::from_str(
            r#"{"listen_port": 7000, "pex": false, "blocklist_url": "http://127.0.0.1/list.p2p", "bind_interface": "lo"}"#,
        )
        .unwrap();
        c.apply(&mut s).unwrap();
        assert_eq!(
            s.restart_needed(&base()),
            ["listen_port", "blocklist_url", "bind_interface"]
        );
        let c: EngineChange =
            serde_json::from_str(r#"{"blocklist_url": null, "bind_interface": ""}"#).unwrap();
        c.apply(&mut s).unwrap();
        assert_eq!((s.blocklist_url, s.bind_interface), (None, None));
    }
}
