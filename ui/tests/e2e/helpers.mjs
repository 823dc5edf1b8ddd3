// Shared fixtures of the browser tests: a REAL pytorrentd (target/debug/pytorrentd) on
// random loopback ports with a temp data dir, headless Debian Chromium via playwright-core,
// payloads made with mktorrent, and aria2c seeders. Every process is killed by PID.
// Missing tools fail with an install hint; nothing is skipped.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';

export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ROOT = resolve(UI_DIR, '..');
export const BIN = join(ROOT, 'target/debug/pytorrentd');
export const SCREENSHOTS = join(ROOT, 'docs/screenshots');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const children = new Set();
function killAll() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function requireTool(bin, pkg) {
  const found = bin.startsWith('/')
    ? existsSync(bin)
    : spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
  if (!found) throw new Error(`${bin} not found: install it with \`apt-get install -y ${pkg}\``);
  return bin;
}

export function tempDir(tag) {
  return mkdtempSync(join(tmpdir(), `pytorrentd-e2e-${tag}-`));
}

export async function freePort() {
  for (;;) {
    const port = await new Promise((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => res(p));
      });
    });
    if (!usedPorts.has(port)) {
      usedPorts.add(port);
      return port;
    }
  }
}
const usedPorts = new Set();

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, secs, f, every = 200) {
  const end = Date.now() + secs * 1000;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${secs}s waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(every);
  }
}

/** Builds the daemon when the binary is missing or older than the committed UI build. */
export function ensureDaemonBuilt() {
  const index = join(ROOT, 'assets/index.html');
  const stale = !existsSync(BIN) || (existsSync(index) && statSync(index).mtimeMs > statSync(BIN).mtimeMs);
  if (!stale) return;
  requireTool('cargo', 'cargo (or install rustup)');
  const r = spawnSync('cargo', ['build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cargo build failed');
}

export class Daemon {
  constructor(opts = {}) {
    this.dataDir = opts.dataDir || tempDir('data');
    this.port = opts.port;
    this.btPort = opts.btPort;
    this.env = opts.env || {};
    this.logPath = join(this.dataDir, `daemon-${Date.now()}.log`);
    this.proc = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    ensureDaemonBuilt();
    this.port ??= await freePort();
    this.btPort ??= await freePort();
    const env = {
      ...process.env,
      PYTORRENT_HOST: '127.0.0.1',
      PYTORRENT_PORT: String(this.port),
      PYTORRENT_DATA_DIR: this.dataDir,
      PYTORRENT_BT_PORT: String(this.btPort),
      PYTORRENT_DHT_ENABLE: 'false',
      PYTORRENT_LSD_ENABLE: 'false',
      PYTORRENT_UPNP_ENABLE: 'false',
      PYTORRENT_LOG: 'info',
      ...this.env,
    };
    const fd = openSync(this.logPath, 'a');
    this.proc = spawn(BIN, ['serve'], { env, stdio: ['ignore', fd, fd] });
    children.add(this.proc);
    this.exited = new Promise((res) => this.proc.once('exit', (code, sig) => res({ code, sig })));
    this.exited.then(() => children.delete(this.proc));
    await waitFor('the daemon to answer /api/health', 30, async () => {
      if (this.proc.exitCode !== null) throw new Error('daemon exited:\n' + this.log().slice(-3000));
      const r = await fetch(this.url + '/api/health').catch(() => null);
      return r && r.ok;
    });
    return this;
  }

  log() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** The first admin's password, printed once in the log at first start. */
  adminPassword() {
    const m = /password '([^']+)'/.exec(this.log());
    if (!m) throw new Error('no admin password in the daemon log:\n' + this.log().slice(-2000));
    return m[1];
  }

  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return;
    try {
      process.kill(this.proc.pid, signal);
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 12000);
    await this.exited;
    clearTimeout(t);
  }

  /** A JSON API call as a script (no Origin header → not a browser request). */
  async api(method, path, body, auth) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth?.token) headers.Authorization = 'Bearer ' + auth.token;
    if (auth?.cookie) headers.Cookie = auth.cookie;
    const r = await fetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status}: ${text}`);
    return json;
  }

  /** Logs in over the API and returns an auth object usable with api(). */
  async session(username, password) {
    const r = await fetch(this.url + '/api/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
    const c = r.headers.get('set-cookie') || '';
    return { cookie: c.split(';')[0] };
  }
}

export async function launchBrowser() {
  requireTool(CHROMIUM, 'chromium');
  const { chromium } = await import('playwright-core');
  // launch() gives every run a new, empty temporary user-data-dir.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      // The player test starts media without a click of the test's own.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** Collects page errors and CSP violations; `check()` throws if there were any. */
export function watchPage(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    const t = m.text();
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(t)) problems.push('csp: ' + t);
  });
  return {
    problems,
    check() {
      if (problems.length) throw new Error('page problems:\n' + problems.join('\n'));
    },
  };
}

export async function uiLogin(page, base, username, password) {
  await page.goto(base + '/');
  await page.waitForURL(/\/login$/);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  await page.waitForSelector('[data-testid=conn-badge][data-state=online]');
}

// ---------------------------------------------------------------- payloads and seeders

/** Files with random content in `dir/name/`, and a .torrent made by mktorrent. */
export function makePayload(root, name, files, pieceExp = 16) {
  requireTool('mktorrent', 'mktorrent');
  const base = join(root, 'src');
  const top = join(base, name);
  for (const [rel, size] of files) {
    const p = join(top, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, randomBytes(size));
  }
  const torrent = join(root, name + '.torrent');
  const r = spawnSync('mktorrent', ['-a', 'http://127.0.0.1:1/announce', '-l', String(pieceExp), '-d', '-o', torrent, top], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('mktorrent failed: ' + r.stderr + r.stdout);
  const info = spawnSync('aria2c', ['-S', torrent], { encoding: 'utf8' });
  const m = /Info Hash:\s*([0-9a-f]{40})/i.exec(info.stdout || '');
  if (!m) throw new Error('cannot read the info hash with aria2c -S: ' + info.stdout + info.stderr);
  return { name, torrent, dataDir: base, hash: m[1].toLowerCase(), size: files.reduce((a, f) => a + f[1], 0) };
}

export class Seeder {
  constructor(root, torrents, dataDir, extra = []) {
    this.root = root;
    this.torrents = torrents;
    this.dataDir = dataDir;
    this.extra = extra;
  }
  async start() {
    requireTool('aria2c', 'aria2');
    this.port = await freePort();
    const log = join(this.root, `aria2-${this.port}.log`);
    const args = [
      '--no-conf',
      '--enable-dht=false',
      '--enable-dht6=false',
      '--bt-enable-lpd=false',
      '--enable-peer-exchange=false',
      '--disable-ipv6=true',
      '--interface=127.0.0.1',
      `--listen-port=${this.port}`,
      '--bt-require-crypto=false',
      '--bt-min-crypto-level=plain',
      `--dir=${this.dataDir}`,
      '--seed-ratio=0.0',
      '--bt-seed-unverified=true',
      '--check-integrity=false',
      '--summary-interval=0',
      '--console-log-level=warn',
      `--log=${log}`,
      ...(this.torrents.length > 1 ? ['-Z'] : []),
      ...this.extra,
      ...this.torrents,
    ];
    const out = openSync(join(this.root, `aria2-${this.port}.console`), 'a');
    this.proc = spawn('aria2c', args, { stdio: ['ignore', out, out] });
    children.add(this.proc);
    this.proc.once('exit', () => children.delete(this.proc));
    // Ready when it listens on its BitTorrent port.
    await waitFor('aria2c to listen', 20, async () => {
      if (this.proc.exitCode !== null) throw new Error('aria2c exited: ' + readFileSync(log, 'utf8').slice(-1500));
      return await new Promise((res) => {
        const s = connect(this.port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          res(true);
        });
        s.once('error', () => res(false));
      });
    });
    return this;
  }
  get addr() {
    return `127.0.0.1:${this.port}`;
  }
  stop() {
    if (this.proc && this.proc.exitCode === null) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** An opentracker on a free loopback port (HTTP and UDP on the same number), announcing only
 * the whitelisted info hashes. */
export class Opentracker {
  constructor(root, hashes) {
    this.root = root;
    this.hashes = hashes;
  }
  async start() {
    requireTool('opentracker', 'opentracker');
    this.port = await freePort();
    const dir = join(this.root, `opentracker-${this.port}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'whitelist'), this.hashes.map((h) => h + '\n').join(''));
    const out = openSync(join(this.root, `opentracker-${this.port}.log`), 'a');
    this.proc = spawn('opentracker', ['-i', '127.0.0.1', '-p', String(this.port), '-P', String(this.port), '-d', dir, '-w', '/whitelist'], { stdio: ['ignore', out, out] });
    children.add(this.proc);
    this.proc.once('exit', () => children.delete(this.proc));
    await waitFor('opentracker to listen', 10, async () => {
      if (this.proc.exitCode !== null) throw new Error('opentracker exited: ' + readFileSync(join(this.root, `opentracker-${this.port}.log`), 'utf8').slice(-1500));
      return await new Promise((res) => {
        const s = connect(this.port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          res(true);
        });
        s.once('error', () => res(false));
      });
    });
    return this;
  }
  get url() {
    return `http://127.0.0.1:${this.port}/announce`;
  }
  stop() {
    if (this.proc && this.proc.exitCode === null) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

export function cleanup(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, name);
}

/** Share of pixels (0..1) that differ between two PNG images, measured in a blank page of
 * `browser` (no app, no CSP); 1 when the sizes differ. */
export async function imageDiff(browser, a, b) {
  const ctx = await browser.newContext();
  try {
    const p = await ctx.newPage();
    return await p.evaluate(
      async ([a64, b64]) => {
        const load = async (s) => createImageBitmap(await (await fetch('data:image/png;base64,' + s)).blob());
        const [x, y] = await Promise.all([load(a64), load(b64)]);
        if (x.width !== y.width || x.height !== y.height) return 1;
        const px = (img) => {
          const c = new OffscreenCanvas(img.width, img.height);
          const g = c.getContext('2d');
          g.drawImage(img, 0, 0);
          return g.getImageData(0, 0, img.width, img.height).data;
        };
        const [d1, d2] = [px(x), px(y)];
        let n = 0;
        for (let i = 0; i < d1.length; i += 4) {
          if (Math.abs(d1[i] - d2[i]) + Math.abs(d1[i + 1] - d2[i + 1]) + Math.abs(d1[i + 2] - d2[i + 2]) > 24) n++;
        }
        return n / (d1.length / 4);
      },
      [a.toString('base64'), b.toString('base64')],
    );
  } finally {
    await ctx.close();
  }
}

/** Writes `docs/screenshots/NAME` only when the picture changed meaningfully (more than
 * `threshold` of its pixels), so test runs do not rewrite committed images for a changed
 * speed figure. `UPDATE_SCREENSHOTS=1` writes every picture. Returns whether it wrote. */
export async function saveScreenshot(page, name, { threshold = 0.01, fullPage = false } = {}) {
  const path = screenshotPath(name);
  const buf = await page.screenshot({ fullPage });
  if (process.env.UPDATE_SCREENSHOTS !== '1' && existsSync(path)) {
    const old = readFileSync(path);
    if (old.equals(buf)) return false;
    const browser = page.context().browser();
    if (browser && (await imageDiff(browser, old, buf)) <= threshold) return false;
  }
  writeFileSync(path, buf);
  return true;
}

let axeSource = null;
/** Runs axe-core (the pinned devDependency, evaluated in the page: the app's CSP forbids
 * injected script tags) and returns its serious and critical violations, as readable lines. */
export async function axeViolations(page, { exclude = [] } = {}) {
  if (!axeSource) {
    const path = join(UI_DIR, 'node_modules/axe-core/axe.min.js');
    if (!existsSync(path)) throw new Error('axe-core is missing: run `npm ci` in ui/');
    axeSource = readFileSync(path, 'utf8');
  }
  await page.evaluate(axeSource);
  const res = await page.evaluate(async (exclude) => {
    const ctx = exclude.length ? { exclude: exclude.map((s) => [s]) } : document;
    const r = await window.axe.run(ctx, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ') + (n.failureSummary ? ' (' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 160) + ')' : '')).join(' | ')}`);
  }, exclude);
  return res;
}

/**
 * The usual frame of a browser suite: Chromium and a fresh daemon started before the tests,
 * both stopped (and the daemon's data removed) after them, with any `seeders` and the temp
 * dir `root`. The returned object's `browser` and `d` are set once `before` has run; a suite
 * that starts another daemon in place of the first assigns it to `d`.
 */
export function browserSuite({ root = null, seeders = [], daemon = {} } = {}) {
  const s = { browser: null, d: null, seeders };
  before(async () => {
    s.browser = await launchBrowser();
    s.d = await new Daemon(daemon).start();
  });
  after(async () => {
    for (const x of seeders) x.stop();
    await s.browser?.close();
    await s.d?.stop();
    if (s.d) cleanup(s.d.dataDir);
    if (root) cleanup(root);
  });
  return s;
}
