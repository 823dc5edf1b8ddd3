// Inline SVG icons (stroke-based, 16px grid). No icon font, no external requests.
import type { JSX } from 'preact';

const P: Record<string, string> = {
  play: 'M5 3.5v9l7-4.5z',
  pause: 'M5 3.5v9M11 3.5v9',
  force: 'M9 2 4 9h4l-1 5 5-7H8z',
  recheck: 'M13 8a5 5 0 1 1-1.5-3.6M13 2.5v2.5h-2.5',
  trash: 'M3 4.5h10M6.5 4.5V3h3v1.5M4.5 4.5l.7 8.5h5.6l.7-8.5',
  plus: 'M8 3v10M3 8h10',
  search: 'M7 12a5 5 0 1 0 0-10 5 5 0 0 0 0 10zM10.7 10.7 14 14',
  sun: 'M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM8 1v1.5M8 13.5V15M1 8h1.5M13.5 8H15M3 3l1 1M12 12l1 1M3 13l1-1M12 4l1-1',
  moon: 'M13 9.5A5.5 5.5 0 0 1 6.5 3 5.5 5.5 0 1 0 13 9.5z',
  user: 'M8 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM2.5 14.5c.5-3 2.8-4.5 5.5-4.5s5 1.5 5.5 4.5',
  down: 'M8 2.5v10M4 8.5l4 4 4-4',
  up: 'M8 13.5v-10M4 7.5l4-4 4 4',
  x: 'M4 4l8 8M12 4l-8 8',
  menu: 'M2.5 4h11M2.5 8h11M2.5 12h11',
  cols: 'M2.5 3h11v10h-11zM6.2 3v10M9.8 3v10',
  chev: 'M6 4l4 4-4 4',
  chevd: 'M4 6l4 4 4-4',
  filter: 'M2 3h12L9.5 8.5V13l-3 1.5V8.5z',
  info: 'M8 14.5a6.5 6.5 0 1 0 0-13 6.5 6.5 0 0 0 0 13zM8 7v4.5M8 4.6v.1',
  key: 'M1.5 5h13v7h-13zM4 7.5h1M7 7.5h2M11 7.5h1M5 10h6',
  disk: 'M2 9.5h12v4H2zM3.5 9.5 5 3h6l1.5 6.5M11 11.5h.5',
  folder: 'M1.5 4h5l1.5 1.5h6.5v7.5h-13z',
  file: 'M4 1.5h5l3 3v10H4zM9 1.5v3h3',
  back: 'M10 3 5 8l5 5',
  logout: 'M6 2.5H3v11h3M10.5 5l3 3-3 3M13.5 8H6',
  gear: 'M8 10a2 2 0 1 0 0-4 2 2 0 0 0 0 4zM8 1.5v2M8 12.5v2M1.5 8h2M12.5 8h2M3.4 3.4l1.4 1.4M11.2 11.2l1.4 1.4M3.4 12.6l1.4-1.4M11.2 4.8l1.4-1.4',
  check: 'M3 8.5l3 3 7-7',
  top: 'M3 2.5h10M8 14V5.5M4.5 9 8 5.5 11.5 9',
  bottom: 'M3 13.5h10M8 2v8.5M4.5 7 8 10.5 11.5 7',
  more: 'M3.5 8h.01M8 8h.01M12.5 8h.01',
  copy: 'M5.5 5.5h8v8h-8zM10.5 5.5v-3h-8v8h3',
  tag: 'M2 2.5h5.5l6.5 6.5-5 5L2.5 7.5zM5 5h.01',
  turtle: 'M2.5 10.5a5.5 4.8 0 0 1 11 0zM13.3 9h.9a1.3 1.3 0 0 0 0-2.6h-.7M4.7 10.5v2M11.3 10.5v2M2.5 10.5 1.2 11.8M5.5 10.5l1-3h3l1 3',
  gauge: 'M2.5 12a5.5 5.5 0 1 1 11 0M8 12l2.6-3.6',
  ratio: 'M3.5 12.5l9-9M4.5 6a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM11.5 13a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z',
  announce: 'M8 9.5v5M8 9.5h.01M5.5 6.5a3.5 3.5 0 0 1 5 0M3.5 4.5a6.3 6.3 0 0 1 9 0',
  edit: 'M10.5 2.5l3 3-8 8h-3v-3zM9 4l3 3',
  bell: 'M4 11.5V7a4 4 0 0 1 8 0v4.5l1.2 1.3H2.8zM6.5 14.2a1.6 1.6 0 0 0 3 0',
  chart: 'M2 13.5h12M3.5 11l3-4 2.5 2.5L13 4',
  alert: 'M8 2 14.5 13.5h-13zM8 6.5v3.5M8 12v.1',
  rss: 'M3 3a10 10 0 0 1 10 10M3 7a6 6 0 0 1 6 6M3.5 12.5h.01',
};

export function Icon({ n, size = 14, ...rest }: { n: keyof typeof P | string; size?: number } & JSX.SVGAttributes<SVGSVGElement>) {
  const fill = n === 'play' ? 'currentColor' : 'none';
  return (
    <svg class="ic" width={size} height={size} viewBox="0 0 16 16" aria-hidden="true" {...rest}>
      <path d={P[n] || ''} fill={fill} stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}
