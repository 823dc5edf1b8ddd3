// What a qBittorrent or Flood user reaches for on the first day: the context menu (copy
// magnet and info hash, details), queue buttons, shortcuts and drag-and-drop, columns that
// can be chosen and reordered and follow the user to another browser, the Peers tab of a real
// download, the speeds in the tab title, the phone's "more" sheet, the account page (own
// password, sessions) and the banner after a first sign-in with the generated password, empty
// states with something to do, keyboard navigation of the table. Real daemon, real aria2c.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { bencode, infoHash } from '../feed/lib/harness.mjs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { Daemon, Seeder, cleanup, launchBrowser, makePayload, requireTool, saveScreenshot, tempDir, uiLogin, waitFor, watchPage } from './helpers.mjs';

let d;
let browser;
let ctx;
let page;
let admin;
let pw;
const root = tempDir('features');
const seeders = [];
const row = (h) => `.tr[data-h="${h}"]`;
const Q = [];

async function order() {
  const list = await d.api('GET', '/api/profiles/default/torrents', undefined, admin);
  return list.sort((a, b) => a.queue_position - b.queue_position).map((r) => r.hash).filter((h) => Q.includes(h));
}

before(async () => {
  browser = await launchBrowser();
  d = await new Daemon().start();
  pw = d.adminPassword();
  admin = await d.session('admin', pw);
  for (const n of ['queue-one', 'queue-two', 'queue-three']) {
    const h = (Q.length + 1).toString(16).padStart(2, '0').repeat(20);
    Q.push(h);
    await d.api('POST', '/api/profiles/default/torrents', { magnet: `magnet:?xt=urn:btih:${h}&dn=${n}&tr=http%3A%2F%2Flocalhost%3A9%2Fannounce`, paused: true }, admin);
  }
  ctx = await browser.newContext({ viewport: { width: 1440, height: 860 }, colorScheme: 'dark' });
  page = await ctx.newPage();
});

let loggedIn = false;
beforeEach(async () => {
  if (!loggedIn) return;
  await page.goto(d.url + '/');
  await page.waitForSelector('[data-testid=conn-badge][data-state=online]');
});

after(async () => {
  for (const s of seeders) s.stop();
  await browser?.close();
  await d?.stop();
  if (d) cleanup(d.dataDir);
  cleanup(root);
});

test('first sign-in with the generated password: a banner leads to the account page', async () => {
  await uiLogin(page, d.url, 'admin', pw);
  loggedIn = true;
  const banner = await page.waitForSelector('[data-testid=password-banner]');
  assert.match(await banner.textContent(), /generated/);
  await page.click('[data-testid=password-banner] button');
  await page.waitForURL(/\/settings\/account$/);
  await page.fill('[data-testid=password-form] input[name=current]', pw);
  await page.fill('[data-testid=password-form] input[name=new]', 'my own admin password');
  await page.fill('[data-testid=password-form] input[name=again]', 'my own admin password');
  await page.click('[data-testid=password-form] button[type=submit]');
  await page.waitForSelector('[data-testid=password-changed]');
  pw = 'my own admin password';
  admin = await d.session('admin', pw);
  await page.click('[data-testid=back]');
  await page.waitForSelector(row(Q[0]));
  assert.equal(await page.locator('[data-testid=password-banner]').count(), 0, 'banner gone');
  assert.equal((await d.api('GET', '/api/me', undefined, admin)).password_change_required, false);
});

test('account page: own password with a wrong current one, sessions listed and revoked', async () => {
  await d.api('POST', '/api/users', { username: 'sam', password: 'sam-password-1', role: 'user', permissions: { default: 'full' } }, admin);
  const a = await browser.newContext();
  const b = await browser.newContext();
  try {
    const pa = await a.newPage();
    const w = watchPage(pa);
    const pb = await b.newPage();
    await uiLogin(pb, d.url, 'sam', 'sam-password-1');
    await uiLogin(pa, d.url, 'sam', 'sam-password-1');
    await pa.click('[data-testid=user-menu]');
    await pa.click('.menu button:has-text("Account")');
    await pa.waitForURL(/\/settings\/account$/);
    await pa.waitForSelector('[data-testid=sessions-table] tr[data-session]');
    assert.equal(await pa.locator('[data-testid=sessions-table] tr[data-session]').count(), 2);
    assert.match(await pa.textContent('[data-testid=sessions-table]'), /this browser/);
    await pa.fill('input[name=current]', 'not my password');
    await pa.fill('input[name=new]', 'sam-password-2');
    await pa.fill('input[name=again]', 'sam-password-2');
    await pa.click('[data-testid=password-form] button[type=submit]');
    await pa.waitForSelector('[data-testid=password-form] .form-error');
    assert.match(await pa.textContent('[data-testid=password-form] .form-error'), /current password is wrong/);
    await pa.fill('input[name=current]', 'sam-password-1');
    await pa.click('[data-testid=password-form] button[type=submit]');
    const ok = await pa.waitForSelector('[data-testid=password-changed]');
    assert.match(await ok.textContent(), /stay signed in here; 1 other session was signed out/);
    await pb.waitForURL(/\/login\?ended=1/, { timeout: 15000 });
    await waitFor('one session left', 5, async () => (await pa.locator('[data-testid=sessions-table] tr[data-session]').count()) === 1);
    // A second browser signs in again; "sign out all other sessions" ends it.
    await uiLogin(pb, d.url, 'sam', 'sam-password-2');
    await pa.reload();
    await pa.waitForSelector('[data-testid=revoke-others]');
    await pa.click('[data-testid=revoke-others]');
    await pb.waitForURL(/\/login\?ended=1/, { timeout: 15000 });
    assert.equal(await pa.evaluate(async () => (await fetch('/api/auth/me')).status), 200);
    await saveScreenshot(pa, 'account.png');
    w.check();
  } finally {
    await a.close();
    await b.close();
  }
});

test('queue: toolbar buttons, shortcuts and dragging rows', async () => {
  if (!loggedIn) {
    await uiLogin(page, d.url, 'admin', pw);
    loggedIn = true;
  }
  await page.click(`${row(Q[2])} .c-name`);
  await page.click('[data-testid=queue-top]');
  await waitFor('queue-three on top', 10, async () => (await order())[0] === Q[2]);
  await page.keyboard.press('Control+ArrowDown');
  await waitFor('queue-three one down', 10, async () => (await order())[1] === Q[2]);
  await page.keyboard.press('Control+Shift+ArrowDown');
  await waitFor('queue-three at the bottom', 10, async () => (await order())[2] === Q[2]);
  await page.keyboard.press('Control+Shift+ArrowUp');
  await waitFor('queue-three at the top again', 10, async () => (await order())[0] === Q[2]);
  // Drag queue-three below queue-two (sorted by #).
  const before = await order();
  assert.deepEqual(before, [Q[2], Q[0], Q[1]]);
  await page.waitForSelector(`${row(Q[2])}[draggable=true]`);
  // The table has caught up with the moves (ranks 1, 2, 3 as in the API).
  const rank = async (h) => (await page.textContent(`${row(h)} .c-queue_position`)).trim();
  await waitFor('the table in queue order', 10, async () => (await rank(Q[2])) === '1' && (await rank(Q[0])) === '2' && (await rank(Q[1])) === '3');
  await page.dragAndDrop(row(Q[2]), row(Q[1]), { sourcePosition: { x: 200, y: 11 }, targetPosition: { x: 200, y: 18 } });
  await waitFor("queue-three dragged to the end", 10, async () => JSON.stringify(await order()) === JSON.stringify([Q[0], Q[1], Q[2]]));
  // The # column shows ranks 1..n.
  await waitFor('ranks in the table', 5, async () => (await page.textContent(`${row(Q[2])} .c-queue_position`)).trim() === '3');
  // Two selected rows dragged together onto the top half of the first: they move as a block,
  // in their queue order.
  await page.click(`${row(Q[1])} .c-name`);
  await page.click(`${row(Q[2])} .c-name`, { modifiers: ['Control'] });
  await page.dragAndDrop(row(Q[2]), row(Q[0]), { sourcePosition: { x: 200, y: 11 }, targetPosition: { x: 200, y: 4 } });
  await waitFor('queue-two and queue-three dragged above queue-one', 10, async () => JSON.stringify(await order()) === JSON.stringify([Q[1], Q[2], Q[0]]));
  await waitFor('ranks after the block move', 5, async () => (await rank(Q[1])) === '1' && (await rank(Q[2])) === '2' && (await rank(Q[0])) === '3');
  // And back below, dropped under the last row.
  await page.dragAndDrop(row(Q[1]), row(Q[0]), { sourcePosition: { x: 200, y: 11 }, targetPosition: { x: 200, y: 18 } });
  await waitFor('the block dragged to the end', 10, async () => JSON.stringify(await order()) === JSON.stringify([Q[0], Q[1], Q[2]]));
});

test('labels: several per torrent, typed or picked, for a selection, shown as chips and filtered by any', async () => {
  const labels = async (h) => (await d.api('GET', `/api/torrents/${h}`, undefined, admin)).labels;
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const open = async (h) => {
    await page.click(`${row(h)} .c-name`, { button: 'right' });
    await page.click('[data-testid=row-menu] button:has-text("Labels")');
    await page.waitForSelector('[data-testid=label-dialog]');
  };
  await page.click(`${row(Q[0])} .c-name`);
  await open(Q[0]);
  // The text field has the focus: typed labels (commas separate them) are added by Enter.
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'label-input');
  await page.keyboard.type('Linux ISOs, 4K');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="label-pick-4K"][aria-pressed=true]');
  await page.click('[data-testid=apply-label]');
  await waitFor('both typed labels stored', 5, async () => same(await labels(Q[0]), ['Linux ISOs', '4K']));
  await page.waitForSelector('[data-testid=label-dialog]', { state: 'detached' });
  // Shown as chips in the row.
  await waitFor('two chips in the row', 5, async () => (await page.locator(`${row(Q[0])} .chip`).count()) === 2);
  // For a selection: a label some of them carry is "mixed"; turning one on adds it to all,
  // the mixed one stays as each torrent has it.
  await page.click(`${row(Q[1])} .c-name`, { modifiers: ['Control'] });
  await open(Q[1]);
  const linux = page.locator('[data-testid="label-pick-Linux ISOs"]');
  assert.equal(await linux.getAttribute('aria-pressed'), 'mixed');
  assert.match(await linux.textContent(), /Linux ISOs\s*1/);
  await linux.click();
  assert.equal(await linux.getAttribute('aria-pressed'), 'true');
  await page.click('[data-testid=apply-label]');
  await waitFor('the picked label on both', 5, async () => same(await labels(Q[1]), ['Linux ISOs']) && same(await labels(Q[0]), ['Linux ISOs', '4K']));
  // The sidebar filters by any label: 4K shows only the first torrent.
  await page.click('.sidebar .side-item:has-text("4K")');
  await waitFor('only the 4K torrent listed', 5, async () => (await page.locator('.tr[data-h]').count()) === 1);
  await page.click('.sidebar .side-item:has-text("All labels")');
  // Escape changes nothing; "Remove all" takes every label off.
  await page.click(`${row(Q[1])} .c-name`);
  await open(Q[1]);
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=label-dialog]', { state: 'detached' });
  assert.deepEqual(await labels(Q[1]), ['Linux ISOs']);
  await open(Q[1]);
  await page.click('[data-testid=label-dialog] button:has-text("Remove all")');
  await page.click('[data-testid=apply-label]');
  await waitFor('the labels removed', 5, async () => same(await labels(Q[1]), []));
  // More than 128 characters: said in the dialog, Apply disabled.
  await open(Q[1]);
  await page.fill('[data-testid=label-input]', 'x'.repeat(129));
  assert.match(await page.textContent('[data-testid=label-dialog]'), /at most 128 characters/);
  assert.equal(await page.isDisabled('[data-testid=apply-label]'), true);
  await page.keyboard.press('Escape');
  await d.api('PATCH', `/api/torrents/${Q[0]}`, { labels: [] }, admin);
});

test('context menu: copy the info hash and the magnet link, open details', async () => {
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: d.url });
  await page.click(`${row(Q[0])} .c-name`, { button: 'right' });
  await page.click('[data-testid=row-menu] button:has-text("Copy info hash")');
  await waitFor('hash in the clipboard', 5, async () => (await page.evaluate(() => navigator.clipboard.readText())) === Q[0]);
  await page.click(`${row(Q[0])} .c-name`, { button: 'right' });
  await page.click('[data-testid=row-menu] button:has-text("Copy magnet link")');
  await waitFor('magnet in the clipboard', 5, async () => {
    const m = await page.evaluate(() => navigator.clipboard.readText());
    return m.startsWith(`magnet:?xt=urn:btih:${Q[0]}`) && m.includes('tr=');
  });
  await page.click(`${row(Q[1])} .c-name`, { button: 'right' });
  await page.click('[data-testid=row-menu] button:has-text("Open details")');
  await waitFor('details of queue-two', 5, async () => (await page.textContent('.details .tabs-title')).includes('queue-two'));
});

test('columns: chosen, reordered by dragging, and kept on the server for the user', async () => {
  await page.click('[data-testid=columns-button]');
  const menu = page.locator('.cols-menu');
  await menu.locator('label:has-text("Save path") input').check();
  await menu.locator('label:has-text("ETA") input').uncheck();
  await page.keyboard.press('Escape');
  await page.waitForSelector('.th.c-save_dir');
  assert.equal(await page.locator('.th.c-eta').count(), 0);
  // Drag the Size header in front of Name.
  await page.dragAndDrop('.th.c-size', '.th.c-name');
  await waitFor('Size before Name', 5, async () => {
    const ids = await page.locator('.thead .th').evaluateAll((els) => els.map((e) => e.dataset.col));
    return ids.indexOf('size') < ids.indexOf('name');
  });
  assert.match(await page.textContent(`${row(Q[0])} .c-save_dir`), /downloads/);
  await waitFor('saved on the server', 5, async () => {
    const p = await d.api('GET', '/api/me/preferences', undefined, admin);
    return p.cols?.hidden?.includes('eta') && p.cols.order.indexOf('size') < p.cols.order.indexOf('name');
  });
  // Another browser (no local storage) gets the same columns.
  const other = await browser.newContext({ viewport: { width: 1440, height: 860 } });
  try {
    const p2 = await other.newPage();
    await uiLogin(p2, d.url, 'admin', pw);
    await p2.waitForSelector('.th.c-save_dir');
    assert.equal(await p2.locator('.th.c-eta').count(), 0);
    const ids = await p2.locator('.thead .th').evaluateAll((els) => els.map((e) => e.dataset.col));
    assert.ok(ids.indexOf('size') < ids.indexOf('name'), ids.join(','));
  } finally {
    await other.close();
  }
  // Keyboard alternative to dragging, then back to the defaults.
  await page.click('[data-testid=columns-button]');
  await page.click('.cols-menu button[aria-label="Move Size left"]');
  await page.click('.cols-menu button:has-text("Reset columns")');
  await page.keyboard.press('Escape');
  await page.waitForSelector('.th.c-eta');
});

test('keyboard: the table takes focus, arrows move a visible focus, Enter opens the details', async () => {
  await page.focus('[data-testid=torrent-table]');
  await page.keyboard.press('Home');
  const firstHash = await page.evaluate(() => document.querySelector('.tr.focus')?.dataset.h);
  assert.ok(firstHash);
  await page.keyboard.press('ArrowDown');
  const second = await page.evaluate(() => document.querySelector('.tr.focus')?.dataset.h);
  assert.notEqual(second, firstHash);
  assert.equal(await page.getAttribute('[data-testid=torrent-table]', 'aria-activedescendant'), 'r-' + second);
  // Focus through the keyboard shows an outline on the focused row.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Shift+Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.querySelector('.tr.focus')).outlineStyle);
  assert.equal(outline, 'solid', 'visible focus');
  await page.keyboard.press('Shift+ArrowUp');
  assert.equal(await page.locator('.tr.sel').count(), 2, 'Shift extends the selection');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('role')), 'tab');
});

test('a real download: Peers tab, speeds in the tab title', async () => {
  const P = makePayload(root, 'peers-payload', [['peers-payload.bin', 6_000_000]]);
  const s = await new Seeder(root, [P.torrent], P.dataDir, ['--max-overall-upload-limit=400K']).start();
  seeders.push(s);
  const form = new FormData();
  form.append('torrent', new Blob([readFileSync(P.torrent)]), 'peers.torrent');
  form.append('peers', s.addr);
  const r = await fetch(d.url + '/api/profiles/default/torrents', { method: 'POST', headers: { Cookie: admin.cookie }, body: form });
  assert.equal(r.status, 201);
  await d.api('PATCH', `/api/torrents/${P.hash}`, { queue: 'top' }, admin);
  await page.waitForSelector(row(P.hash));
  await page.click(`${row(P.hash)} .c-name`);
  await page.click('[data-testid=tab-peers]');
  // What the tab showed last, for the failure message (a CI run once timed out here).
  let seen = '';
  await waitFor('a peer downloading with a speed', 40, async () => {
    const t = await page.textContent('[data-testid=peers-table] tbody').catch(() => '');
    const flags = await page.textContent('[data-testid=peers-table] tbody td.mono').catch(() => '');
    seen = `peers: ${JSON.stringify(t)}, flags: ${JSON.stringify(flags)}, row: ${JSON.stringify(await page.textContent(row(P.hash)).catch(() => ''))}`;
    return t.includes('127.0.0.1') && /aria2/i.test(t) && /D/.test(flags) && /B\/s/.test(t);
  }, 500).catch((e) => { throw new Error(`${e.message}; ${seen}`); });
  assert.match(await page.textContent('[data-testid=peers-table] tbody'), /TCP|UTP/);
  // The seeder has every piece.
  await waitFor('the seeder at 100 %', 10, async () => /^100(\.0)?\s?%$/.test((await page.textContent('[data-testid=peer-progress]')).trim()));
  await waitFor('speeds in the title', 10, async () => /^↓ \d.* ↑ .* — pytorrentd$/.test(await page.title()));
  // Availability: one complete copy among the peers, in the details.
  await page.click('[data-testid=tab-general]');
  await waitFor('availability in the details', 10, async () => /Availability\s*1\.000/.test(await page.textContent('.details')));
  // Force reannounce from the context menu: answered 200, no error toast.
  const answered = page.waitForResponse((r) => r.url().endsWith(`/api/torrents/${P.hash}/reannounce`));
  await page.click(`${row(P.hash)} .c-name`, { button: 'right' });
  await page.click('[data-testid=row-menu] button:has-text("Force reannounce")');
  assert.equal((await answered).status(), 200);
  assert.equal(await page.locator('.toast.error, .toast:has-text("Could not")').count(), 0);
});

test('files: a video plays in the page while its torrent downloads; zip and .torrent links', async () => {
  requireTool('ffmpeg', 'ffmpeg');
  requireTool('mktorrent', 'mktorrent');
  // A 30 s VP9/Opus WebM made here (test pattern and a tone), seeded slowly.
  const dir = join(root, 'src', 'media-payload');
  mkdirSync(dir, { recursive: true });
  const clip = join(dir, 'clip.webm');
  const ff = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '30', '-c:v', 'libvpx-vp9', '-b:v', '600k', '-deadline', 'realtime', '-cpu-used', '8', '-g', '50',
    '-c:a', 'libopus', '-b:a', '48k', clip], { encoding: 'utf8' });
  assert.equal(ff.status, 0, 'ffmpeg: ' + ff.stderr);
  const size = statSync(clip).size;
  const torrent = join(root, 'media.torrent');
  const mk = spawnSync('mktorrent', ['-a', 'http://127.0.0.1:1/announce', '-l', '16', '-o', torrent, dir], { encoding: 'utf8' });
  assert.equal(mk.status, 0, 'mktorrent: ' + mk.stderr);
  // About a third of the clip per 10 s: playing must not wait for the whole file.
  const rate = Math.max(20_000, Math.round(size / 30));
  const s = await new Seeder(root, [torrent], join(root, 'src'), [`--max-overall-upload-limit=${rate}`]).start();
  seeders.push(s);
  const form = new FormData();
  form.append('torrent', new Blob([readFileSync(torrent)]), 'media.torrent');
  form.append('peers', s.addr);
  const r = await fetch(d.url + '/api/profiles/default/torrents', { method: 'POST', headers: { Cookie: admin.cookie }, body: form });
  assert.equal(r.status, 201);
  const hash = (await r.json()).added[0].hash;
  await d.api('PATCH', `/api/torrents/${hash}`, { queue: 'top' }, admin);
  await page.waitForSelector(row(hash));
  // The queue move reorders the rows under the pointer: click until the pane shows it.
  await waitFor('the media torrent in the details pane', 10, async () => {
    await page.click(`${row(hash)} .c-name`);
    return (await page.textContent('.tabs-title')) === 'media-payload';
  });
  await page.click('[data-testid=tab-files]');
  await page.waitForSelector('[data-testid=file-play-0]');
  // Links for the archive (none complete yet: disabled) and the .torrent.
  assert.equal(await page.isDisabled('.ftools button:has-text("Download as ZIP")'), true);
  assert.equal(await page.getAttribute('[data-testid=export-torrent]', 'href'), `/api/torrents/${hash}/torrent`);
  await page.click('[data-testid=file-play-0]');
  await page.waitForSelector('[data-testid=player] video');
  const progress = async () => (await d.api('GET', `/api/torrents/${hash}`, undefined, admin)).progress;
  await waitFor('the video playing past 2 s', 40, async () =>
    (await page.$eval('[data-testid=player] video', (v) => v.currentTime)) > 2);
  const p = await progress();
  assert.ok(p < 1, `the torrent was already complete (${p}) when playback reached 2 s`);
  const state = await page.$eval('[data-testid=player] video', (v) => ({ err: v.error && v.error.message, w: v.videoWidth }));
  assert.deepEqual(state, { err: null, w: 320 });
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=player]', { state: 'detached' });
});

test('files: a torrent of 10,000 files renders a window of its tree and scrolls to the end', async () => {
  const files = [];
  for (let d = 0; d < 100; d++) for (let f = 0; f < 100; f++) files.push({ length: 1024, path: [`dir-${String(d).padStart(3, '0')}`, `file-${String(f).padStart(3, '0')}.bin`] });
  const total = files.length * 1024;
  const pieces = Buffer.concat(Array.from({ length: Math.ceil(total / 16384) }, () => createHash('sha1').update(randomBytes(8)).digest()));
  const data = bencode({ info: { files, name: 'ten-thousand', 'piece length': 16384, pieces } });
  const hash = infoHash(data);
  const form = new FormData();
  form.append('torrent', new Blob([data]), 'many.torrent');
  form.append('paused', 'true');
  const r = await fetch(d.url + '/api/profiles/default/torrents', { method: 'POST', headers: { Cookie: admin.cookie }, body: form });
  assert.equal(r.status, 201, await r.text());
  await page.waitForSelector(row(hash));
  await waitFor('the big torrent in the details pane', 10, async () => {
    await page.click(`${row(hash)} .c-name`);
    return (await page.textContent('.tabs-title')) === 'ten-thousand';
  });
  await page.click('[data-testid=tab-files]');
  await page.waitForSelector('.files .frow.dir');
  const rendered = await page.locator('.files .frow').count();
  assert.ok(rendered < 150, `${rendered} rows in the DOM for 10,100 lines`);
  await page.$eval('.files', (el) => { el.scrollTop = el.scrollHeight; });
  await page.waitForSelector('.files [title="dir-099/file-099.bin"]');
  assert.ok((await page.locator('.files .frow').count()) < 150);
  await d.api('DELETE', `/api/torrents/${hash}`, undefined, admin);
});

test('share limits: set and cleared in the details pane', async () => {
  const h = Q[2];
  await waitFor('the torrent in the details pane', 10, async () => {
    await page.click(`${row(h)} .c-name`);
    return (await page.textContent('.tabs-title')) === 'queue-three';
  });
  await page.click('[data-testid=tab-general]');
  await page.fill('[data-testid=share-ratio]', '2.5');
  await page.fill('[data-testid=share-minutes]', '30');
  await page.selectOption('[data-testid=share-action]', 'remove');
  await page.click('[data-testid=share-save]');
  await waitFor('the limits stored', 5, async () => {
    const s = (await d.api('GET', `/api/torrents/${h}`, undefined, admin)).share;
    return s.ratio_limit === 2.5 && s.seed_time_limit === 30 && s.share_action === 'remove';
  });
  await page.fill('[data-testid=share-ratio]', '');
  await page.selectOption('[data-testid=share-action]', '');
  await page.click('[data-testid=share-save]');
  await waitFor('the ratio inherited again', 5, async () => {
    const s = (await d.api('GET', `/api/torrents/${h}`, undefined, admin)).share;
    return s.ratio_limit == null && s.seed_time_limit === 30 && s.share_action == null;
  });
});

test('create torrent: a folder picked on the server becomes a seeding torrent', async () => {
  const profiles = await d.api('GET', '/api/profiles', undefined, admin);
  const base = profiles.find((p) => p.id === 'default').download_dir;
  mkdirSync(join(base, 'shared', 'photos'), { recursive: true });
  writeFileSync(join(base, 'shared', 'photos', 'a.jpg'), Buffer.alloc(200_000, 7));
  writeFileSync(join(base, 'shared', 'photos', 'b.jpg'), Buffer.alloc(100_000, 9));
  await page.click('[data-testid=create-button]');
  await page.waitForSelector('[data-testid=create-dialog]');
  await page.click('[data-testid=create-picker] button[aria-label="Open shared"]');
  await page.click('[data-testid=pick-photos]');
  await page.fill('[data-testid=create-dialog] textarea >> nth=0', 'http://127.0.0.1:1/announce');
  await page.click('[data-testid=create-start]');
  await page.waitForSelector('[data-testid=created-torrent]', { timeout: 30_000 });
  const href = await page.getAttribute('[data-testid=created-torrent]', 'href');
  const hash = /torrents\/([0-9a-f]{40})\/torrent/.exec(href)[1];
  const t = await fetch(d.url + href, { headers: { Cookie: admin.cookie } });
  assert.equal(t.status, 200);
  assert.match(Buffer.from(await t.arrayBuffer()).toString('latin1'), /announce.*127\.0\.0\.1:1/);
  await page.click('[data-testid=create-dialog] button:has-text("Close")');
  await waitFor('the new torrent seeding', 30, async () => (await d.api('GET', `/api/torrents/${hash}`, undefined, admin)).state === 'seeding');
  await page.waitForSelector(row(hash));
});

test('phone: percent on cards, the "more" sheet reaches force start, recheck, queue, move', async () => {
  const dir = join(root, 'phone-target');
  mkdirSync(dir, { recursive: true });
  await d.api('POST', '/api/profiles', { id: 'elsewhere', name: 'Elsewhere', download_dir: dir, max_active_downloads: 0 }, admin);
  const c = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  try {
    const p = await c.newPage();
    const w = watchPage(p);
    await uiLogin(p, d.url, 'admin', pw);
    await p.waitForSelector(`.card[data-h="${Q[0]}"]`);
    assert.match(await p.textContent(`.card[data-h="${Q[0]}"] .card-pct`), /%$/);
    await p.tap(`.card[data-h="${Q[0]}"]`);
    await p.click('[data-testid=more-actions]');
    const sheet = p.locator('[data-testid=more-sheet]');
    for (const label of ['Force start', 'Force recheck', 'Labels', 'Queue: top', 'Queue: bottom', 'Move to Elsewhere', 'Copy magnet link']) {
      assert.equal(await sheet.locator(`button:has-text("${label}"), button[aria-label="${label}"]`).count(), 1, label);
    }
    await sheet.locator('button[aria-label="Queue: bottom"]').click();
    await waitFor('moved to the bottom from the phone', 10, async () => (await order()).at(-1) === Q[0]);
    w.check();
  } finally {
    await c.close();
  }
});

test('empty profile: the empty state offers to add a torrent', async () => {
  const dir = join(root, 'empty-profile');
  mkdirSync(dir, { recursive: true });
  await d.api('POST', '/api/profiles', { id: 'empty', name: 'Empty', download_dir: dir, max_active_downloads: 0 }, admin);
  await page.reload();
  await page.waitForSelector('[data-testid=conn-badge][data-state=online]');
  await page.selectOption('select.profile-switch', 'empty');
  const empty = await page.waitForSelector('[data-testid=empty-state]');
  assert.match(await empty.textContent(), /No torrents yet/);
  await page.click('[data-testid=empty-state] button:has-text("Add torrents")');
  await page.waitForSelector('[data-testid=add-dialog]');
  assert.equal(await page.inputValue('[data-testid=add-profile]'), 'empty');
  await page.keyboard.press('Escape');
  await page.selectOption('select.profile-switch', 'default');
});
