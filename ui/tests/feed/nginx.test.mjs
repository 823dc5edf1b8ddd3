// The live feed through the real reverse-proxy set-up of the README (nginx + Tinyauth
// forward-auth): `auth_request` to a forward-auth service, `Remote-User` from its answer,
// WebSocket upgrade headers, `proxy_bind 127.0.0.2` (the only trusted proxy address). The
// forward-auth service is a stand-in for Tinyauth's `/api/auth/nginx` running in this test:
// cookie `tinyauth-session=valid-alice` → 200 + `Remote-User: alice`, anything else → 401.
// The client is the official socket.io-client, sending the cookie and the Origin a browser
// on this vhost would send (PYTORRENT_PROXY_FIX_ENABLE=true, as the README recommends).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  addTorrents, api, connect, connectOk, freePort, killAll, portOpen, request, requireTool,
  spawnTracked, startDaemon, stopChild, syntheticTorrent, tmpDir, until,
} from './lib/harness.mjs';

after(killAll);

function startStandin() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const cookie = req.headers.cookie ?? '';
    seen.push({ url: req.url, cookie, uri: req.headers['x-forwarded-uri'] });
    const m = cookie.split(';').map((s) => s.trim().split('=')).find(([k]) => k === 'tinyauth-session');
    const user = m?.[1]?.startsWith('valid-') ? m[1].slice(6) : '';
    if (req.url.startsWith('/api/auth/nginx') && user) {
      res.writeHead(200, { 'Remote-User': user });
    } else {
      res.writeHead(401, { 'x-tinyauth-location': 'http://auth.example.test/login' });
    }
    res.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, seen, port: server.address().port })));
}

function nginxConf(dir, port, daemonPort, standinPort) {
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  return `${user}
master_process off;
worker_processes 1;
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/tmp/client_body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }

    server {
        listen 127.0.0.1:${port};
        server_name _;

        location / {
            proxy_pass http://127.0.0.1:${daemonPort};
            auth_request /tinyauth;
            error_page 401 = @tinyauth_login;
            auth_request_set $redirection_url $upstream_http_x_tinyauth_location;
            auth_request_set $auth_user $upstream_http_remote_user;
            proxy_set_header Remote-User $auth_user;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_bind 127.0.0.2;
        }

        location = /tinyauth {
            internal;
            proxy_pass http://127.0.0.1:${standinPort}/api/auth/nginx;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header x-forwarded-proto $scheme;
            proxy_set_header x-forwarded-host $http_host;
            proxy_set_header x-forwarded-uri $request_uri;
        }

        location @tinyauth_login {
            return 302 http://auth.example.test/login;
        }
    }
}
`;
}

async function startNginx(root, daemonPort, standinPort) {
  const bin = requireTool('nginx', 'nginx');
  const dir = path.join(root, 'nginx');
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf(dir, port, daemonPort, standinPort));
  const child = spawnTracked(bin, ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;']);
  const logs = () => `${child.output}\n--- error.log ---\n${fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : ''}`;
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${logs()}`);
    return portOpen(port);
  }, { timeout: 15_000, what: 'nginx listening' });
  return { child, port, url: `http://127.0.0.1:${port}`, logs, stop: () => stopChild(child) };
}

describe('Socket.IO through nginx + Tinyauth forward-auth', () => {
  let d; let standin; let ngx; let root;
  const COOKIE = 'tinyauth-session=valid-alice';

  before(async () => {
    requireTool('nginx', 'nginx');
    root = tmpDir('ptd-feed-nginx-');
    standin = await startStandin();
    d = await startDaemon({
      env: {
        PYTORRENT_AUTH_PROVIDER: 'tinyauth',
        PYTORRENT_AUTH_PROXY_USER_HEADER: 'Remote-User',
        PYTORRENT_AUTH_PROXY_AUTO_CREATE: 'true',
        PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE: 'admin',
        PYTORRENT_AUTH_TRUSTED_PROXIES: '127.0.0.2/32',
        PYTORRENT_PROXY_FIX_ENABLE: 'true',
      },
    });
    ngx = await startNginx(root, d.port, standin.port);
  });
  after(async () => {
    await ngx?.stop();
    await d?.stop();
    standin?.server.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const browserHeaders = () => ({ cookie: COOKIE, origin: ngx.url });

  for (const [label, transports] of [['websocket only', ['websocket']], ['default transports (polling → websocket upgrade)', undefined]]) {
    test(`${label}: hello, snapshot, ≥ 3 s connected, torrent:added and patches after REST calls through nginx`, { timeout: 60_000 }, async () => {
      const c = await connectOk(ngx.url, { transports, headers: browserHeaders() });
      try {
        const hello = c.all('hello')[0].data;
        assert.deepEqual(hello.user, { username: 'alice', role: 'admin', bypass: false });
        assert.deepEqual(await c.emitAck('subscribe', { profile: 'default' }), { ok: true });
        const snap = await c.next('torrents:snapshot');
        assert.equal(snap.profile, 'default');

        // stays connected for at least 3 s, on a websocket, receiving the per-second stats
        const t0 = Date.now();
        const from = c.events.length;
        await until(() => Date.now() - t0 >= 3_000 && c.events.slice(from).filter((e) => e.name === 'stats').length >= 3,
          { timeout: 10_000, what: '3 s connected with stats' });
        assert.ok(c.socket.connected, 'still connected');
        assert.equal(c.all('disconnect').length, 0, `no disconnect: ${JSON.stringify(c.all('disconnect'))}`);
        await until(() => c.transport() === 'websocket', { timeout: 10_000, what: 'the websocket transport' });

        // REST through nginx (same cookie and origin as the browser)
        const t = syntheticTorrent();
        const [row] = await addTorrents(ngx.url, 'default', [t], { headers: browserHeaders(), fields: { paused: 'true' } });
        assert.equal(row.hash, t.hash);
        const added = await c.next('torrent:added', { pred: (e) => e.torrent.hash === t.hash });
        assert.equal(added.profile, 'default');

        // a change after the producer has seen the row → a patch with just that field
        const ticks = c.events.length;
        await until(() => c.events.slice(ticks).filter((e) => e.name === 'stats').length >= 2, { timeout: 5_000, what: '2 ticks' });
        await api(ngx.url, 'PATCH', `/api/torrents/${t.hash}`, { headers: browserHeaders(), body: { label: 'via-nginx' } });
        const patch = await c.next('torrents:patch', { pred: (p) => p.changed.some((x) => x.hash === t.hash && x.label === 'via-nginx'), timeout: 5_000 });
        const entry = patch.changed.find((x) => x.hash === t.hash);
        assert.ok(!('name' in entry) && !('added_at' in entry), `only changed fields: ${JSON.stringify(entry)}`);

        const del = await request(`${ngx.url}/api/torrents/${t.hash}`, { method: 'DELETE', headers: browserHeaders() });
        assert.ok(del.status >= 200 && del.status < 300, `DELETE via nginx → ${del.status} ${del.text}`);
        await c.next('torrent:removed', { pred: (e) => e.hash === t.hash });
        assert.ok(c.socket.connected);
        assert.ok(standin.seen.some((s) => s.uri?.startsWith('/socket.io/')), 'nginx asked the forward-auth service about /socket.io/');
        // nginx logs the upgraded request (status 101) when the websocket closes
        c.close();
        const access = path.join(root, 'nginx', 'access.log');
        await until(() => fs.readFileSync(access, 'utf8').split('\n')
          .some((l) => l.includes('/socket.io/?EIO=4&transport=websocket') && / 101 /.test(l)), { timeout: 5_000, what: 'a 101 websocket line in nginx access.log' });
      } catch (e) {
        e.message += `\n${ngx.logs().slice(-4000)}`;
        throw e;
      } finally {
        c.close();
      }
    });
  }

  test('without the Tinyauth cookie nginx refuses the handshake (no hello)', async () => {
    for (const transports of [['websocket'], undefined]) {
      const c = connect(ngx.url, { transports, headers: { origin: ngx.url } });
      try {
        const o = await c.outcome();
        assert.equal(o.ok, false);
        assert.equal(c.all('hello').length, 0);
      } finally {
        c.close();
      }
    }
  });

  test('going around nginx with a forged Remote-User header is refused', async () => {
    const msg = await (async () => {
      const c = connect(d.url, { transports: ['websocket'], headers: { 'Remote-User': 'alice' } });
      try {
        const o = await c.outcome();
        assert.equal(o.ok, false);
        return o.error.message;
      } finally {
        c.close();
      }
    })();
    assert.match(msg, /did not come through a trusted proxy/);
  });
});
