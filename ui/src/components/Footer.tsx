import { useMemo } from 'preact/hooks';
import * as fmt from '../format';
import { Icon } from '../icons';
import { app, rows, rowsStore, useStore } from '../store';

export function Footer({ phone }: { phone: boolean }) {
  const stats = useStore(app, (s) => s.stats);
  const profile = useStore(app, (s) => s.profile);
  const selected = useStore(app, (s) => s.selected.size);
  const version = useStore(rowsStore, (s) => s.version);
  const totals = useMemo(() => {
    let size = 0, down = 0, up = 0;
    for (const r of rows.map.values()) {
      size += r.size;
      down += r.downloaded;
      up += r.uploaded;
    }
    return { n: rows.map.size, size, down, up };
  }, [version]);
  const ps = stats?.profiles.find((p) => p.id === profile);
  return (
    <footer class="footer" data-testid="footer">
      <span class="dlc" title="Download speed (all visible profiles)">
        <Icon n="down" size={12} /> {fmt.speed(stats?.dl_speed || 0) || '0 B/s'}
      </span>
      <span class="ulc" title="Upload speed (all visible profiles)">
        <Icon n="up" size={12} /> {fmt.speed(stats?.ul_speed || 0) || '0 B/s'}
      </span>
      {!phone && (
        <>
          <span class="sep" />
          <span title="Torrents in this profile">{totals.n} torrents{selected ? ` · ${selected} selected` : ''}</span>
          <span title="Total size of this profile's torrents">{fmt.bytes(totals.size)}</span>
          <span title="Downloaded / uploaded in this profile">
            ↓ {fmt.bytes(totals.down)} · ↑ {fmt.bytes(totals.up)}
          </span>
          {stats && <span title="Torrents in all visible profiles">all profiles: {stats.torrents}</span>}
        </>
      )}
      <span class="spacer" />
      <span title="Free space on this profile's download disk" data-testid="disk-free">
        <Icon n="disk" size={12} /> {ps && ps.disk_free != null ? fmt.bytes(ps.disk_free) + ' free' : '–'}
      </span>
    </footer>
  );
}
