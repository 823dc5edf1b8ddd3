const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(n: number | null | undefined): string {
  if (n == null || !isFinite(n)) return '–';
  if (n < 1024) return n + ' B';
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ' + UNITS[i];
}

export function speed(n: number | null | undefined): string {
  if (!n) return '';
  return bytes(n) + '/s';
}

export function eta(s: number | null | undefined): string {
  if (s == null) return '';
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + (s % 60) + 's';
  const h = Math.floor(m / 60);
  if (h < 24) return h + 'h ' + (m % 60) + 'm';
  const d = Math.floor(h / 24);
  if (d > 365) return '∞';
  return d + 'd ' + (h % 24) + 'h';
}

export function pct(p: number): string {
  const v = Math.floor(p * 1000) / 10;
  return (v >= 100 ? '100' : v.toFixed(1)) + '%';
}

export function ratio(r: number): string {
  return r.toFixed(2);
}

function pad(n: number) {
  return n < 10 ? '0' + n : '' + n;
}

export function date(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export const STATE_LABEL: Record<string, string> = {
  initializing: 'Metadata',
  checking: 'Checking',
  downloading: 'Downloading',
  queued: 'Queued',
  seeding: 'Seeding',
  paused: 'Paused',
  error: 'Error',
};

export function stateLabel(r: { state: string; force_start?: boolean }): string {
  const s = STATE_LABEL[r.state] || r.state;
  return r.force_start && (r.state === 'downloading' || r.state === 'seeding') ? '[F] ' + s : s;
}

/** Why a torrent waits (`reason`): a short label for the table and cards, a sentence for the
 * details pane and the tooltip. */
export const REASONS: Record<string, { short: string; long: string; tip: string }> = {
  disk_space: {
    short: 'disk',
    long: 'waiting for disk space',
    tip: "Waiting for disk space: starting it would leave less free space than its profile keeps (the profile's minimum free space). It starts by itself when there is room.",
  },
  fd_limit: {
    short: 'file limit',
    long: 'waiting for free file descriptors',
    tip: 'Waiting for free file descriptors: the daemon has as many files open as it may. It starts by itself when some are free.',
  },
};

/** The state as a label, with the reason it waits when there is one: "Queued (disk)" for the
 * table's narrow column, or with `long` "Queued — waiting for disk space". */
export function statusText(r: { state: string; force_start?: boolean; reason?: string | null }, long = false): string {
  const why = r.reason ? REASONS[r.reason] : undefined;
  const s = stateLabel(r);
  if (!why) return r.reason ? `${s} (${r.reason.replace(/_/g, ' ')})` : s;
  return long ? `${s} — ${why.long}` : `${s} (${why.short})`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago" (the exact time goes in a tooltip). */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!isFinite(s)) return '';
  if (s < 45) return 'just now';
  // Rounded before comparing, so 59.7 min reads "1 h ago", never "60 min ago".
  const m = Math.round(s / 60);
  if (m < 60) return m + ' min ago';
  const h = Math.round(s / 3600);
  if (h < 24) return h + ' h ago';
  const d = Math.round(s / 86400);
  return d === 1 ? 'yesterday' : d + ' days ago';
}

/** "now", "in 5 min", "in 3 h", "in 2 days": a moment to come (the exact time in a tooltip). */
export function until(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (!isFinite(s)) return '';
  if (s < 45) return 'now';
  const m = Math.round(s / 60);
  if (m < 60) return 'in ' + m + ' min';
  const h = Math.round(s / 3600);
  if (h < 24) return 'in ' + h + ' h';
  const d = Math.round(s / 86400);
  return d === 1 ? 'tomorrow' : 'in ' + d + ' days';
}
