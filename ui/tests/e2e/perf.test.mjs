// Virtualization check with 5,000 synthetic rows (`/?synthetic=5000`, a documented dev aid
// that fills the table store with generated rows instead of the feed). Long tasks during a
// programmatic scroll are measured with PerformanceObserver('longtask') and REPORTED; only
// the DOM size is asserted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserSuite, uiLogin, watchPage } from './helpers.mjs';

const N = 5000;
const suite = browserSuite();

test(`${N} rows: only the visible rows are in the DOM; long tasks reported`, async () => {
  const { d, browser } = suite;
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await ctx.addInitScript(() => {
    window.__long = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__long.push({ start: e.startTime, dur: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  try {
    const page = await ctx.newPage();
    const w = watchPage(page);
    await uiLogin(page, d.url, 'admin', d.adminPassword());
    const t0 = Date.now();
    await page.goto(`${d.url}/?synthetic=${N}`);
    await page.waitForSelector('.tr');
    const loadMs = Date.now() - t0;
    // aria-rowcount counts the header row too.
    assert.equal(await page.getAttribute('[data-testid=torrent-table]', 'aria-rowcount'), String(N + 1));

    // Two scroll patterns, measured separately: wheel-like steps (3 rows per frame) and
    // long jumps (600 px per frame, then random positions).
    const measure = (pattern) =>
      page.evaluate(async (pattern) => {
        const el = document.querySelector('[data-testid=torrent-table]');
        const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
        el.scrollTop = 0;
        await frame();
        await frame();
        const start = performance.now();
        let maxRows = 0;
        let frames = 0;
        let worstFrame = 0;
        let prev = await frame();
        const step = async (y) => {
          el.scrollTop = y;
          const now = await frame();
          worstFrame = Math.max(worstFrame, now - prev);
          prev = now;
          frames++;
          maxRows = Math.max(maxRows, el.querySelectorAll('.tr').length);
        };
        if (pattern === 'wheel') {
          for (let i = 1; i <= 300; i++) await step(i * 66);
        } else {
          for (let y = 0; y <= el.scrollHeight; y += 600) await step(y);
          for (let i = 0; i < 40; i++) await step(Math.random() * el.scrollHeight);
        }
        const total = performance.now() - start;
        const during = window.__long.filter((t) => t.start >= start);
        return {
          frames,
          avgFrameMs: +(total / frames).toFixed(1),
          worstFrameMs: Math.round(worstFrame),
          maxRowElements: maxRows,
          longTasks: during.length,
          longTaskTotalMs: Math.round(during.reduce((a, t) => a + t.dur, 0)),
          longestTaskMs: Math.round(during.reduce((a, t) => Math.max(a, t.dur), 0)),
        };
      }, pattern);
    const wheel = await measure('wheel');
    const jumps = await measure('jumps');
    const lastVisible = await page.evaluate(async () => {
      const el = document.querySelector('[data-testid=torrent-table]');
      el.scrollTop = el.scrollHeight;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return [...el.querySelectorAll('.tr .c-queue_position')].map((c) => +c.textContent).reduce((a, b) => Math.max(a, b), 0);
    });
    // Long tasks before the scroll measurements: the page load and the synthetic per-second
    // feed updates (each re-filters and re-sorts all rows).
    const atLoad = await page.evaluate(() => window.__long.map((t) => Math.round(t.dur)).slice(0, 8));
    const result = { maxRows: Math.max(wheel.maxRowElements, jumps.maxRowElements), lastVisible };
    // Sorting 5,000 rows by a column (one click).
    const sortMs = await page.evaluate(async () => {
      const th = document.querySelector('.th[data-col=name]');
      const t = performance.now();
      th.click();
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return Math.round(performance.now() - t);
    });
    const report = { rows: N, pageLoadMs: loadMs, longTasksBeforeScrollMs: atLoad, sortByNameMs: sortMs, wheel, jumps };
    console.log('perf report (5,000 synthetic rows, headless software-rendered Chromium):');
    console.log(JSON.stringify(report, null, 2));
    assert.ok(result.maxRows > 10, 'rows are rendered');
    assert.ok(result.maxRows < 200, `far fewer row elements than ${N}: ${result.maxRows}`);
    assert.equal(result.lastVisible, N, 'the last row is reachable by scrolling');
    w.check();
  } finally {
    await ctx.close();
  }
});
