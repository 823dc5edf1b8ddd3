// The last two minutes of each torrent's speeds, kept in the page from the feed's row
// changes (a patch carries a row only when something changed, so a speed holds until the next
// sample). Only rows whose speeds change get samples; old samples are dropped as new ones come.
import { watchRows } from './feed';
import { rows } from './store';

export const WINDOW_MS = 120_000;

interface Samples {
  t: number[];
  dl: number[];
  ul: number[];
}

const samples = new Map<string, Samples>();
let pushes = 0;

watchRows((r, before) => {
  if (before && before.dl_speed === r.dl_speed && before.ul_speed === r.ul_speed) return;
  const now = Date.now();
  let s = samples.get(r.hash);
  if (!s) {
    s = { t: [], dl: [], ul: [] };
    samples.set(r.hash, s);
    // The value it had until now, so the line starts at the right height.
    if (before) {
      s.t.push(now - 1);
      s.dl.push(before.dl_speed);
      s.ul.push(before.ul_speed);
    }
  }
  s.t.push(now);
  s.dl.push(r.dl_speed);
  s.ul.push(r.ul_speed);
  // Keep one sample older than the window: it gives the value at the window's start.
  let cut = 0;
  while (cut + 1 < s.t.length && s.t[cut + 1] < now - WINDOW_MS) cut++;
  if (cut) {
    s.t.splice(0, cut);
    s.dl.splice(0, cut);
    s.ul.splice(0, cut);
  }
  // Now and then forget torrents no longer shown.
  if (++pushes % 500 === 0) for (const h of samples.keys()) if (!rows.map.has(h)) samples.delete(h);
});

/** The speeds of `hash` once a second over the last two minutes (oldest first), each the
 * last value known at that second; `cur` (the row now) fills the time before any sample. */
export function speedSeries(hash: string, cur: { dl_speed: number; ul_speed: number }, now = Date.now()): { dl: number[]; ul: number[] } {
  const s = samples.get(hash);
  const n = WINDOW_MS / 1000;
  const dl: number[] = new Array(n + 1);
  const ul: number[] = new Array(n + 1);
  let j = 0;
  // Before the first sample: the first sample's value if it is a real change (unknown
  // before), else the row's current value.
  let d = s && s.t.length ? s.dl[0] : cur.dl_speed;
  let u = s && s.t.length ? s.ul[0] : cur.ul_speed;
  for (let i = 0; i <= n; i++) {
    const at = now - (n - i) * 1000;
    while (s && j < s.t.length && s.t[j] <= at) {
      d = s.dl[j];
      u = s.ul[j];
      j++;
    }
    dl[i] = d;
    ul[i] = u;
  }
  return { dl, ul };
}
