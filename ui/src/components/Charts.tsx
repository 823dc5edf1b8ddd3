// Hand-drawn SVG charts (no chart library): the traffic history of the Traffic page and the
// per-torrent speed sparkline of the details pane. Colours come from the theme (download
// green, upload blue, like the speed figures elsewhere).
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import * as fmt from '../format';
import { speedSeries, WINDOW_MS } from '../speeds';
import type { History } from '../types';

const KIB = 1024;

/** A rounded top for the rate axis and its step: 1, 2 or 5 × 10^k of the unit the maximum
 * reads in (B/s, KiB/s, MiB/s …), about four steps. */
export function rateTicks(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: KIB, step: KIB / 4 };
  let unit = 1;
  while (max / unit >= 1024) unit *= 1024;
  const raw = max / unit / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag) * unit;
  return { top: Math.ceil(max / step) * step, step };
}

function rateLabel(v: number): string {
  if (v === 0) return '0';
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s', 'TiB/s'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toFixed(v < 10 && v % 1 ? 1 : 0))} ${units[i]}`;
}

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;
const X_STEPS = [5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 5 * DAY, 7 * DAY];

const pad2 = (n: number) => (n < 10 ? '0' : '') + n;

/** Time ticks over [from, to] (unix seconds), on round local times, at most `max` of them. */
export function timeTicks(from: number, to: number, max: number): { t: number; label: string }[] {
  const span = to - from;
  const step = X_STEPS.find((s) => span / s <= max) || 7 * DAY;
  // Local time: shift by the offset so multiples of the step fall on round local hours/days.
  const off = -new Date(from * 1000).getTimezoneOffset() * 60;
  const out: { t: number; label: string }[] = [];
  for (let t = Math.ceil((from + off) / step) * step - off; t <= to; t += step) {
    const d = new Date(t * 1000);
    const label =
      step >= DAY
        ? `${d.getMonth() + 1}/${d.getDate()}`
        : d.getHours() === 0 && d.getMinutes() === 0 && span > DAY
          ? `${d.getMonth() + 1}/${d.getDate()}`
          : `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    out.push({ t, label });
  }
  return out;
}

/** Bytes per bucket over [from, now], the buckets without traffic as zeros. */
export function fillBuckets(h: History, now: number): { t: number[]; dl: number[]; ul: number[] } {
  const n = Math.max(1, Math.ceil((now - h.from) / h.step));
  const t = Array.from({ length: n }, (_, i) => h.from + i * h.step);
  const dl = new Array<number>(n).fill(0);
  const ul = new Array<number>(n).fill(0);
  for (const p of h.points) {
    const i = Math.floor((p.t - h.from) / h.step);
    if (i < 0 || i >= n) continue;
    dl[i] += p.dl;
    ul[i] += p.ul;
  }
  return { t, dl, ul };
}

/** The width of an element, kept current. */
function useWidth(): [preact.RefObject<HTMLDivElement>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [w, setW] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current!;
    setW(el.clientWidth);
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, w];
}

/** A line (and optionally the area under it) through `vals`, `x(i)` and `y(v)` in pixels. */
function paths(vals: number[], x: (i: number) => number, y: (v: number) => number, base: number) {
  let d = '';
  for (let i = 0; i < vals.length; i++) d += (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(vals[i]).toFixed(1);
  const area = vals.length ? `${d}L${x(vals.length - 1).toFixed(1)} ${base}L${x(0).toFixed(1)} ${base}Z` : '';
  return { line: d, area };
}

const M = { l: 70, r: 12, t: 10, b: 24 };

export function TrafficChart({ h, now, height = 260 }: { h: History; now: number; height?: number }) {
  const [ref, width] = useWidth();
  const [hover, setHover] = useState<number | null>(null);
  const b = fillBuckets(h, now);
  const n = b.t.length;
  const rate = (v: number) => v / h.step;
  const max = Math.max(...b.dl.map(rate), ...b.ul.map(rate), 0);
  const { top, step } = rateTicks(max);
  const W = Math.max(width, 200);
  const pw = W - M.l - M.r;
  const ph = height - M.t - M.b;
  const x = (i: number) => M.l + (n === 1 ? pw / 2 : (i / (n - 1)) * pw);
  const y = (v: number) => M.t + ph - (rate(v) / top) * ph;
  const base = M.t + ph;
  const dl = paths(b.dl, x, y, base);
  const ul = paths(b.ul, x, y, base);
  const xt = timeTicks(h.from, now, Math.max(2, Math.floor(pw / 90)));
  const tx = (t: number) => M.l + ((t - h.from) / Math.max(1, (n - 1) * h.step)) * pw;
  const yt: number[] = [];
  for (let v = 0; v <= top + 1e-9; v += step) yt.push(v);
  const move = (e: PointerEvent) => {
    const r = (e.currentTarget as SVGSVGElement).getBoundingClientRect();
    const i = Math.round(((e.clientX - r.left - M.l) / pw) * (n - 1));
    setHover(i >= 0 && i < n ? i : null);
  };
  const at = hover == null ? null : new Date(b.t[hover] * 1000);
  return (
    <div class="chart" ref={ref} data-testid="traffic-chart">
      <p class="chart-readout small" aria-live="off">
        {at ? (
          <>
            {fmt.date(at.toISOString())} <span class="dlc">↓ {fmt.speed(rate(b.dl[hover!])) || '0 B/s'}</span>{' '}
            <span class="ulc">↑ {fmt.speed(rate(b.ul[hover!])) || '0 B/s'}</span>
            <span class="muted"> (average over {h.step >= 600 ? '10 minutes' : 'a minute'})</span>
          </>
        ) : (
          <span class="muted">Point at (or touch) the chart for the figures of a moment.</span>
        )}
      </p>
      {width > 0 && (
        <svg
          width={W}
          height={height}
          viewBox={`0 0 ${W} ${height}`}
          role="img"
          aria-label={`Download and upload speed from ${fmt.date(new Date(h.from * 1000).toISOString())} to now, at most ${rateLabel(max)}`}
          onPointerMove={move}
          onPointerLeave={() => setHover(null)}
        >
          {yt.map((v) => {
            const py = M.t + ph - (v / top) * ph;
            return (
              <g key={'y' + v}>
                <line class="grid" x1={M.l} x2={W - M.r} y1={py} y2={py} />
                <text class="axis" x={M.l - 6} y={py + 3} text-anchor="end">{rateLabel(v)}</text>
              </g>
            );
          })}
          {xt.map((k) => (
            <g key={'x' + k.t}>
              <line class="grid" x1={tx(k.t)} x2={tx(k.t)} y1={M.t} y2={base} />
              <text class="axis" x={tx(k.t)} y={height - 6} text-anchor="middle">{k.label}</text>
            </g>
          ))}
          <path class="area-dl" d={dl.area} />
          <path class="area-ul" d={ul.area} />
          <path class="line-dl" d={dl.line} data-testid="chart-dl" />
          <path class="line-ul" d={ul.line} data-testid="chart-ul" />
          {hover != null && <line class="cursor" x1={x(hover)} x2={x(hover)} y1={M.t} y2={base} />}
        </svg>
      )}
    </div>
  );
}

/** The torrent's speeds over the last two minutes (the feed's samples), redrawn every second. */
export function Sparkline({ r }: { r: { hash: string; dl_speed: number; ul_speed: number } }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = window.setInterval(() => document.visibilityState === 'visible' && tick((x) => x + 1), 1000);
    return () => clearInterval(t);
  }, []);
  const W = 180;
  const H = 34;
  const s = speedSeries(r.hash, r);
  const max = Math.max(...s.dl, ...s.ul, 1);
  const n = s.dl.length;
  const x = (i: number) => (i / (n - 1)) * W;
  const y = (v: number) => H - 1 - (v / max) * (H - 3);
  const dl = paths(s.dl, x, y, H);
  const ul = paths(s.ul, x, y, H);
  const label = `Speed over the last ${WINDOW_MS / 60000} minutes: download up to ${fmt.speed(Math.max(...s.dl)) || '0 B/s'}, upload up to ${fmt.speed(Math.max(...s.ul)) || '0 B/s'}`;
  return (
    <svg class="spark" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} data-testid="speed-spark">
      <title>{label}</title>
      <path class="area-dl" d={dl.area} />
      <path class="line-dl" d={dl.line} />
      <path class="line-ul" d={ul.line} />
    </svg>
  );
}
