// Speed and share limits in the browser: the Settings page (global and alternative limits,
// schedule, global share limits) saved and read back after a reload, the limits in force in
// the footer, the "turtle" switch in the top bar (and the read-only indicator of a user who is
// not an administrator, following the switch live), a torrent's own limits in the details pane
// and its optional columns, the selection dialog for speed and share limits, the profile
// editor, and bad values (explained in the page, refused by the server, nothing changed).
// Real daemon, real Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserSuite, uiLogin, waitFor, watchPage } from './helpers.mjs';

const s = browserSuite();
let admin;
let pw;
let page;
let w;
const A = 'a1'.repeat(20);
const B = 'b2'.repeat(20);
const row = (h) => `.tr[data-h="${h}"]`;
const KiB = 1024;

const api = (method, path, body) => s.d.api(method, path, body, admin);
const settings = () => api('GET', '/api/settings');
const torrent = (h) => api('GET', `/api/torrents/${h}`);

async function openSettings() {
  await page.click('[data-testid=user-menu]');
  await page.click('.menu button:has-text("Settings")');
  await page.waitForURL(/\/admin\/settings$/);
  await page.waitForSelector('[data-testid=settings-form]');
}

async function home() {
  await page.goto(s.d.url + '/');
  await page.waitForSelector('[data-testid=conn-badge][data-state=online]');
  await page.waitForSelector(row(A));
}

async function focusRow(h, name) {
  await waitFor(`${name} in the details pane`, 10, async () => {
    await page.click(`${row(h)} .c-name`);
    return (await page.textContent('.tabs-title')) === name;
  });
  await page.click('[data-testid=tab-general]');
}

test('setup: two paused torrents, admin signed in', async () => {
  pw = s.d.adminPassword();
  admin = await s.d.session('admin', pw);
  for (const [h, n] of [[A, 'limits-one'], [B, 'limits-two']]) {
    await api('POST', '/api/profiles/default/torrents', { magnet: `magnet:?xt=urn:btih:${h}&dn=${n}&tr=http%3A%2F%2Flocalhost%3A9%2Fannounce`, paused: true });
  }
  const ctx = await s.browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
  page = await ctx.newPage();
  w = watchPage(page);
  await uiLogin(page, s.d.url, 'admin', pw);
  await page.waitForSelector(row(A));
  // Nothing limited yet: no limit in the footer, the switch is off.
  assert.equal(await page.locator('[data-testid=footer-dl-limit]').count(), 0);
  assert.equal(await page.getAttribute('[data-testid=alt-speed]', 'aria-pressed'), 'false');
});

test('settings page: global limits, alternative pair, schedule days and share limits saved and shown after a reload', async () => {
  await openSettings();
  await page.fill('[data-testid=set-dl]', '2048');
  await page.fill('[data-testid=set-ul]', '512');
  await page.fill('[data-testid=set-alt-dl]', '64');
  await page.fill('[data-testid=set-alt-ul]', '32');
  await page.click('[data-testid=set-day-6]');
  assert.equal(await page.getAttribute('[data-testid=set-day-6]', 'aria-pressed'), 'false');
  await page.fill('[data-testid=set-from]', '01:30');
  await page.fill('[data-testid=set-ratio]', '2');
  await page.fill('[data-testid=set-minutes]', '90');
  await page.selectOption('[data-testid=set-action]', 'remove');
  await page.click('[data-testid=settings-save]');
  await page.waitForSelector('[data-testid=settings-saved]:has-text("Saved")');
  const st = await settings();
  assert.equal(st.speed.dl_limit, 2048 * KiB);
  assert.equal(st.speed.ul_limit, 512 * KiB);
  assert.equal(st.speed.alt_dl_limit, 64 * KiB);
  assert.equal(st.speed.alt_ul_limit, 32 * KiB);
  assert.equal(st.speed.alt_enabled, false);
  assert.deepEqual(st.speed.schedule.days, [0, 1, 2, 3, 4, 5]);
  assert.equal(st.speed.schedule.from, '01:30');
  assert.equal(st.speed.schedule.enabled, false);
  assert.equal(st.share.ratio_limit, 2);
  assert.equal(st.share.seed_time_limit, 90);
  assert.equal(st.share.share_action, 'remove');

  await page.reload();
  await page.waitForSelector('[data-testid=settings-form]');
  assert.equal(await page.inputValue('[data-testid=set-dl]'), '2048');
  assert.equal(await page.inputValue('[data-testid=set-ul]'), '512');
  assert.equal(await page.inputValue('[data-testid=set-alt-dl]'), '64');
  assert.equal(await page.inputValue('[data-testid=set-alt-ul]'), '32');
  assert.equal(await page.getAttribute('[data-testid=set-day-6]', 'aria-pressed'), 'false');
  assert.equal(await page.getAttribute('[data-testid=set-day-0]', 'aria-pressed'), 'true');
  assert.equal(await page.inputValue('[data-testid=set-from]'), '01:30');
  assert.equal(await page.inputValue('[data-testid=set-ratio]'), '2');
  assert.equal(await page.inputValue('[data-testid=set-minutes]'), '90');
  assert.equal(await page.inputValue('[data-testid=set-action]'), 'remove');

  // Back to the torrents: the footer shows the global limits in force.
  await page.click('[data-testid=back]');
  await page.waitForSelector(row(A));
  await waitFor('the download limit in the footer', 10, async () => /limit 2 MiB\/s/.test(await page.textContent('[data-testid=footer-dl]')));
  assert.match(await page.textContent('[data-testid=footer-ul-limit]'), /512 KiB\/s/);
  assert.match(await page.textContent('[data-testid=footer-alt]'), /alt\. speed off/);
});

test('bad values are explained and change nothing: settings page (client and server), details pane, selection dialog', async () => {
  const patches = [];
  page.on('request', (r) => r.method() === 'PATCH' && patches.push(r.url()));
  await openSettings();
  await page.fill('[data-testid=set-dl]', '5');
  await page.click('[data-testid=settings-save]');
  const err = await page.waitForSelector('[data-testid=settings-error]');
  assert.match(await err.textContent(), /Download limit: 5 KiB\/s is too low; the smallest limit is 16 KiB\/s/);
  assert.deepEqual(patches, [], 'nothing sent');
  assert.equal((await settings()).speed.dl_limit, 2048 * KiB);

  // A value the server refuses (sent as if the page had let it through): its message is shown
  // next to the form and the settings stay as they were.
  await page.route('**/api/settings', (route) =>
    route.request().method() === 'PATCH' ? route.continue({ postData: JSON.stringify({ speed: { dl_limit: 5 * KiB } }) }) : route.continue(),
  );
  await page.fill('[data-testid=set-dl]', '4096');
  await page.click('[data-testid=settings-save]');
  await waitFor('the server error in the page', 10, async () => /16384 to 4294967295/.test(await page.textContent('[data-testid=settings-error]').catch(() => '')));
  await page.unroute('**/api/settings');
  assert.equal((await settings()).speed.dl_limit, 2048 * KiB);

  await home();
  await focusRow(A, 'limits-one');
  patches.length = 0;
  await page.fill('[data-testid=torrent-dl-limit]', '5');
  await page.click('[data-testid=torrent-limit-save]');
  assert.match(await (await page.waitForSelector('[data-testid=torrent-limit-error]')).textContent(), /too low; the smallest limit is 16 KiB\/s/);
  await page.click(`${row(A)} .c-name`, { button: 'right' });
  await page.click('[data-testid=menu-speed-limits]');
  await page.waitForSelector('[data-testid=limits-dialog]');
  await page.fill('[data-testid=limits-ul]', '5');
  await page.click('[data-testid=apply-limits]');
  assert.match(await (await page.waitForSelector('[data-testid=limits-error]')).textContent(), /Upload limit: 5 KiB\/s is too low/);
  await page.keyboard.press('Escape');
  assert.deepEqual(patches, [], 'nothing sent');
  const t = await torrent(A);
  assert.equal(t.dl_limit, 0);
  assert.equal(t.ul_limit, 0);
});

test('a torrent\'s own limits in the details pane, in the optional columns and in the API', async () => {
  await home();
  await focusRow(A, 'limits-one');
  await page.fill('[data-testid=torrent-dl-limit]', '100');
  await page.fill('[data-testid=torrent-ul-limit]', '50');
  await page.click('[data-testid=torrent-limit-save]');
  await waitFor('the limits stored', 10, async () => {
    const t = await torrent(A);
    return t.dl_limit === 100 * KiB && t.ul_limit === 50 * KiB;
  });
  // The optional columns are hidden by default; shown from the column chooser.
  assert.equal(await page.locator(`${row(A)} .c-dl_limit`).count(), 0);
  await page.click('[data-testid=columns-button]');
  await page.click('.cols-menu label:has-text("Download limit") input');
  await page.click('.cols-menu label:has-text("Upload limit") input');
  await page.keyboard.press('Escape');
  await waitFor('the limit in the row', 10, async () => (await page.textContent(`${row(A)} .c-dl_limit`)) === '100 KiB/s');
  assert.equal(await page.textContent(`${row(A)} .c-ul_limit`), '50 KiB/s');
  assert.equal(await page.textContent(`${row(B)} .c-dl_limit`), '');
  // The column choice is stored for the user (written shortly after the change).
  await waitFor('the columns stored', 10, async () => {
    const hidden = (await api('GET', '/api/me/preferences')).cols?.hidden;
    return Array.isArray(hidden) && !hidden.includes('dl_limit') && !hidden.includes('ul_limit');
  });
  // Reloaded, the editor shows the stored values.
  await home();
  await focusRow(A, 'limits-one');
  assert.equal(await page.inputValue('[data-testid=torrent-dl-limit]'), '100');
  assert.equal(await page.inputValue('[data-testid=torrent-ul-limit]'), '50');
});

test('the alternative speeds switch in the top bar: footer, API, and a read-only indicator for a user', async () => {
  await home();
  const sw = '[data-testid=alt-speed]';
  assert.equal(await page.getAttribute(sw, 'aria-pressed'), 'false');
  assert.match(await page.getAttribute(sw, 'title'), /off \(they would be ↓ 64 KiB\/s · ↑ 32 KiB\/s\)/);
  await api('POST', '/api/users', { username: 'viewer', password: 'viewer-password-1', role: 'user', permissions: { default: 'ro' } });
  const vctx = await s.browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const v = await vctx.newPage();
    await uiLogin(v, s.d.url, 'viewer', 'viewer-password-1');
    await v.waitForSelector(`${sw}[data-on=false]`);
    assert.equal(await v.evaluate((sel) => document.querySelector(sel).tagName, sw), 'SPAN', 'not a button for a user');

    await page.click(sw);
    await waitFor('the switch on', 10, async () => (await page.getAttribute(sw, 'aria-pressed')) === 'true');
    await waitFor('the footer on the alternative limits', 10, async () => /limit 64 KiB\/s/.test(await page.textContent('[data-testid=footer-dl]')));
    assert.match(await page.textContent('[data-testid=footer-alt]'), /alt\. speed on/);
    assert.match(await page.textContent('[data-testid=footer-ul-limit]'), /32 KiB\/s/);
    let stats = await api('GET', '/api/stats');
    assert.deepEqual(stats.limits, { alt_enabled: true, dl_limit: 64 * KiB, ul_limit: 32 * KiB });
    // The user's indicator follows live (the feed's stats), and its footer too.
    await v.waitForSelector(`${sw}[data-on=true]`, { timeout: 10000 });
    await waitFor('the user\'s footer', 10, async () => /limit 64 KiB\/s/.test(await v.textContent('[data-testid=footer-dl]')));

    await page.click(sw);
    await waitFor('the switch off', 10, async () => (await page.getAttribute(sw, 'aria-pressed')) === 'false');
    await waitFor('the footer on the normal limits', 10, async () => /limit 2 MiB\/s/.test(await page.textContent('[data-testid=footer-dl]')));
    stats = await api('GET', '/api/stats');
    assert.equal(stats.limits.alt_enabled, false);
    assert.equal(stats.limits.dl_limit, 2048 * KiB);
    await v.waitForSelector(`${sw}[data-on=false]`, { timeout: 10000 });

    // Switched elsewhere (API), the admin's switch follows too.
    await api('PATCH', '/api/settings', { speed: { alt_enabled: true } });
    await waitFor('the switch on after an API change', 10, async () => (await page.getAttribute(sw, 'aria-pressed')) === 'true');
    await api('PATCH', '/api/settings', { speed: { alt_enabled: false } });
    await waitFor('the switch off after an API change', 10, async () => (await page.getAttribute(sw, 'aria-pressed')) === 'false');
  } finally {
    await vctx.close();
  }
});

test('the selection dialog sets speed and share limits on two torrents; mixed values stay', async () => {
  await home();
  await page.click(`${row(A)} .c-name`);
  await page.click(`${row(B)} .c-name`, { modifiers: ['Control'] });
  await page.click(`${row(B)} .c-name`, { button: 'right' });
  await page.click('[data-testid=menu-speed-limits]');
  await page.waitForSelector('[data-testid=limits-dialog]');
  assert.match(await page.textContent('[data-testid=limits-dialog]'), /For 2 torrents/);
  // A has 100/50 KiB/s of its own, B none: both fields are mixed and empty.
  assert.equal(await page.locator('[data-testid=mixed-dl]').count(), 1);
  assert.equal(await page.locator('[data-testid=mixed-ul]').count(), 1);
  assert.equal(await page.inputValue('[data-testid=limits-dl]'), '');
  await page.fill('[data-testid=limits-dl]', '300');
  await page.click('[data-testid=apply-limits]');
  await page.waitForSelector('[data-testid=limits-dialog]', { state: 'detached' });
  await waitFor('both download limits', 10, async () => (await torrent(A)).dl_limit === 300 * KiB && (await torrent(B)).dl_limit === 300 * KiB);
  assert.equal((await torrent(A)).ul_limit, 50 * KiB, 'mixed upload limit left as it was');
  assert.equal((await torrent(B)).ul_limit, 0, 'mixed upload limit left as it was');
  await waitFor('both rows show it', 10, async () => (await page.textContent(`${row(B)} .c-dl_limit`)) === '300 KiB/s' && (await page.textContent(`${row(A)} .c-dl_limit`)) === '300 KiB/s');

  // Opened again, the common value is shown (not mixed any more).
  await page.click(`${row(B)} .c-name`, { button: 'right' });
  await page.click('[data-testid=menu-speed-limits]');
  assert.equal(await page.inputValue('[data-testid=limits-dl]'), '300');
  assert.equal(await page.locator('[data-testid=mixed-dl]').count(), 0);
  await page.keyboard.press('Escape');

  await page.click(`${row(B)} .c-name`, { button: 'right' });
  await page.click('[data-testid=menu-share-limits]');
  await page.waitForSelector('[data-testid=limits-dialog]');
  await page.fill('[data-testid=limits-ratio]', '1.5');
  await page.selectOption('[data-testid=limits-action]', 'pause');
  await page.click('[data-testid=apply-limits]');
  await waitFor('both share limits', 10, async () => {
    const [a, b] = [await torrent(A), await torrent(B)];
    return [a, b].every((t) => t.share.ratio_limit === 1.5 && t.share.share_action === 'pause' && t.share.seed_time_limit == null);
  });
});

test('the profile editor sets the profile\'s shared speed limits and its share limits', async () => {
  await page.goto(s.d.url + '/admin/profiles');
  await page.click('[data-testid=edit-profile-default]');
  await page.waitForSelector('[data-testid=profile-editor]');
  await page.fill('[data-testid=profile-dl-limit]', '1');
  await page.click('[data-testid=save-profile]');
  assert.match(await (await page.waitForSelector('[data-testid=profile-error]')).textContent(), /too low/);
  await page.fill('[data-testid=profile-dl-limit]', '1024');
  await page.fill('[data-testid=profile-ul-limit]', '256');
  await page.fill('[data-testid=profile-ratio]', '3');
  await page.fill('[data-testid=profile-minutes]', '-1');
  await page.selectOption('[data-testid=profile-action]', 'remove_with_data');
  await page.click('[data-testid=save-profile]');
  await page.waitForSelector('[data-testid=profile-editor]', { state: 'detached' });
  const p = (await api('GET', '/api/profiles')).find((x) => x.id === 'default');
  assert.equal(p.dl_limit, 1024 * KiB);
  assert.equal(p.ul_limit, 256 * KiB);
  assert.deepEqual(p.share, { ratio_limit: 3, seed_time_limit: -1, share_action: 'remove_with_data' });
  await waitFor('the summary in the table', 10, async () => /↓ 1 MiB\/s ↑ 256 KiB\/s · ratio 3 · no time limit · then remove with data/.test(await page.textContent('tr[data-profile=default] [data-testid=profile-limits]')));
  // The stats carry the profile's limits; the footer's tooltip names them.
  assert.equal((await api('GET', '/api/stats')).profiles.find((x) => x.id === 'default').dl_limit, 1024 * KiB);
  await home();
  await waitFor('the profile limit in the footer tooltip', 10, async () => /this profile: 1 MiB\/s/.test(await page.getAttribute('[data-testid=footer-dl]', 'title')));
  // The details pane names the profile's limits next to the torrent's own.
  await focusRow(A, 'limits-one');
  assert.match(await page.textContent('[data-testid=speed-editor]'), /profile: ↓ 1 MiB\/s · ↑ 256 KiB\/s/);
  w.check();
});
