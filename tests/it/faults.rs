//! Fixtures for the fault tests: a small tmpfs mounted by the test (so "disk full" is real),
//! a local-login admin session against the daemon binary, .torrent bytes of a chosen size,
//! and SHA-256 of files (to prove a refused database was left alone).

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::Digest;

use crate::util::*;

/// A tmpfs of a given size mounted at a directory for the life of the value, unmounted in
/// `Drop` (also on panic). Mounting needs root: CI runs as root, and anywhere else the test
/// fails saying so instead of skipping.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test mounts a {size} tmpfs to fill a disk for real and must run as root \
             (CI does); run it with sudo, e.g. `sudo -E cargo test --test it {}`",
            std::thread::current().name().unwrap_or("")
        );
        fs::create_dir_all(path).unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .status()
            .expect("run mount(8)");
        assert!(
            st.success(),
            "mount -t tmpfs -o size={size} at {path:?} failed: {st}"
        );
        Tmpfs {
            path: path.to_owned(),
        }
    }

    /// Writes a file of zeros until the file system is full; returns its path.
    pub fn fill(&self, name: &str) -> PathBuf {
        let p = self.path.join(name);
        let mut f = fs::File::create(&p).expect("create filler");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {p:?}: {e}"),
            }
        }
        // Also the last few bytes a 64 KiB write did not fit.
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.flush();
        p
    }

    pub fn free_bytes(&self) -> u64 {
        let s = rustix::fs::statvfs(&self.path).expect("statvfs");
        s.f_bavail * s.f_frsize
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            // Still busy (a process of a failed test): detach it so nothing stays mounted.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

pub fn sha256_file(p: &Path) -> String {
    hex::encode(sha2::Sha256::digest(fs::read(p).unwrap_or_default()))
}

/// The first administrator's password, from the daemon's log of its first run.
pub fn first_admin_password(d: &Daemon) -> String {
    let log = d.log_of_run(1);
    let line = log
        .lines()
        .find(|l| l.contains("created the first administrator"))
        .unwrap_or_else(|| panic!("no first-admin line in the log:\n{log}"));
    let start = line.find("password '").expect("password in line") + "password '".len();
    let rest = &line[start..];
    rest[..rest.find('\'').expect("closing quote")].to_owned()
}

/// Logs in with a local account; returns the session cookie (`name=value`), or the answer
/// when the login did not succeed.
pub async fn login(d: &Daemon, user: &str, password: &str) -> Result<String, (u16, Value)> {
    let resp = d
        .client()
        .post(d.url("/api/auth/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .expect("POST /api/auth/login");
    let cookie = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pytorrent_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned());
    let (st, body) = to_status_json(resp).await;
    match (st, cookie) {
        (200, Some(c)) => Ok(c),
        _ => Err((st, body)),
    }
}

/// An authenticated request sender (cookie session).
pub struct Session<'a> {
    pub d: &'a Daemon,
    pub cookie: String,
}

impl Session<'_> {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .d
            .client()
            .request(method.clone(), self.d.url(path))
            .header(reqwest::header::COOKIE, &self.cookie);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        to_status_json(resp).await
    }

    /// Uploads .torrent bytes; returns the answer and its `Retry-After` header.
    pub async fn upload(&self, profile: &str, torrent: &[u8]) -> ((u16, Value), Option<String>) {
        let form = reqwest::multipart::Form::new().part(
            "torrent",
            reqwest::multipart::Part::bytes(torrent.to_vec())
                .file_name("upload.torrent")
                .mime_str("application/x-bittorrent")
                .unwrap(),
        );
        let resp = self
            .d
            .client()
            .post(self.d.url(&format!("/api/profiles/{profile}/torrents")))
            .header(reqwest::header::COOKIE, &self.cookie)
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let retry = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (to_status_json(resp).await, retry)
    }
}

fn bencode_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("{}:", b.len()).as_bytes());
    out.extend_from_slice(b);
}

/// A valid single-file .torrent of `pieces` pieces of 16 KiB (random hashes: no data needs
/// to exist). 20 bytes per piece make it big enough to need fresh database pages.
pub fn synthetic_torrent(name: &str, pieces: usize) -> Vec<u8> {
    let piece_len = 16_384u64;
    let mut info = Vec::new();
    info.push(b'd');
    bencode_bytes(&mut info, b"length");
    info.extend_from_slice(format!("i{}e", piece_len * pieces as u64).as_bytes());
    bencode_bytes(&mut info, b"name");
    bencode_bytes(&mut info, name.as_bytes());
    bencode_bytes(&mut info, b"piece length");
    info.extend_from_slice(format!("i{piece_len}e").as_bytes());
    bencode_bytes(&mut info, b"pieces");
    bencode_bytes(&mut info, &random_bytes(pieces * 20));
    info.push(b'e');
    let mut t = Vec::new();
    t.push(b'd');
    bencode_bytes(&mut t, b"info");
    t.extend_from_slice(&info);
    t.push(b'e');
    t
}

/// Runs `pytorrentd ARGS` against `d`'s data and download dirs (the daemon stopped), with
/// logging as the daemon has it; kills it after 30 s (a `serve` that should have refused).
pub async fn run_cli(root: &Path, d: &Daemon, args: &[&str]) -> CliOut {
    let data = d.data_dir.to_str().expect("UTF-8 temp path");
    let downloads = d.download_dir.to_str().expect("UTF-8 temp path");
    let port = free_port().to_string();
    let all: Vec<&str> = args.iter().copied().chain(["--data-dir", data]).collect();
    let env = [
        ("PYTORRENT_DHT_ENABLE", "false"),
        ("PYTORRENT_LSD_ENABLE", "false"),
        ("PYTORRENT_UPNP_ENABLE", "false"),
        ("PYTORRENT_BT_PORT", port.as_str()),
        ("PYTORRENT_DOWNLOAD_DIR", downloads),
        ("PYTORRENT_LOG", "warn"),
    ];
    run_cli_in(root, &all, &env, CliInput::Null, 30.0).await
}
