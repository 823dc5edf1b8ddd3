// Per-user UI preferences (table columns, sort): kept on the server (`/api/me/preferences`)
// so they follow the user between browsers, with a localStorage copy for the first paint.
// Writes are debounced; a failed write is retried with the next change.
import { api } from './api';
import { DEFAULT_HIDDEN } from './list';
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
      migrateLocal(v);
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

/** Earlier versions kept the columns and the sort in this browser only: carry them over once
 * (columns added since then stay hidden, as for a new user). */
function migrateLocal(server: Prefs) {
  const old = (k: string) => {
    try {
      return JSON.parse(localStorage.getItem(k) || 'null');
    } catch {
      return null;
    }
  };
  const cols = old('pt.cols');
  const sort = old('pt.sort');
  if (cols && server.cols === undefined && Array.isArray(cols.hidden)) {
    setPref('cols', { hidden: [...new Set([...cols.hidden, ...DEFAULT_HIDDEN])], widths: cols.widths || {}, order: [] });
  }
  if (sort && server.sort === undefined && typeof sort.col === 'string') setPref('sort', sort);
  localStorage.removeItem('pt.cols');
  localStorage.removeItem('pt.sort');
}
