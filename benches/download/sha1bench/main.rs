// Hash SIZE_MB MiB of random data in 1 MiB pieces (one hasher per piece, like torrent
// piece checks) with each SHA-1 backend; report the best of ROUNDS rounds in GB/s.
use std::io::Write;
use std::time::Instant;

const PIECE: usize = 1 << 20;

fn bench(name: &str, data: &[u8], rounds: usize, f: &dyn Fn(&[u8]) -> [u8; 20]) -> [u8; 20] {
    let mut best = f64::MAX;
    let mut last = [0u8; 20];
    for _ in 0..rounds {
        let t = Instant::now();
        let mut acc = [0u8; 20];
        for piece in data.chunks(PIECE) {
            let h = f(piece);
            for i in 0..20 { acc[i] ^= h[i]; }
        }
        let s = t.elapsed().as_secs_f64();
        if s < best { best = s; }
        last = acc;
    }
    let gb = data.len() as f64 / 1e9;
    println!("{:<34} {:>7.3} s  {:>6.2} GB/s  ({:>5.0} MB/s)", name, best, gb / best, gb * 1000.0 / best);
    last
}

fn main() {
    let size_mb: usize = std::env::var("SIZE_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut data = vec![0u8; size_mb * PIECE];
    // cheap deterministic pseudo-random fill (xorshift), hashing speed does not depend on content
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for c in data.chunks_mut(8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; c.copy_from_slice(&x.to_le_bytes()[..c.len()]); }
    println!("SHA-1 over {} MiB in 1 MiB pieces, best of {} rounds", size_mb, rounds);
    let mut out = Vec::new();
    out.push(bench("openssl (crypto-hash 0.3) [default-tls]", &data, rounds, &|p| {
        let mut h = crypto_hash::Hasher::new(crypto_hash::Algorithm::SHA1);
        h.write_all(p).unwrap();
        let r = h.finish(); let mut a = [0u8; 20]; a.copy_from_slice(&r); a
    }));
    out.push(bench("openssl 0.10 (direct Sha1)", &data, rounds, &|p| {
        let mut h = openssl::sha::Sha1::new(); h.update(p); h.finish()
    }));
    out.push(bench("aws-lc-rs [rust-tls = sha1-ring]", &data, rounds, &|p| {
        let mut c = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
        c.update(p); let d = c.finish(); let mut a = [0u8; 20]; a.copy_from_slice(d.as_ref()); a
    }));
    out.push(bench("ring 0.17", &data, rounds, &|p| {
        let mut c = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        c.update(p); let d = c.finish(); let mut a = [0u8; 20]; a.copy_from_slice(d.as_ref()); a
    }));
    out.push(bench("sha1 0.10 (RustCrypto)", &data, rounds, &|p| {
        use sha1::Digest; let mut h = sha1::Sha1::new(); h.update(p); h.finalize().into()
    }));
    assert!(out.windows(2).all(|w| w[0] == w[1]), "backends disagree!");
    println!("all backends agree");
}
