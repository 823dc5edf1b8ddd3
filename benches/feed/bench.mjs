#!/usr/bin/env node
// Benchmark of the live Socket.IO feed with 1,000 torrents (BENCHMARKS.md: "the Socket.IO feed
// under 2 % of one core"; "GET …/torrents p99 under 20 ms"). Not a test: run by hand,
// record the output in BENCHMARKS.md.
//
//   cargo build --release
//   (cd ui && npm install)          # socket.io-client, once
//   node benches/feed/bench.mjs     # defaults: --torrents 1000 --clients 50 --rounds 4 --window 10
//
// Options: --torrents N  --clients N  --rounds K  --window SECONDS  --debug (target/debug)
//          --no-active (skip the variant with a real download)  --json FILE (raw results)
//
// What it does:
//  1. starts target/release/pytorrentd on random ports with a temp data dir (DHT/LSD/UPnP
//     off, PYTORRENT_LOG=warn), logs in as the first admin;
//  2. adds N distinct synthetic single-file .torrent files (64 KiB of random piece hashes
//     each, generated here, so no data exists) with paused=true, 50 per multipart upload,
//     and waits until GET /api/profiles/default/torrents lists all of them as paused;
//  3. REST latency: 100 sequential GETs of that list (keep-alive, identity encoding),
//     p50/p99/max — idle (10 s after the adds), after the paused run, during the active
//     run — each list request followed by a GET /api/health, a control for what the
//     machine (other load, scheduling) adds at the same moments;
//  4. feed CPU: daemon utime+stime from /proc/PID/stat over interleaved windows: per round
//     [0 clients] [1 client] [N clients], and a closing [0 clients]. With no socket the
//     producer does no feed work, so feed CPU of a window = its CPU − the mean of the 0-client
//     windows around it. Clients are socket.io-client connections in this process (default
//     transports, upgraded to websocket), each subscribed to `default`; the subscribe and
//     its snapshot happen before the window starts. Bytes/s per client = JSON payload bytes
//     (+ event name) of every event received in the window (framing not counted);
//  5. "active" variant: the same while one real download (aria2c seeder on loopback, capped
//     at 1 MiB/s so it outlasts every window) changes one row every second.
// All processes are killed by PID at the end, even on failure.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  addTorrents, api, connect, cpuSeconds, killAll, login, makePayloadTorrent, sleep,
  startAria2Seeder, startDaemon, syntheticTorrent, tmpDir, until,
} from '../../ui/tests/feed/lib/harness.mjs';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  return typeof def === 'number' ? Number(v) : v;
}
const flag = (name) => process.argv.includes(`--${name}`);

const N = arg('torrents', 1000);
const CLIENTS = arg('clients', 50);
const WINDOW = arg('window', 10);
const ROUNDS = arg('rounds', 4);
const RELEASE = !flag('debug');
const ACTIVE = !flag('no-active');
const JSON_OUT = arg('json', undefined);

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * `n` sequential GETs of the list, each followed by a GET of /api/health on the same
 * keep-alive connection: the health timings are a control showing what the machine itself
 * (scheduling, other load) adds at the same moments.
 */
async function restLatency(url, cookie, n = 100) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  const one = (p) => new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http.get({ host: u.hostname, port: u.port, path: p, headers: { cookie, 'accept-encoding': 'identity' }, agent }, (res) => {
      let bytes = 0;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${p} → ${res.statusCode}`));
        else resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes });
      });
    }).on('error', reject);
  });
  const LIST = '/api/profiles/default/torrents';
  for (let i = 0; i < 5; i++) await one(LIST); // warm-up
  const list = [];
  const health = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const r = await one(LIST);
    list.push(r.ms);
    bytes = r.bytes;
    health.push((await one('/api/health')).ms);
  }
  agent.destroy();
  list.sort((a, b) => a - b);
  health.sort((a, b) => a - b);
  return {
    n, p50: pct(list, 50), p99: pct(list, 99), max: list.at(-1), bytes,
    health: { p50: pct(health, 50), p99: pct(health, 99), max: health.at(-1) },
  };
}

/** Daemon CPU (% of one core) and per-client received payload over one window. */
async function measure(d, clients, seconds) {
  const marks = clients.map((c) => c.events.length);
  const cpu0 = cpuSeconds(d.child.pid);
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const cpu1 = cpuSeconds(d.child.pid);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const per = clients.map((c, i) => {
    const evs = c.events.slice(marks[i]);
    const count = (n) => evs.filter((e) => e.name === n).length;
    const bytes = evs.reduce((s, e) => s + e.bytes + e.name.length, 0);
    return { bytes, patches: count('torrents:patch'), stats: count('stats'), disconnects: count('disconnect') };
  });
  const avg = (k) => (per.length ? per.reduce((s, p) => s + p[k], 0) / per.length : 0);
  return {
    clients: clients.length,
    wall,
    cpu_pct: ((cpu1 - cpu0) / wall) * 100,
    bytes_per_s_per_client: avg('bytes') / wall,
    patches_per_s: avg('patches') / wall,
    stats_per_s: avg('stats') / wall,
    disconnects: per.reduce((s, p) => s + p.disconnects, 0),
  };
}

const connectFailures = [];

async function openClients(url, cookie, n) {
  const clients = [];
  for (let i = 0; i < n; i++) clients.push(connect(url, { headers: { cookie }, timeout: 30_000 }));
  for (let i = 0; i < n; i++) {
    const o = await clients[i].outcome(30_000);
    if (!o.ok) {
      // reported, then retried once: one flaky handshake should not void a long run
      connectFailures.push(o.error);
      log(`client ${i} failed to connect: ${JSON.stringify(o.error)}; retrying once`);
      clients[i].close();
      clients[i] = connect(url, { headers: { cookie }, timeout: 30_000 });
      const again = await clients[i].outcome(30_000);
      if (!again.ok) throw new Error(`client refused twice: ${JSON.stringify(again.error)}`);
    }
  }
  await until(() => clients.every((c) => c.transport() === 'websocket'), { timeout: 30_000, what: 'all clients upgraded to websocket' });
  const acks = await Promise.all(clients.map((c) => c.emitAck('subscribe', { profile: 'default' }, 30_000)));
  if (acks.some((a) => !a?.ok)) throw new Error(`subscribe refused: ${JSON.stringify(acks.find((a) => !a?.ok))}`);
  await until(() => clients.every((c) => c.all('torrents:snapshot').length > 0), { timeout: 30_000, what: 'all snapshots' });
  const snapBytes = clients[0].all('torrents:snapshot')[0].bytes;
  return { clients, snapBytes };
}

function closeAll(clients) { for (const c of clients) c.close(); }

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/**
 * Interleaved windows so that drift and other load on the machine hit both sides alike:
 * per round [0 clients] [1 client] [N clients], then a closing [0 clients]. The feed share of
 * a client window = its CPU − the mean of the two 0-client windows around it.
 */
async function feedRun(d, cookie, label) {
  const rounds = [];
  const load0 = loadavg();
  await sleep(2000);
  let base = await measure(d, [], WINDOW);
  for (let r = 0; r < ROUNDS; r++) {
    log(`${label}: round ${r + 1}/${ROUNDS} (baseline ${fmt(base.cpu_pct)} %)`);
    const one = await openClients(d.url, cookie, 1);
    await sleep(3000);
    const m1 = await measure(d, one.clients, WINDOW);
    closeAll(one.clients);
    const many = await openClients(d.url, cookie, CLIENTS);
    await sleep(3000);
    const mN = await measure(d, many.clients, WINDOW);
    closeAll(many.clients);
    await sleep(2000);
    const next = await measure(d, [], WINDOW);
    const b = (base.cpu_pct + next.cpu_pct) / 2;
    rounds.push({ base: b, baseBefore: base.cpu_pct, baseAfter: next.cpu_pct, m1, mN, feed1: m1.cpu_pct - b, feedN: mN.cpu_pct - b, snapshotBytes: one.snapBytes });
    base = next;
  }
  return { label, rounds, load: `${load0} → ${loadavg()}` };
}

const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

function fmt(n, digits = 2) { return Number(n).toFixed(digits); }

async function main() {
  const work = tmpDir('ptd-feed-bench-');
  let d;
  try {
    const cpuModel = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown';
    const machine = `${os.availableParallelism?.() ?? os.cpus().length} cores, ${cpuModel}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, node ${process.version}`;
    log(`machine: ${machine}`);
    d = await startDaemon({ release: RELEASE, env: { PYTORRENT_LOG: 'warn' } });
    log(`daemon ${d.bin} pid ${d.child.pid} on ${d.url}`);
    const cookie = await login(d.url, 'admin', await d.adminPassword());

    log(`adding ${N} paused synthetic torrents`);
    const tAdd = Date.now();
    for (let i = 0; i < N; i += 50) {
      const batch = Array.from({ length: Math.min(50, N - i) }, () => syntheticTorrent());
      await addTorrents(d.url, 'default', batch, { cookie, fields: { paused: 'true' } });
    }
    await until(async () => {
      const rows = await api(d.url, 'GET', '/api/profiles/default/torrents', { cookie });
      return rows.length === N && rows.every((r) => r.state === 'paused');
    }, { timeout: 120_000, interval: 500, what: `${N} paused torrents listed` });
    const addSeconds = (Date.now() - tAdd) / 1000;
    log(`added and listed in ${fmt(addSeconds, 1)} s`);

    const lats = [];
    const latency = async (when) => {
      const l = await restLatency(d.url, cookie, 100);
      l.when = when;
      l.load = loadavg();
      lats.push(l);
      log(`GET list (${when}): p50 ${fmt(l.p50)} ms, p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms, ${l.bytes} bytes; /api/health p99 ${fmt(l.health.p99)} ms; load ${l.load}`);
    };
    await sleep(10_000); // let the engine settle after 1,000 adds
    await latency('idle, before the feed runs');

    const runs = [await feedRun(d, cookie, `${N} paused`)];
    await latency('idle, after the paused run');

    if (ACTIVE) {
      // 1 MiB/s for longer than the whole run (rounds × (3 windows + ~15 s) + margin)
      const seconds = ROUNDS * (3 * WINDOW + 15) + WINDOW + 90;
      const size = seconds * 1024 * 1024;
      log(`active variant: ${size / 2 ** 20} MiB payload, aria2c seeder capped at 1 MiB/s`);
      const tor = makePayloadTorrent(work, { size, name: 'active.bin' });
      const seeder = await startAria2Seeder({ torrentPath: tor.torrentPath, seedDir: tor.seedDir, uploadLimit: '1M' });
      await addTorrents(d.url, 'default', [{ data: tor.data, filename: 'active.torrent' }], { cookie, fields: { peers: `127.0.0.1:${seeder.port}` } });
      await until(async () => (await api(d.url, 'GET', `/api/torrents/${tor.hash}`, { cookie })).dl_speed > 0,
        { timeout: 30_000, interval: 250, what: 'the active download to start' });
      const r = await feedRun(d, cookie, `${N} paused + 1 downloading`);
      await latency('during the download');
      const fin = await api(d.url, 'GET', `/api/torrents/${tor.hash}`, { cookie });
      r.note = `download at ${fmt(fin.progress * 100, 0)} % after the run (< 100: every window was active)`;
      log(r.note);
      runs.push(r);
      await seeder.stop();
    }

    // ---- report ----
    const lines = [];
    lines.push(`machine: ${machine}`);
    lines.push(`daemon: ${d.bin} (${RELEASE ? 'release' : 'debug'}), ${N} torrents, ${CLIENTS} clients, ${ROUNDS} rounds of ${WINDOW} s windows`);
    lines.push('');
    lines.push(`GET /api/profiles/default/torrents, ${N} rows (${lats[0].bytes} bytes), 100 sequential requests, keep-alive (budget: p99 < 20 ms):`);
    lines.push('| when | p50 ms | p99 ms | max ms | control /api/health p50 / p99 / max ms | load avg |');
    lines.push('|---|---:|---:|---:|---:|---|');
    for (const l of lats) lines.push(`| ${l.when} | ${fmt(l.p50)} | ${fmt(l.p99)} | ${fmt(l.max)} | ${fmt(l.health.p50)} / ${fmt(l.health.p99)} / ${fmt(l.health.max)} | ${l.load} |`);
    lines.push('');
    lines.push('Daemon CPU (% of one core) and feed share = client window − mean of the 0-client windows around it:');
    lines.push('| scenario | clients | daemon CPU % (mean) | feed CPU % mean | median | min … max | bytes/s per client | patches/s | stats/s |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of runs) {
      const R = r.rounds;
      lines.push(`| ${r.label} | 0 | ${fmt(mean(R.map((x) => x.base)))} | — | — | — | — | — | — |`);
      for (const [k, fk, n] of [['m1', 'feed1', 1], ['mN', 'feedN', CLIENTS]]) {
        const f = R.map((x) => x[fk]);
        lines.push(`| ${r.label} | ${n} | ${fmt(mean(R.map((x) => x[k].cpu_pct)))} | ${fmt(mean(f))} | ${fmt(median(f))} | ${fmt(Math.min(...f))} … ${fmt(Math.max(...f))} | ${fmt(mean(R.map((x) => x[k].bytes_per_s_per_client)), 0)} | ${fmt(mean(R.map((x) => x[k].patches_per_s)))} | ${fmt(mean(R.map((x) => x[k].stats_per_s)))} |`);
      }
    }
    lines.push('');
    for (const r of runs) {
      const disc = r.rounds.reduce((s, x) => s + x.m1.disconnects + x.mN.disconnects, 0);
      lines.push(`${r.label}: snapshot ${r.rounds[0].snapshotBytes} bytes per subscribe; load avg ${r.load}; disconnects during windows: ${disc}${r.note ? `; ${r.note}` : ''}`);
      lines.push(`  per round feed % with ${CLIENTS} clients: ${r.rounds.map((x) => fmt(x.feedN)).join(', ')} (baselines ${r.rounds.map((x) => `${fmt(x.baseBefore)}/${fmt(x.baseAfter)}`).join(', ')})`);
    }
    lines.push(`failed handshakes (retried once): ${connectFailures.length}${connectFailures.length ? ` ${JSON.stringify(connectFailures)}` : ''}`);
    lines.push(`budget (BENCHMARKS.md): feed < 2 % of one core → ${runs.map((r) => { const m = mean(r.rounds.map((x) => x.feedN)); return `${r.label}, ${CLIENTS} clients: ${fmt(m)} % ${m < 2 ? 'within' : 'OVER'}`; }).join('; ')}`);
    console.log(lines.join('\n'));
    if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ machine, N, CLIENTS, WINDOW, ROUNDS, release: RELEASE, addSeconds, lats, runs }, null, 2));
  } finally {
    await d?.stop();
    await killAll();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); killAll().finally(() => process.exit(1)); });
