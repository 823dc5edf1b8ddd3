// The main view against a real daemon and real aria2c seeders: add by file picker and by
// pasting a magnet, progress to 100 %, the Files tab, keyboard actions, a read-only user, user
// administration, screenshots (dark, light, add dialog, phone).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  Daemon,
  Seeder,
  cleanup,
  launchBrowser,
  makePayload,
  saveScreenshot,
  tempDir,
  uiLogin,
  waitFor,
  watchPage,
} from './helpers.mjs';

let d;
let browser;
let ctx;
let page;
let watch;
let admin; // API auth of the admin
let pw;
const root = tempDir('torrents');
const seeders = [];
const A = {}; // payload added by the file picker
const B = {}; // payload added by pasting a magnet

const row = (hash) => `.tr[data-h="${hash}"]`;

async function waitProgress(hash, secs = 120) {
  // 100 % while seeding (a freshly added torrent also shows 100 % of its initial check).
  await waitFor(`torrent ${hash} to reach 100 % in the table`, secs, async () => {
    const t = await page.textContent(`${row(hash)} .c-progress`).catch(() => '');
    const seeding = await page.locator(`${row(hash)} .st.s-seeding`).count();
    return t.trim() === '100%' && seeding === 1;
  }, 300);
}

async function apiRow(hash) {
  const list = await d.api('GET', '/api/profiles/default/torrents', undefined, admin);
  return list.find((r) => r.hash === hash);
}

before(async () => {
  browser = await launchBrowser();
  d = await new Daemon({ dataDir: tempDir('data') }).start();
  pw = d.adminPassword();
  admin = await d.session('admin', pw);
  ctx = await browser.newContext({ viewport: { width: 1440, height: 860 }, colorScheme: 'dark' });
  page = await ctx.newPage();
  watch = watchPage(page);
  await uiLogin(page, d.url, 'admin', pw);
});

after(async () => {
  for (const s of seeders) s.stop();
  await browser?.close();
  await d?.stop();
  if (d) cleanup(d.dataDir);
  cleanup(root);
});

test('add a .torrent by the file picker; it completes from a local aria2c seeder', async () => {
  Object.assign(
    A,
    makePayload(root, 'picker-payload', [
      ['big.bin', 3_000_000],
      ['extras/notes.txt', 120_000],
      ['extras/sample.bin', 1_500_000],
    ]),
  );
  const s = await new Seeder(root, [A.torrent], A.dataDir).start();
  seeders.push(s);
  await page.click('[data-testid=add-button]');
  await page.waitForSelector('[data-testid=add-dialog]');
  await page.setInputFiles('[data-testid=add-file-input]', A.torrent);
  // The .torrent is decoded in the browser: its three files are listed with checkboxes.
  await page.waitForSelector('[data-testid=add-file] [data-testid=pick-file-2]');
  assert.equal(await page.locator('[data-testid=add-file] input[type=checkbox]').count(), 3);
  await page.click('details.advanced summary');
  await page.fill('[data-testid=add-peers]', s.addr);
  await page.click('[data-testid=add-submit]');
  await page.waitForSelector('[data-testid=add-dialog]', { state: 'detached' });
  await page.waitForSelector(row(A.hash));
  await waitProgress(A.hash);
  const r = await apiRow(A.hash);
  assert.equal(r.progress, 1);
});

test('the Files tab toggles a file', async () => {
  await page.click(`${row(A.hash)} .c-name`);
  await page.click('[data-testid=tab-files]');
  const box = page.locator('[data-testid=file-want-1]');
  await box.waitFor();
  assert.equal(await box.isChecked(), true);
  await box.click();
  await waitFor('file 1 unwanted in the API', 10, async () => {
    const files = await d.api('GET', `/api/torrents/${A.hash}/files`, undefined, admin);
    return files.find((f) => f.index === 1).wanted === false;
  });
  await waitFor('the checkbox to show the change', 10, async () => !(await box.isChecked()));
  await box.click();
  await waitFor('file 1 wanted again', 10, async () => {
    const files = await d.api('GET', `/api/torrents/${A.hash}/files`, undefined, admin);
    return files.every((f) => f.wanted);
  });
  await page.click('[data-testid=tab-general]');
});

test('dropping a .torrent anywhere on the page opens the add dialog with its files', async () => {
  const b64 = readFileSync(A.torrent).toString('base64');
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'dropped.torrent', { type: 'application/x-bittorrent' }));
    const target = document.querySelector('[data-testid=torrent-table]');
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, b64);
  await page.waitForSelector('[data-testid=add-dialog] [data-testid=pick-file-2]');
  assert.match(await page.textContent('[data-testid=add-file]'), /picker-payload/);
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=add-dialog]', { state: 'detached' });
});

test('paste a magnet anywhere; it completes from a local aria2c seeder', async () => {
  Object.assign(B, makePayload(root, 'magnet-payload', [['ubuntu-mini.iso', 2_500_000]]));
  const s = await new Seeder(root, [B.torrent], B.dataDir).start();
  seeders.push(s);
  const magnet = `magnet:?xt=urn:btih:${B.hash}&dn=magnet-payload&x.pe=${s.addr}`;
  // A real paste: the magnet goes to the clipboard, then Ctrl+V on the page.
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: d.url });
  await page.evaluate((m) => navigator.clipboard.writeText(m), magnet);
  await page.locator('body').click({ position: { x: 700, y: 400 } });
  await page.keyboard.press('Control+V');
  await page.waitForSelector('[data-testid=add-dialog]');
  assert.equal((await page.inputValue('[data-testid=add-magnets]')).trim(), magnet);
  await page.click('[data-testid=add-submit]');
  await page.waitForSelector('[data-testid=add-dialog]', { state: 'detached' });
  await page.waitForSelector(row(B.hash));
  await waitProgress(B.hash);
});

test('keyboard: select all, invert, pause, resume, start, remove', async () => {
  await page.locator('body').click({ position: { x: 700, y: 500 } }); // empty area: clears selection
  await page.keyboard.press('Control+A');
  assert.equal(await page.locator('.tr.sel').count(), 2);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('.tr.sel').count(), 0);
  await page.click(`${row(A.hash)} .c-name`);
  await page.keyboard.press('Control+I');
  assert.deepEqual(await page.locator('.tr.sel').evaluateAll((els) => els.map((e) => e.dataset.h)), [B.hash]);

  await page.keyboard.press('p');
  await waitFor('B paused', 15, async () => (await apiRow(B.hash)).state === 'paused');
  await page.waitForSelector(`${row(B.hash)} .st.s-paused`);
  await page.keyboard.press('r');
  await waitFor('B resumed', 15, async () => (await apiRow(B.hash)).state !== 'paused');
  await page.keyboard.press('p');
  await waitFor('B paused again', 15, async () => (await apiRow(B.hash)).state === 'paused');
  await page.keyboard.press('Space');
  await waitFor('B started with Space', 15, async () => (await apiRow(B.hash)).state !== 'paused');

  await page.keyboard.press('?');
  await page.waitForSelector('[data-testid=help-overlay]');
  assert.match(await page.textContent('[data-testid=help-overlay]'), /Invert the selection/);
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=help-overlay]', { state: 'detached' });

  await page.keyboard.press('Delete');
  await page.waitForSelector('[data-testid=remove-dialog]');
  await page.click('[data-testid=confirm-remove]');
  await page.waitForSelector(row(B.hash), { state: 'detached' });
  await waitFor('B gone from the API', 10, async () => !(await apiRow(B.hash)));
});

test('a read-only user sees no write controls', async () => {
  await d.api('POST', '/api/users', { username: 'viewer', password: 'viewer-pass-1', role: 'user', permissions: { default: 'ro' } }, admin);
  const c = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const p = await c.newPage();
    const w = watchPage(p);
    await uiLogin(p, d.url, 'viewer', 'viewer-pass-1');
    await p.waitForSelector(row(A.hash));
    assert.equal(await p.locator('[data-testid=add-button]').count(), 0, 'no Add button');
    assert.equal(await p.locator('[data-testid=bulk-start]').count(), 0, 'no bulk actions');
    assert.equal(await p.locator('.badge.ro').count(), 1, 'read-only badge');
    await p.click(`${row(A.hash)} .c-name`);
    const before = (await apiRow(A.hash)).state;
    await p.keyboard.press('p');
    await p.keyboard.press('Delete');
    assert.equal(await p.locator('[data-testid=remove-dialog]').count(), 0, 'no remove dialog');
    await p.waitForTimeout(500);
    assert.equal((await apiRow(A.hash)).state, before, 'keyboard did not change the torrent');
    await p.click('[data-testid=tab-files]');
    await p.waitForSelector('[data-testid=file-want-0]');
    assert.equal(await p.locator('[data-testid=file-want-0]').isDisabled(), true, 'file toggles disabled');
    await p.keyboard.press('Control+O');
    assert.equal(await p.locator('[data-testid=add-dialog]').count(), 0, 'Ctrl+O opens nothing');
    // Not an admin: the user menu offers tokens but no user or profile pages.
    await p.click('[data-testid=user-menu]');
    const menu = await p.textContent('.menu');
    assert.match(menu, /API tokens/);
    assert.doesNotMatch(menu, /Users|Profiles/);
    w.check();
  } finally {
    await c.close();
  }
});

test('an admin creates a user and grants a profile', async () => {
  await page.click('[data-testid=user-menu]');
  await page.click('.menu button:has-text("Users")');
  await page.waitForURL(/\/admin\/users$/);
  const form = page.locator('[data-testid=create-user]');
  await form.locator('input[name=username]').fill('bob');
  await form.locator('input[name=password]').fill('bob-password-1');
  await form.locator('button[type=submit]').click();
  await page.waitForSelector('tr[data-user=bob]');
  await page.click('[data-testid=edit-bob]');
  await page.selectOption('[data-testid=perm-default]', 'full');
  await page.click('[data-testid=save-user]');
  await page.waitForSelector('[data-testid=user-editor]', { state: 'detached' });
  await waitFor('the grant to show in the table', 10, async () => /default: full/.test(await page.textContent('tr[data-user=bob]')));
  const users = await d.api('GET', '/api/users', undefined, admin);
  assert.deepEqual(users.find((u) => u.username === 'bob').permissions, { default: 'full' });
  // external users are marked and have no password field
  await d.api('POST', '/api/users', { username: 'proxyuser', role: 'user' }, admin);
  await page.reload();
  await page.waitForSelector('tr[data-user=proxyuser]');
  assert.match(await page.textContent('tr[data-user=proxyuser]'), /external/);
  await page.click('[data-testid=edit-proxyuser]');
  assert.equal(await page.locator('[data-testid=reset-password]').count(), 0);
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=user-editor]', { state: 'detached' });
  // bob can now write to the profile
  const c = await browser.newContext();
  try {
    const p = await c.newPage();
    await uiLogin(p, d.url, 'bob', 'bob-password-1');
    await p.waitForSelector('[data-testid=add-button]');
    await p.waitForSelector(row(A.hash));
  } finally {
    await c.close();
  }
  await page.click('[data-testid=back]');
  await page.waitForSelector(row(A.hash));
});

test('an admin creates a profile and switches the table to it', async () => {
  const dir = join(root, 'movies-dir');
  mkdirSync(dir, { recursive: true });
  await page.click('[data-testid=user-menu]');
  await page.click('.menu button:has-text("Profiles")');
  await page.waitForURL(/\/admin\/profiles$/);
  await page.fill('[data-testid=create-profile] input[name=id]', 'movies');
  await page.fill('[data-testid=create-profile] input[name=name]', 'Movies');
  await page.fill('[data-testid=create-profile] input[name=download_dir]', dir);
  await page.fill('[data-testid=create-profile] input[name=max_active]', '2');
  await page.click('[data-testid=create-profile] button[type=submit]');
  await page.waitForSelector('tr[data-profile=movies]');
  // A bad directory is refused with the API's message, inline.
  await page.fill('[data-testid=create-profile] input[name=id]', 'broken');
  await page.fill('[data-testid=create-profile] input[name=download_dir]', join(root, 'does-not-exist'));
  await page.click('[data-testid=create-profile] button[type=submit]');
  await page.waitForSelector('[data-testid=create-profile] .form-error');
  await page.click('[data-testid=back]');
  await page.waitForSelector(row(A.hash));
  await page.selectOption('select.profile-switch', 'movies');
  await page.waitForSelector(row(A.hash), { state: 'detached' });
  const hash = 'feed'.repeat(10);
  await d.api('POST', '/api/profiles/movies/torrents', { magnet: `magnet:?xt=urn:btih:${hash}&dn=Movie`, paused: true }, admin);
  await page.waitForSelector(row(hash));
  await page.selectOption('select.profile-switch', 'default');
  await page.waitForSelector(row(A.hash));
  assert.equal(await page.locator(row(hash)).count(), 0);
});

test('screenshots: main view dark and light, add dialog', async () => {
  // Realistic content: a throttled seeder keeps one download in progress, a few magnets wait
  // for metadata, some are paused, labels everywhere.
  const C = makePayload(root, 'debian-13.1.0-amd64-netinst.iso', [['debian-13.1.0-amd64-netinst.iso', 24_000_000]], 16);
  const s = await new Seeder(root, [C.torrent], C.dataDir, ['--max-overall-upload-limit=300K']).start();
  seeders.push(s);
  await d.api('PATCH', `/api/torrents/${A.hash}`, { label: 'linux' }, admin);
  const names = [
    ['Big.Buck.Bunny.2008.1080p.x264', 'video', false],
    ['archlinux-2025.11.01-x86_64.iso', 'linux', false],
    ['The.Open.Source.Symphony.FLAC', 'music', true],
    ['ubuntu-24.04.3-live-server-amd64.iso', 'linux', true],
    ['Sintel.2010.4K.HDR', 'video', false],
    ['project-gutenberg-top-100-epub', 'books', true],
    ['fedora-Workstation-Live-x86_64-43', 'linux', false],
  ];
  let i = 0;
  for (const [n, label, paused] of names) {
    const h = (++i).toString(16).padStart(2, '0').repeat(20);
    await d.api('POST', '/api/profiles/default/torrents', { magnet: `magnet:?xt=urn:btih:${h}&dn=${encodeURIComponent(n)}`, label, paused }, admin);
  }
  await d.api('POST', '/api/profiles/default/torrents', { magnet: `magnet:?xt=urn:btih:${C.hash}&dn=x`, label: 'linux', peers: [s.addr] }, admin);
  // The download must be running: top of the queue.
  await d.api('PATCH', `/api/torrents/${C.hash}`, { queue: 'top' }, admin);
  await page.waitForSelector(row(C.hash));
  await page.click(`${row(C.hash)} .c-name`);
  await page.click('[data-testid=tab-general]');
  // Take the picture while the table shows a live download speed.
  await waitFor('a download speed in the table', 40, async () => {
    const speed = (await page.textContent(`${row(C.hash)} .c-dl_speed`)).trim();
    const p = parseFloat(await page.textContent(`${row(C.hash)} .c-progress`));
    return speed !== '' && p > 3;
  }, 100);
  await saveScreenshot(page, 'main-dark.png');

  await page.click('[data-testid=theme-toggle]');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'light');
  await page.click(`${row(A.hash)} .c-name`);
  await page.click('[data-testid=tab-files]');
  await page.waitForSelector('[data-testid=file-want-0]');
  await page.waitForTimeout(300);
  await saveScreenshot(page, 'main-light.png');
  await page.click('[data-testid=theme-toggle]');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');

  await page.keyboard.press('Control+O');
  await page.waitForSelector('[data-testid=add-dialog]');
  await page.setInputFiles('[data-testid=add-file-input]', A.torrent);
  await page.waitForSelector('[data-testid=pick-file-2]');
  await page.fill('[data-testid=add-magnets]', 'magnet:?xt=urn:btih:' + 'ab'.repeat(20) + '&dn=example');
  await page.uncheck('[data-testid=pick-file-1]');
  await page.click('details.advanced summary');
  await saveScreenshot(page, 'add-dialog.png');
  // A duplicate is refused by the API; the dialog says why, in plain words.
  await page.fill('[data-testid=add-magnets]', '');
  await page.click('[data-testid=add-submit]');
  const err = await page.waitForSelector('[data-testid=add-errors]');
  assert.match(await err.textContent(), /picker-payload\.torrent: .*(already|exists|duplicate)/i);
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=add-dialog]', { state: 'detached' });
  watch.check();
});

test('the phone viewport renders cards', async () => {
  const c = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, colorScheme: 'dark' });
  try {
    const p = await c.newPage();
    const w = watchPage(p);
    await uiLogin(p, d.url, 'admin', pw);
    await p.waitForSelector(`.card[data-h="${A.hash}"]`);
    assert.equal(await p.locator('.tr').count(), 0, 'no table rows on a phone');
    assert.ok((await p.locator('.card').count()) >= 3);
    await p.tap(`.card[data-h="${A.hash}"]`);
    await p.waitForSelector('.actionbar');
    await p.waitForTimeout(400);
    await saveScreenshot(p, 'phone.png');
    w.check();
  } finally {
    await c.close();
  }
});
