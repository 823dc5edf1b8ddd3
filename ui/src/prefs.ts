// Per-user UI preferences (table columns, sort): kept on the server (`/api/me/preferences`)
// so they follow the user between browsers, with a localStorage copy for the first paint.
// Writes are debounced; a failed write is retried with the next change.
import { api } from './api';
import { Store } from './store';

type Prefs = Record<string, unknown>;

const CACHE = 'pt.prefs';

function cached(): Prefs {
  try {
    const v = JSON.parse(localStorage.getItem(CACHE) || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

export const prefs = new Store<{ values: Prefs; loaded: boolean }>({ values: cached(), loaded: false });

/** Replaces the local copy by the server's (at start, after sign-in). */
export async function loadPrefs() {
  try {
    const v = await api<Prefs>('GET', '/api/me/preferences');
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      localStorage.setItem(CACHE, JSON.stringify(v));
      prefs.set({ values: v, loaded: true });
      return;
    }
  } catch {
    /* keep the cached copy */
  }
  prefs.set({ loaded: true });
}

export function getPref<T>(key: string, fallback: T): T {
  const v = prefs.get().values[key];
  return v === undefined || v === null ? fallback : (v as T);
}

let timer = 0;
export function setPref(key: string, value: unknown) {
  const values = { ...prefs.get().values, [key]: value };
  localStorage.setItem(CACHE, JSON.stringify(values));
  prefs.set({ values });
  clearTimeout(timer);
  timer = window.setTimeout(() => {
    api('PUT', '/api/me/preferences', prefs.get().values).catch(() => {
      /* stays in localStorage; the next change sends it again */
    });
  }, 400);
}
