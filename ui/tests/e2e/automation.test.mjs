// Automation and history in the browser: the notification bell (live count, list, "Mark all
// as read"), browser notifications through the Notification API (recorded by a hook installed
// before the page's scripts), the live speed sparkline of the details pane, the audit log tab
// (entries for what the test did, filters, "Load more"), the Traffic page's chart after a real
// download (screenshot docs/screenshots/history.png), the backup schedule (saved, read back,
// "Back up now" writes a file into the folder) and webhooks (add, "Send test" to a local
// receiver with a signature that verifies, edit, disable, delete). Real daemon, real Chromium,
// real aria2c seeder.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { Seeder, browserSuite, makePayload, saveScreenshot, tempDir, uiLogin, waitFor, watchPage } from './helpers.mjs';

const root = tempDir('automation');
const s = browserSuite({ root, seeders: [] });
let admin;
let ctx;
let page;
let w;
let downloadDir;
const row = (h) => `.tr[data-h="${h}"]`;
const api = (method, path, body) => s.d.api(method, path, body, admin);

/** Adds a .torrent file to the default profile (multipart, as the Add dialog does). */
async function addTorrentFile(file, peers) {
  const form = new FormData();
  form.append('torrent', new Blob([readFileSync(file)]), 'x.torrent');
  if (peers) form.append('peers', peers);
  const r = await fetch(s.d.url + '/api/profiles/default/torrents', { method: 'POST', headers: { Cookie: admin.cookie }, body: form });
  const text = await r.text();
  assert.equal(r.status, 201, text);
  return JSON.parse(text).added[0];
}

/** A payload whose data is already in the default profile's folder: it completes after the
 * check. Two files, so the torrent is a folder (a one-file torrent's file sits in the folder
 * itself). */
function presentPayload(name, size) {
  const P = makePayload(join(root, name), name, [[name + '.bin', size], ['extras/readme.txt', 1000]]);
  cpSync(join(P.dataDir, name), join(downloadDir, name), { recursive: true });
  return P;
}

async function home() {
  await page.goto(s.d.url + '/');
  await page.waitForSelector('[data-testid=conn-badge][data-state=online]');
}

test('setup: admin signed in, Notification recorded by a hook', async () => {
  admin = await s.d.session('admin', s.d.adminPassword());
  downloadDir = (await api('GET', '/api/profiles')).find((p) => p.id === 'default').download_dir;
  ctx = await s.browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark', permissions: ['notifications'] });
  page = await ctx.newPage();
  // Before any page script: every Notification constructed is recorded in window.__notes.
  await page.addInitScript(() => {
    const Real = window.Notification;
    window.__notes = [];
    function Recorded(title, opts) {
      window.__notes.push({ title, body: (opts && opts.body) || '' });
      try {
        return new Real(title, opts);
      } catch {
        return {};
      }
    }
    Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
    Recorded.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Recorded;
  });
  w = watchPage(page);
  await uiLogin(page, s.d.url, 'admin', s.d.adminPassword());
});

test('bell: added and completed notices arrive live, listed newest first; "Mark all as read" clears the count', async () => {
  const before = await api('GET', '/api/me/notifications');
  assert.equal(before.unread, 0, JSON.stringify(before));
  assert.equal(await page.locator('[data-testid=bell-count]').count(), 0, 'no count while nothing is unread');
  assert.equal(await page.getAttribute('[data-testid=bell]', 'aria-label'), 'Notifications');

  const P = presentPayload('bell-payload', 300_000);
  await addTorrentFile(P.torrent);
  // Live over the feed: no reload.
  await waitFor('an unread count of 2 on the bell', 30, async () => Number(await page.textContent('[data-testid=bell-count]').catch(() => '0')) >= 2);
  const rest = await api('GET', '/api/me/notifications');
  assert.ok(rest.unread >= 2, JSON.stringify(rest));
  assert.deepEqual(rest.entries.slice(0, 2).map((e) => e.event), ['completed', 'added']);
  assert.match(await page.getAttribute('[data-testid=bell]', 'aria-label'), /^Notifications: \d+ unread$/);

  await page.click('[data-testid=bell]');
  await page.waitForSelector('[data-testid=notes-list]');
  const items = page.locator('[data-testid=notes-list] li');
  const texts = await items.allTextContents();
  assert.match(texts[0], /bell-payload is complete/);
  assert.match(texts[0], /Download completed/);
  assert.match(texts[1], /bell-payload was added to default/);
  assert.equal(await items.nth(0).getAttribute('data-event'), 'completed');
  assert.equal(await items.nth(1).getAttribute('data-event'), 'added');
  assert.equal(await page.locator('[data-testid=notes-list] li.unread').count(), rest.unread);

  await page.click('[data-testid=notes-read-all]');
  await page.waitForSelector('[data-testid=bell-count]', { state: 'detached' });
  assert.equal(await page.locator('[data-testid=notes-list] li.unread').count(), 0);
  assert.equal(await page.isDisabled('[data-testid=notes-read-all]'), true);
  assert.equal((await api('GET', '/api/me/notifications')).unread, 0);
  // Still read after a reload.
  await home();
  await page.waitForSelector('[data-testid=bell]');
  assert.equal(await page.locator('[data-testid=bell-count]').count(), 0);
  await page.keyboard.press('Escape');
});

let D; // the real download: traffic for the history
test('browser notifications: switched on in the panel, a completed download pops one naming it; the sparkline moves while it downloads', async () => {
  await page.click('[data-testid=bell]');
  await page.waitForSelector('[data-testid=notes-panel]');
  assert.equal(await page.isChecked('[data-testid=notify-browser]'), false);
  await page.check('[data-testid=notify-browser]');
  await waitFor('the switch on and remembered', 5, async () => (await page.evaluate(() => localStorage.getItem('pt.notify'))) === '1');
  assert.equal(await page.locator('[data-testid=notes-panel] .form-error').count(), 0);
  // Remembered across a reload.
  await home();
  await page.click('[data-testid=bell]');
  assert.equal(await page.isChecked('[data-testid=notify-browser]'), true);
  await page.keyboard.press('Escape');
  assert.deepEqual(await page.evaluate(() => window.__notes), []);

  // A real download from an aria2c seeder, slow enough to watch its speed.
  D = makePayload(join(root, 'dl'), 'history-payload', [['history-payload.bin', 3_000_000]]);
  const seeder = await new Seeder(join(root, 'dl'), [D.torrent], D.dataDir, ['--max-overall-upload-limit=500K']).start();
  s.seeders.push(seeder);
  await addTorrentFile(D.torrent, seeder.addr);
  await page.waitForSelector(row(D.hash));
  await page.click(`${row(D.hash)} .c-name`);
  await page.click('[data-testid=tab-general]');
  await page.waitForSelector('[data-testid=speed-spark]');
  // The sparkline (last two minutes, from the feed's row changes) shows the download.
  await waitFor('a download speed in the sparkline', 40, async () => {
    const label = await page.getAttribute('[data-testid=speed-spark]', 'aria-label');
    return /download up to [1-9][\d.]* (KiB|MiB)\/s/.test(label) && label;
  }, 300);
  const ys = (await page.getAttribute('[data-testid=speed-spark] .line-dl', 'd')).match(/[\d.]+ ([\d.]+)/g).map((p) => Number(p.split(' ')[1]));
  assert.ok(Math.min(...ys) < Math.max(...ys) - 5, `the line rises: ${Math.min(...ys)}..${Math.max(...ys)}`);

  await waitFor('a browser notification for the completed download', 60, async () => {
    const notes = await page.evaluate(() => window.__notes);
    return notes.some((n) => /history-payload/.test(n.title + n.body) && /completed/i.test(n.title));
  }, 300);
  const notes = await page.evaluate(() => window.__notes);
  const done = notes.find((n) => /completed/i.test(n.title));
  assert.equal(done.title, 'Download completed: history-payload');
  assert.equal(done.body, 'history-payload is complete');
  // "added" is routine: listed under the bell, not popped.
  assert.ok(!notes.some((n) => /added/i.test(n.title)), JSON.stringify(notes));
  seeder.stop();

  // Switched off: nothing pops any more.
  await page.click('[data-testid=bell]');
  await page.uncheck('[data-testid=notify-browser]');
  await page.keyboard.press('Escape');
  const n = notes.length;
  const Q = presentPayload('quiet-payload', 200_000);
  await addTorrentFile(Q.torrent);
  await waitFor('the quiet download completed', 30, async () => (await api('GET', '/api/me/notifications')).entries.some((e) => e.event === 'completed' && e.name === 'quiet-payload'));
  await page.waitForSelector('[data-testid=bell-count]');
  assert.equal((await page.evaluate(() => window.__notes)).length, n);
});

test('audit log: the test\'s own actions, filtered by action prefix and user, "Load more"', async () => {
  mkdirSync(join(root, 'extra'), { recursive: true });
  await api('POST', '/api/profiles', { id: 'extra', name: 'Extra', download_dir: join(root, 'extra'), max_active_downloads: 1 });
  await page.goto(s.d.url + '/admin/users');
  await page.click('[data-testid=nav-audit]');
  await page.waitForURL(/\/admin\/audit$/);
  await page.waitForSelector('[data-testid=audit-table]');
  const actions = async () => page.$$eval('[data-testid=audit-table] tbody tr', (rs) => rs.map((r) => r.dataset.action));
  const all = await actions();
  for (const a of ['torrent_add', 'profile_create', 'login']) assert.ok(all.includes(a), `${a} in ${all.join(' ')}`);
  const add = page.locator('[data-testid=audit-table] tbody tr[data-action=torrent_add]').first();
  assert.equal(await add.locator('td[data-label=User]').textContent(), 'admin');
  assert.equal(await add.locator('td[data-label=Via]').textContent(), 'api');
  assert.equal(await add.locator('td[data-label=Target]').textContent(), 'default');
  assert.match(await page.textContent('[data-testid=audit-table] tbody tr[data-action=profile_create] td[data-label=Target]'), /^extra$/);

  await page.selectOption('[data-testid=audit-action]', 'torrent_*');
  await waitFor('only torrent actions', 10, async () => {
    const a = await actions();
    return a.length > 0 && a.every((x) => x.startsWith('torrent_')) && a;
  });
  assert.equal(await page.locator('[data-testid=audit-table] tbody tr[data-action=profile_create]').count(), 0);
  // By user: nobody else did anything here.
  await page.fill('[data-testid=audit-user]', 'nobody-here');
  await page.click('[data-testid=audit-apply]');
  await page.waitForSelector('[data-testid=audit-empty]');
  assert.equal(await page.textContent('[data-testid=audit-empty]'), 'No entry matches.');
  await page.click('[data-testid=audit-clear]');
  await page.waitForSelector('[data-testid=audit-table]');
  assert.equal(await page.inputValue('[data-testid=audit-action]'), '');

  // More than a page (100) of torrent changes: "Load more" fetches the older ones.
  const h = D.hash;
  for (let i = 0; i < 105; i++) await api('PATCH', `/api/torrents/${h}`, { labels: [`l${i % 3}`] });
  await page.selectOption('[data-testid=audit-action]', 'torrent_update');
  await waitFor('a full first page', 10, async () => (await actions()).length === 100);
  assert.ok((await actions()).every((a) => a === 'torrent_update'));
  await page.click('[data-testid=audit-more]');
  await waitFor('the next page appended', 10, async () => (await actions()).length === 105);
  assert.equal(await page.locator('[data-testid=audit-more]').count(), 0, 'no more pages');
  const rest = await api('GET', '/api/audit?action=torrent_update&limit=500');
  assert.equal(rest.entries.length, 105);
  assert.match(await page.textContent('[data-testid=audit-table] tbody tr:last-child td[data-label=Detail]'), /labels/);
});

test('traffic page: the download in an SVG chart with axis units and totals, per profile; screenshot', async () => {
  // The history samples every 5 s and answers with the minute still in memory.
  await waitFor('the download in the traffic history', 30, async () => {
    const hist = await api('GET', '/api/stats/history?range=1h');
    return hist.points.reduce((a, p) => a + p.dl, 0) >= D.size * 0.95;
  }, 500);
  await home();
  await page.click('[data-testid=traffic-button]');
  await page.waitForURL(/\/traffic$/);
  await page.click('[data-testid=range-1h]');
  assert.equal(await page.getAttribute('[data-testid=range-1h]', 'aria-pressed'), 'true');
  await page.waitForSelector('[data-testid=traffic-chart] svg');
  const d = await page.getAttribute('[data-testid=chart-dl]', 'd');
  const pts = d.match(/[ML][\d.]+ [\d.]+/g);
  assert.ok(pts.length >= 59, `a point per minute over the hour, gaps as zeros: ${pts.length}`);
  const ys = pts.map((p) => Number(p.split(' ')[1]));
  assert.ok(Math.min(...ys) < Math.max(...ys) - 20, 'the download stands out of the zero line');
  const axis = await page.$$eval('[data-testid=traffic-chart] text.axis', (ts) => ts.map((t) => t.textContent));
  assert.ok(axis.some((t) => /\d (KiB|MiB)\/s$/.test(t)), `rate labels with units: ${axis.join(' | ')}`);
  assert.ok(axis.some((t) => /^\d\d:\d\d$/.test(t)), `time labels: ${axis.join(' | ')}`);
  const total = await page.textContent('[data-testid=total-dl]');
  const m = /([\d.]+) (KiB|MiB)/.exec(total);
  assert.ok(m && Number(m[1]) * (m[2] === 'MiB' ? 1048576 : 1024) >= D.size * 0.95, `downloaded total ${total}`);
  await saveScreenshot(page, 'history.png');

  // One profile: the one with the download, then one without traffic.
  await page.selectOption('[data-testid=traffic-profile]', 'default');
  await waitFor('the default profile\'s history', 10, async () => (await page.textContent('[data-testid=total-dl]')) === total);
  await page.selectOption('[data-testid=traffic-profile]', 'extra');
  await page.waitForSelector('[data-testid=traffic-empty]');
  assert.equal(await page.textContent('[data-testid=total-dl]'), '0 B');
  assert.ok(await page.locator('[data-testid=chart-dl]').count(), 'an empty range still draws its zero line');
  // Other ranges use their own buckets.
  await page.selectOption('[data-testid=traffic-profile]', '');
  await page.click('[data-testid=range-7d]');
  await waitFor('the 7-day chart', 10, async () => (await page.getAttribute('[data-testid=chart-dl]', 'd')).match(/L/g)?.length > 1000);
  assert.equal(await page.textContent('[data-testid=total-dl]'), total);
  await page.click('[data-testid=range-1h]');
});

test('backup schedule: folder and keep saved and read back; "Back up now" writes a file there', async () => {
  const dir = join(root, 'backups');
  mkdirSync(dir, { recursive: true });
  await page.goto(s.d.url + '/admin/settings');
  await page.waitForSelector('[data-testid=settings-form]');
  assert.match(await page.textContent('[data-testid=backup-status]'), /No backup has been written/);
  assert.equal(await page.isDisabled('[data-testid=backup-now]'), true, 'no folder yet');
  // Checked in the page first: nothing sent.
  const patches = [];
  const onReq = (r) => r.method() === 'PATCH' && patches.push(r.url());
  page.on('request', onReq);
  await page.fill('[data-testid=set-backup-keep]', '0');
  await page.fill('[data-testid=set-backup-dir]', 'relative/dir');
  await page.click('[data-testid=settings-save]');
  const errs = await page.textContent('[data-testid=settings-error]');
  assert.match(errs, /Backups kept: “0” must be a whole number from 1 to 365/);
  assert.match(errs, /must be an absolute path/);
  assert.deepEqual(patches, []);
  page.off('request', onReq);
  // Refused by the server: a folder that does not exist.
  await page.fill('[data-testid=set-backup-keep]', '3');
  await page.fill('[data-testid=set-backup-dir]', join(root, 'no-such-folder'));
  await page.click('[data-testid=settings-save]');
  await waitFor('the server refusing the folder', 10, async () => /backup folder/.test(await page.textContent('[data-testid=settings-error]').catch(() => '')));
  const refused = (await api('GET', '/api/settings')).backup;
  assert.equal(refused.dir ?? null, null, 'nothing changed');
  assert.equal(refused.keep, 7, 'nothing changed');

  await page.fill('[data-testid=set-backup-dir]', dir);
  await page.check('[data-testid=set-backup-enabled]');
  await page.click('[data-testid=settings-save]');
  await page.waitForSelector('[data-testid=settings-saved]:has-text("Saved")');
  assert.deepEqual((await api('GET', '/api/settings')).backup, { enabled: true, dir, keep: 3 });
  await page.reload();
  await page.waitForSelector('[data-testid=settings-form]');
  assert.equal(await page.inputValue('[data-testid=set-backup-dir]'), dir);
  assert.equal(await page.inputValue('[data-testid=set-backup-keep]'), '3');
  assert.equal(await page.isChecked('[data-testid=set-backup-enabled]'), true);

  await page.click('[data-testid=backup-now]');
  await page.waitForSelector('[data-testid=backup-file]');
  const name = (await page.textContent('[data-testid=backup-file]')).trim();
  assert.match(name, /^pytorrentd-backup-.*\.tar\.gz$/);
  await waitFor('the file in the folder', 10, () => existsSync(join(dir, name)));
  assert.deepEqual(readdirSync(dir), [name]);
  assert.deepEqual([...readFileSync(join(dir, name)).subarray(0, 2)], [0x1f, 0x8b], 'gzip');
  assert.equal((await api('GET', '/api/settings')).backup_status.last_file, name);
  // Shown again after a reload.
  await page.reload();
  await page.waitForSelector('[data-testid=backup-file]');
  assert.equal((await page.textContent('[data-testid=backup-file]')).trim(), name);
});

test('webhooks: added in the Settings page, "Send test" reaches a local receiver signed, edited, disabled, deleted', async () => {
  const got = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  try {
    await page.goto(s.d.url + '/admin/settings');
    await page.waitForSelector('[data-testid=webhooks-empty]');
    await page.click('[data-testid=webhook-add]');
    await page.waitForSelector('[data-testid=webhook-editor]');
    // A bad URL is refused in the page.
    await page.fill('[data-testid=webhook-url]', 'ftp://nope');
    await page.click('[data-testid=webhook-save]');
    assert.match(await page.textContent('[data-testid=webhook-error]'), /must be an http:\/\/ or https:\/\/ URL/);
    await page.fill('[data-testid=webhook-url]', url);
    await page.check('[data-testid=webhook-event-added]');
    await page.check('[data-testid=webhook-event-disk_space]');
    await page.fill('[data-testid=webhook-secret]', 'a-shared-secret');
    await page.click('[data-testid=webhook-save]');
    await page.waitForSelector('[data-testid=webhook-editor]', { state: 'detached' });
    const tr = page.locator('[data-testid=webhooks-table] tbody tr');
    await tr.first().waitFor();
    assert.equal(await tr.count(), 1);
    assert.equal(await tr.locator('td[data-label=Secret]').textContent(), 'set');
    assert.equal(await tr.locator('td[data-label=URL]').textContent(), url);
    assert.match(await tr.locator('td[data-label="Last delivery"]').textContent(), /nothing sent yet/);
    let [hook] = await api('GET', '/api/webhooks');
    assert.deepEqual(hook.events, ['added', 'completed', 'disk_space', 'error']);
    assert.equal(hook.has_secret, true);
    assert.equal(hook.enabled, true);

    await tr.locator('[data-testid=webhook-test]').click();
    await waitFor('the test delivered', 20, async () => /Test delivered \(HTTP 200\)/.test(await page.textContent('[data-testid=webhook-test-result]').catch(() => '')));
    const t = got.find((g) => /"event":"test"/.test(g.body));
    assert.ok(t, JSON.stringify(got));
    assert.equal(t.method, 'POST');
    assert.equal(t.url, '/hook');
    assert.equal(t.headers['content-type'], 'application/json');
    assert.equal(t.headers['x-pytorrentd-signature'], 'sha256=' + createHmac('sha256', 'a-shared-secret').update(t.body).digest('hex'));

    // Edit: fewer events, the secret kept (write-only: the field starts empty).
    await tr.locator('[data-testid=webhook-edit]').click();
    await page.waitForSelector('[data-testid=webhook-editor]');
    assert.equal(await page.inputValue('[data-testid=webhook-url]'), url);
    assert.equal(await page.inputValue('[data-testid=webhook-secret]'), '');
    assert.equal(await page.isChecked('[data-testid=webhook-event-disk_space]'), true);
    await page.uncheck('[data-testid=webhook-event-disk_space]');
    await page.click('[data-testid=webhook-save]');
    await page.waitForSelector('[data-testid=webhook-editor]', { state: 'detached' });
    await waitFor('the events changed', 10, async () => !(await tr.locator('td[data-label=Events]').textContent()).includes('disk_space'));
    [hook] = await api('GET', '/api/webhooks');
    assert.deepEqual(hook.events, ['added', 'completed', 'error']);
    assert.equal(hook.has_secret, true);
    // The last delivery (the test) is listed after the reload of the list.
    assert.match(await tr.locator('td[data-label="Last delivery"]').textContent(), /Delivered “test” \(HTTP 200\)/);

    // Disable from the list.
    await tr.locator('[data-testid=webhook-toggle]').uncheck();
    await waitFor('the hook disabled', 10, async () => (await api('GET', '/api/webhooks'))[0].enabled === false);
    assert.equal(await tr.locator('[data-testid=webhook-toggle]').isChecked(), false);

    // Delete (confirmed).
    page.once('dialog', (dlg) => dlg.accept());
    await tr.locator('[data-testid=webhook-delete]').click();
    await page.waitForSelector('[data-testid=webhooks-empty]');
    assert.deepEqual(await api('GET', '/api/webhooks'), []);
  } finally {
    server.close();
  }
  w.check();
  await ctx.close();
});
