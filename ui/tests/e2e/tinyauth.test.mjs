// Tinyauth mode: the reverse proxy (here: the browser itself, from loopback, which is a
// trusted proxy by default) sends Remote-User; there is no login page and no logout.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon, cleanup, launchBrowser, saveScreenshot, watchPage } from './helpers.mjs';

let d;
let browser;

before(async () => {
  browser = await launchBrowser();
  d = await new Daemon({
    env: {
      PYTORRENT_AUTH_PROVIDER: 'tinyauth',
      PYTORRENT_AUTH_PROXY_AUTO_CREATE: 'true',
      PYTORRENT_AUTH_PROXY_AUTO_CREATE_ROLE: 'admin',
    },
  }).start();
});

after(async () => {
  await browser?.close();
  await d?.stop();
  if (d) cleanup(d.dataDir);
});

test('a Remote-User header signs in: no login page, no logout', async () => {
  const ctx = await browser.newContext({ extraHTTPHeaders: { 'Remote-User': 'alice' } });
  try {
    const page = await ctx.newPage();
    const w = watchPage(page);
    await page.goto(d.url + '/');
    await page.waitForSelector('[data-testid=conn-badge][data-state=online]');
    assert.equal(new URL(page.url()).pathname, '/');
    await page.click('[data-testid=user-menu]');
    const menu = await page.textContent('.menu');
    assert.match(menu, /alice/);
    assert.match(menu, /tinyauth/);
    assert.match(menu, /Users/, 'auto-created as admin');
    assert.equal(await page.locator('[data-testid=logout]').count(), 0, 'no logout action');
    // The login form is not offered.
    await page.goto(d.url + '/login');
    await page.waitForURL((u) => u.pathname === '/');
    assert.equal(await page.locator('input[name=password]').count(), 0);
    // The admin pages have no logout either.
    await page.goto(d.url + '/admin/users');
    await page.waitForSelector('tr[data-user=alice]');
    assert.match(await page.textContent('tr[data-user=alice]'), /external/);
    assert.equal(await page.locator('[data-testid=logout]').count(), 0);
    w.check();
  } finally {
    await ctx.close();
  }
});

test('without the header the page explains what is missing', async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const resp = await page.goto(d.url + '/');
    assert.equal(resp.status(), 401);
    assert.match(await page.textContent('body'), /Remote-User/);
    // The app's look, sized for phones, plain words first and the technical detail below.
    assert.equal(await page.locator('meta[name=viewport]').count(), 1, 'viewport meta');
    assert.match(await page.textContent('h1'), /not signed in/i);
    assert.match(await page.textContent('main'), /sign-in service|reverse proxy|sign in/i);
    assert.match(await page.textContent('details, .detail'), /Remote-User/);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(bg, 'rgba(0, 0, 0, 0)', 'the stylesheet loaded');
  } finally {
    await ctx.close();
  }
});

test('the not-signed-in page follows the system theme and fits a phone', async () => {
  for (const colorScheme of ['dark', 'light']) {
    const ctx = await browser.newContext({ colorScheme, viewport: { width: 360, height: 740 }, isMobile: true });
    try {
      const page = await ctx.newPage();
      const w = watchPage(page);
      await page.goto(d.url + '/');
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const [r, g, b] = bg.match(/\d+/g).map(Number);
      const lum = (r + g + b) / 3;
      assert.ok(colorScheme === 'dark' ? lum < 60 : lum > 200, `${colorScheme} background: ${bg}`);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scroll');
      await page.click('summary');
      await saveScreenshot(page, `header-auth-${colorScheme}.png`);
      w.check();
    } finally {
      await ctx.close();
    }
  }
});
