// Phone widths (360 and 390 px): no page scrolls sideways, every button is inside the
// viewport (admin tables become stacked rows; the notifications panel, the audit log, the
// Traffic page and the RSS pages too, the rule editor's buttons stay in view), the profile
// picker keeps its room next to the read-only badge. Real daemon, real Chromium with touch
// emulation.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Daemon, cleanup, launchBrowser, saveScreenshot, tempDir, uiLogin, watchPage } from './helpers.mjs';

let d;
let browser;
let admin;
let pw;
const root = tempDir('responsive');

before(async () => {
  browser = await launchBrowser();
  d = await new Daemon().start();
  pw = d.adminPassword();
  admin = await d.session('admin', pw);
  const dir = join(root, 'movies');
  mkdirSync(dir, { recursive: true });
  await d.api('POST', '/api/profiles', { id: 'movies-and-series', name: 'Movies and series archive', download_dir: dir, max_active_downloads: 2 }, admin);
  await d.api('POST', '/api/users', { username: 'a-user-with-a-long-name', password: 'long-name-password', role: 'user', permissions: { default: 'ro', 'movies-and-series': 'full' } }, admin);
  await d.api('POST', '/api/users', { username: 'viewer', password: 'viewer-password-1', role: 'user', permissions: { default: 'ro' } }, admin);
  await d.api('POST', '/api/tokens', { name: 'sonarr on the living-room box' }, admin);
  for (let i = 0; i < 3; i++) {
    const h = (i + 1).toString(16).padStart(2, '0').repeat(20);
    await d.api('POST', '/api/profiles/default/torrents', { magnet: `magnet:?xt=urn:btih:${h}&dn=a-rather-long-torrent-name-${i}-1080p.mkv`, paused: true }, admin);
  }
  // An RSS feed with a long URL nothing answers (a long error) and a rule reading it.
  const feed = await d.api('POST', '/api/rss/feeds', { url: 'http://127.0.0.1:9/api/v2.0/indexers/all/results/torznab/api?apikey=0123456789abcdef0123456789abcdef&t=search&cat=5000,5040', profile: 'movies-and-series' }, admin);
  await d.api('POST', '/api/rss/rules', { name: 'A rule with a rather long name for a phone', profile: 'movies-and-series', feeds: [feed.id], include: '^(night|day)\\.garden\\.s\\d+e\\d+\\.(1080p|2160p)', exclude: 'cam|telesync|hdtv', episodes: 'S01E01-S01E10; S02', labels: ['tv', 'series'], min_size: 100 * 1024 ** 2, max_size: 4 * 1024 ** 3 }, admin);
});

after(async () => {
  await browser?.close();
  await d?.stop();
  if (d) cleanup(d.dataDir);
  cleanup(root);
});

/** Problems on the current page: sideways scroll, buttons (partly) outside the viewport. */
async function overflow(p, w) {
  return p.evaluate((w) => {
    const out = [];
    const de = document.documentElement;
    if (de.scrollWidth > w) out.push(`page is ${de.scrollWidth}px wide in a ${w}px viewport`);
    for (const el of document.querySelectorAll('button, select, input, a')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const st = getComputedStyle(el);
      if (st.visibility === 'hidden') continue;
      if (r.right > w + 1 || r.left < -1) {
        out.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || el.name || '').trim().slice(0, 30)}" spans ${Math.round(r.left)}..${Math.round(r.right)}`);
      }
    }
    return out;
  }, w);
}

for (const width of [360, 390]) {
  test(`bug 3: no page overflows at ${width} px`, async () => {
    const ctx = await browser.newContext({ viewport: { width, height: 800 }, isMobile: true, hasTouch: true, colorScheme: 'dark' });
    try {
      const p = await ctx.newPage();
      const w = watchPage(p);
      await p.goto(d.url + '/login');
      await p.waitForSelector('input[name=username]');
      assert.deepEqual(await overflow(p, width), [], 'login page');
      await uiLogin(p, d.url, 'admin', pw);
      await p.waitForSelector('.card');
      assert.deepEqual(await overflow(p, width), [], 'main view');
      // With a selection, the action bar (six buttons and the counter) fits too.
      await p.tap('.card');
      await p.waitForSelector('.actionbar');
      assert.deepEqual(await overflow(p, width), [], 'main view with a selection');
      // The notifications panel fits the screen.
      await p.tap('[data-testid=bell]');
      await p.waitForSelector('[data-testid=notes-list]');
      assert.deepEqual(await overflow(p, width), [], 'notifications panel');
      const panel = await p.locator('[data-testid=notes-panel]').boundingBox();
      assert.ok(panel.x >= 0 && panel.x + panel.width <= width, `panel inside the viewport: ${JSON.stringify(panel)}`);
      for (const path of ['/admin/users', '/admin/profiles', '/admin/settings', '/admin/audit', '/traffic', '/rss', '/rss/rules', '/rss/history', '/settings/tokens']) {
        await p.goto(d.url + path);
        await p.waitForSelector('.admin-main section h2');
        await p.waitForLoadState('networkidle');
        await p.waitForTimeout(200);
        assert.deepEqual(await overflow(p, width), [], path);
        if (width === 390 && path === '/admin/users') await saveScreenshot(p, 'phone-admin.png');
      }
      // RSS: a feed's items below the list, the rule editor with its buttons in view.
      await p.goto(d.url + '/rss');
      await p.waitForSelector('[data-testid=feed-error]');
      await p.tap('[data-testid=feed-open]');
      await p.waitForSelector('[data-testid=feed-items]');
      assert.deepEqual(await overflow(p, width), [], 'RSS feed items');
      await p.goto(d.url + '/rss/rules');
      await p.tap('[data-testid=rule-edit]');
      await p.waitForSelector('[data-testid=rule-editor] [data-testid=rule-preview][data-busy=false]');
      assert.deepEqual(await overflow(p, width), [], 'RSS rule editor');
      const save = await p.locator('[data-testid=rule-save]').boundingBox();
      assert.ok(save && save.y + save.height <= 800, `the rule editor's Save button in view: ${JSON.stringify(save)}`);
      await p.tap('[data-testid=rule-editor] .modal-foot .btn:not(.primary)');
      // The log out button is reachable on the admin pages.
      const out = await p.locator('[data-testid=logout]').boundingBox();
      assert.ok(out && out.x + out.width <= width, 'Log out inside the viewport');
      w.check();
    } finally {
      await ctx.close();
    }
  });
}

test('bug 9: on a phone the profile picker is not cut by the read-only badge', async () => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true });
  try {
    const p = await ctx.newPage();
    await uiLogin(p, d.url, 'a-user-with-a-long-name', 'long-name-password');
    await p.selectOption('select.profile-switch', 'default');
    await p.waitForSelector('.badge.ro');
    const sel = await p.locator('select.profile-switch').boundingBox();
    const badge = await p.locator('.badge.ro').boundingBox();
    assert.ok(sel.width >= 150, `the picker keeps room for a name (${sel.width}px)`);
    assert.ok(badge.x >= sel.x + sel.width - 1 || badge.y >= sel.y + sel.height - 1, 'badge does not cover the picker');
    assert.ok(badge.x + badge.width <= 390, 'badge inside the viewport');
    assert.deepEqual(await overflow(p, 390), []);
  } finally {
    await ctx.close();
  }
});
