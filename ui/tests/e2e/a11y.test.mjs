// Accessibility with axe-core (pinned in package-lock, evaluated in the page): no serious or
// critical violation on the login page, the main view, the Add dialog, the details tabs, the
// remove dialog, the label and limits dialogs, the trackers tab's add and edit forms, the
// notifications panel, the admin pages (settings with its webhook editor, the audit log, the
// profile editor too), the Traffic page, the RSS pages (a feed in error and its items, the feed
// and rule editors, the rule's preview and the server's refusal) and the account page, in the
// dark and the light theme, on a desktop and a phone. Real daemon, real Chromium.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon, axeViolations, cleanup, launchBrowser, uiLogin, watchPage } from './helpers.mjs';

let d;
let browser;
let admin;
let pw;
const hashes = [];

before(async () => {
  browser = await launchBrowser();
  d = await new Daemon().start();
  pw = d.adminPassword();
  admin = await d.session('admin', pw);
  const names = [['debian-13.1.0-amd64-netinst.iso', 'linux', false], ['Big.Buck.Bunny.1080p', 'video', true], ['ubuntu-24.04-server.iso', null, true]];
  for (const [i, [n, label, paused]] of names.entries()) {
    const h = (i + 10).toString(16).padStart(2, '0').repeat(20);
    hashes.push(h);
    await d.api('POST', '/api/profiles/default/torrents', { magnet: `magnet:?xt=urn:btih:${h}&dn=${n}&tr=http%3A%2F%2Flocalhost%3A9%2Fannounce`, label, paused }, admin);
  }
  await d.api('POST', '/api/users', { username: 'viewer', password: 'viewer-password-1', role: 'user', permissions: { default: 'ro' } }, admin);
  await d.api('POST', '/api/tokens', { name: 'script' }, admin);
  await d.api('POST', '/api/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['completed', 'error'], secret: 'a-secret' }, admin);
  // An RSS feed nothing answers (its error shows) and a rule reading it.
  const feed = await d.api('POST', '/api/rss/feeds', { url: 'http://127.0.0.1:9/feed.xml', profile: 'default', name: 'Dead indexer' }, admin);
  await d.api('POST', '/api/rss/rules', { name: 'Night Garden', profile: 'default', feeds: [feed.id], include: 'night\\.garden', episodes: 'S01', labels: ['tv'], max_size: 4 * 1024 ** 3 }, admin);
});

after(async () => {
  await browser?.close();
  await d?.stop();
  if (d) cleanup(d.dataDir);
});

async function check(page, what, found) {
  const v = await axeViolations(page);
  if (v.length) found.push(`${what}:\n  ${v.join('\n  ')}`);
}

for (const theme of ['dark', 'light']) {
  test(`axe: no serious or critical violations, ${theme} theme`, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 }, colorScheme: theme });
    const found = [];
    try {
      const page = await ctx.newPage();
      const w = watchPage(page);
      await page.goto(d.url + '/login');
      await page.waitForSelector('input[name=username]');
      assert.equal(await page.getAttribute('html', 'data-theme'), theme);
      await check(page, 'login', found);
      await uiLogin(page, d.url, 'admin', pw);
      await page.waitForSelector(`.tr[data-h="${hashes[0]}"]`);
      await check(page, 'main view', found);
      // Icon-only buttons have a name and a tooltip that shows on hover and on keyboard focus.
      const bare = await page.evaluate(() =>
        [...document.querySelectorAll('.topbar button, .thead button, .tabs button')]
          .filter((b) => !b.textContent.trim() && (!b.getAttribute('aria-label') || !b.dataset.tip))
          .map((b) => b.outerHTML.slice(0, 120)),
      );
      assert.deepEqual(bare, [], 'icon-only buttons without a name or tooltip');
      await page.hover('[data-testid=theme-toggle]');
      const tip = await page.evaluate(() => getComputedStyle(document.querySelector('[data-testid=theme-toggle]'), '::after').content);
      assert.equal(tip, '"Toggle theme"', 'visible tooltip');
      await page.click(`.tr[data-h="${hashes[0]}"] .c-name`);
      for (const tab of ['general', 'files', 'peers', 'trackers']) {
        await page.click(`[data-testid=tab-${tab}]`);
        await page.waitForTimeout(200);
        await check(page, `details: ${tab}`, found);
      }
      await page.click('[data-testid=tracker-add-open]');
      await page.waitForSelector('[data-testid=tracker-add-form]');
      await check(page, 'details: trackers, add form', found);
      await page.click('[data-testid=trackers-table] [data-testid=tracker-edit]');
      await page.waitForSelector('[data-testid=tracker-edit-input]');
      await check(page, 'details: trackers, editing a URL', found);
      await page.keyboard.press('Escape');
      await page.click(`.tr[data-h="${hashes[0]}"] .c-name`, { button: 'right' });
      await page.waitForSelector('[data-testid=row-menu]');
      await check(page, 'row menu', found);
      await page.keyboard.press('Escape');
      await page.click('[data-testid=columns-button]');
      await page.waitForSelector('.cols-menu');
      await check(page, 'column chooser', found);
      await page.keyboard.press('Escape');
      await page.click('[data-testid=add-button]');
      await page.waitForSelector('[data-testid=add-dialog]');
      await page.click('details.advanced summary');
      await check(page, 'add dialog', found);
      await page.keyboard.press('Escape');
      await page.click(`.tr[data-h="${hashes[0]}"] .c-name`);
      await page.keyboard.press('Delete');
      await page.waitForSelector('[data-testid=remove-dialog]');
      await check(page, 'remove dialog', found);
      await page.keyboard.press('Escape');
      await page.click(`.tr[data-h="${hashes[0]}"] .c-name`, { button: 'right' });
      await page.click('[data-testid=row-menu] button:has-text("Labels")');
      await page.waitForSelector('[data-testid=label-dialog]');
      await check(page, 'label dialog', found);
      await page.keyboard.press('Escape');
      for (const kind of ['speed', 'share']) {
        await page.click(`.tr[data-h="${hashes[0]}"] .c-name`, { button: 'right' });
        await page.click(`[data-testid=menu-${kind}-limits]`);
        await page.waitForSelector('[data-testid=limits-dialog]');
        await check(page, `${kind} limits dialog`, found);
        await page.keyboard.press('Escape');
      }
      await page.keyboard.press('?');
      await page.waitForSelector('[data-testid=help-overlay]');
      await check(page, 'shortcuts', found);
      await page.keyboard.press('Escape');
      await page.click('[data-testid=bell]');
      await page.waitForSelector('[data-testid=notes-list]');
      await check(page, 'notifications panel', found);
      await page.keyboard.press('Escape');
      for (const path of ['/admin/users', '/admin/profiles', '/admin/settings', '/admin/audit', '/traffic', '/rss', '/rss/rules', '/rss/history', '/settings/tokens', '/settings/account']) {
        await page.goto(d.url + path);
        await page.waitForSelector('.admin-main section h2');
        await page.waitForLoadState('networkidle');
        await check(page, path, found);
      }
      await page.goto(d.url + '/admin/users');
      await page.click('[data-testid=edit-viewer]');
      await page.waitForSelector('[data-testid=user-editor]');
      await check(page, 'user editor', found);
      await page.keyboard.press('Escape');
      await page.goto(d.url + '/admin/profiles');
      await page.click('[data-testid=edit-profile-default]');
      await page.waitForSelector('[data-testid=profile-editor]');
      await check(page, 'profile editor', found);
      await page.keyboard.press('Escape');
      await page.goto(d.url + '/admin/settings');
      await page.click('[data-testid=webhook-edit]');
      await page.waitForSelector('[data-testid=webhook-editor]');
      await check(page, 'webhook editor', found);
      await page.keyboard.press('Escape');
      await page.goto(d.url + '/rss');
      await page.waitForSelector('[data-testid=feed-error]');
      await page.click('[data-testid=feed-open]');
      await page.waitForSelector('[data-testid=feed-items-empty]');
      await check(page, 'RSS feed with an error, its items', found);
      await page.click('[data-testid=feed-edit]');
      await page.waitForSelector('[data-testid=feed-editor]');
      await check(page, 'RSS feed editor', found);
      await page.keyboard.press('Escape');
      await page.goto(d.url + '/rss/rules');
      await page.click('[data-testid=rule-edit]');
      await page.waitForSelector('[data-testid=rule-editor] [data-testid=rule-preview][data-busy=false]');
      await check(page, 'RSS rule editor with its preview', found);
      await page.fill('[data-testid=rule-include]', '(night');
      await page.waitForSelector('[data-testid=preview-error]');
      await page.click('[data-testid=rule-save]');
      await page.waitForSelector('[data-testid=rule-error]');
      await check(page, 'RSS rule editor refused by the server', found);
      w.check();
    } finally {
      await ctx.close();
    }
    assert.deepEqual(found, [], found.join('\n'));
  });
}

test('axe: the phone layout, dark and light', async () => {
  const found = [];
  for (const theme of ['dark', 'light']) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, colorScheme: theme });
    try {
      const page = await ctx.newPage();
      await uiLogin(page, d.url, 'admin', pw);
      await page.waitForSelector(`.card[data-h="${hashes[0]}"]`);
      await check(page, `${theme} cards`, found);
      await page.tap('[data-testid=bell]');
      await page.waitForSelector('[data-testid=notes-list]');
      await check(page, `${theme} notifications panel`, found);
      await page.keyboard.press('Escape');
      await page.tap(`.card[data-h="${hashes[0]}"]`);
      await page.waitForSelector('.actionbar');
      await page.click('[data-testid=more-actions]');
      await page.waitForSelector('[data-testid=more-sheet]');
      await check(page, `${theme} more sheet`, found);
      await page.click('[data-testid=more-sheet] .cancel');
      await page.goto(d.url + '/admin/users');
      await page.waitForSelector('.admin-main section h2');
      await check(page, `${theme} admin users`, found);
      await page.goto(d.url + '/rss');
      await page.waitForSelector('[data-testid=feeds-table]');
      await page.tap('[data-testid=feed-open]');
      await page.waitForSelector('[data-testid=feed-items]');
      await check(page, `${theme} RSS feeds`, found);
      await page.goto(d.url + '/rss/rules');
      await page.tap('[data-testid=rule-edit]');
      await page.waitForSelector('[data-testid=rule-editor] [data-testid=rule-preview][data-busy=false]');
      await check(page, `${theme} RSS rule editor`, found);
    } finally {
      await ctx.close();
    }
  }
  assert.deepEqual(found, [], found.join('\n'));
});
