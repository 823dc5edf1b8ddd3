// Filtering, sorting and the column model of the torrent table.
import type { StatusFilter } from './store';
import type { Row } from './types';

export const STATUS_FILTERS: { id: StatusFilter; label: string }[] = [
  { id: 'all', label: 'All' },
  { id: 'downloading', label: 'Downloading' },
  { id: 'seeding', label: 'Seeding' },
  { id: 'paused', label: 'Paused' },
  { id: 'queued', label: 'Queued' },
  { id: 'checking', label: 'Checking' },
  { id: 'error', label: 'Error' },
];

export function matchStatus(r: Row, f: StatusFilter): boolean {
  switch (f) {
    case 'all':
      return true;
    case 'downloading':
      return r.state === 'downloading' || r.state === 'initializing';
    default:
      return r.state === f;
  }
}

export function statusCounts(list: Iterable<Row>): Record<StatusFilter, number> {
  const c: Record<StatusFilter, number> = {
    all: 0, downloading: 0, seeding: 0, paused: 0, queued: 0, checking: 0, error: 0,
  };
  for (const r of list) {
    c.all++;
    if (r.state === 'initializing' || r.state === 'downloading') c.downloading++;
    else if (r.state in c) c[r.state as StatusFilter]++;
  }
  return c;
}

export type ColId =
  | 'queue_position' | 'name' | 'size' | 'progress' | 'state' | 'peers'
  | 'dl_speed' | 'ul_speed' | 'eta' | 'ratio' | 'label' | 'added_at';

export interface Col {
  id: ColId;
  title: string;
  width: number;
  right?: boolean;
  key: (r: Row) => number | string;
}

const STATE_ORDER: Record<string, number> = {
  downloading: 0, initializing: 1, checking: 2, queued: 3, seeding: 4, paused: 5, error: 6,
};

export const COLUMNS: Col[] = [
  { id: 'queue_position', title: '#', width: 40, right: true, key: (r) => r.queue_position },
  { id: 'name', title: 'Name', width: 300, key: (r) => r.name.toLowerCase() },
  { id: 'size', title: 'Size', width: 76, right: true, key: (r) => r.size },
  { id: 'progress', title: 'Progress', width: 110, key: (r) => r.progress },
  { id: 'state', title: 'Status', width: 112, key: (r) => STATE_ORDER[r.state] ?? 9 },
  { id: 'peers', title: 'Seeds/Peers', width: 98, right: true, key: (r) => r.seeds * 1e6 + r.peers },
  { id: 'dl_speed', title: 'Down', width: 82, right: true, key: (r) => r.dl_speed },
  { id: 'ul_speed', title: 'Up', width: 82, right: true, key: (r) => r.ul_speed },
  { id: 'eta', title: 'ETA', width: 70, right: true, key: (r) => (r.eta == null ? Infinity : r.eta) },
  { id: 'ratio', title: 'Ratio', width: 52, right: true, key: (r) => r.ratio },
  { id: 'label', title: 'Label', width: 84, key: (r) => (r.label || '').toLowerCase() },
  { id: 'added_at', title: 'Added', width: 126, key: (r) => r.added_at },
];

export const COL_BY_ID = Object.fromEntries(COLUMNS.map((c) => [c.id, c])) as Record<ColId, Col>;

export interface Sort {
  col: ColId;
  desc: boolean;
}

export interface Filter {
  status: StatusFilter;
  label: string | null;
  tracker: string | null;
  search: string;
  trackerOf: (hash: string) => string[] | undefined;
}

export function compute(all: Iterable<Row>, f: Filter, sort: Sort): Row[] {
  const q = f.search.trim().toLowerCase();
  const out: Row[] = [];
  for (const r of all) {
    if (f.status !== 'all' && !matchStatus(r, f.status)) continue;
    if (f.label !== null && (r.label || '') !== f.label) continue;
    if (f.tracker !== null && !(f.trackerOf(r.hash) || []).includes(f.tracker)) continue;
    if (q && !r.name.toLowerCase().includes(q) && !(r.label || '').toLowerCase().includes(q) && r.hash !== q) continue;
    out.push(r);
  }
  const key = COL_BY_ID[sort.col]?.key || COL_BY_ID.queue_position.key;
  const dir = sort.desc ? -1 : 1;
  // Decorate-sort-undecorate: keys computed once per row.
  const dec = out.map((r) => ({ k: key(r), r }));
  dec.sort((a, b) => {
    if (a.k < b.k) return -dir;
    if (a.k > b.k) return dir;
    return a.r.queue_position - b.r.queue_position;
  });
  return dec.map((d) => d.r);
}

/** The list currently shown (for keyboard selection and shift-click ranges). */
export let shown: Row[] = [];
export function setShown(l: Row[]) {
  shown = l;
}
