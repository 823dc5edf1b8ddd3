import { useMemo } from 'preact/hooks';
import { STATUS_FILTERS, labelsOf, statusCounts } from '../list';
import { app, rows, rowsStore, useStore } from '../store';
import { trackersOf } from '../trackers';

const DOT: Record<string, string> = {
  all: 'all', downloading: 'dl', seeding: 'seed', paused: 'paused', queued: 'queued', checking: 'check', error: 'err',
};

export function Sidebar() {
  const version = useStore(rowsStore, (s) => s.version);
  const status = useStore(app, (s) => s.status);
  const label = useStore(app, (s) => s.label);
  const tracker = useStore(app, (s) => s.tracker);
  const counts = useMemo(() => statusCounts(rows.map.values()), [version]);
  const labels = useMemo(() => {
    const m = new Map<string, number>();
    for (const r of rows.map.values()) {
      const ls = labelsOf(r);
      for (const l of ls.length ? ls : ['']) m.set(l, (m.get(l) || 0) + 1);
    }
    return [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  }, [version]);
  const trackers = useMemo(() => {
    const m = new Map<string, number>();
    for (const r of rows.map.values()) for (const t of trackersOf(r.hash) || []) m.set(t, (m.get(t) || 0) + 1);
    return [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  }, [version]);
  const close = () => app.set({ sidebarOpen: false });
  return (
    <nav class="sidebar" aria-label="Filters">
      <h3>Status</h3>
      <ul>
        {STATUS_FILTERS.map((f) => (
          <li key={f.id}>
            <button
              class={'side-item' + (status === f.id ? ' on' : '')}
              data-testid={'filter-' + f.id}
              onClick={() => { app.set({ status: f.id }); close(); }}
            >
              <i class={'dot ' + DOT[f.id]} />
              <span class="grow">{f.label}</span>
              <span class="count">{counts[f.id]}</span>
            </button>
          </li>
        ))}
      </ul>
      <h3>Labels</h3>
      <ul>
        <li>
          <button class={'side-item' + (label === null ? ' on' : '')} onClick={() => { app.set({ label: null }); close(); }}>
            <span class="grow">All labels</span>
          </button>
        </li>
        {labels.map(([l, n]) => (
          <li key={'l' + l}>
            <button class={'side-item' + (label === l ? ' on' : '')} onClick={() => { app.set({ label: l }); close(); }}>
              <span class={'grow' + (l ? '' : ' muted')}>{l || 'No label'}</span>
              <span class="count">{n}</span>
            </button>
          </li>
        ))}
      </ul>
      <h3>Trackers</h3>
      <ul>
        <li>
          <button class={'side-item' + (tracker === null ? ' on' : '')} onClick={() => { app.set({ tracker: null }); close(); }}>
            <span class="grow">All trackers</span>
          </button>
        </li>
        {trackers.map(([t, n]) => (
          <li key={'t' + t}>
            <button class={'side-item' + (tracker === t ? ' on' : '')} title={t} onClick={() => { app.set({ tracker: t }); close(); }}>
              <span class="grow ellip">{t}</span>
              <span class="count">{n}</span>
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
