// Login page against a real daemon (local provider): log in and out, wrong password, ban.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Daemon, browserSuite, cleanup, uiLogin, watchPage } from './helpers.mjs';

const suite = browserSuite();

test('log in with the password from the log, then log out', async () => {
  const { d, browser } = suite;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const w = watchPage(page);
  await uiLogin(page, d.url, 'admin', d.adminPassword());
  assert.equal(new URL(page.url()).pathname, '/');
  await page.click('[data-testid=user-menu]');
  await page.click('[data-testid=logout]');
  await page.waitForURL(/\/login$/);
  // The session is gone: the main page sends us back to the login form.
  await page.goto(d.url + '/');
  await page.waitForURL(/\/login$/);
  w.check();
  await ctx.close();
});

test('a wrong password shows a plain message', async () => {
  const { d, browser } = suite;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(d.url + '/login');
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', 'definitely-wrong');
  await page.click('button[type=submit]');
  const msg = await page.waitForSelector('[data-testid=login-error]');
  assert.match(await msg.textContent(), /Wrong username or password/);
  assert.match(page.url(), /\/login$/);
  await ctx.close();
});

test('a ban shows the Retry-After seconds', async () => {
  const { d, browser } = suite;
  const banned = await new Daemon({
    env: { PYTORRENT_LOGIN_MAX_FAILURES: '2', PYTORRENT_LOGIN_BAN_SECONDS: '120' },
  }).start();
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(banned.url + '/login');
    let text = '';
    for (let i = 0; i < 4 && !/Try again/.test(text); i++) {
      await page.fill('input[name=username]', 'admin');
      await page.fill('input[name=password]', 'wrong-' + i);
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=login-error]');
      await page.waitForFunction(() => !document.querySelector('button[type=submit]').disabled);
      text = await page.textContent('[data-testid=login-error]');
    }
    assert.match(text, /Too many failed logins.*Try again in \d+ seconds/);
    const secs = Number(/in (\d+) seconds/.exec(text)[1]);
    assert.ok(secs > 60 && secs <= 120, `seconds from Retry-After: ${secs}`);
  } finally {
    await ctx.close();
    await banned.stop();
    cleanup(banned.dataDir);
  }
});
