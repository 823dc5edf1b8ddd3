// The Traffic page (`/traffic`, every user): bytes downloaded and uploaded over the last hour,
// day, week or month (`GET /api/stats/history`), for all visible profiles or one, drawn as an
// SVG chart with the totals of the range. Fetched when the range or profile changes and once a
// minute while the page is visible (the history has one-minute buckets).
import { useEffect, useState } from 'preact/hooks';
import { errText, get } from '../api';
import * as fmt from '../format';
import { PHONE, useMedia } from '../hooks';
import { app, useStore } from '../store';
import type { History } from '../types';
import { PageFrame } from './Admin';
import { TrafficChart } from './Charts';

const RANGES: [string, string, string][] = [
  ['1h', '1 hour', 'the last hour'],
  ['24h', '24 hours', 'the last 24 hours'],
  ['7d', '7 days', 'the last 7 days'],
  ['30d', '30 days', 'the last 30 days'],
];

export function TrafficPage() {
  const profiles = useStore(app, (s) => s.profiles);
  const phone = useMedia(PHONE);
  const [range, setRange] = useState(() => localStorage.getItem('pt.trafficRange') || '24h');
  const [profile, setProfile] = useState('');
  const [h, setH] = useState<History | null>(null);
  const [now, setNow] = useState(0);
  const [err, setErr] = useState('');
  useEffect(() => {
    let live = true;
    const load = () => {
      const q = `range=${range}` + (profile ? `&profile=${encodeURIComponent(profile)}` : '');
      get<History>('/api/stats/history?' + q).then(
        (x) => {
          if (!live) return;
          setH(x);
          setNow(Math.floor(Date.now() / 1000));
          setErr('');
        },
        (e) => live && setErr(errText(e)),
      );
    };
    load();
    const t = window.setInterval(() => document.visibilityState === 'visible' && load(), 60_000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [range, profile]);
  const pick = (r: string) => {
    localStorage.setItem('pt.trafficRange', r);
    setRange(r);
  };
  const dl = h ? h.points.reduce((a, p) => a + p.dl, 0) : 0;
  const ul = h ? h.points.reduce((a, p) => a + p.ul, 0) : 0;
  const words = RANGES.find((r) => r[0] === range)?.[2] || range;
  return (
    <PageFrame title="traffic">
      <main class="admin-main solo">
      <section class="traffic">
        <h2>Traffic history</h2>
        <div class="traffic-tools">
          <div class="seg" role="group" aria-label="Time range">
            {RANGES.map(([id, label]) => (
              <button key={id} type="button" class={'btn' + (range === id ? ' on' : '')} aria-pressed={range === id} onClick={() => pick(id)} data-testid={'range-' + id}>
                {label}
              </button>
            ))}
          </div>
          <select aria-label="Profile" value={profile} onChange={(e) => setProfile(e.currentTarget.value)} data-testid="traffic-profile">
            <option value="">All profiles</option>
            {profiles.map((p) => (
              <option key={p.id} value={p.id}>{p.name || p.id}</option>
            ))}
          </select>
        </div>
        {err && <p class="form-error" role="alert">{err}</p>}
        {h && (
          <>
            <p class="traffic-totals" data-testid="traffic-totals">
              <span class="dlc"><i class="swatch sw-dl" /> Downloaded <b data-testid="total-dl">{fmt.bytes(dl)}</b></span>
              <span class="ulc"><i class="swatch sw-ul" /> Uploaded <b data-testid="total-ul">{fmt.bytes(ul)}</b></span>
              <span class="muted">in {words}{profile ? '' : ', all profiles you see'}</span>
            </p>
            <TrafficChart key={range + profile} h={h} now={now} height={phone ? 200 : 280} />
            {!h.points.length && <p class="muted" data-testid="traffic-empty">No traffic in {words}.</p>}
          </>
        )}
        {!h && !err && <p class="muted">Loading…</p>}
      </section>
      </main>
    </PageFrame>
  );
}
