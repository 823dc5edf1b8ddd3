import { del, errText, get, patch, pool, post } from './api';
import { isSynthetic, mergeRow, watchRows } from './feed';
import { app, bumpRows, canWrite, currentProfile, online, rows, toast } from './store';
import type { Details, Row, Settings, SettingsPatch, TorrentPatch } from './types';

export type Action = 'resume' | 'pause' | 'force-start' | 'recheck' | 'reannounce';
export type QueueMove = 'top' | 'up' | 'down' | 'bottom';

const VERB: Record<Action, string> = {
  resume: 'start',
  pause: 'pause',
  'force-start': 'force-start',
  recheck: 'recheck',
  reannounce: 'announce',
};

export function selectedHashes(): string[] {
  return [...app.get().selected].filter((h) => rows.map.has(h));
}

/** Whether the current profile can be changed from here now (write access, feed online). */
export function writable(): boolean {
  return canWrite(currentProfile()) && !isSynthetic() && online();
}

function nameOf(h: string) {
  return rows.map.get(h)?.name || h;
}

function reportErrors(what: string, errors: { item: string; error: unknown }[]) {
  if (!errors.length) return;
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  toast(`Could not ${what} “${nameOf(first.item)}”: ${errText(first.error)}${more}`);
}

function errorText(r: Row): string {
  const where = r.save_dir ? ` (files in ${r.save_dir})` : '';
  return `${r.error || 'the engine reported an error'}${where}`;
}

// Torrents started from `error`: if they fall back into error within a minute (the retry
// checks the data first, so the answer comes later), say why.
const retried = new Map<string, number>();
watchRows((r, before) => {
  const at = retried.get(r.hash);
  if (at === undefined) return;
  if (Date.now() - at > 60000 || r.state === 'seeding' || r.state === 'downloading') {
    retried.delete(r.hash);
    return;
  }
  if (r.state === 'error' && before?.state !== 'error') {
    retried.delete(r.hash);
    toast(`Could not start “${r.name}”: ${errorText(r)}`);
  }
});

export async function act(action: Action, hashes = selectedHashes()) {
  if (!hashes.length || !writable()) return;
  const errors = await pool(hashes, 6, async (h) => {
    const wasError = rows.map.get(h)?.state === 'error';
    const r = await post<Row>(`/api/torrents/${h}/${action}`);
    if (r && r.hash) {
      mergeRow(r);
      if (wasError && (action === 'resume' || action === 'force-start')) {
        if (r.state === 'error') toast(`Could not start “${r.name}”: ${errorText(r)}`);
        else retried.set(h, Date.now());
      }
    }
  });
  reportErrors(VERB[action], errors);
}

export async function remove(hashes: string[], deleteFiles: boolean) {
  if (!hashes.length || !writable()) return;
  const errors = await pool(hashes, 6, (h) =>
    del(`/api/torrents/${h}${deleteFiles ? '?delete_files=true' : ''}`),
  );
  reportErrors('remove', errors);
}

/** A queue move renumbers the whole profile; the feed reports it within a second, but the
 * next move (or the # column) needs the new order now. */
async function refreshPositions() {
  const profile = app.get().profile;
  try {
    const list = await get<Row[]>(`/api/profiles/${encodeURIComponent(profile)}/torrents`);
    if (app.get().profile !== profile) return;
    for (const r of list) {
      const old = rows.map.get(r.hash);
      if (old && old.queue_position !== r.queue_position) rows.map.set(r.hash, { ...old, queue_position: r.queue_position });
    }
    bumpRows();
  } catch {
    /* the feed brings the order soon */
  }
}

/** Queue moves, applied in queue order so several selected torrents keep their order. */
export async function queueMove(to: QueueMove, hashes = selectedHashes()) {
  if (!hashes.length || !writable()) return;
  const pos = (h: string) => rows.map.get(h)?.queue_position ?? 0;
  const list = [...hashes].sort((a, b) => pos(a) - pos(b));
  // Moving to the top or up goes first-to-last from the bottom of the list, so the moved
  // block keeps its inner order; down and bottom the other way round.
  if (to === 'top' || to === 'down') list.reverse();
  for (const h of list) {
    try {
      mergeRow(await patch<Row>(`/api/torrents/${h}`, { queue: to }));
    } catch (e) {
      toast(`Could not move “${nameOf(h)}” in the queue: ${errText(e)}`);
      break;
    }
  }
  await refreshPositions();
}

/** Moves one torrent to queue rank `target` (1-based) with the fewest single moves. */
export async function queueTo(hash: string, target: number) {
  if (!writable()) return;
  await refreshPositions();
  const order = [...rows.map.values()].sort((a, b) => a.queue_position - b.queue_position).map((r) => r.hash);
  const from = order.indexOf(hash) + 1;
  const n = order.length;
  if (from <= 0 || target === from) return;
  const plans: QueueMove[][] = [
    Array(Math.abs(target - from)).fill(target < from ? 'up' : 'down'),
    ['top', ...Array(target - 1).fill('down')],
    ['bottom', ...Array(n - target).fill('up')],
  ];
  const plan = plans.reduce((a, b) => (b.length < a.length ? b : a));
  for (const step of plan) {
    try {
      mergeRow(await patch<Row>(`/api/torrents/${hash}`, { queue: step }));
    } catch (e) {
      toast(`Could not move “${nameOf(hash)}” in the queue: ${errText(e)}`);
      break;
    }
  }
  await refreshPositions();
}

/** The single moves (torrent, 1-based rank) that turn `order` into `final`: fixing the queue
 * from its head or from its tail, whichever takes fewer. */
export function queuePlan(order: string[], final: string[]): [string, number][] {
  const fix = (fromHead: boolean): [string, number][] => {
    const cur = [...order];
    const moves: [string, number][] = [];
    for (let k = 0; k < cur.length; k++) {
      const i = fromHead ? k : cur.length - 1 - k;
      if (cur[i] === final[i]) continue;
      cur.splice(cur.indexOf(final[i]), 1);
      cur.splice(i, 0, final[i]);
      moves.push([final[i], i + 1]);
    }
    return moves;
  };
  const a = fix(true);
  const b = fix(false);
  return b.length < a.length ? b : a;
}

/** Moves the torrents `hashes` as one block, in their queue order, to just before `to.before`
 * or just after `to.after` (another torrent of the profile). */
export async function queueBlock(hashes: string[], to: { before?: string; after?: string }) {
  if (!hashes.length || !writable()) return;
  await refreshPositions();
  const order = [...rows.map.values()].sort((a, b) => a.queue_position - b.queue_position).map((r) => r.hash);
  const set = new Set(hashes);
  const rest = order.filter((h) => !set.has(h));
  const at = to.before !== undefined ? rest.indexOf(to.before) : to.after !== undefined ? rest.indexOf(to.after) + (rest.includes(to.after) ? 1 : 0) : -1;
  if (at < 0) return;
  const final = [...rest.slice(0, at), ...order.filter((h) => set.has(h)), ...rest.slice(at)];
  for (const [h, rank] of queuePlan(order, final)) {
    await queueTo(h, rank);
  }
}

export async function moveToProfile(hashes: string[], target: string, targetName: string) {
  if (!hashes.length || !writable()) return;
  let moved = 0;
  for (const h of hashes) {
    const name = nameOf(h);
    try {
      mergeRow(await patch<Row>(`/api/torrents/${h}`, { profile: target }));
      moved++;
      if (hashes.length === 1) toast(`Moved “${name}” to ${targetName}.`, 'info');
    } catch (e) {
      toast(`Could not move “${name}” to ${targetName}: ${errText(e)}`);
      return;
    }
  }
  if (moved > 1) toast(`Moved ${moved} torrents to ${targetName}.`, 'info');
}

/** Sets the labels of torrents, one PATCH each: `[hash, labels]` pairs. */
export async function setLabels(changes: [string, string[]][]) {
  for (const [h, labels] of changes) {
    try {
      mergeRow(await patch<Row>(`/api/torrents/${h}`, { labels }));
    } catch (e) {
      toast(`Could not set the labels of “${nameOf(h)}”: ${errText(e)}`);
      return;
    }
  }
}

/** Applies one change (speed or share limits) to every torrent of `hashes`, one PATCH each;
 * returns the failures as sentences (empty when all went through). */
export async function patchTorrents(hashes: string[], body: TorrentPatch): Promise<string[]> {
  if (!writable()) return ['Changes are not possible now (read-only profile, or the connection is down).'];
  const errors = await pool(hashes, 6, async (h) => mergeRow(await patch<Row>(`/api/torrents/${h}`, body)));
  return errors.map((e) => `“${nameOf(e.item)}”: ${errText(e.error)}`);
}

export function askLimits(kind: 'speed' | 'share') {
  if (selectedHashes().length && writable()) app.set({ limitsOpen: kind });
}

/** The run-time settings (administrators): loaded once, kept current by our own changes. */
export async function loadSettings(): Promise<Settings> {
  const s = await get<Settings>('/api/settings');
  app.set({ settings: s });
  return s;
}

/** Changes settings; the answer (the whole settings) replaces the cached copy, and the
 * limits in force are updated at once (the feed's stats follow within a moment). */
export async function saveSettings(change: SettingsPatch): Promise<Settings> {
  const s = await patch<Settings>('/api/settings', change);
  const sp = s.speed;
  const st = app.get().stats;
  const alt = !!sp.alt_enabled;
  app.set({
    settings: s,
    stats: st && { ...st, limits: { alt_enabled: alt, dl_limit: (alt ? sp.alt_dl_limit : sp.dl_limit) ?? 0, ul_limit: (alt ? sp.alt_ul_limit : sp.ul_limit) ?? 0 } },
  });
  return s;
}

/** The alternative-speed switch (administrators). */
export async function setAltSpeeds(on: boolean) {
  try {
    await saveSettings({ speed: { alt_enabled: on } });
  } catch (e) {
    toast('Could not switch the alternative speed limits: ' + errText(e));
  }
}

async function copy(text: string, what: string) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`Copied the ${what}.`, 'info');
  } catch {
    // Clipboard refused (plain HTTP on another host): show it to copy by hand.
    window.prompt(`Copy the ${what}:`, text);
  }
}

/** A magnet link for the torrent: the stored one, else built from hash, name and trackers. */
export async function copyMagnet(hash: string) {
  let link = '';
  try {
    const d = await get<Details>(`/api/torrents/${hash}`);
    link = d.magnet || '';
    if (!link) {
      const tr = await get<{ url: string }[]>(`/api/torrents/${hash}/trackers`).catch(() => []);
      link = `magnet:?xt=urn:btih:${hash}&dn=${encodeURIComponent(d.name)}` + tr.map((t) => '&tr=' + encodeURIComponent(t.url)).join('');
    }
  } catch (e) {
    toast('Could not build the magnet link: ' + errText(e));
    return;
  }
  await copy(link, 'magnet link');
}

export function copyHash(hash: string) {
  return copy(hash, 'info hash');
}

export function askRemove() {
  if (selectedHashes().length && writable()) app.set({ removeOpen: true });
}

export function askLabel() {
  if (selectedHashes().length && writable()) app.set({ labelOpen: true });
}

export function openAdd(init: { magnets?: string; files?: File[] } | null = null) {
  const s = app.get();
  if (!s.profiles.some(canWrite) || !online()) return;
  app.set({ addOpen: true, addInit: init });
}

/** After an add from this page: select the new torrents and bring them into view. */
export function reveal(hashes: string[]) {
  if (hashes.length) app.set({ reveal: hashes });
}
