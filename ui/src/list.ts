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
  | 'dl_speed' | 'ul_speed' | 'eta' | 'ratio' | 'label' | 'added_at'
  | 'completed_at' | 'save_dir' | 'remaining' | 'seeding_time' | 'tracker'
  | 'downloaded' | 'uploaded' | 'uploaded_session' | 'availability'
  | 'dl_limit' | 'ul_limit';

export interface Col {
  id: ColId;
  title: string;
  /** Longer name for the column chooser. */
  long?: string;
  width: number;
  right?: boolean;
  key: (r: Row) => number | string;
}

const STATE_ORDER: Record<string, number> = {
  downloading: 0, initializing: 1, checking: 2, queued: 3, seeding: 4, paused: 5, error: 6,
};

/** Seconds a torrent has been seeding since it completed (while it seeds). */
export function seedingSecs(r: Row): number | null {
  if (r.state !== 'seeding' || !r.completed_at) return null;
  const t = Date.parse(r.completed_at);
  return isNaN(t) ? null : Math.max(0, Math.floor((Date.now() - t) / 1000));
}

export const COLUMNS: Col[] = [
  { id: 'queue_position', title: '#', long: 'Queue position (#)', width: 40, right: true, key: (r) => r.queue_position },
  { id: 'name', title: 'Name', width: 300, key: (r) => r.name.toLowerCase() },
  { id: 'size', title: 'Size', width: 76, right: true, key: (r) => r.size },
  { id: 'progress', title: 'Progress', width: 110, key: (r) => r.progress },
  { id: 'state', title: 'Status', width: 112, key: (r) => STATE_ORDER[r.state] ?? 9 },
  { id: 'peers', title: 'Seeds/Peers', width: 98, right: true, key: (r) => r.seeds * 1e6 + r.peers },
  { id: 'dl_speed', title: 'Down', long: 'Download speed', width: 82, right: true, key: (r) => r.dl_speed },
  { id: 'ul_speed', title: 'Up', long: 'Upload speed', width: 82, right: true, key: (r) => r.ul_speed },
  { id: 'eta', title: 'ETA', width: 70, right: true, key: (r) => (r.eta == null ? Infinity : r.eta) },
  { id: 'ratio', title: 'Ratio', width: 52, right: true, key: (r) => r.ratio },
  { id: 'label', title: 'Labels', width: 110, key: (r) => labelsOf(r).join(', ').toLowerCase() },
  { id: 'added_at', title: 'Added', long: 'Added on', width: 126, key: (r) => r.added_at },
  { id: 'completed_at', title: 'Completed', long: 'Completed on', width: 126, key: (r) => r.completed_at || '' },
  { id: 'remaining', title: 'Remaining', width: 82, right: true, key: (r) => Math.max(0, r.size - r.downloaded) },
  { id: 'downloaded', title: 'Downloaded', width: 86, right: true, key: (r) => r.downloaded },
  { id: 'uploaded', title: 'Uploaded', width: 82, right: true, key: (r) => r.uploaded },
  { id: 'uploaded_session', title: 'Up (session)', long: 'Uploaded this session', width: 90, right: true, key: (r) => r.uploaded_session ?? 0 },
  { id: 'seeding_time', title: 'Seeding for', long: 'Seeding time (since completed)', width: 90, right: true, key: (r) => seedingSecs(r) ?? -1 },
  { id: 'tracker', title: 'Tracker', width: 120, key: (r) => (r.trackers?.[0] || '').toLowerCase() },
  { id: 'save_dir', title: 'Save path', width: 200, key: (r) => r.save_dir || '' },
  { id: 'availability', title: 'Availability', long: 'Availability (distributed copies)', width: 86, right: true, key: (r) => r.availability ?? -1 },
  // A torrent's own limits (0 = none of its own) sort after every real limit.
  { id: 'dl_limit', title: 'Down limit', long: 'Download limit (the torrent’s own)', width: 84, right: true, key: (r) => r.dl_limit || Infinity },
  { id: 'ul_limit', title: 'Up limit', long: 'Upload limit (the torrent’s own)', width: 84, right: true, key: (r) => r.ul_limit || Infinity },
];

/** Columns shown until the user picks others. */
export const DEFAULT_HIDDEN: ColId[] = ['completed_at', 'remaining', 'downloaded', 'uploaded', 'uploaded_session', 'seeding_time', 'tracker', 'save_dir', 'availability', 'dl_limit', 'ul_limit'];

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

/** A row's labels (rows from before several labels carry only `label`). */
export function labelsOf(r: Partial<Pick<Row, 'label' | 'labels'>>): string[] {
  return r.labels ?? (r.label ? [r.label] : []);
}

export function compute(all: Iterable<Row>, f: Filter, sort: Sort): Row[] {
  const q = f.search.trim().toLowerCase();
  const out: Row[] = [];
  for (const r of all) {
    if (f.status !== 'all' && !matchStatus(r, f.status)) continue;
    if (f.label !== null && (f.label === '' ? labelsOf(r).length > 0 : !labelsOf(r).includes(f.label))) continue;
    if (f.tracker !== null && !(f.trackerOf(r.hash) || []).includes(f.tracker)) continue;
    if (q && !r.name.toLowerCase().includes(q) && !labelsOf(r).some((l) => l.toLowerCase().includes(q)) && r.hash !== q) continue;
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

/** Queue rank (1..n) by hash: queue positions can have gaps (after removals, moves between
 * profiles); the # column shows the rank, which is what the next queue move produces. */
export let ranks = new Map<string, number>();
export function computeRanks(all: Iterable<Row>) {
  const list = [...all].sort((a, b) => a.queue_position - b.queue_position);
  ranks = new Map(list.map((r, i) => [r.hash, i + 1]));
}

/** The list currently shown (for keyboard selection and shift-click ranges). */
export let shown: Row[] = [];
export function setShown(l: Row[]) {
  shown = l;
}
