// What subscribers receive (README "Live feed"): torrent:added / torrent:removed right after REST calls,
// only in the torrent's profile room; torrents:patch at most once per second per profile with
// only the fields that changed, and none in a second where nothing changed; a real download
// from an aria2c seeder on loopback followed from the snapshot to `seeding` by patches.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  addTorrents, api, connectOk, killAll, login, makePayloadTorrent, request, sleep,
  startAria2Seeder, startDaemon, syntheticTorrent, tmpDir, until,
} from './lib/harness.mjs';

after(killAll);

const ROW_KEYS = ['hash', 'name', 'profile', 'state', 'progress', 'size', 'downloaded', 'uploaded',
  'dl_speed', 'ul_speed', 'eta', 'peers', 'seeds', 'ratio', 'queue_position', 'label', 'added_at',
  'completed_at', 'error'];
/** Fields that never change for a torrent that stays in its profile. */
const STATIC_KEYS = ['name', 'profile', 'size', 'added_at'];

/** Patch entries about `hash`, with the patch's arrival time. */
function entriesFor(client, hash, from = 0) {
  return client.events.slice(from)
    .filter((e) => e.name === 'torrents:patch')
    .flatMap((e) => e.data.changed.filter((c) => c.hash === hash).map((c) => ({ ...c, t: e.t })));
}

function assertPatchRate(client, profile) {
  const ts = client.events.filter((e) => e.name === 'torrents:patch' && e.data.profile === profile).map((e) => e.t);
  for (let i = 1; i < ts.length; i++) {
    assert.ok(ts[i] - ts[i - 1] >= 800, `two patches for '${profile}' ${ts[i] - ts[i - 1]} ms apart (at most one per second)`);
  }
  return ts.length;
}

describe('added / removed / patches after REST calls', () => {
  let d; let admin;
  before(async () => {
    d = await startDaemon();
    admin = await login(d.url, 'admin', await d.adminPassword());
    const otherDir = path.join(d.dataDir, 'other-downloads');
    fs.mkdirSync(otherDir, { recursive: true });
    await api(d.url, 'POST', '/api/profiles', {
      cookie: admin, body: { id: 'other', name: 'Other', download_dir: otherDir, max_active_downloads: 0 },
    });
  });
  after(() => d?.stop());

  test('torrent:added and torrent:removed reach the profile room only', async () => {
    const sub = await connectOk(d.url, { headers: { cookie: admin } });
    const otherSub = await connectOk(d.url, { headers: { cookie: admin } });
    const idle = await connectOk(d.url, { headers: { cookie: admin } });
    try {
      assert.deepEqual(await sub.emitAck('subscribe', { profile: 'default' }), { ok: true });
      assert.deepEqual(await otherSub.emitAck('subscribe', { profile: 'other' }), { ok: true });
      await sub.next('torrents:snapshot');

      const t = syntheticTorrent();
      const t0 = Date.now();
      const [row] = await addTorrents(d.url, 'default', [t], { cookie: admin, fields: { paused: 'true', label: 'feed' } });
      assert.equal(row.hash, t.hash);
      const added = await sub.next('torrent:added', { pred: (e) => e.torrent?.hash === t.hash, timeout: 3_000 });
      assert.ok(Date.now() - t0 < 3_000);
      assert.equal(added.profile, 'default');
      for (const k of ROW_KEYS) assert.ok(k in added.torrent, `added row has '${k}'`);
      assert.equal(added.torrent.name, t.name);
      assert.equal(added.torrent.label, 'feed');
      // a paused add may still be 'checking' its (absent) files at this instant
      assert.ok(['paused', 'checking'].includes(added.torrent.state), `added state ${added.torrent.state}`);
      assert.equal(added.torrent.paused, true);

      // the next ticks do not resend the whole row as a patch
      const ticksFrom = sub.events.length;
      await until(() => sub.events.slice(ticksFrom).filter((e) => e.name === 'stats').length >= 2, { timeout: 5_000, what: '2 stats events' });
      for (const e of entriesFor(sub, t.hash)) {
        for (const k of STATIC_KEYS) assert.ok(!(k in e), `patch after torrent:added repeats '${k}': ${JSON.stringify(e)}`);
      }

      const del = await request(`${d.url}/api/torrents/${t.hash}?delete_files=true`, { method: 'DELETE', headers: { cookie: admin } });
      assert.ok(del.status >= 200 && del.status < 300, `DELETE → ${del.status} ${del.text}`);
      const removed = await sub.next('torrent:removed', { pred: (e) => e.hash === t.hash, timeout: 3_000 });
      assert.deepEqual(removed, { profile: 'default', hash: t.hash });

      await sleep(1_500);
      for (const c of [otherSub, idle]) {
        const leaked = c.events.filter((e) => JSON.stringify(e.data ?? null).includes(t.hash));
        assert.deepEqual(leaked, [], 'other rooms and unsubscribed sockets hear nothing');
      }
      // a removal is announced once: not also as a patch `removed` entry afterwards
      const dup = sub.all('torrents:patch', (p) => p.removed.includes(t.hash));
      assert.deepEqual(dup, []);
    } finally {
      for (const c of [sub, otherSub, idle]) c.close();
    }
  });

  test('moving a torrent to another profile: removed from one room, added to the other', async () => {
    const a = await connectOk(d.url, { headers: { cookie: admin } });
    const b = await connectOk(d.url, { headers: { cookie: admin } });
    try {
      assert.deepEqual(await a.emitAck('subscribe', { profile: 'default' }), { ok: true });
      assert.deepEqual(await b.emitAck('subscribe', { profile: 'other' }), { ok: true });
      const t = syntheticTorrent();
      await addTorrents(d.url, 'default', [t], { cookie: admin, fields: { paused: 'true' } });
      await a.next('torrent:added', { pred: (e) => e.torrent.hash === t.hash });
      await api(d.url, 'PATCH', `/api/torrents/${t.hash}`, { cookie: admin, body: { profile: 'other' } });
      assert.deepEqual(await a.next('torrent:removed', { pred: (e) => e.hash === t.hash }), { profile: 'default', hash: t.hash });
      const added = await b.next('torrent:added', { pred: (e) => e.torrent.hash === t.hash });
      assert.equal(added.profile, 'other');
      assert.equal(added.torrent.profile, 'other');
    } finally {
      a.close();
      b.close();
    }
  });

  test('the first subscriber of a profile loses no change made right after its snapshot', async () => {
    // Fresh profiles, so each subscriber is the first in its room. A paused torrent added
    // right after subscribing is briefly 'checking' (what torrent:added carries), then
    // 'paused': the client's row (added row + patches) must end up as REST shows it.
    for (let i = 0; i < 3; i++) {
      const id = `fresh${i}`;
      const dir = path.join(d.dataDir, `${id}-downloads`);
      fs.mkdirSync(dir, { recursive: true });
      await api(d.url, 'POST', '/api/profiles', { cookie: admin, body: { id, name: id, download_dir: dir, max_active_downloads: 0 } });
      const c = await connectOk(d.url, { headers: { cookie: admin } });
      try {
        assert.deepEqual(await c.emitAck('subscribe', { profile: id }), { ok: true });
        const t = syntheticTorrent();
        await addTorrents(d.url, id, [t], { cookie: admin, fields: { paused: 'true' } });
        const added = await c.next('torrent:added', { pred: (e) => e.torrent.hash === t.hash });
        const rest = await until(async () => {
          const r = await api(d.url, 'GET', `/api/torrents/${t.hash}`, { cookie: admin });
          return r.state === 'paused' && r;
        }, { what: 'REST state paused' });
        const from = c.events.length;
        await until(() => c.events.slice(from).filter((e) => e.name === 'stats').length >= 3, { timeout: 6_000, what: '3 stats events' });
        const cur = { ...added.torrent };
        for (const e of entriesFor(c, t.hash)) Object.assign(cur, e);
        assert.equal(cur.state, rest.state,
          `round ${i}: torrent:added said '${added.torrent.state}', patches ${JSON.stringify(entriesFor(c, t.hash))}; the client still shows '${cur.state}' while REST says '${rest.state}'`);
      } finally {
        c.close();
      }
    }
  });

  test('torrent creation: progress while hashing, then the end, in the profile room only', async () => {
    const profiles = await api(d.url, 'GET', '/api/profiles', { cookie: admin });
    const dir = profiles.find((p) => p.id === 'default').download_dir;
    // A sparse 3 GiB file: hashing takes a few seconds (zeros still have to be read).
    const fd = fs.openSync(path.join(dir, 'sparse.img'), 'w');
    fs.ftruncateSync(fd, 3 * 1024 ** 3);
    fs.closeSync(fd);
    const sub = await connectOk(d.url, { headers: { cookie: admin } });
    const otherSub = await connectOk(d.url, { headers: { cookie: admin } });
    try {
      assert.deepEqual(await sub.emitAck('subscribe', { profile: 'default' }), { ok: true });
      assert.deepEqual(await otherSub.emitAck('subscribe', { profile: 'other' }), { ok: true });
      const job = await api(d.url, 'POST', '/api/profiles/default/create-torrent', { cookie: admin, body: { path: 'sparse.img' } });
      assert.equal(job.state, 'hashing', JSON.stringify(job));
      const id = job.id;
      const ended = await until(() => sub.events.find((e) => e.name === 'creation' && e.data.id === id && e.data.state !== 'hashing'), { timeout: 60_000, what: 'the creation to end in the feed' });
      assert.equal(ended.data.state, 'done', JSON.stringify(ended.data));
      assert.equal(ended.data.hashed, 3 * 1024 ** 3);
      const during = sub.events.filter((e) => e.name === 'creation' && e.data.id === id && e.data.state === 'hashing');
      assert.ok(during.length >= 1, 'no progress event while hashing');
      assert.ok(during.every((e) => e.data.total === 3 * 1024 ** 3 && e.data.hashed <= e.data.total), JSON.stringify(during.map((e) => e.data)));
      assert.equal(otherSub.events.filter((e) => e.name === 'creation').length, 0, 'creation events leaked to another profile');
      await api(d.url, 'DELETE', `/api/torrents/${ended.data.hash}`, { cookie: admin });
    } finally {
      sub.close();
      otherSub.close();
    }
  });

  test('no patch in a second where nothing changed (only paused torrents)', async () => {
    const ts = [syntheticTorrent(), syntheticTorrent(), syntheticTorrent()];
    await addTorrents(d.url, 'default', ts, { cookie: admin, fields: { paused: 'true' } });
    const c = await connectOk(d.url, { headers: { cookie: admin } });
    try {
      assert.deepEqual(await c.emitAck('subscribe', { profile: 'default' }), { ok: true });
      const snap = await c.next('torrents:snapshot');
      for (const t of ts) assert.ok(snap.torrents.some((r) => r.hash === t.hash && r.state === 'paused'));
      // A freshly added paused torrent is 'checking' for a moment (torrent:added may carry
      // that state) and the producer diffs against its own previous tick, so the first tick
      // after subscribing may legitimately settle that. Observe from the second tick on.
      const subAt = c.events.length;
      await until(() => c.events.slice(subAt).filter((e) => e.name === 'stats').length >= 2, { timeout: 5_000, what: '2 stats events' });
      const from = c.events.length;
      // stats keep arriving once per second: the producer is ticking
      await until(() => c.events.slice(from).filter((e) => e.name === 'stats').length >= 5, { timeout: 8_000, what: '5 stats events' });
      const patches = c.events.slice(from).filter((e) => e.name === 'torrents:patch');
      assert.deepEqual(patches.map((p) => p.data), [], 'paused torrents produce no patches');
      const stats = c.events.slice(from).filter((e) => e.name === 'stats');
      const gaps = stats.slice(1).map((s, i) => s.t - stats[i].t);
      for (const g of gaps) assert.ok(g >= 800 && g <= 1_500, `stats every second, got gaps ${gaps}`);
      const s = stats.at(-1).data;
      for (const k of ['dl_speed', 'ul_speed', 'torrents', 'profiles']) assert.ok(k in s, `stats has '${k}': ${JSON.stringify(s)}`);
    } finally {
      c.close();
    }
  });
});

describe('a real download from aria2c followed by the feed', () => {
  let d; let admin; let work;
  before(async () => {
    work = tmpDir('ptd-feed-dl-');
    d = await startDaemon();
    admin = await login(d.url, 'admin', await d.adminPassword());
  });
  after(async () => {
    await d?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('snapshot, then patches with rising progress until 1.0 and state seeding', { timeout: 120_000 }, async () => {
    // 8 MiB, seeder capped at 2 MiB/s: about 4 s of download, i.e. several patches
    const tor = makePayloadTorrent(work, { size: 8 * 1024 * 1024 });
    const seeder = await startAria2Seeder({ torrentPath: tor.torrentPath, seedDir: tor.seedDir, uploadLimit: '2M' });

    const early = await connectOk(d.url, { headers: { cookie: admin } });
    let late;
    try {
      assert.deepEqual(await early.emitAck('subscribe', { profile: 'default' }), { ok: true });
      const snap0 = await early.next('torrents:snapshot');
      assert.ok(!snap0.torrents.some((r) => r.hash === tor.hash));

      const [row] = await addTorrents(d.url, 'default', [{ data: tor.data, filename: 'payload.torrent' }], {
        cookie: admin, fields: { peers: `127.0.0.1:${seeder.port}` },
      });
      assert.equal(row.hash, tor.hash);
      const added = await early.next('torrent:added', { pred: (e) => e.torrent.hash === tor.hash });

      // a second client subscribing mid-download gets a snapshot with the row, then patches
      late = await connectOk(d.url, { headers: { cookie: admin } });
      assert.deepEqual(await late.emitAck('subscribe', { profile: 'default' }), { ok: true });
      const snap = await late.next('torrents:snapshot');
      const snapRow = snap.torrents.find((r) => r.hash === tor.hash);
      assert.ok(snapRow, 'the downloading torrent is in the late snapshot');
      for (const k of ROW_KEYS) assert.ok(k in snapRow, `snapshot row has '${k}'`);
      assert.ok(snapRow.progress < 1, `the download is still running at subscribe time (progress ${snapRow.progress})`);
      const lateFrom = late.events.findIndex((e) => e.name === 'torrents:snapshot');

      // reconstruct the row from snapshot/added + patches until it is seeding
      const done = (c, base, from) => {
        const cur = { ...base };
        for (const e of entriesFor(c, tor.hash, from)) Object.assign(cur, e);
        return cur.state === 'seeding' && cur.progress === 1 ? cur : null;
      };
      const fin = await until(() => done(early, added.torrent, 0), { timeout: 90_000, interval: 100, what: 'state seeding, progress 1 via patches' });
      await until(() => done(late, snapRow, lateFrom), { timeout: 5_000, what: 'the late client to see seeding too' });

      for (const [c, base, from, strict] of [[early, added.torrent, 0, true], [late, snapRow, lateFrom, false]]) {
        const entries = entriesFor(c, tor.hash, from);
        // each entry carries only fields that changed since the last known value (for the
        // late client the producer diffs against its previous tick, not against the
        // snapshot, so a field may legitimately repeat the snapshot's value once)
        const cur = { ...base };
        for (const e of entries) {
          for (const k of STATIC_KEYS) assert.ok(!(k in e), `patch repeats unchanged '${k}': ${JSON.stringify(e)}`);
          for (const [k, v] of Object.entries(e)) {
            if (!strict) break;
            if (k === 'hash' || k === 't') continue;
            assert.notDeepEqual(v, cur[k], `patch sends '${k}' although it did not change: ${JSON.stringify(e)}`);
          }
          Object.assign(cur, e);
          delete cur.t;
        }
        const progress = entries.filter((e) => 'progress' in e && e.state !== 'checking').map((e) => e.progress);
        for (let i = 1; i < progress.length; i++) {
          assert.ok(progress[i] >= progress[i - 1], `progress never goes back: ${progress}`);
        }
        assert.equal(progress.at(-1), 1, `progress ends at 1: ${progress}`);
        const between = progress.filter((p) => p > 0 && p < 1);
        assert.ok(between.length >= 2, `patches track the download (intermediate progress values: ${progress})`);
        assertPatchRate(c, 'default');
      }
      // completed_at is recorded by the queue scheduler (1 s period): it may come one patch later
      await until(() => {
        const cur = { ...added.torrent };
        for (const e of entriesFor(early, tor.hash)) Object.assign(cur, e);
        return cur.completed_at;
      }, { timeout: 5_000, what: 'completed_at in a patch' });
      assert.equal(fin.state, 'seeding');
      assert.ok(entriesFor(early, tor.hash).some((e) => e.dl_speed > 0), 'dl_speed was reported while downloading');
      assert.ok(early.all('stats').some((s) => s.data.dl_speed > 0), 'stats show the global download speed');

      // once the seeder is gone and the speeds have decayed, a quiet torrent sends nothing
      await seeder.stop();
      await until(() => {
        const cur = { ...added.torrent };
        for (const e of entriesFor(early, tor.hash)) Object.assign(cur, e);
        return cur.dl_speed === 0 && cur.ul_speed === 0 && cur.peers === 0;
      }, { timeout: 20_000, what: 'speeds and peers back to 0 via patches' });
      const quietFrom = early.events.length;
      await until(() => early.events.slice(quietFrom).filter((e) => e.name === 'stats').length >= 4, { timeout: 8_000, what: '4 stats events' });
      const quiet = early.events.slice(quietFrom).filter((e) => e.name === 'torrents:patch').map((e) => e.data);
      assert.deepEqual(quiet, [], 'no patch while nothing changes');

      // the feed agrees with REST and the data is intact
      const rest = await api(d.url, 'GET', `/api/torrents/${tor.hash}`, { cookie: admin });
      assert.equal(rest.state, 'seeding');
      assert.equal(rest.progress, 1);
      const got = path.join(d.dataDir, 'downloads', tor.name);
      const sha = (p) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
      assert.equal(sha(got), sha(tor.payload));
    } finally {
      early.close();
      late?.close();
      await seeder.stop();
    }
  });
});
