import { del, errText, pool, post } from './api';
import { isSynthetic, mergeRow } from './feed';
import { app, canWrite, currentProfile, rows, toast } from './store';
import type { Row } from './types';

export type Action = 'resume' | 'pause' | 'force-start' | 'recheck';

const VERB: Record<Action, string> = {
  resume: 'start',
  pause: 'pause',
  'force-start': 'force-start',
  recheck: 'recheck',
};

export function selectedHashes(): string[] {
  return [...app.get().selected].filter((h) => rows.map.has(h));
}

export function writable(): boolean {
  return canWrite(currentProfile()) && !isSynthetic();
}

function reportErrors(what: string, errors: { item: string; error: unknown }[]) {
  if (!errors.length) return;
  const first = errors[0];
  const name = rows.map.get(first.item)?.name || first.item;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  toast(`Could not ${what} “${name}”: ${errText(first.error)}${more}`);
}

export async function act(action: Action, hashes = selectedHashes()) {
  if (!hashes.length || !writable()) return;
  const errors = await pool(hashes, 6, async (h) => {
    const r = await post<Row>(`/api/torrents/${h}/${action}`);
    if (r && r.hash) mergeRow(r);
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

export function askRemove() {
  if (selectedHashes().length && writable()) app.set({ removeOpen: true });
}

export function openAdd(init: { magnets?: string; files?: File[] } | null = null) {
  const s = app.get();
  if (!s.profiles.some(canWrite)) return;
  app.set({ addOpen: true, addInit: init });
}
