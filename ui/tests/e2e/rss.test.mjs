// RSS in the browser (README "RSS"): a feed served by a local HTTP server in this test (the
// showRSS-style fixture tests/it/fixtures/rss/showrss.xml, its enclosures small valid
// .torrent files made here) is added through the dialog and its items listed; a rule made in
// the dialog (include, exclude, episodes, maximum size, labels, paused) previews the right
// titles live, shows the server's refusal of a bad pattern, and once saved grabs its items
// into the torrent list (labelled, paused) and the grab history, the feed's items naming the
// rule; the edited rule's preview marks what it grabbed. A feed answering 500 shows its error;
// a feed is deleted (confirmed); a read-only user sees everything and no edit control.
// Screenshot docs/screenshots/rss.png. Real daemon, real Chromium.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, browserSuite, saveScreenshot, uiLogin, waitFor, watchPage } from './helpers.mjs';

const s = browserSuite();
let admin;
let ctx;
let page;
let w;
const api = (method, path, body) => s.d.api(method, path, body, admin);
const row = (h) => `.tr[data-h="${h}"]`;

// ---------------------------------------------------------------- the feed server

/** Bencodes strings, Buffers, integers, lists and dictionaries (keys sorted). */
function benc(v) {
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(v.length + ':'), v]);
  if (typeof v === 'string') return benc(Buffer.from(v));
  if (typeof v === 'number') return Buffer.from(`i${v}e`);
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(benc), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [benc(k), benc(v[k])]), Buffer.from('e')]);
}

/** A small valid single-file .torrent named `name` (made-up piece hashes), and its info hash. */
function makeTorrent(name) {
  const length = 3 * 16384 + 77;
  const info = benc({ length, name, 'piece length': 16384, pieces: randomBytes(20 * 4) });
  const bytes = Buffer.concat([Buffer.from('d8:announce'), benc('http://127.0.0.1:9/announce'), Buffer.from('4:info'), info, Buffer.from('e')]);
  return { bytes, hash: createHash('sha1').update(info).digest('hex') };
}

// The fixture's items: title → the .torrent its enclosure names.
const ITEMS = {
  'Night.Garden.S01E05.2160p.WEB.h265-GRP': 'ng-s01e05',
  'Night.Garden.S01E03.720p.HDTV.x264-GRP': 'ng-s01e03-720p',
  'Night.Garden.S01E02.REPACK.1080p.WEB.h264-GRP': 'ng-s01e02-repack',
  'Night.Garden.S01E02.1080p.WEB.h264-GRP': 'ng-s01e02',
  'Night.Garden.S02E01.1080p.WEB.h264-GRP': 'ng-s02e01',
  'Day.Garden.S01E01.1080p.WEB.h264-GRP': 'dg-s01e01',
  'Night.Garden.S01E01.1080p.WEB.h264-GRP': 'ng-s01e01',
};
const torrents = new Map(); // file stem → { bytes, hash }
for (const [title, stem] of Object.entries(ITEMS)) torrents.set(stem, makeTorrent(title + '.mkv'));
const hashOf = (title) => torrents.get(ITEMS[title]).hash;
const fetched = []; // paths the daemon asked for

let base = '';
let doc = '';
const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  fetched.push(path);
  const t = path.startsWith('/t/') && torrents.get(path.slice(3).replace(/\.torrent$/, ''));
  if (t) {
    res.writeHead(200, { 'Content-Type': 'application/x-bittorrent' });
    res.end(t.bytes);
  } else if (path === '/showrss.xml') {
    res.writeHead(200, { 'Content-Type': 'application/rss+xml; charset=utf-8' });
    res.end(doc);
  } else if (path === '/broken.xml') {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('indexer down');
  } else {
    res.writeHead(404);
    res.end();
  }
});

before(async () => {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  doc = readFileSync(join(ROOT, 'tests/it/fixtures/rss/showrss.xml'), 'utf8').replaceAll('{{BASE}}', base).replace('<!--NEW-->', '');
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

// ---------------------------------------------------------------- helpers

const feedRow = (name) => `[data-testid=feeds-table] tr:has([data-testid=feed-name]:text-is("${name}"))`;
const texts = (sel) => page.locator(sel).allTextContents();
const sorted = (a) => [...a].map((x) => x.trim()).sort();

async function openRss(tab = 'feeds') {
  await page.goto(s.d.url + (tab === 'feeds' ? '/rss' : '/rss/' + tab));
  await page.waitForSelector(`[data-testid=rss-${tab}]`);
}

/** Fills the Add feed dialog and saves it. */
async function addFeed(url, name) {
  await page.click('[data-testid=feed-add]');
  await page.waitForSelector('[data-testid=feed-editor]');
  assert.equal(await page.inputValue('[data-testid=feed-minutes]'), '30', 'refresh every 30 minutes by default');
  assert.deepEqual(await page.locator('[data-testid=feed-profile] option').evaluateAll((o) => o.map((x) => x.value)), ['default']);
  await page.fill('[data-testid=feed-url]', url);
  await page.fill('[data-testid=feed-name-input]', name);
  await page.fill('[data-testid=feed-minutes]', '60');
  await page.click('[data-testid=feed-save]');
  await page.waitForSelector('[data-testid=feed-editor]', { state: 'detached' });
}

/** The preview's titles once it has answered for the form as it is. */
async function previewTitles(want) {
  let last;
  await waitFor(`the preview to list ${JSON.stringify(want)}`, 15, async () => {
    if ((await page.getAttribute('[data-testid=rule-preview]', 'data-busy')) !== 'false') return false;
    last = sorted(await texts('[data-testid=preview-title]'));
    return JSON.stringify(last) === JSON.stringify(sorted(want));
  });
  return last;
}

// ---------------------------------------------------------------- tests

const RULE = 'Night Garden S1';
const WANTED = ['Night.Garden.S01E01.1080p.WEB.h264-GRP', 'Night.Garden.S01E02.1080p.WEB.h264-GRP', 'Night.Garden.S01E02.REPACK.1080p.WEB.h264-GRP'];
const GRABBED = ['Night.Garden.S01E01.1080p.WEB.h264-GRP', 'Night.Garden.S01E02.1080p.WEB.h264-GRP'];

test('setup: admin signed in', async () => {
  admin = await s.d.session('admin', s.d.adminPassword());
  ctx = await s.browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'dark' });
  page = await ctx.newPage();
  w = watchPage(page);
  await uiLogin(page, s.d.url, 'admin', s.d.adminPassword());
});

test('feeds: the top bar leads to the RSS page; a feed added in the dialog is fetched and its items listed', async () => {
  await page.click('[data-testid=rss-button]');
  await page.waitForURL((u) => u.pathname === '/rss');
  await page.waitForSelector('[data-testid=feeds-empty]');
  await addFeed(base + '/showrss.xml', 'Night Garden');
  const r = feedRow('Night Garden');
  // Fetched in the background: the page looks again until it has been.
  await waitFor('the feed fetched, 7 items', 20, async () => (await page.textContent(`${r} [data-testid=feed-count]`)) === '7');
  assert.equal((await page.textContent(`${r} [data-testid=feed-status]`)).trim(), 'OK');
  assert.equal(await page.locator(`${r} [data-testid=feed-error]`).count(), 0);
  assert.match(await page.textContent(`${r} [data-testid=feed-last]`), /just now/);
  assert.match(await page.textContent(r), /in 1 h/, 'next fetch in an hour');
  assert.equal(await page.isChecked(`${r} [data-testid=feed-toggle]`), true);
  const [feed] = await api('GET', '/api/rss/feeds');
  assert.equal(feed.refresh_minutes, 60);
  assert.equal(feed.name, 'Night Garden');
  assert.equal(feed.title, 'showRSS: feed for Night Garden');

  // Its items, newest first, with sizes; nothing grabbed yet.
  await page.click(`${r} [data-testid=feed-open]`);
  await page.waitForSelector('[data-testid=feed-items] tbody tr');
  assert.equal(await page.getAttribute(`${r} [data-testid=feed-open]`, 'aria-expanded'), 'true');
  const titles = await texts('[data-testid=feed-items] [data-testid=item-title]');
  assert.deepEqual(titles.map((t) => t.trim()), Object.keys(ITEMS));
  const first = page.locator('[data-testid=feed-items] tbody tr').first();
  assert.match(await first.textContent(), /40\.0 GiB/);
  assert.deepEqual(sorted(await texts('[data-testid=feed-items] [data-testid=item-grab]')), Array(7).fill('–'));
  // Closed with its button, opened again with the keyboard.
  await page.click('[data-testid=feed-items-close]');
  await page.waitForSelector('[data-testid=feed-items]', { state: 'detached' });
  await page.focus(`${r} [data-testid=feed-open]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=feed-items] tbody tr');
  w.check();
});

test('rules: the dialog previews live, shows the server refusing a bad pattern, and the saved rule grabs into the torrent list and the history', async () => {
  await page.click('[data-testid=nav-rss-rules]');
  await page.waitForURL((u) => u.pathname === '/rss/rules');
  await page.waitForSelector('[data-testid=rules-empty]');
  await page.click('[data-testid=rule-add]');
  await page.waitForSelector('[data-testid=rule-editor]');
  const [feed] = await api('GET', '/api/rss/feeds');
  assert.equal(await page.isChecked(`[data-testid=rule-feed-${feed.id}]`), true, 'the only feed is chosen');
  assert.equal(await page.isChecked('[data-testid=rule-only-new]'), true, 'only new episodes by default');
  // With no pattern yet the preview shows every item of the feed.
  await previewTitles(Object.keys(ITEMS));
  await page.fill('[data-testid=rule-name-input]', RULE);
  await page.fill('[data-testid=rule-include]', '^night\\.garden\\.');
  await previewTitles(Object.keys(ITEMS).filter((t) => t.startsWith('Night.')));
  // A pattern the server cannot read: the preview says why, and so does Save.
  await page.fill('[data-testid=rule-exclude]', '(720p');
  await waitFor('the preview to show the server refusing the pattern', 15, async () => /regular expression/i.test(await page.textContent('[data-testid=preview-summary]')));
  assert.equal(await page.locator('[data-testid=preview-title]').count(), 0);
  await page.click('[data-testid=rule-save]');
  await waitFor('the refusal next to the form', 10, async () => /exclude/i.test(await page.textContent('[data-testid=rule-error]')));
  assert.equal(await page.isVisible('[data-testid=rule-editor]'), true, 'the dialog stays open');
  assert.deepEqual(await api('GET', '/api/rss/rules'), []);
  // A size the page cannot read is explained before anything is sent.
  await page.fill('[data-testid=rule-exclude]', '720p');
  await page.fill('[data-testid=rule-max]', 'ten');
  await waitFor('the size explained', 5, async () => /Maximum size: “ten” is not a number of GiB/.test(await page.textContent('[data-testid=preview-summary]')));
  await page.fill('[data-testid=rule-max]', '10');
  assert.equal(await page.inputValue('[data-testid=rule-max-unit]'), 'GiB');
  await page.fill('[data-testid=rule-episodes]', 'S01E01-S01E10');
  await page.fill('[data-testid=rule-labels]', 'tv');
  await page.check('[data-testid=rule-paused]');
  // 720p excluded, S02 and the 40 GiB 2160p out of range: the two S01E02 and S01E01.
  await previewTitles(WANTED);
  assert.deepEqual(sorted(await page.locator('[data-testid=preview-list] li').evaluateAll((l) => l.map((x) => x.dataset.grabbed))), ['false', 'false', 'false']);
  assert.match(await page.textContent('[data-testid=preview-summary]'), /^3 items match now, 1 skipped \(episode taken\)\.$/);
  // "Only new episodes": the repack comes after the first S01E02 and is marked skipped.
  assert.deepEqual(
    await page.$$eval('[data-testid=preview-list] li[data-skipped=true] [data-testid=preview-title]', (els) => els.map((e) => e.textContent)),
    ['Night.Garden.S01E02.REPACK.1080p.WEB.h264-GRP'],
  );
  await page.click('[data-testid=rule-save]');
  await page.waitForSelector('[data-testid=rule-editor]', { state: 'detached' });
  await page.waitForSelector('[data-testid=rules-table]');
  assert.equal((await page.textContent('[data-testid=rules-table] [data-testid=rule-name]')).trim(), RULE);
  const [rule] = await api('GET', '/api/rss/rules');
  assert.equal(rule.include, '^night\\.garden\\.');
  assert.equal(rule.exclude, '720p');
  assert.equal(rule.episodes, 'S01E01-S01E10');
  assert.equal(rule.max_size, 10 * 1024 ** 3);
  assert.equal(rule.min_size ?? null, null);
  assert.deepEqual(rule.labels, ['tv']);
  assert.equal(rule.paused, true);
  assert.equal(rule.only_new, true);
  assert.equal(rule.profile, 'default');

  // The grabs show up in the rules list and the torrent list: S01E01 and the first S01E02
  // (only new episodes: not the repack).
  await waitFor('2 grabbed in the rules list', 40, async () => /^2/.test((await page.textContent('[data-testid=rule-grabbed]')).trim()));
  await page.click('[data-testid=back]');
  for (const t of GRABBED) await page.waitForSelector(row(hashOf(t)), { timeout: 20_000 });
  assert.equal(await page.locator(row(hashOf('Night.Garden.S01E02.REPACK.1080p.WEB.h264-GRP'))).count(), 0);
  const rows = await api('GET', '/api/profiles/default/torrents');
  assert.deepEqual(sorted(rows.map((x) => x.hash)), sorted(GRABBED.map(hashOf)));
  for (const x of rows) {
    assert.equal(x.state, 'paused', JSON.stringify(x));
    assert.deepEqual(x.labels, ['tv'], JSON.stringify(x));
  }
  assert.match(await page.textContent(`${row(hashOf(GRABBED[0]))} .c-name`), /Night\.Garden\.S01E01/);

  // The history: both grabs, added, by the rule.
  await page.click('[data-testid=user-menu]');
  await page.click('[data-testid=menu-rss]');
  await page.waitForSelector('[data-testid=rss-feeds]');
  await page.click('[data-testid=nav-rss-history]');
  await page.waitForSelector('[data-testid=history-table]');
  assert.deepEqual(sorted(await texts('[data-testid=history-title]')).map((t) => t.replace(/ · S\d+E\d+$/, '')), GRABBED);
  assert.deepEqual(await page.locator('[data-testid=history-table] tbody tr').evaluateAll((l) => l.map((x) => x.dataset.outcome)), ['added', 'added']);
  assert.match(await page.textContent('[data-testid=history-table]'), new RegExp(RULE));
  assert.match(await page.textContent('[data-testid=history-table]'), /S01E01/);
  // Filtered by the rule: the list is fetched again with `rule=` (the unfiltered table stays
  // until the page re-renders, then "Loading…"), then both grabs are listed.
  await Promise.all([
    page.waitForResponse((r) => r.url().includes('/api/rss/history') && r.url().includes(`rule=${rule.id}`)),
    page.selectOption('[data-testid=history-rule]', rule.id),
  ]);
  await waitFor('both grabs listed for the rule', 10, async () => {
    const outcomes = await page.locator('[data-testid=history-table] tbody tr').evaluateAll((l) => l.map((x) => x.dataset.outcome));
    return outcomes.length === 2 && outcomes.every((o) => o === 'added');
  });

  // The feed's items name the rule that grabbed them.
  await page.click('[data-testid=nav-rss-feeds]');
  await page.click(`${feedRow('Night Garden')} [data-testid=feed-open]`);
  await page.waitForSelector('[data-testid=feed-items] tbody tr');
  const grabbedItems = await page.locator('[data-testid=feed-items] tbody tr:has([data-testid=item-grabbed])').evaluateAll((l) => l.map((x) => x.querySelector('[data-testid=item-title]').textContent.trim()));
  assert.deepEqual(sorted(grabbedItems), GRABBED);
  assert.match(await page.textContent('[data-testid=feed-items] [data-testid=item-grabbed]'), new RegExp(`by “${RULE}”`));

  // Edited, the rule's preview marks what it grabbed.
  await page.click('[data-testid=nav-rss-rules]');
  await page.click('[data-testid=rule-edit]');
  await page.waitForSelector('[data-testid=rule-editor]');
  assert.equal(await page.inputValue('[data-testid=rule-max]'), '10');
  assert.equal(await page.inputValue('[data-testid=rule-labels]'), 'tv');
  await previewTitles(WANTED);
  const marks = await page.locator('[data-testid=preview-list] li').evaluateAll((l) => l.map((x) => [x.querySelector('[data-testid=preview-title]').textContent.trim(), x.dataset.grabbed]));
  assert.deepEqual(marks.filter((m) => m[1] === 'true').map((m) => m[0]).sort(), GRABBED);
  assert.match(await page.textContent('[data-testid=preview-summary]'), /3 items match now, 2 grabbed already, 1 skipped \(episode taken\)\./);
  await saveScreenshot(page, 'rss.png');
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid=rule-editor]', { state: 'detached' });
  w.check();
});

test('a feed answering 500 shows its error; "Refresh now" fetches again; a feed is deleted after a confirmation', async () => {
  await openRss('feeds');
  await addFeed(base + '/broken.xml', 'Broken indexer');
  const r = feedRow('Broken indexer');
  await waitFor('the error on the feed', 20, async () => (await page.locator(`${r} [data-testid=feed-error]`).count()) > 0);
  const err = await page.textContent(`${r} [data-testid=feed-error]`);
  assert.match(err, /500/);
  assert.equal((await page.textContent(`${r} [data-testid=feed-status]`)).trim(), 'error');
  assert.equal((await page.textContent(`${r} [data-testid=feed-count]`)).trim(), '0');
  // The other feed is fine.
  assert.equal(await page.locator(`${feedRow('Night Garden')} [data-testid=feed-error]`).count(), 0);
  // Its items say why there are none.
  await page.click(`${r} [data-testid=feed-open]`);
  await page.waitForSelector('[data-testid=feed-items-empty]');
  assert.match(await page.textContent('[data-testid=feed-items-empty]'), /last fetch failed/);

  const asked = () => fetched.filter((p) => p === '/broken.xml').length;
  const n = asked();
  await page.click(`${r} [data-testid=feed-refresh]`);
  await waitFor('the refresh to reach the server', 10, async () => asked() > n);
  await waitFor('the button back', 10, async () => (await page.textContent(`${r} [data-testid=feed-refresh]`)).trim() === 'Refresh now');
  assert.match(await page.textContent(`${r} [data-testid=feed-error]`), /500/);

  // Disabled with its switch: no next fetch.
  await page.uncheck(`${r} [data-testid=feed-toggle]`);
  await waitFor('the feed disabled', 10, async () => (await api('GET', '/api/rss/feeds')).some((f) => f.name === 'Broken indexer' && !f.enabled));

  // Deleted after a confirmation that names it.
  let asked_ = '';
  page.once('dialog', (dlg) => {
    asked_ = dlg.message();
    dlg.accept();
  });
  await page.click(`${r} [data-testid=feed-delete]`);
  await page.waitForSelector(r, { state: 'detached' });
  assert.match(asked_, /Delete the feed “Broken indexer”/);
  assert.deepEqual((await api('GET', '/api/rss/feeds')).map((f) => f.name), ['Night Garden']);
  w.check();
});

test('a read-only user sees the feeds, items, rules and history, and no edit control', async () => {
  await api('POST', '/api/users', { username: 'viewer', password: 'viewer-password-1', role: 'user', permissions: { default: 'ro' } });
  const c2 = await s.browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const p = await c2.newPage();
    const w2 = watchPage(p);
    await uiLogin(p, s.d.url, 'viewer', 'viewer-password-1');
    await p.goto(s.d.url + '/rss');
    await p.waitForSelector('[data-testid=feeds-table]');
    assert.equal(await p.locator('[data-testid=feeds-table] tbody tr').count(), 1);
    for (const t of ['feed-add', 'feed-edit', 'feed-delete', 'feed-refresh', 'feed-toggle']) assert.equal(await p.locator(`[data-testid=${t}]`).count(), 0, t);
    await p.click('[data-testid=feed-open]');
    await p.waitForSelector('[data-testid=feed-items] [data-testid=item-grabbed]');
    await p.click('[data-testid=nav-rss-rules]');
    await p.waitForSelector('[data-testid=rules-table]');
    for (const t of ['rule-add', 'rule-edit', 'rule-delete', 'rule-toggle']) assert.equal(await p.locator(`[data-testid=${t}]`).count(), 0, t);
    await p.click('[data-testid=nav-rss-history]');
    await p.waitForSelector('[data-testid=history-table]');
    assert.equal(await p.locator('[data-testid=history-table] tbody tr').count(), 2);
    w2.check();
  } finally {
    await c2.close();
  }
  await ctx.close();
});
