//! The configuration parser (`Config::from_vars`) over `NAME=value` lines, plus the
//! rendering of what it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pytorrentd::config::{Config, ServeOverrides};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Ok((cfg, _warnings)) = Config::from_vars(vars, &ServeOverrides::default()) {
        let _ = cfg.render_masked();
        let _ = cfg.risk_warnings();
    }
});
