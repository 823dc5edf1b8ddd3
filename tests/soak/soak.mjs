#!/usr/bin/env node
// Soak test (docs/reliability.md): the daemon under steady mixed load for a long time, with
// its resources sampled into a CSV and a verdict at the end. CI runs 60 s of it
// (tests/run.sh); the documented run is one hour:
//
//   (cd ui && npm ci)                    # socket.io-client, once
//   node tests/soak/soak.mjs --duration 3600 --release --csv soak.csv
//
// Options (defaults in brackets):
//   --duration S [3600]   --interval S [30]   --warmup S [max(interval, 10 % of duration)]
//   --torrents N [300]    paused synthetic torrents (no data exists; they fill the lists)
//   --downloads N [2]     real downloads from aria2c seeders on loopback (1 MiB/s each),
//                         deleted with their files and added again when complete
//   --sockets N [50]      Socket.IO clients subscribed to the default profile
//   --clients N [10]      API clients in a loop: list, details, files, label PATCH, stats
//   --csv FILE [soak-<time>.csv]   --release (target/release) | --bin PATH
//   --tolerance F [0.10]  allowed relative spread of RSS, fds and threads after warm-up
//
// Every interval one CSV line: time, RSS, CPU %, fds, threads, requests, errors, latency
// p50/p95/p99/max (ms), socket events, socket drops. Verdict: after the warm-up, RSS and fds
// stay within ±tolerance of their median (fds: at least ±3), threads stop growing (not each
// third of the samples' median above the one before by more than tolerance, at least 2),
// there are 0 request errors, 0 socket drops, and the daemon is healthy at the end. The
// exit code is non-zero when the verdict fails. Every process started here is stopped by
// PID.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  addTorrents, io, killAll, login, makePayloadTorrent, request, sleep, startAria2Seeder,
  startDaemon, syntheticTorrent, tmpDir, until,
} from '../../ui/tests/feed/lib/harness.mjs';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  return typeof def === 'number' ? Number(v) : v;
}
const flag = (name) => process.argv.includes(`--${name}`);

const DURATION = arg('duration', 3600);
const INTERVAL = arg('interval', 30);
const WARMUP = arg('warmup', Math.max(INTERVAL, Math.round(DURATION / 10)));
const TORRENTS = arg('torrents', 300);
const DOWNLOADS = arg('downloads', 2);
const SOCKETS = arg('sockets', 50);
const CLIENTS = arg('clients', 10);
const TOLERANCE = arg('tolerance', 0.10);
const CSV = arg('csv', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
const BIN = arg('bin', undefined);

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

function procStatus(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) ?? [])[1] ?? NaN);
  return { rssKiB: num('VmRSS'), threads: num('Threads') };
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
const CLK_TCK = 100;

const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

function pct(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ---------------------------------------------------------------------------------------
// load
// ---------------------------------------------------------------------------------------

const stats = { requests: 0, errors: [], latencies: [], events: 0, drops: [] };
let stopping = false;

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + 4 });

/** One API request, timed; any transport error or non-2xx status counts as an error. */
function call(url, cookie, method, p, body) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { cookie, 'accept-encoding': 'identity' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: u.hostname, port: u.port, path: p, method, headers, agent, timeout: 30_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        stats.requests += 1;
        stats.latencies.push(ms);
        if (res.statusCode < 200 || res.statusCode >= 300) {
          stats.errors.push(`${method} ${p} → ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`);
          resolve(null);
          return;
        }
        try { resolve(JSON.parse(Buffer.concat(chunks).toString() || 'null')); } catch { resolve(null); }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout after 30 s')));
    req.on('error', (e) => {
      if (!stopping) stats.errors.push(`${method} ${p} → ${e.message}`);
      stats.requests += 1;
      resolve(null);
    });
    if (payload) req.write(payload);
    req.end();
  });
}

async function apiClient(url, cookie, hashes, n) {
  let i = 0;
  while (!stopping) {
    i += 1;
    const h = hashes[Math.floor(Math.random() * hashes.length)];
    switch (i % 6) {
      case 0: await call(url, cookie, 'GET', '/api/profiles/default/torrents'); break;
      case 1: await call(url, cookie, 'GET', `/api/torrents/${h}`); break;
      case 2: await call(url, cookie, 'GET', `/api/torrents/${h}/files`); break;
      case 3: await call(url, cookie, 'PATCH', `/api/torrents/${h}`, { label: `soak-${n}-${i % 7}` }); break;
      case 4: await call(url, cookie, 'GET', '/api/stats'); break;
      default: await call(url, cookie, 'GET', '/api/health'); break;
    }
    // A client that thinks a little: ~5 requests/s each.
    await sleep(150 + Math.random() * 100);
  }
}

/** A Socket.IO client that counts events (keeps none: an hour of them is a lot). */
async function socketClient(url, cookie, i) {
  const socket = io(url, { reconnection: false, forceNew: true, timeout: 20_000, extraHeaders: { cookie } });
  socket.onAny(() => { stats.events += 1; });
  socket.on('disconnect', (reason) => { if (!stopping) stats.drops.push(`socket ${i}: ${reason}`); });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (e) => reject(new Error(`socket ${i}: ${e.message}`)));
  });
  const ack = await socket.timeout(30_000).emitWithAck('subscribe', { profile: 'default' });
  if (!ack?.ok) throw new Error(`socket ${i}: subscribe refused ${JSON.stringify(ack)}`);
  return socket;
}

/** One real download, over and over: add, wait for completion, delete with files. */
async function downloader(url, cookie, work, k) {
  const payload = makePayloadTorrent(path.join(work, `dl${k}`), { name: `soak-dl${k}.bin`, size: 24 * 1024 * 1024 });
  const seeder = await startAria2Seeder({ torrentPath: payload.torrentPath, seedDir: payload.seedDir, uploadLimit: '1M' });
  let rounds = 0;
  while (!stopping) {
    await addTorrents(url, 'default', [{ data: payload.data, filename: `${payload.name}.torrent` }], {
      cookie, fields: { peers: `127.0.0.1:${seeder.port}` },
    }).catch((e) => stats.errors.push(`download ${k} add: ${e.message}`));
    while (!stopping) {
      const row = await call(url, cookie, 'GET', `/api/torrents/${payload.hash}`);
      if (row?.state === 'seeding') break;
      if (row?.state === 'error') { stats.errors.push(`download ${k}: ${row.error}`); break; }
      await sleep(2000);
    }
    if (stopping) break;
    rounds += 1;
    await call(url, cookie, 'DELETE', `/api/torrents/${payload.hash}?delete_files=true`);
  }
  await seeder.stop();
  return rounds;
}

// ---------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------

async function main() {
  const work = tmpDir('ptd-soak-');
  const d = await startDaemon({ release: flag('release'), bin: BIN, env: { PYTORRENT_LOG: 'warn' } });
  const pid = d.child.pid;
  log(`daemon ${d.bin} pid ${pid} at ${d.url}; ${DURATION} s, sample every ${INTERVAL} s, warm-up ${WARMUP} s`);
  const cookie = await login(d.url, 'admin', await d.adminPassword());

  const hashes = [];
  for (let left = TORRENTS; left > 0;) {
    const n = Math.min(50, left);
    left -= n;
    const files = Array.from({ length: n }, () => syntheticTorrent());
    const added = await addTorrents(d.url, 'default', files, { cookie, fields: { paused: 'true' } });
    hashes.push(...added.map((r) => r.hash));
  }
  log(`${hashes.length} paused torrents added`);

  const sockets = [];
  for (let i = 0; i < SOCKETS; i += 1) sockets.push(await socketClient(d.url, cookie, i));
  log(`${sockets.length} sockets subscribed`);
  const downloads = Array.from({ length: DOWNLOADS }, (_, k) => downloader(d.url, cookie, work, k));
  const clients = Array.from({ length: CLIENTS }, (_, n) => apiClient(d.url, cookie, hashes, n));

  const header = 'elapsed_s,rss_mib,cpu_pct,fds,threads,requests,errors,p50_ms,p95_ms,p99_ms,max_ms,socket_events,socket_drops';
  fs.writeFileSync(CSV, `${header}\n`);
  const samples = [];
  const t0 = Date.now();
  let lastTicks = cpuTicks(pid);
  let lastT = Date.now();
  let lastErrors = 0;
  let lastDrops = 0;
  let lastEvents = 0;
  let lastRequests = 0;
  while (Date.now() - t0 < DURATION * 1000) {
    await sleep(Math.min(INTERVAL * 1000, DURATION * 1000 - (Date.now() - t0)));
    if (d.child.exitCode !== null || d.child.signalCode !== null) {
      stats.errors.push(`the daemon exited (${d.child.exitCode ?? d.child.signalCode})`);
      break;
    }
    const now = Date.now();
    const ticks = cpuTicks(pid);
    const st = procStatus(pid);
    const lat = stats.latencies.splice(0).sort((a, b) => a - b);
    const s = {
      elapsed: Math.round((now - t0) / 1000),
      rssMiB: st.rssKiB / 1024,
      cpu: ((ticks - lastTicks) / CLK_TCK) / ((now - lastT) / 1000) * 100,
      fds: fdCount(pid),
      threads: st.threads,
      requests: stats.requests - lastRequests,
      errors: stats.errors.length - lastErrors,
      p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat.at(-1) ?? 0,
      events: stats.events - lastEvents,
      drops: stats.drops.length - lastDrops,
    };
    lastTicks = ticks; lastT = now; lastErrors = stats.errors.length; lastDrops = stats.drops.length;
    lastEvents = stats.events; lastRequests = stats.requests;
    samples.push(s);
    const line = [s.elapsed, s.rssMiB.toFixed(1), s.cpu.toFixed(1), s.fds, s.threads, s.requests, s.errors,
      s.p50.toFixed(1), s.p95.toFixed(1), s.p99.toFixed(1), s.max.toFixed(1), s.events, s.drops].join(',');
    fs.appendFileSync(CSV, `${line}\n`);
    log(line);
  }

  stopping = true;
  for (const s of sockets) s.close();
  await Promise.all(clients);
  const rounds = await Promise.all(downloads);
  const alive = d.child.exitCode === null && d.child.signalCode === null;
  const health = alive ? await request(`${d.url}/api/health`).catch(() => null) : null;
  await d.stop();
  fs.rmSync(work, { recursive: true, force: true });

  // verdict
  const after = samples.filter((s) => s.elapsed > WARMUP);
  const problems = [];
  if (after.length < 2) problems.push(`only ${after.length} samples after the warm-up: run longer`);
  const spread = (key, minAbs) => {
    const v = after.map((s) => s[key]).sort((a, b) => a - b);
    const med = pct(v, 50);
    const allowed = Math.max(med * TOLERANCE, minAbs);
    const bad = after.filter((s) => Math.abs(s[key] - med) > allowed);
    return { med, min: v[0], max: v.at(-1), allowed, bad };
  };
  const report = {};
  for (const [key, minAbs] of [['rssMiB', 0], ['fds', 3], ['threads', 3]]) {
    const r = spread(key, minAbs);
    report[key] = r;
    if (key === 'threads') continue;
    if (r.bad.length) {
      problems.push(`${key} not flat: median ${r.med.toFixed(1)}, allowed ±${r.allowed.toFixed(1)}, off at ${r.bad.map((s) => `${s.elapsed}s=${s[key].toFixed(1)}`).join(' ')}`);
    }
  }
  // Threads: tokio's blocking pool keeps a thread for every blocking call that ran at the
  // same time as others, and under steady load the pool's round-robin wake-ups keep them all
  // alive, so the count climbs in steps to the peak concurrency of the workload and stays
  // there (completed pieces are hashed on that pool too, so a download that starts late in
  // a short run adds a step). Bounded is fine, growing is not: the count is growing when the
  // median of each third of the samples exceeds the one before by more than ±tolerance (at
  // least 2 threads). One step, as in a 60 s run, is a new peak; a leak climbs all along.
  if (after.length >= 3) {
    const third = Math.max(1, Math.floor(after.length / 3));
    const med = (xs) => pct(xs.map((s) => s.threads).sort((a, b) => a - b), 50);
    const first = med(after.slice(0, third));
    const middle = med(after.slice(third, after.length - third));
    const last = med(after.slice(-third));
    report.threadTrend = { first, middle, last };
    const grew = (a, b) => b > a + Math.max(a * TOLERANCE, 2);
    if (grew(first, middle) && grew(middle, last)) {
      problems.push(`threads keep growing: medians ${first}, ${middle}, ${last} in the thirds of the samples`);
    }
  }
  if (stats.errors.length) problems.push(`${stats.errors.length} request errors, e.g. ${stats.errors.slice(0, 5).join(' | ')}`);
  if (stats.drops.length) problems.push(`${stats.drops.length} socket drops, e.g. ${stats.drops.slice(0, 5).join(' | ')}`);
  if (!alive || health?.status !== 200) problems.push(`the daemon is not healthy at the end (alive=${alive}, health ${health?.status})`);

  const totalReq = samples.reduce((a, s) => a + s.requests, 0);
  const totalEvents = samples.reduce((a, s) => a + s.events, 0);
  console.log(`soak: ${DURATION} s, ${TORRENTS} torrents, ${DOWNLOADS} downloads (${rounds.reduce((a, b) => a + b, 0)} completed), ${SOCKETS} sockets, ${CLIENTS} API clients`);
  console.log(`requests ${totalReq}, errors ${stats.errors.length}, socket events ${totalEvents}, socket drops ${stats.drops.length}`);
  console.log(`RSS MiB after warm-up: min ${report.rssMiB.min?.toFixed(1)} median ${report.rssMiB.med?.toFixed(1)} max ${report.rssMiB.max?.toFixed(1)}; fds ${report.fds.min}-${report.fds.max}; threads ${report.threads.min}-${report.threads.max}`);
  console.log(`RSS series (MiB): ${samples.map((s) => s.rssMiB.toFixed(0)).join(' ')}`);
  console.log(`samples: ${CSV}`);
  if (problems.length) {
    console.log(`VERDICT: FAIL\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log('VERDICT: PASS (flat after warm-up, 0 errors)');
  }
}

main().catch(async (e) => {
  console.error(`soak failed: ${e.stack ?? e}`);
  process.exitCode = 1;
}).finally(killAll);
