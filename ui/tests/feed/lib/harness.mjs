// Shared harness for the Socket.IO feed tests (ui/tests/feed/*.test.mjs) and the feed
// benchmark (benches/feed/bench.mjs): starts the real pytorrentd binary and real peers
// (aria2c, nginx), talks REST over plain node:http, and wraps the official socket.io-client
// with an event recorder. Every spawned process is tracked and killed by PID.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (ui/tests/feed/lib → ../../../..). */
export const ROOT = path.resolve(here, '../../../..');
const require = createRequire(path.join(ROOT, 'ui', 'package.json'));
/** The official client, resolved from ui/node_modules (also for benches/feed). */
export const { io } = require('socket.io-client');

// ---------------------------------------------------------------------------------------
// processes
// ---------------------------------------------------------------------------------------

const children = new Set();

/** Spawns a tracked child process; `killAll()` (or process exit) ends it by PID. */
export function spawnTracked(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.add(child);
  child.output = '';
  const collect = (b) => {
    child.output += b.toString();
    if (child.output.length > 2_000_000) child.output = child.output.slice(-1_000_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.exited = new Promise((resolve) => child.once('exit', (code, sig) => {
    children.delete(child);
    resolve({ code, sig });
  }));
  child.once('error', (e) => { child.output += `\nspawn error: ${e.message}\n`; });
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopChild(child, graceMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(child.pid, 'SIGTERM'); } catch { return; }
  const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch {} }, graceMs);
  await child.exited;
  clearTimeout(t);
}

/** Ends every process this harness spawned (use in `after`). */
export async function killAll() {
  await Promise.all([...children].map((c) => stopChild(c, 5_000)));
}

process.on('exit', () => {
  for (const c of children) {
    try { process.kill(c.pid, 'SIGKILL'); } catch {}
  }
});

/** Fails (never skips) when a tool is missing, with an install hint. */
export function requireTool(name, aptPackage = name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim()) {
    throw new Error(`'${name}' is required by this test but was not found on PATH; install it with: apt-get install ${aptPackage}`);
  }
  return r.stdout.trim();
}

// ---------------------------------------------------------------------------------------
// polling helpers
// ---------------------------------------------------------------------------------------

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function until(fn, { timeout = 10_000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(interval);
  }
}

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function portOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export function tmpDir(prefix = 'ptd-feed-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/**
 * One HTTP request. `body`: object (JSON), string or Buffer. `localAddress` picks the source
 * address (127.0.0.x). Resolves `{status, headers, text, json}`.
 */
export function request(url, { method = 'GET', headers = {}, body, localAddress, timeout = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let payload = body;
    const h = { ...headers };
    if (body !== undefined && !Buffer.isBuffer(body) && typeof body !== 'string') {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    if (payload !== undefined) h['content-length'] = Buffer.byteLength(payload);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h,
      localAddress, agent: false, timeout,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** multipart/form-data body: `fields` {name: string}, `files` [{field, filename, data}]. */
export function multipart(fields = {}, files = []) {
  const boundary = `----ptdfeed${randomBytes(12).toString('hex')}`;
  const parts = [];
  for (const [k, v] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  }
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field ?? 'torrent'}"; filename="${f.filename}"\r\nContent-Type: application/x-bittorrent\r\n\r\n`));
    parts.push(f.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---------------------------------------------------------------------------------------
// the daemon
// ---------------------------------------------------------------------------------------

export function daemonBinary({ release = false } = {}) {
  const bin = process.env.PYTORRENTD_BIN
    || path.join(ROOT, 'target', release ? 'release' : 'debug', 'pytorrentd');
  if (!fs.existsSync(bin)) {
    const args = release ? ['build', '--release'] : ['build'];
    requireTool('cargo', 'cargo (or install Rust with rustup)');
    const r = spawnSync('cargo', args, { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0 || !fs.existsSync(bin)) {
      throw new Error(`${bin} is missing and \`cargo ${args.join(' ')}\` failed`);
    }
  }
  return bin;
}

/**
 * Starts `pytorrentd serve` on random free ports with a temp data dir. `env` adds auth
 * variables. Resolves once `/api/health` answers. Returns a handle with `url`, `port`,
 * `dataDir`, `child`, `log()`, `adminPassword()`, `cli(args)` and `stop()`.
 */
export async function startDaemon({ env = {}, release = false, dataDir, bin } = {}) {
  bin ??= daemonBinary({ release });
  dataDir ??= tmpDir('ptd-feed-data-');
  const port = await freePort();
  let btPort = await freePort();
  while (btPort === port) btPort = await freePort();
  const fullEnv = { ...process.env };
  for (const k of Object.keys(fullEnv)) if (k.startsWith('PYTORRENT_')) delete fullEnv[k];
  Object.assign(fullEnv, {
    PYTORRENT_DHT_ENABLE: 'false',
    PYTORRENT_LSD_ENABLE: 'false',
    PYTORRENT_UPNP_ENABLE: 'false',
    PYTORRENT_BT_PORT: String(btPort),
    PYTORRENT_LOG: 'info',
    ...env,
  });
  const child = spawnTracked(bin, ['serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir], { env: fullEnv });
  const url = `http://127.0.0.1:${port}`;
  const d = {
    url, port, btPort, dataDir, child, env: fullEnv, bin,
    log: () => child.output,
    async adminPassword() {
      const m = await until(() => child.output.match(/password '([^']+)'/), { timeout: 15_000, what: 'the first admin password in the daemon log' });
      return m[1];
    },
    /** Runs `pytorrentd ARGS --data-dir D` (talks to the running daemon's control socket). */
    cli(args) {
      return spawnSync(bin, [...args, '--data-dir', dataDir], { env: fullEnv, encoding: 'utf8', timeout: 30_000 });
    },
    async stop() {
      await stopChild(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await until(async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited with ${child.exitCode ?? child.signalCode}`);
      const r = await request(`${url}/api/health`).catch(() => null);
      return r?.status === 200;
    }, { timeout: 30_000, what: 'pytorrentd /api/health' });
  } catch (e) {
    await stopChild(child);
    throw new Error(`${e.message}\n--- daemon log ---\n${child.output}`);
  }
  return d;
}

/** Logs in locally; returns the `pytorrent_session=…` cookie pair. */
export async function login(url, username, password) {
  const r = await request(`${url}/api/auth/login`, { method: 'POST', body: { username, password } });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
  const set = [].concat(r.headers['set-cookie'] ?? []);
  const c = set.map((s) => s.split(';')[0]).find((s) => s.startsWith('pytorrent_session='));
  if (!c) throw new Error(`login ${username}: no session cookie in ${JSON.stringify(set)}`);
  return c;
}

/** REST call that must succeed (2xx); returns the parsed JSON. */
export async function api(url, method, p, { cookie, headers = {}, body, localAddress } = {}) {
  const h = { ...headers };
  if (cookie) h.cookie = cookie;
  const r = await request(`${url}${p}`, { method, headers: h, body, localAddress });
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${p} → ${r.status} ${r.text}`);
  return r.json;
}

/** Adds .torrent files by multipart; returns the `added` rows. */
export async function addTorrents(url, profile, files, { cookie, headers = {}, fields = {} } = {}) {
  const mp = multipart(fields, files.map((f, i) => ({ field: 'torrent', filename: f.filename ?? `t${i}.torrent`, data: f.data ?? f })));
  const r = await request(`${url}/api/profiles/${profile}/torrents`, {
    method: 'POST', headers: { ...headers, ...(cookie ? { cookie } : {}), 'content-type': mp.contentType }, body: mp.body,
  });
  if (r.status !== 201) throw new Error(`add to ${profile}: ${r.status} ${r.text}`);
  return r.json.added;
}

// ---------------------------------------------------------------------------------------
// Socket.IO client with an event recorder
// ---------------------------------------------------------------------------------------

/**
 * Opens a socket.io-client connection (no reconnection, fresh Manager). `headers` go in
 * `extraHeaders` (cookie, Remote-User, Origin); `localAddress` binds the source address.
 * The returned client records every event as `{name, data, t, bytes}` in `client.events`.
 */
export function connect(url, { headers = {}, transports, auth, localAddress, agent, timeout = 10_000 } = {}) {
  const opts = { reconnection: false, forceNew: true, timeout, extraHeaders: headers };
  if (transports) opts.transports = transports;
  if (auth) opts.auth = auth;
  if (agent) opts.agent = agent;
  else if (localAddress) opts.agent = new http.Agent({ localAddress, keepAlive: true });
  const socket = io(url, opts);
  const events = [];
  const rec = (name, data) => {
    let bytes = 0;
    try { bytes = Buffer.byteLength(JSON.stringify(data) ?? ''); } catch {}
    events.push({ name, data, t: Date.now(), bytes });
  };
  socket.onAny((name, data) => rec(name, data));
  socket.on('connect', () => rec('connect', { transport: socket.io.engine?.transport?.name }));
  socket.on('connect_error', (e) => rec('connect_error', { message: e.message, type: e.type, description: String(e.description?.message ?? e.description ?? '') }));
  socket.on('disconnect', (reason) => rec('disconnect', { reason }));
  const client = {
    socket,
    events,
    /** Events named `name` (optionally filtered). */
    all(name, pred = () => true) { return events.filter((e) => e.name === name && pred(e.data)); },
    /** Waits for the first event named `name` after index `from` that matches `pred`. */
    async next(name, { pred = () => true, from = 0, timeout: t = 10_000 } = {}) {
      const e = await until(() => events.slice(from).find((ev) => ev.name === name && pred(ev.data)), { timeout: t, what: `event '${name}'` });
      return e.data;
    },
    /** Resolves `{ok:true}` on connect, or `{ok:false, error}` on connect_error. */
    async outcome(t = 10_000) {
      const e = await until(() => events.find((ev) => ev.name === 'connect' || ev.name === 'connect_error'), { timeout: t, what: 'connect or connect_error' });
      return e.name === 'connect' ? { ok: true } : { ok: false, error: e.data };
    },
    transport() { return socket.io.engine?.transport?.name; },
    async emitAck(name, data, t = 10_000) { return socket.timeout(t).emitWithAck(name, data); },
    close() { socket.close(); },
  };
  return client;
}

/** Connects and waits for `hello`; throws with the refusal reason otherwise. */
export async function connectOk(url, opts) {
  const c = connect(url, opts);
  const o = await c.outcome();
  if (!o.ok) { c.close(); throw new Error(`connect refused: ${JSON.stringify(o.error)}`); }
  await c.next('hello');
  return c;
}

// ---------------------------------------------------------------------------------------
// torrents: bencode, synthetic .torrent files, mktorrent + aria2c seeder
// ---------------------------------------------------------------------------------------

export function bencode(v) {
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`${v.length}:`), v]);
  if (typeof v === 'string') return bencode(Buffer.from(v));
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`bencode: not an integer: ${v}`);
    return Buffer.from(`i${v}e`);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k])]), Buffer.from('e')]);
  }
  throw new Error(`bencode: unsupported ${typeof v}`);
}

/** Decodes one value at `i`; returns `[value, end]`. Strings stay Buffers. */
export function bdecode(buf, i = 0) {
  const c = buf[i];
  if (c === 0x69) { // i
    const e = buf.indexOf(0x65, i);
    return [Number(buf.subarray(i + 1, e).toString()), e + 1];
  }
  if (c === 0x6c || c === 0x64) { // l d
    const list = [];
    let j = i + 1;
    while (buf[j] !== 0x65) { const [v, n] = bdecode(buf, j); list.push(v); j = n; }
    if (c === 0x6c) return [list, j + 1];
    const obj = {};
    const spans = {};
    let k = i + 1;
    for (let n = 0; n < list.length; n += 2) {
      const key = list[n].toString();
      const [, keyEnd] = bdecode(buf, k);
      const [, valEnd] = bdecode(buf, keyEnd);
      spans[key] = [keyEnd, valEnd];
      obj[key] = list[n + 1];
      k = valEnd;
    }
    Object.defineProperty(obj, '__spans', { value: spans });
    return [obj, j + 1];
  }
  const colon = buf.indexOf(0x3a, i);
  const len = Number(buf.subarray(i, colon).toString());
  return [buf.subarray(colon + 1, colon + 1 + len), colon + 1 + len];
}

/** Lowercase hex v1 info hash of a .torrent file. */
export function infoHash(torrent) {
  const [meta] = bdecode(torrent);
  const [s, e] = meta.__spans.info;
  return createHash('sha1').update(torrent.subarray(s, e)).digest('hex');
}

/**
 * A small, valid single-file .torrent with random content (the data itself is never
 * written: use it paused). Distinct per call.
 */
export function syntheticTorrent({ name, size = 64 * 1024, pieceLength = 16 * 1024 } = {}) {
  const pieces = [];
  for (let off = 0; off < size; off += pieceLength) {
    pieces.push(createHash('sha1').update(randomBytes(Math.min(pieceLength, size - off))).digest());
  }
  name ??= `synthetic-${randomBytes(6).toString('hex')}.bin`;
  const data = bencode({
    'created by': 'pytorrentd feed tests',
    info: { length: size, name, 'piece length': pieceLength, pieces: Buffer.concat(pieces) },
  });
  return { data, filename: `${name}.torrent`, hash: infoHash(data), name };
}

/** Writes a random payload of `size` bytes and makes a .torrent of it with mktorrent. */
export function makePayloadTorrent(dir, { name = 'payload.bin', size = 8 * 1024 * 1024 } = {}) {
  requireTool('mktorrent', 'mktorrent');
  const seedDir = path.join(dir, 'seed');
  fs.mkdirSync(seedDir, { recursive: true });
  const payload = path.join(seedDir, name);
  const fd = fs.openSync(payload, 'w');
  for (let off = 0; off < size; off += 1 << 20) fs.writeSync(fd, randomBytes(Math.min(1 << 20, size - off)));
  fs.closeSync(fd);
  const torrentPath = path.join(dir, `${name}.torrent`);
  const r = spawnSync('mktorrent', ['-l', '16', '-o', torrentPath, payload], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}${r.stdout}`);
  const data = fs.readFileSync(torrentPath);
  return { seedDir, payload, torrentPath, data, hash: infoHash(data), size, name };
}

/**
 * Seeds `torrentPath` from `seedDir` with aria2c on 127.0.0.1 (PEERS.md flags).
 * `uploadLimit` (e.g. '1M') slows it so progress can be observed.
 */
export async function startAria2Seeder({ torrentPath, seedDir, uploadLimit }) {
  requireTool('aria2c', 'aria2');
  const port = await freePort();
  const args = [
    '--no-conf', '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false',
    '--enable-peer-exchange=false', '--disable-ipv6=true', '--interface=127.0.0.1',
    `--listen-port=${port}`, '--bt-require-crypto=false', '--bt-min-crypto-level=plain',
    `--dir=${seedDir}`, '--seed-ratio=0.0', '--bt-seed-unverified=true',
    '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn',
  ];
  if (uploadLimit) args.push(`--max-overall-upload-limit=${uploadLimit}`);
  args.push(torrentPath);
  const child = spawnTracked('aria2c', args);
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`aria2c exited: ${child.output}`);
    return portOpen(port);
  }, { timeout: 15_000, what: `aria2c listening on ${port}` });
  return { child, port, stop: () => stopChild(child) };
}

// ---------------------------------------------------------------------------------------
// CPU accounting (/proc)
// ---------------------------------------------------------------------------------------

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime of a process, in seconds. */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields after ')' start at field 3 (state); utime = 14, stime = 15
  return (Number(f[14 - 3]) + Number(f[15 - 3])) / CLK_TCK;
}
