// Subscriptions and revocation on the live feed (README "Authentication" and "Live feed"): subscribe to a visible profile
// → ack {ok:true} + snapshot; to an invisible one → ack {error: profile_not_found} and no
// data; a revoked grant removes the socket from the room; logout, password reset (API and
// CLI) and user deletion close the sockets of that session / user, and nobody else's.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  addTorrents, api, connect, connectOk, killAll, login, request, sleep, startDaemon,
  syntheticTorrent, until,
} from './lib/harness.mjs';

after(killAll);

const ROW_KEYS = ['hash', 'name', 'profile', 'state', 'progress', 'size', 'downloaded', 'uploaded',
  'dl_speed', 'ul_speed', 'eta', 'peers', 'seeds', 'ratio', 'queue_position', 'label', 'added_at',
  'completed_at', 'error'];

describe('subscribe, permissions and revocation', () => {
  let d; let admin; const bobPw = 'bob-Passw0rd-1';
  let inDefault; let inSecret;

  before(async () => {
    d = await startDaemon();
    admin = await login(d.url, 'admin', await d.adminPassword());
    const secretDir = path.join(d.dataDir, 'secret-downloads');
    fs.mkdirSync(secretDir, { recursive: true });
    await api(d.url, 'POST', '/api/profiles', {
      cookie: admin, body: { id: 'secret', name: 'Secret', download_dir: secretDir, max_active_downloads: 0 },
    });
    await api(d.url, 'POST', '/api/users', {
      cookie: admin, body: { username: 'bob', password: bobPw, role: 'user', permissions: { default: 'ro' } },
    });
    inDefault = syntheticTorrent();
    inSecret = syntheticTorrent();
    await addTorrents(d.url, 'default', [inDefault], { cookie: admin, fields: { paused: 'true' } });
    await addTorrents(d.url, 'secret', [inSecret], { cookie: admin, fields: { paused: 'true' } });
  });
  after(() => d?.stop());

  test('hello lists only the profiles the user may see, with their level', async () => {
    const bob = await connectOk(d.url, { headers: { cookie: await login(d.url, 'bob', bobPw) } });
    try {
      const hello = bob.all('hello')[0].data;
      assert.deepEqual(hello.user, { username: 'bob', role: 'user', bypass: false });
      assert.deepEqual(hello.profiles.map((p) => [p.id, p.level]), [['default', 'ro']]);
      // stats only cover what bob may see
      const stats = await bob.next('stats');
      assert.deepEqual(stats.profiles.map((p) => p.id), ['default']);
      assert.equal(stats.torrents, stats.profiles[0].torrents);
    } finally {
      bob.close();
    }
  });

  test('allowed profile → ack ok and a snapshot equal to the REST list', async () => {
    const cookie = await login(d.url, 'bob', bobPw);
    const bob = await connectOk(d.url, { headers: { cookie } });
    try {
      const ack = await bob.emitAck('subscribe', { profile: 'default' });
      assert.deepEqual(ack, { ok: true });
      const snap = await bob.next('torrents:snapshot');
      assert.equal(snap.profile, 'default');
      const rest = await api(d.url, 'GET', '/api/profiles/default/torrents', { cookie });
      assert.deepEqual(snap.torrents.map((r) => r.hash).sort(), rest.map((r) => r.hash).sort());
      const row = snap.torrents.find((r) => r.hash === inDefault.hash);
      assert.ok(row, 'the paused torrent is in the snapshot');
      for (const k of ROW_KEYS) assert.ok(k in row, `snapshot row has '${k}': ${JSON.stringify(row)}`);
      assert.equal(row.name, inDefault.name);
      assert.equal(row.state, 'paused');
      assert.equal(row.progress, 0);
      assert.ok(!snap.torrents.some((r) => r.hash === inSecret.hash), 'nothing from another profile');
    } finally {
      bob.close();
    }
  });

  test('forbidden and unknown profiles → ack {error: profile_not_found}, no data', async () => {
    const bob = await connectOk(d.url, { headers: { cookie: await login(d.url, 'bob', bobPw) } });
    try {
      for (const profile of ['secret', 'no-such-profile']) {
        const ack = await bob.emitAck('subscribe', { profile });
        assert.equal(ack.ok, undefined);
        assert.equal(ack.error?.code, 'profile_not_found', JSON.stringify(ack));
        assert.match(ack.error.message, new RegExp(`profile '${profile}' does not exist`));
      }
      const bad = await bob.emitAck('subscribe', { nope: 1 });
      assert.equal(bad.error?.code, 'invalid_input', JSON.stringify(bad));
      // an event in the forbidden profile reaches an admin subscriber but not bob
      const adm = await connectOk(d.url, { headers: { cookie: admin } });
      try {
        assert.deepEqual(await adm.emitAck('subscribe', { profile: 'secret' }), { ok: true });
        const t = syntheticTorrent();
        await addTorrents(d.url, 'secret', [t], { cookie: admin, fields: { paused: 'true' } });
        await adm.next('torrent:added', { pred: (e) => e.torrent.hash === t.hash });
        await sleep(1500); // one producer tick for anything that might leak
        const leaked = bob.events.filter((e) => e.name.startsWith('torrent') && JSON.stringify(e.data).includes(t.hash));
        assert.deepEqual(leaked, []);
        assert.equal(bob.all('torrents:snapshot').length, 0);
      } finally {
        adm.close();
      }
    } finally {
      bob.close();
    }
  });

  test('revoking the grant removes the socket from the room; later subscribes are refused', async () => {
    const bob = await connectOk(d.url, { headers: { cookie: await login(d.url, 'bob', bobPw) } });
    const adm = await connectOk(d.url, { headers: { cookie: admin } });
    try {
      assert.deepEqual(await bob.emitAck('subscribe', { profile: 'default' }), { ok: true });
      assert.deepEqual(await adm.emitAck('subscribe', { profile: 'default' }), { ok: true });
      const t1 = syntheticTorrent();
      await addTorrents(d.url, 'default', [t1], { cookie: admin, fields: { paused: 'true' } });
      await bob.next('torrent:added', { pred: (e) => e.torrent.hash === t1.hash });

      await api(d.url, 'PATCH', '/api/users/bob', { cookie: admin, body: { permissions: { default: null } } });
      await sleep(300); // the revocation event is applied asynchronously by the producer
      const t2 = syntheticTorrent();
      await addTorrents(d.url, 'default', [t2], { cookie: admin, fields: { paused: 'true' } });
      await adm.next('torrent:added', { pred: (e) => e.torrent.hash === t2.hash });
      await sleep(1500);
      const leaked = bob.events.filter((e) => JSON.stringify(e.data ?? null).includes(t2.hash));
      assert.deepEqual(leaked, [], 'no event about a profile bob lost access to');
      const ack = await bob.emitAck('subscribe', { profile: 'default' });
      assert.equal(ack.error?.code, 'profile_not_found', JSON.stringify(ack));
    } finally {
      bob.close();
      adm.close();
      await api(d.url, 'PATCH', '/api/users/bob', { cookie: admin, body: { permissions: { default: 'ro' } } });
    }
  });
});

describe('sockets are closed on logout, password reset and deletion', () => {
  let d; let adminPw;
  before(async () => {
    d = await startDaemon();
    adminPw = await d.adminPassword();
  });
  after(() => d?.stop());

  const serverClosed = (c) => c.next('disconnect', { pred: (x) => x.reason === 'io server disconnect', timeout: 5_000 });

  async function newUser(name, pw, cookie) {
    await api(d.url, 'POST', '/api/users', { cookie, body: { username: name, password: pw, role: 'user', permissions: { default: 'ro' } } });
  }

  for (const transports of [undefined, ['websocket']]) {
    test(`logout closes that session's sockets only (${transports ? 'websocket' : 'default transports'})`, async () => {
      const a = await login(d.url, 'admin', adminPw);
      const b = await login(d.url, 'admin', adminPw);
      const sa1 = await connectOk(d.url, { transports, headers: { cookie: a } });
      const sa2 = await connectOk(d.url, { transports, headers: { cookie: a } });
      const sb = await connectOk(d.url, { transports, headers: { cookie: b } });
      try {
        const r = await request(`${d.url}/logout`, { method: 'POST', headers: { cookie: a } });
        assert.equal(r.status, 302);
        await serverClosed(sa1);
        await serverClosed(sa2);
        // the other session keeps receiving the feed
        const from = sb.events.length;
        await sb.next('stats', { from, timeout: 3_000 });
        assert.ok(sb.socket.connected);
        assert.equal(sb.all('disconnect').length, 0);
        // and the revoked cookie cannot open a new socket
        const again = connect(d.url, { transports: ['websocket'], headers: { cookie: a } });
        const o = await again.outcome();
        again.close();
        assert.equal(o.ok, false);
        assert.match(o.error.message, /not logged in/);
      } finally {
        for (const s of [sa1, sa2, sb]) s.close();
      }
    });
  }

  test('password reset through the API closes all sockets of that user only', async () => {
    const admin = await login(d.url, 'admin', adminPw);
    await newUser('carol', 'carol-Passw0rd', admin);
    const c1 = await connectOk(d.url, { headers: { cookie: await login(d.url, 'carol', 'carol-Passw0rd') } });
    const c2 = await connectOk(d.url, { transports: ['websocket'], headers: { cookie: await login(d.url, 'carol', 'carol-Passw0rd') } });
    const adm = await connectOk(d.url, { headers: { cookie: admin } });
    try {
      await api(d.url, 'PATCH', '/api/users/carol', { cookie: admin, body: { password: 'carol-N3w-Passw0rd' } });
      await serverClosed(c1);
      await serverClosed(c2);
      const from = adm.events.length;
      await adm.next('stats', { from, timeout: 3_000 });
      assert.ok(adm.socket.connected);
    } finally {
      for (const s of [c1, c2, adm]) s.close();
    }
  });

  test('password reset through the CLI (running daemon) closes the user\'s sockets', async () => {
    const admin = await login(d.url, 'admin', adminPw);
    await newUser('dave', 'dave-Passw0rd', admin);
    const s = await connectOk(d.url, { headers: { cookie: await login(d.url, 'dave', 'dave-Passw0rd') } });
    try {
      assert.deepEqual(await s.emitAck('subscribe', { profile: 'default' }), { ok: true });
      const r = d.cli(['user', 'reset-password', 'dave', 'dave-N3w-Passw0rd']);
      assert.equal(r.status, 0, `CLI failed: ${r.stderr}${r.stdout}`);
      await serverClosed(s);
      // the new password works, the old cookie does not
      await login(d.url, 'dave', 'dave-N3w-Passw0rd');
    } finally {
      s.close();
    }
  });

  test('a revoked API token no longer acts on an open socket', async () => {
    // One resolver (docs/security.md) for the handshake "and every Socket.IO event"; tokens are
    // revocable. After DELETE /api/tokens/{id}, the token's socket must either be closed or
    // have its next event refused. (websocket only: see connect.test.mjs for polling.)
    const admin = await login(d.url, 'admin', adminPw);
    const t = await api(d.url, 'POST', '/api/tokens', { cookie: admin, body: { name: 'revoke-me' } });
    const s = await connectOk(d.url, { transports: ['websocket'], auth: { token: t.token } });
    try {
      const r = await request(`${d.url}/api/tokens/${t.id}`, { method: 'DELETE', headers: { cookie: admin } });
      assert.ok(r.status >= 200 && r.status < 300, `DELETE token → ${r.status} ${r.text}`);
      const closed = await s.next('disconnect', { timeout: 3_000 }).then(() => true, () => false);
      if (!closed) {
        const ack = await s.emitAck('subscribe', { profile: 'default' });
        assert.ok(ack.error, `a revoked token's socket may still subscribe: ack ${JSON.stringify(ack)}, and it still receives ${[...new Set(s.events.slice(-5).map((e) => e.name))]}`);
      }
    } finally {
      s.close();
    }
  });

  test('deleting a user closes its sockets', async () => {
    const admin = await login(d.url, 'admin', adminPw);
    await newUser('erin', 'erin-Passw0rd', admin);
    const s = await connectOk(d.url, { headers: { cookie: await login(d.url, 'erin', 'erin-Passw0rd') } });
    try {
      const r = await request(`${d.url}/api/users/erin`, { method: 'DELETE', headers: { cookie: admin } });
      assert.equal(r.status, 204);
      await serverClosed(s);
    } finally {
      s.close();
    }
  });
});
