// The connection badge follows the live feed: offline when the daemon stops (SIGTERM), online
// again (with the rows back) when it starts on the same port and data dir. While offline the
// live figures are dimmed and the actions disabled with a "reconnecting" message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Daemon, browserSuite, uiLogin, watchPage } from './helpers.mjs';

const suite = browserSuite();

test('badge goes offline on SIGTERM and online after a restart', async () => {
  const { browser } = suite;
  let d = suite.d;
  const pw = d.adminPassword();
  const hash = 'c0ffee'.padEnd(40, '0');
  await d.api('POST', '/api/profiles/default/torrents', { magnet: `magnet:?xt=urn:btih:${hash}&dn=survivor`, paused: true }, await d.session('admin', pw));
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const w = watchPage(page);
    await uiLogin(page, d.url, 'admin', pw);
    await page.waitForSelector(`.tr[data-h="${hash}"]`);
    assert.equal(await page.textContent('[data-testid=conn-badge]'), 'online');

    await page.click(`.tr[data-h="${hash}"] .c-name`);
    assert.equal(await page.isDisabled('[data-testid=bulk-start]'), false);

    await d.stop('SIGTERM');
    await page.waitForSelector('[data-testid=conn-badge][data-state=offline]', { timeout: 15000 });
    // Offline does not look live: figures dimmed, actions disabled with a plain message.
    assert.match(await page.textContent('[data-testid=conn-badge]'), /offline|reconnecting/i);
    const title = await page.getAttribute('[data-testid=conn-badge]', 'title');
    assert.doesNotMatch(title, /xhr|poll|websocket/i, `plain words in the tooltip: ${title}`);
    const banner = await page.waitForSelector('[data-testid=offline-banner]', { timeout: 5000 });
    assert.match(await banner.textContent(), /reconnecting/i);
    const opacity = await page.evaluate(() => Number(getComputedStyle(document.querySelector('[data-testid=torrent-table] .tbody')).opacity));
    assert.ok(opacity < 0.8, `live figures dimmed (opacity ${opacity})`);
    for (const b of ['bulk-start', 'bulk-pause', 'bulk-remove']) {
      assert.equal(await page.isDisabled(`[data-testid=${b}]`), true, `${b} disabled while offline`);
    }
    await page.keyboard.press('Delete');
    assert.equal(await page.locator('[data-testid=remove-dialog]').count(), 0, 'no remove dialog offline');

    const again = new Daemon({ dataDir: d.dataDir, port: d.port, btPort: d.btPort });
    d = again;
    suite.d = again;
    await again.start();
    await page.waitForSelector('[data-testid=conn-badge][data-state=online]', { timeout: 20000 });
    // The page was not reloaded: the rows came back with a fresh snapshot.
    await page.waitForSelector(`.tr[data-h="${hash}"]`);
    await page.waitForSelector('[data-testid=offline-banner]', { state: 'detached' });
    await page.click(`.tr[data-h="${hash}"] .c-name`);
    assert.equal(await page.isDisabled('[data-testid=bulk-start]'), false, 'actions enabled again');
    assert.equal(new URL(page.url()).pathname, '/');
    w.check();
  } finally {
    await ctx.close();
  }
});
