// Tiny observable stores and a hook to read them. The torrent table keeps its rows in a Map
// mutated in place (rows replaced by new objects when they change, so memoized row
// components re-render only when their own row changes) and bumps a version counter.

import { useEffect, useReducer, useRef } from 'preact/hooks';
import type { Account, Me, Profile, Row, Settings, Stats } from './types';

type Listener = () => void;

export class Store<T> {
  private listeners = new Set<Listener>();
  constructor(private state: T) {}
  get(): T {
    return this.state;
  }
  set(patch: Partial<T>) {
    this.state = { ...this.state, ...patch };
    this.emit();
  }
  update(f: (s: T) => Partial<T>) {
    this.set(f(this.state));
  }
  emit() {
    for (const l of [...this.listeners]) l();
  }
  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

/** Re-renders the component when `sel(state)` changes (Object.is). */
export function useStore<T, S>(store: Store<T>, sel: (s: T) => S): S {
  const [, force] = useReducer((x: number) => x + 1, 0);
  const selRef = useRef(sel);
  selRef.current = sel;
  const val = sel(store.get());
  const valRef = useRef(val);
  valRef.current = val;
  useEffect(
    () =>
      store.subscribe(() => {
        if (!Object.is(selRef.current(store.get()), valRef.current)) force(0);
      }),
    [store],
  );
  return val;
}

// ---- the torrent rows of the current profile ----

export const rows = {
  map: new Map<string, Row>(),
  version: 0,
};
export const rowsStore = new Store({ version: 0, loaded: false });

export function bumpRows(loaded = true) {
  rows.version++;
  rowsStore.set({ version: rows.version, loaded });
}

// ---- application state ----

export type Conn = 'connecting' | 'online' | 'offline';
export type StatusFilter =
  | 'all'
  | 'downloading'
  | 'seeding'
  | 'paused'
  | 'queued'
  | 'checking'
  | 'error';

export interface AppState {
  me: Me | null;
  /** The caller's own account (`/api/me`): password change, banner. */
  account: Account | null;
  profiles: Profile[];
  profile: string;
  conn: Conn;
  /** Why the feed is not connected, in plain words. */
  connError: string;
  /** Reconnection attempts since the connection was lost. */
  retries: number;
  stats: Stats | null;
  /** The run-time settings (`/api/settings`, administrators only), once loaded. */
  settings: Settings | null;
  selected: Set<string>;
  focus: string | null;
  anchor: string | null;
  status: StatusFilter;
  label: string | null; // '' = no label
  tracker: string | null;
  search: string;
  theme: 'dark' | 'light';
  addOpen: boolean;
  /** The "Create torrent" dialog. */
  createOpen: boolean;
  addInit: { magnets?: string; files?: File[] } | null;
  removeOpen: boolean;
  labelOpen: boolean;
  /** The speed or share limits dialog for the selection. */
  limitsOpen: 'speed' | 'share' | null;
  helpOpen: boolean;
  /** Phone: the sheet with the less frequent actions. */
  moreOpen: boolean;
  /** Hashes just added from this page: shown and highlighted when their row arrives. */
  reveal: string[];
  detailsOpen: boolean; // phone: details sheet
  sidebarOpen: boolean; // phone: filter drawer
  path: string;
}

function initialTheme(): 'dark' | 'light' {
  const saved = localStorage.getItem('pt.theme');
  if (saved === 'dark' || saved === 'light') return saved;
  return window.matchMedia && window.matchMedia('(prefers-color-scheme: light)').matches
    ? 'light'
    : 'dark';
}

export const app = new Store<AppState>({
  me: null,
  account: null,
  profiles: [],
  profile: localStorage.getItem('pt.profile') || '',
  conn: 'connecting',
  connError: '',
  retries: 0,
  stats: null,
  settings: null,
  selected: new Set(),
  focus: null,
  anchor: null,
  status: 'all',
  label: null,
  tracker: null,
  search: '',
  theme: initialTheme(),
  addOpen: false,
  createOpen: false,
  addInit: null,
  removeOpen: false,
  labelOpen: false,
  limitsOpen: null,
  helpOpen: false,
  moreOpen: false,
  reveal: [],
  detailsOpen: false,
  sidebarOpen: false,
  path: location.pathname,
});

export function applyTheme(t: 'dark' | 'light') {
  document.documentElement.dataset.theme = t;
  const meta = document.querySelector('meta[name="theme-color"]');
  if (meta) meta.setAttribute('content', t === 'dark' ? '#15181d' : '#f3f5f8');
}

export function toggleTheme() {
  const t = app.get().theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem('pt.theme', t);
  applyTheme(t);
  app.set({ theme: t });
}

export function currentProfile(): Profile | undefined {
  const s = app.get();
  return s.profiles.find((p) => p.id === s.profile);
}

export function canWrite(p: Profile | undefined): boolean {
  return !!p && (p.level === 'full' || p.level === 'admin');
}

/** Whether the live feed is up (actions are disabled while it is not). */
export function online(): boolean {
  return app.get().conn === 'online';
}

export function navigate(path: string) {
  if (path === location.pathname) return;
  history.pushState(null, '', path);
  app.set({ path });
}
window.addEventListener('popstate', () => app.set({ path: location.pathname }));

// ---- toasts ----

export interface Toast {
  id: number;
  /** `warn` stays until dismissed (something to read, not a passing note). */
  kind: 'error' | 'info' | 'warn';
  text: string;
}
export const toasts = new Store<{ list: Toast[] }>({ list: [] });
let toastId = 0;
export function toast(text: string, kind: Toast['kind'] = 'error') {
  const id = ++toastId;
  toasts.update((s) => ({ list: [...s.list.slice(-4), { id, kind, text }] }));
  if (kind !== 'warn') setTimeout(() => dismissToast(id), kind === 'error' ? 9000 : 4000);
}
export function dismissToast(id: number) {
  toasts.update((s) => ({ list: s.list.filter((t) => t.id !== id) }));
}
