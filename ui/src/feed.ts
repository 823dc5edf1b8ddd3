// The live feed (Socket.IO at /socket.io/). All torrent rows and stats come from here:
// hello → subscribe {profile} → torrents:snapshot, then torrents:patch / torrent:added /
// torrent:removed and stats. socket.io-client reconnects by itself after network loss; a
// refusal by the server (session revoked) sends the page to the login form.

import { io, type Socket } from 'socket.io-client';
import { api } from './api';
import { loadNotices, onNotice } from './notices';
import { app, bumpRows, rows } from './store';
import type { Notice, Profile, Row, Stats } from './types';

let socket: Socket | null = null;
let subscribed = '';
let synthetic = 0;

export function isSynthetic() {
  return synthetic > 0;
}

let leaving = false;
/** The user logs out: the session's end that follows is no surprise to report. */
export function markLeaving() {
  leaving = true;
}

/** The session ended while the page was open: the login form says so. */
export function signedOut() {
  if (leaving) return;
  location.href = '/login?ended=1';
}

/** socket.io's transport errors ("xhr poll error", ...) in words a user understands. */
function plainConnError(m: string): string {
  if (/xhr|poll|websocket|transport|timeout/i.test(m)) return 'The daemon cannot be reached.';
  return m;
}

async function sessionGone(): Promise<boolean> {
  try {
    await api('GET', '/api/auth/me', undefined, { noAuthRedirect: true });
    return false;
  } catch (e) {
    return (e as { status?: number }).status === 401;
  }
}

function pickProfile(profiles: Profile[]): string {
  const cur = app.get().profile;
  if (profiles.some((p) => p.id === cur)) return cur;
  return profiles[0]?.id || '';
}

function subscribe(profile: string) {
  if (!socket || !socket.connected || synthetic) return;
  if (subscribed && subscribed !== profile) socket.emit('unsubscribe', { profile: subscribed }, () => {});
  subscribed = profile;
  if (!profile) return;
  socket.emit('subscribe', { profile }, (ack: { error?: { message: string } }) => {
    if (ack && ack.error) app.set({ connError: ack.error.message });
  });
}

/** Switches the table to another profile: rows are replaced by that profile's snapshot. */
export function switchProfile(id: string) {
  if (id === app.get().profile) return;
  localStorage.setItem('pt.profile', id);
  app.set({ profile: id, selected: new Set(), focus: null, anchor: null, label: null, tracker: null });
  if (synthetic) return;
  rows.map.clear();
  bumpRows(false);
  subscribe(id);
  // The feed only brings the shown profile's notices: the bell catches up with the others.
  loadNotices();
}

/** Called with every row that changed (after the table's map is updated). */
const watchers = new Set<(r: Row, before: Row | undefined) => void>();
export function watchRows(f: (r: Row, before: Row | undefined) => void) {
  watchers.add(f);
  return () => watchers.delete(f);
}

function applyPatch(changed: Partial<Row>[], removed: string[]) {
  const m = rows.map;
  for (const c of changed) {
    const h = c.hash!;
    const old = m.get(h);
    const now = old ? { ...old, ...c } : (c as Row);
    m.set(h, now);
    for (const w of watchers) w(now, old);
  }
  if (removed.length) {
    for (const h of removed) m.delete(h);
    pruneSelection();
  }
  bumpRows();
}

function pruneSelection() {
  const s = app.get();
  let dirty = false;
  const sel = new Set<string>();
  for (const h of s.selected) {
    if (rows.map.has(h)) sel.add(h);
    else dirty = true;
  }
  const focus = s.focus && rows.map.has(s.focus) ? s.focus : null;
  if (dirty || focus !== s.focus) app.set({ selected: sel, focus });
}

/** Merges a row the API returned (after an action) so the UI reacts before the next tick. */
export function mergeRow(r: Row) {
  if (r.profile !== app.get().profile) {
    if (rows.map.delete(r.hash)) bumpRows();
    return;
  }
  const old = rows.map.get(r.hash);
  rows.map.set(r.hash, old ? { ...old, ...r } : r);
  bumpRows();
}

export function startFeed() {
  const params = new URLSearchParams(location.search);
  synthetic = Math.min(200000, parseInt(params.get('synthetic') || '0', 10) || 0);
  if (synthetic) startSynthetic(synthetic);

  // Reconnects by itself with a growing, jittered delay (1 s doubling up to 15 s), so a
  // restarting daemon is not hammered by every open tab at once.
  socket = io({ path: '/socket.io/', reconnectionDelay: 1000, reconnectionDelayMax: 15000, randomizationFactor: 0.5 });
  socket.on('connect', () => {
    app.set({ conn: 'online', connError: '', retries: 0 });
    // Notices sent while the page was not connected: the bell catches up.
    if (!synthetic) loadNotices();
  });
  socket.io.on('reconnect_attempt', (n: number) => app.set({ retries: n }));
  socket.on('disconnect', async (reason) => {
    subscribed = '';
    app.set({ conn: 'offline', connError: 'The connection to the daemon was lost.' });
    if (reason === 'io server disconnect') {
      // The server closed us on purpose: logged out elsewhere, user deleted, ...
      if (await sessionGone()) signedOut();
      else setTimeout(() => socket?.connect(), 1500);
    }
  });
  socket.on('connect_error', async (err) => {
    app.set({ conn: 'offline', connError: plainConnError(err.message) });
    if (!socket?.active) {
      // Refused by the server's middleware (not a network error): find out why.
      if (await sessionGone()) signedOut();
      else setTimeout(() => socket?.connect(), 3000);
    }
  });
  socket.on('hello', (h: { profiles: Profile[] }) => {
    const profile = pickProfile(h.profiles);
    const changed = profile !== app.get().profile;
    app.set({ profiles: h.profiles, profile });
    if (changed && !synthetic) {
      rows.map.clear();
      bumpRows(false);
    }
    subscribe(profile);
  });
  // Profiles created, changed or deleted, or this user's grants changed.
  socket.on('profiles', (p: { profiles: Profile[] }) => {
    const profile = pickProfile(p.profiles);
    const changed = profile !== app.get().profile;
    app.set({ profiles: p.profiles, profile });
    if (changed && !synthetic) {
      rows.map.clear();
      bumpRows(false);
      subscribe(profile);
    }
  });
  socket.on('torrents:snapshot', (s: { profile: string; torrents: Row[] }) => {
    if (s.profile !== app.get().profile || synthetic) return;
    rows.map.clear();
    for (const r of s.torrents) rows.map.set(r.hash, r);
    pruneSelection();
    bumpRows();
  });
  socket.on('torrents:patch', (p: { profile: string; changed: Partial<Row>[]; removed: string[] }) => {
    if (p.profile !== app.get().profile || synthetic) return;
    applyPatch(p.changed || [], p.removed || []);
  });
  socket.on('torrent:added', (a: { profile: string; torrent: Row }) => {
    if (a.profile !== app.get().profile || synthetic) return;
    applyPatch([a.torrent], []);
  });
  socket.on('torrent:removed', (r: { profile: string; hash: string }) => {
    if (r.profile !== app.get().profile || synthetic) return;
    applyPatch([], [r.hash]);
  });
  socket.on('notification', (n: Notice) => {
    if (!synthetic) onNotice(n);
  });
  socket.on('stats', (s: Stats) => {
    if (!synthetic) app.set({ stats: s });
  });
}

// ---- ?synthetic=N: a documented development aid for the virtualization perf check ----

function startSynthetic(n: number) {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const states: Row['state'][] = ['downloading', 'seeding', 'paused', 'queued', 'checking', 'error', 'seeding'];
  const labels = [null, 'linux', 'iso', 'music', 'video', 'books'];
  const words = ['debian', 'ubuntu', 'arch', 'fedora', 'netinst', 'live', 'amd64', 'arm64', 'server', 'desktop', 'dvd', 'x86_64'];
  const t0 = Date.UTC(2025, 0, 1);
  for (let i = 0; i < n; i++) {
    const size = Math.floor(rnd() * 8e9) + 1e6;
    const state = states[Math.floor(rnd() * states.length)];
    const progress = state === 'seeding' ? 1 : rnd();
    const hash = (i.toString(16).padStart(8, '0') + 'f'.repeat(32)).slice(0, 40);
    const name = `${words[i % words.length]}-${words[(i * 7) % words.length]}-${1000 + i}.iso`;
    const label = labels[Math.floor(rnd() * labels.length)];
    rows.map.set(hash, {
      hash,
      name,
      profile: 'synthetic',
      state,
      progress,
      size,
      downloaded: Math.floor(size * progress),
      uploaded: Math.floor(rnd() * size),
      dl_speed: state === 'downloading' ? Math.floor(rnd() * 5e6) : 0,
      ul_speed: state === 'seeding' || state === 'downloading' ? Math.floor(rnd() * 1e6) : 0,
      eta: state === 'downloading' ? Math.floor(rnd() * 90000) : null,
      peers: Math.floor(rnd() * 50),
      seeds: Math.floor(rnd() * 20),
      ratio: rnd() * 3,
      queue_position: i + 1,
      label,
      labels: label ? [label] : [],
      share: {},
      added_at: new Date(t0 + i * 60000).toISOString(),
      completed_at: null,
      error: state === 'error' ? 'synthetic error' : null,
      paused: state === 'paused',
      force_start: false,
      save_dir: '/synthetic',
      trackers: [],
      uploaded_session: 0,
      availability: state === 'downloading' ? Math.round(rnd() * 3000) / 1000 : null,
      dl_limit: 0,
      ul_limit: 0,
    });
  }
  bumpRows();
  // Like the real feed: every second a batch of rows changes.
  const all = [...rows.map.keys()];
  setInterval(() => {
    const changed: Partial<Row>[] = [];
    for (let k = 0; k < Math.min(200, all.length); k++) {
      const h = all[Math.floor(rnd() * all.length)];
      const r = rows.map.get(h)!;
      if (r.state !== 'downloading') continue;
      changed.push({ hash: h, progress: Math.min(1, r.progress + 0.001), dl_speed: Math.floor(rnd() * 5e6) });
    }
    applyPatch(changed, []);
  }, 1000);
}
