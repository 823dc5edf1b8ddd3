// Transfer control in the browser (docs/transfer.md): the Engine section of the Settings page
// (saved, read back after a reload, "applies after restart" only where the server says so, a
// value the server refuses), the backup download, the Trackers tab (add, edit, remove, a bad
// URL refused with the server's message and nothing changed, live status of a running
// torrent, reannounce), the profile editor's folder for completed torrents and minimum free
// space, the free space in the Add dialog, and torrents waiting for disk space (table, details,
// the Add dialog's warning before adding and the server's warning after). Real daemon, real
// Chromium; .torrent files made by mktorrent.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Opentracker, browserSuite, makePayload, tempDir, uiLogin, waitFor, watchPage } from './helpers.mjs';

const root = tempDir('transfer');
const s = browserSuite({ root, seeders: [] });
let admin;
let page;
let w;
const row = (h) => `.tr[data-h="${h}"]`;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
// One tracker (mktorrent's -a in helpers.makePayload): nothing listens on port 1.
const T0 = 'http://127.0.0.1:1/announce';
const T1 = 'udp://127.0.0.1:2/announce';
const T2 = 'http://127.0.0.1:3/announce';
let P;

const api = (method, path, body) => s.d.api(method, path, body, admin);
const settings = () => api('GET', '/api/settings');
const trackerUrls = async (h) => (await api('GET', `/api/torrents/${h}/trackers`)).sort((a, b) => a.tier - b.tier).map((t) => t.url);
const profile = async (id = 'default') => (await api('GET', '/api/profiles')).find((p) => p.id === id);

async function addTorrentFile(file, { paused }) {
  const form = new FormData();
  form.append('torrent', new Blob([readFileSync(file)]), 'x.torrent');
  form.append('paused', String(paused));
  const r = await fetch(s.d.url + '/api/profiles/default/torrents', { method: 'POST', headers: { Cookie: admin.cookie }, body: form });
  const text = await r.text();
  assert.equal(r.status, 201, text);
  return JSON.parse(text);
}

async function openSettings() {
  await page.goto(s.d.url + '/admin/settings');
  await page.waitForSelector('[data-testid=settings-form]');
}

async function home() {
  await page.goto(s.d.url + '/');
  await page.waitForSelector('[data-testid=conn-badge][data-state=online]');
}

async function openTab(h, tab) {
  await page.waitForSelector(row(h));
  await page.click(`${row(h)} .c-name`);
  await page.click(`[data-testid=tab-${tab}]`);
}

/** An instant as the page writes it (format.ts `date`): local "YYYY-MM-DD HH:MM". */
function localDate(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "12.3 GiB free" → bytes. */
function parseFree(text) {
  const m = /([\d.]+) (B|KiB|MiB|GiB|TiB|PiB) free/.exec(text);
  assert.ok(m, `a free space with a unit: ${text}`);
  return Number(m[1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'].indexOf(m[2]);
}

async function editProfile() {
  await page.goto(s.d.url + '/admin/profiles');
  await page.click('[data-testid=edit-profile-default]');
  await page.waitForSelector('[data-testid=profile-editor]');
}

test('setup: admin signed in', async () => {
  admin = await s.d.session('admin', s.d.adminPassword());
  const ctx = await s.browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
  page = await ctx.newPage();
  w = watchPage(page);
  await uiLogin(page, s.d.url, 'admin', s.d.adminPassword());
});

test('engine settings: saved, shown after a reload, "applies after restart" only for the listen port', async () => {
  const before = (await settings()).engine;
  assert.deepEqual((await settings()).restart_needed, []);
  const port = before.listen_port === 51413 ? 51414 : 51413;
  await openSettings();
  assert.equal(await page.inputValue('[data-testid=set-listen_port]'), String(before.listen_port));
  assert.equal(await page.locator('[data-testid=restart-banner]').count(), 0);
  assert.equal(await page.locator('[data-testid^=restart-]').count(), 0);
  await page.fill('[data-testid=set-listen_port]', String(port));
  await page.fill('[data-testid=set-peer_limit_global]', '250');
  await page.click('[data-testid=settings-save]');
  await page.waitForSelector('[data-testid=settings-saved]:has-text("Saved")');

  const st = await settings();
  assert.equal(st.engine.listen_port, port);
  assert.equal(st.engine.peer_limit_global, 250);
  assert.equal(st.engine.peer_limit_torrent, before.peer_limit_torrent, 'untouched fields stay');
  assert.equal(st.engine.dht, before.dht);
  assert.ok(st.restart_needed.includes('listen_port'), JSON.stringify(st.restart_needed));
  assert.ok(!st.restart_needed.includes('peer_limit_global'), 'the global peer cap applies at once');

  const check = async () => {
    assert.equal(await page.inputValue('[data-testid=set-listen_port]'), String(port));
    assert.equal(await page.inputValue('[data-testid=set-peer_limit_global]'), '250');
    assert.equal(await page.textContent('[data-testid=restart-listen_port]'), 'applies after restart');
    assert.equal(await page.locator('[data-testid=restart-peer_limit_global]').count(), 0);
    assert.match(await page.textContent('[data-testid=restart-banner]'), /Some settings apply after the daemon restarts: listen port\./);
  };
  await check();
  await page.reload();
  await page.waitForSelector('[data-testid=settings-form]');
  await check();

  // Checked in the page first: nothing is sent.
  const patches = [];
  const onReq = (r) => r.method() === 'PATCH' && patches.push(r.url());
  page.on('request', onReq);
  await page.fill('[data-testid=set-listen_port]', '70000');
  await page.click('[data-testid=settings-save]');
  assert.match(await page.textContent('[data-testid=settings-error]'), /Listen port: “70000” must be a whole number from 0 to 65535/);
  assert.deepEqual(patches, []);
  page.off('request', onReq);
  await page.fill('[data-testid=set-listen_port]', String(port));
  // Refused by the server (no such interface here): its message, nothing changed.
  await page.fill('[data-testid=set-bind_interface]', 'nosuchif0');
  await page.click('[data-testid=settings-save]');
  await waitFor('the server error', 10, async () => /there is no network interface/.test(await page.textContent('[data-testid=settings-error]').catch(() => '')));
  const after = await settings();
  assert.equal(after.engine.bind_interface ?? null, null);
  assert.equal(after.engine.listen_port, port);
});

test('backup: the Settings page links to /api/backup, which answers a gzip file', async () => {
  await openSettings();
  const link = page.locator('[data-testid=backup-link]');
  assert.equal(await link.getAttribute('href'), '/api/backup');
  assert.notEqual(await link.getAttribute('download'), null, 'a download link');
  assert.match(await page.textContent('[data-testid=backup]'), /pytorrentd restore FILE/);
  const r = await page.request.get(s.d.url + (await link.getAttribute('href')));
  assert.equal(r.status(), 200);
  assert.equal(r.headers()['content-type'], 'application/gzip');
  const body = await r.body();
  assert.ok(body.length > 100, `a backup of ${body.length} bytes`);
  assert.deepEqual([body[0], body[1]], [0x1f, 0x8b], 'gzip magic');
});

test('trackers tab: add, edit, remove, a bad URL refused with nothing changed, live status and reannounce', async () => {
  P = makePayload(root, 'tracked-payload', [['tracked.bin', 300_000]]);
  const tracker = await new Opentracker(root, [P.hash]).start();
  s.seeders.push(tracker);
  const TR = tracker.url;
  await addTorrentFile(P.torrent, { paused: true });
  assert.deepEqual(await trackerUrls(P.hash), [T0]);
  await home();
  await openTab(P.hash, 'trackers');
  const tr = (u) => `[data-testid=trackers-table] tr[data-tracker="${u}"]`;
  const rowsShown = () => page.locator('[data-testid=trackers-table] tbody tr').count();
  await page.waitForSelector(tr(T0));
  assert.equal(await rowsShown(), 1);
  assert.equal((await page.textContent(`${tr(T0)} [data-testid=tracker-status]`)).trim(), 'Not contacted');
  assert.equal(await page.textContent(`${tr(T0)} [data-testid=tracker-last]`), '–');
  // A paused torrent is not announced: the button says why.
  assert.equal(await page.isDisabled('[data-testid=tracker-reannounce]'), true);

  // Add a second one.
  await page.click('[data-testid=tracker-add-open]');
  await page.fill('[data-testid=tracker-add-text]', TR);
  await page.click('[data-testid=tracker-add-save]');
  await page.waitForSelector(tr(TR));
  assert.equal(await rowsShown(), 2);
  assert.deepEqual(await trackerUrls(P.hash), [T0, TR]);
  assert.equal(await page.textContent('[data-testid=tracker-msg]'), 'Tracker added.');
  // One URL per line; blank lines and URLs already in the list are left out.
  await page.click('[data-testid=tracker-add-open]');
  await page.fill('[data-testid=tracker-add-text]', `${T1}\n\n${TR}\n`);
  await page.click('[data-testid=tracker-add-save]');
  await page.waitForSelector(tr(T1));
  assert.equal(await rowsShown(), 3);
  assert.deepEqual(await trackerUrls(P.hash), [T0, TR, T1]);

  // Edit one in place (Enter saves).
  await page.click(`${tr(T1)} [data-testid=tracker-edit]`);
  await page.fill('[data-testid=tracker-edit-input]', T2);
  await page.press('[data-testid=tracker-edit-input]', 'Enter');
  await page.waitForSelector(tr(T2));
  assert.equal(await page.locator(tr(T1)).count(), 0);
  assert.deepEqual(await trackerUrls(P.hash), [T0, TR, T2]);

  // Remove one.
  await page.click(`${tr(T2)} [data-testid=tracker-remove]`);
  await page.waitForSelector(tr(T2), { state: 'detached' });
  assert.deepEqual(await trackerUrls(P.hash), [T0, TR]);
  assert.equal(await rowsShown(), 2);

  // A bad URL: the server's message, the list as it was (in the API and the table).
  await page.click('[data-testid=tracker-add-open]');
  await page.fill('[data-testid=tracker-add-text]', 'ftp://127.0.0.1/announce');
  await page.click('[data-testid=tracker-add-save]');
  const err = await page.waitForSelector('[data-testid=tracker-error]');
  assert.match(await err.textContent(), /a tracker URL is http:\/\/, https:\/\/ or udp:\/\/ with a host: .*ftp:\/\/127\.0\.0\.1\/announce/);
  assert.deepEqual(await trackerUrls(P.hash), [T0, TR]);
  assert.equal(await rowsShown(), 2);
  assert.equal(await page.inputValue('[data-testid=tracker-add-text]'), 'ftp://127.0.0.1/announce', 'the text stays to be fixed');
  await page.click('[data-testid=tracker-add-form] button:has-text("Cancel")');
  // The same for an edit; Escape leaves it.
  await page.click(`${tr(T0)} [data-testid=tracker-edit]`);
  await page.fill('[data-testid=tracker-edit-input]', 'ftp://127.0.0.1/x');
  await page.click('[data-testid=tracker-edit-save]');
  await waitFor('the edit refused', 10, async () => /udp:\/\/ with a host/.test(await page.textContent('[data-testid=tracker-error]').catch(() => '')));
  await page.press('[data-testid=tracker-edit-input]', 'Escape');
  await page.waitForSelector('[data-testid=tracker-edit-input]', { state: 'detached' });
  assert.deepEqual(await trackerUrls(P.hash), [T0, TR]);
  assert.equal(await page.locator(`${row(P.hash)}.sel`).count(), 1, 'Escape in the field kept the torrent selected');

  // Running, the torrent announces; the tab follows by itself (it polls while open). The
  // opentracker answers: working, with its counts, the last announce and the next one; nothing
  // listens on port 1: an error with its reason.
  await api('POST', `/api/torrents/${P.hash}/resume`);
  await waitFor('both trackers answered in the tab', 40, async () => (await page.getAttribute(tr(TR), 'data-status')) === 'working' && (await page.getAttribute(tr(T0), 'data-status')) === 'error', 300);
  await waitFor('the tab showing what the API says', 20, async () => {
    const [bad, good] = await api('GET', `/api/torrents/${P.hash}/trackers`).then((l) => l.sort((a, b) => a.tier - b.tier));
    if (good.status !== 'working' || good.downloads == null || !bad.last_error) return false;
    const cell = (u, id) => page.textContent(`${tr(u)} [data-testid=tracker-${id}]`).then((t) => t.trim());
    return (
      (await cell(TR, 'seeds')) === String(good.seeds) &&
      (await cell(TR, 'peers')) === String(good.peers) &&
      (await cell(TR, 'downloads')) === String(good.downloads) &&
      (await cell(T0, 'message')) === bad.last_error
    );
  }, 500);
  const good = (await api('GET', `/api/torrents/${P.hash}/trackers`)).find((t) => t.url === TR);
  assert.equal(typeof good.seeds, 'number');
  assert.equal(typeof good.peers, 'number');
  assert.equal((await page.textContent(`${tr(TR)} [data-testid=tracker-status]`)).trim(), 'Working');
  assert.equal((await page.textContent(`${tr(T0)} [data-testid=tracker-status]`)).trim(), 'Error');
  assert.match(await page.textContent(`${tr(T0)} [data-testid=tracker-message]`), /cannot connect/);
  assert.match(await page.textContent(`${tr(TR)} [data-testid=tracker-last]`), /^(\d+s|\d+m \d+s) ago$|^now$/);
  assert.match(await page.textContent(`${tr(TR)} [data-testid=tracker-next]`), /^in (\d+m \d+s|\d+h \d+m)$/);
  assert.equal(await page.getAttribute(`${tr(TR)} [data-testid=tracker-next]`, 'title'), localDate(good.next_announce), 'the exact time in the tooltip');

  // Reannounce now: accepted, said so; the working tracker is announced again.
  await waitFor('the reannounce button enabled', 10, async () => !(await page.isDisabled('[data-testid=tracker-reannounce]')));
  const answered = page.waitForResponse((r) => r.url().endsWith(`/api/torrents/${P.hash}/reannounce`));
  await page.click('[data-testid=tracker-reannounce]');
  assert.equal((await answered).status(), 200);
  assert.equal(await page.textContent('[data-testid=tracker-msg]'), 'Announcing to every tracker now.');
  assert.equal(await page.locator('[data-testid=tracker-error]').count(), 0);
  await waitFor('a new announce', 20, async () => {
    const t = (await api('GET', `/api/torrents/${P.hash}/trackers`)).find((x) => x.url === TR);
    return Date.parse(t.last_announce) > Date.parse(good.last_announce);
  }, 300);
});

test('the Add dialog shows the free space of the chosen profile', async () => {
  await home();
  await page.click('[data-testid=add-button]');
  await page.waitForSelector('[data-testid=add-dialog]');
  const text = await (await page.waitForSelector('[data-testid=add-free]')).textContent();
  const shown = parseFree(text);
  const free = (await api('GET', '/api/stats')).profiles.find((p) => p.id === 'default').disk_free;
  assert.ok(free > 0, 'the server knows the free space');
  assert.ok(Math.abs(shown - free) / free < 0.05, `shown ${text}, the server says ${free} bytes`);
  assert.match(text, /\(keeps 1 GiB\)/, 'the default minimum');
  assert.equal(await page.locator('[data-testid=add-space-warning]').count(), 0);
  await page.keyboard.press('Escape');
});

test('profile editor: folder for completed torrents and minimum free space saved and shown again; a missing folder refused', async () => {
  const done = join(root, 'completed');
  mkdirSync(done, { recursive: true });
  await editProfile();
  assert.equal(await page.inputValue('[data-testid=profile-min-free]'), '1');
  assert.equal(await page.inputValue('[data-testid=profile-min-free-unit]'), 'GiB');
  assert.equal(await page.inputValue('[data-testid=profile-complete-dir]'), '');
  await page.fill('[data-testid=profile-complete-dir]', done);
  await page.fill('[data-testid=profile-min-free]', '512');
  await page.selectOption('[data-testid=profile-min-free-unit]', 'MiB');
  await page.click('[data-testid=save-profile]');
  await page.waitForSelector('[data-testid=profile-editor]', { state: 'detached' });
  let p = await profile();
  assert.equal(p.complete_dir, done);
  assert.equal(p.min_free_space, 512 * MiB);
  await waitFor('the table names them', 10, async () => (await page.textContent('tr[data-profile=default] [data-testid=profile-space]').catch(() => '')) === `completed → ${done} · keeps 512 MiB free`);

  await page.reload();
  await page.click('[data-testid=edit-profile-default]');
  await page.waitForSelector('[data-testid=profile-editor]');
  assert.equal(await page.inputValue('[data-testid=profile-complete-dir]'), done);
  assert.equal(await page.inputValue('[data-testid=profile-min-free]'), '512');
  assert.equal(await page.inputValue('[data-testid=profile-min-free-unit]'), 'MiB');

  // A folder that does not exist: the server's message, nothing changed.
  await page.fill('[data-testid=profile-complete-dir]', join(root, 'no-such-folder'));
  await page.fill('[data-testid=profile-min-free]', '2');
  await page.selectOption('[data-testid=profile-min-free-unit]', 'GiB');
  await page.click('[data-testid=save-profile]');
  const err = await (await page.waitForSelector('[data-testid=profile-error]')).textContent();
  assert.match(err, /no-such-folder/);
  p = await profile();
  assert.equal(p.complete_dir, done);
  assert.equal(p.min_free_space, 512 * MiB);
  // A bad number is explained in the page.
  await page.fill('[data-testid=profile-complete-dir]', done);
  await page.fill('[data-testid=profile-min-free]', 'lots');
  await page.click('[data-testid=save-profile]');
  await waitFor('the number refused', 10, async () => /Minimum free space: “lots” is not a number of GiB/.test(await page.textContent('[data-testid=profile-error]')));
  // Emptied, the folder is cleared (completed torrents stay where they are).
  await page.fill('[data-testid=profile-complete-dir]', '');
  await page.fill('[data-testid=profile-min-free]', '512');
  await page.selectOption('[data-testid=profile-min-free-unit]', 'MiB');
  await page.click('[data-testid=save-profile]');
  await page.waitForSelector('[data-testid=profile-editor]', { state: 'detached' });
  p = await profile();
  assert.equal(p.complete_dir ?? null, null);
  assert.equal(p.min_free_space, 512 * MiB);
});

test('disk space: a download that would cross the minimum waits, shown in the table and details; the Add dialog warns before and after', async () => {
  // More free space kept than any disk has: the running download is held.
  await editProfile();
  await page.fill('[data-testid=profile-min-free]', String(1024 * 1024));
  await page.selectOption('[data-testid=profile-min-free-unit]', 'GiB');
  await page.click('[data-testid=save-profile]');
  await page.waitForSelector('[data-testid=profile-editor]', { state: 'detached' });
  assert.equal((await profile()).min_free_space, 1024 * 1024 * GiB);
  await waitFor('the torrent held for disk space', 30, async () => {
    const r = await api('GET', `/api/torrents/${P.hash}`);
    return r.state === 'queued' && r.reason === 'disk_space';
  }, 300);

  await home();
  const st = `${row(P.hash)} .st`;
  await waitFor('the status in the table', 10, async () => (await page.textContent(st).catch(() => '')) === 'Queued (disk)');
  assert.equal(await page.getAttribute(st, 'data-reason'), 'disk_space');
  assert.match(await page.getAttribute(st, 'title'), /Waiting for disk space/);
  await openTab(P.hash, 'general');
  await waitFor('the status in the details', 10, async () => /Queued — waiting for disk space/.test(await page.textContent('.details .general')));
  // On a phone, where there is no tooltip, the card says it in full.
  const phone = await s.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  try {
    const p = await phone.newPage();
    await uiLogin(p, s.d.url, 'admin', s.d.adminPassword());
    await waitFor('the card status', 10, async () => (await p.textContent(`.card[data-h="${P.hash}"] .st`).catch(() => '')) === 'Queued — waiting for disk space');
  } finally {
    await phone.close();
  }

  // The Add dialog: the .torrent is larger than what the profile may fill (nothing).
  const Q = makePayload(root, 'too-big-payload', [['big.bin', 200_000]]);
  await page.click('[data-testid=add-button]');
  await page.waitForSelector('[data-testid=add-dialog]');
  assert.equal(await page.locator('[data-testid=add-space-warning]').count(), 0);
  await page.setInputFiles('[data-testid=add-file-input]', Q.torrent);
  const warn = await (await page.waitForSelector('[data-testid=add-space-warning]')).textContent();
  assert.match(warn, /These files need 195 KiB, but the profile has only 0 B to fill/);
  await page.click('[data-testid=add-submit]');
  await page.waitForSelector('[data-testid=add-dialog]', { state: 'detached' });
  const toast = page.locator('[data-testid=toast-warn]');
  await toast.waitFor();
  assert.match(await toast.textContent(), /too-big-payload needs 195\.3 KiB but .* are free in .*: it waits in the queue until there is room/);
  const r = await api('GET', `/api/torrents/${Q.hash}`);
  assert.equal(r.state, 'queued');
  assert.equal(r.reason, 'disk_space');
  // The notice stays after the passing "Added" note is gone, until dismissed.
  await waitFor('the "Added" note gone', 15, async () => (await page.locator('[data-testid=toast-info]').count()) === 0, 300);
  assert.equal(await toast.count(), 1);
  await page.click('[data-testid=toast-warn] button[aria-label=Dismiss]');
  await toast.waitFor({ state: 'detached' });
  await api('PATCH', '/api/profiles/default', { min_free_space: 0 });
  w.check();
});
