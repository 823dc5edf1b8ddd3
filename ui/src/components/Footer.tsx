import { useMemo } from 'preact/hooks';
import * as fmt from '../format';
import { Icon } from '../icons';
import { limitText } from '../limits';
import { app, rows, rowsStore, useStore } from '../store';
import { AltSwitch } from './Limits';

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
  const lim = stats?.limits;
  const alt = !!lim?.alt_enabled;
  // The global limit in force next to each speed (the alternative one while it is on), and
  // this profile's shared limit in the tooltip.
  const limit = (v: number | undefined, id: string) =>
    v ? <span class="lim" data-testid={id}>{phone ? `/ ${limitText(v)}` : `(limit ${limitText(v)})`}</span> : null;
  const tip = (what: string, g: number | undefined, p: number | undefined) =>
    `${what} speed (all visible profiles). Global limit in force${alt ? ' (alternative)' : ''}: ${limitText(g)}` + (p ? `; this profile: ${limitText(p)}` : '') + '.';
  return (
    <footer class="footer" data-testid="footer">
      <span class="dlc" title={tip('Download', lim?.dl_limit, ps?.dl_limit)} data-testid="footer-dl">
        <Icon n="down" size={12} /> {fmt.speed(stats?.dl_speed || 0) || '0 B/s'} {limit(lim?.dl_limit, 'footer-dl-limit')}
      </span>
      <span class="ulc" title={tip('Upload', lim?.ul_limit, ps?.ul_limit)} data-testid="footer-ul">
        <Icon n="up" size={12} /> {fmt.speed(stats?.ul_speed || 0) || '0 B/s'} {limit(lim?.ul_limit, 'footer-ul-limit')}
      </span>
      {lim && !phone && (
        <span class={'alt-state' + (alt ? ' on' : '')} data-testid="footer-alt" data-on={String(alt)} title={alt ? 'The alternative speed limits are in force' : 'The normal speed limits are in force'}>
          <Icon n="turtle" size={13} /> alt. speed {alt ? 'on' : 'off'}
        </span>
      )}
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
      {phone && <AltSwitch compact />}
      <span title="Free space on this profile's download disk" data-testid="disk-free">
        <Icon n="disk" size={12} /> {ps && ps.disk_free != null ? fmt.bytes(ps.disk_free) + ' free' : '–'}
      </span>
    </footer>
  );
}
