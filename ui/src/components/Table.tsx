// The virtualized torrent table: only the rows inside the viewport (plus a small overscan)
// are in the DOM, so thousands of torrents scroll smoothly. Columns are sortable (click),
// resizable (drag the header edge) and hideable (right-click the header or the ⋮ button).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { act, askRemove, writable } from '../actions';
import { patch, errText } from '../api';
import { mergeRow } from '../feed';
import * as fmt from '../format';
import { memo, useDismiss } from '../hooks';
import { Icon } from '../icons';
import { COLUMNS, type Col, type ColId, type Sort, compute, setShown, shown } from '../list';
import { app, canWrite, rows, rowsStore, toast, useStore } from '../store';
import { trackersOf } from '../trackers';
import type { Row } from '../types';

export const ROW_H = 22;
const OVERSCAN = 8;

interface ColState {
  hidden: ColId[];
  widths: Partial<Record<ColId, number>>;
}

function load<T>(k: string, d: T): T {
  try {
    const v = JSON.parse(localStorage.getItem(k) || 'null');
    return v ?? d;
  } catch {
    return d;
  }
}

export function ProgressBar({ r }: { r: Row }) {
  // While checking, the bar shows how much was verified, labelled as such.
  const checking = r.state === 'checking' && r.check_progress != null;
  const f = checking ? (r.check_progress as number) : r.progress;
  return (
    <div class={'bar s-' + r.state}>
      <div class="fill" style={{ width: (f * 100).toFixed(1) + '%' }} />
      <span>{checking ? 'check ' + fmt.pct(f) : fmt.pct(f)}</span>
    </div>
  );
}

export function Status({ r }: { r: Row }) {
  return (
    <span class={'st s-' + r.state} title={r.error || undefined}>
      <i class="dot" />
      {fmt.stateLabel(r)}
    </span>
  );
}

function cell(c: ColId, r: Row) {
  switch (c) {
    case 'queue_position':
      return r.queue_position;
    case 'name':
      return <span title={r.name}>{r.name}</span>;
    case 'size':
      return r.size ? fmt.bytes(r.size) : '';
    case 'progress':
      return <ProgressBar r={r} />;
    case 'state':
      return <Status r={r} />;
    case 'peers':
      return `${r.seeds} / ${r.peers}`;
    case 'dl_speed':
      return fmt.speed(r.dl_speed);
    case 'ul_speed':
      return fmt.speed(r.ul_speed);
    case 'eta':
      return fmt.eta(r.eta);
    case 'ratio':
      return fmt.ratio(r.ratio);
    case 'label':
      return r.label || '';
    case 'added_at':
      return fmt.date(r.added_at);
  }
}

interface RowProps {
  r: Row;
  top: number;
  sel: boolean;
  focus: boolean;
  cols: Col[];
  odd: boolean;
}

const RowView = memo(
  ({ r, top, sel, focus, cols, odd }: RowProps) => (
    <div
      class={'tr' + (sel ? ' sel' : '') + (focus ? ' focus' : '') + (odd ? ' odd' : '') + (r.state === 'error' ? ' err' : '')}
      data-h={r.hash}
      role="row"
      aria-selected={sel}
      style={{ transform: `translateY(${top}px)` }}
    >
      {cols.map((c) => (
        <div key={c.id} class={'td c-' + c.id + (c.right ? ' r' : '')} role="cell">
          {cell(c.id, r)}
        </div>
      ))}
    </div>
  ),
  (a, b) => a.r === b.r && a.top === b.top && a.sel === b.sel && a.focus === b.focus && a.cols === b.cols && a.odd === b.odd,
);

function ColumnMenu({ at, state, onChange, close }: { at: { x: number; y: number }; state: ColState; onChange: (s: ColState) => void; close: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(true, close, ref);
  const toggle = (id: ColId) => {
    const hidden = state.hidden.includes(id) ? state.hidden.filter((h) => h !== id) : [...state.hidden, id];
    onChange({ ...state, hidden });
  };
  return (
    <div class="menu ctx" ref={ref} role="menu" style={{ left: at.x + 'px', top: at.y + 'px' }}>
      <div class="menu-head">Columns</div>
      {COLUMNS.map((c) => (
        <label key={c.id} class="menu-check">
          <input type="checkbox" checked={!state.hidden.includes(c.id)} disabled={c.id === 'name'} onChange={() => toggle(c.id)} />
          {c.id === 'queue_position' ? 'Queue position (#)' : c.title}
        </label>
      ))}
      <button onClick={() => onChange({ hidden: [], widths: {} })}>Reset columns</button>
    </div>
  );
}

function RowMenu({ at, close }: { at: { x: number; y: number }; close: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(true, close, ref);
  const profiles = useStore(app, (s) => s.profiles);
  const profile = useStore(app, (s) => s.profile);
  const hashes = [...app.get().selected];
  const w = writable();
  const run = (f: () => unknown) => () => {
    close();
    f();
  };
  const patchAll = (body: object, what: string) => async () => {
    close();
    for (const h of hashes) {
      try {
        mergeRow(await patch<Row>(`/api/torrents/${h}`, body));
      } catch (e) {
        toast(`Could not ${what}: ${errText(e)}`);
        return;
      }
    }
  };
  const setLabel = () => {
    const first = rows.map.get(hashes[0]);
    const l = window.prompt('Label (empty clears it)', first?.label || '');
    if (l !== null) patchAll({ label: l.trim() || null }, 'set the label')();
    else close();
  };
  const targets = profiles.filter((p) => p.id !== profile && (p.level === 'full' || p.level === 'admin'));
  if (!w) {
    return (
      <div class="menu ctx" ref={ref} role="menu" style={{ left: at.x + 'px', top: at.y + 'px' }}>
        <div class="menu-head muted">Read-only profile</div>
      </div>
    );
  }
  return (
    <div class="menu ctx" ref={ref} role="menu" style={{ left: at.x + 'px', top: at.y + 'px' }}>
      <button onClick={run(() => act('resume'))}><Icon n="play" /> Start</button>
      <button onClick={run(() => act('pause'))}><Icon n="pause" /> Pause</button>
      <button onClick={run(() => act('force-start'))}><Icon n="force" /> Force start</button>
      <button onClick={run(() => act('recheck'))}><Icon n="recheck" /> Recheck</button>
      <hr />
      <button onClick={setLabel}>Set label…</button>
      <button onClick={patchAll({ queue: 'top' }, 'move in the queue')}>Queue: top</button>
      <button onClick={patchAll({ queue: 'up' }, 'move in the queue')}>Queue: up</button>
      <button onClick={patchAll({ queue: 'down' }, 'move in the queue')}>Queue: down</button>
      <button onClick={patchAll({ queue: 'bottom' }, 'move in the queue')}>Queue: bottom</button>
      {targets.length > 0 && <hr />}
      {targets.map((p) => (
        <button key={p.id} onClick={patchAll({ profile: p.id }, 'move to ' + p.name)}>Move to {p.name || p.id}</button>
      ))}
      <hr />
      <button class="danger" onClick={run(askRemove)}><Icon n="trash" /> Remove…</button>
    </div>
  );
}

/** Children in slot order, so recycled rows never move in the DOM (positions are transforms). */
export function bySlot<T>(first: number, last: number, slots: number, f: (index: number) => T): T[] {
  const idx: number[] = [];
  for (let j = first; j < last; j++) idx.push(j);
  idx.sort((a, b) => (a % slots) - (b % slots));
  return idx.map(f);
}

/** What an empty table says. */
export function emptyText(loaded: boolean, long: boolean): string {
  const s = app.get();
  if (!s.profiles.length) return 'No profile is visible to you. Ask an administrator for access.';
  if (!loaded) return s.connError || 'Loading…';
  if (rows.map.size) return 'No torrent matches the filters.';
  if (!canWrite(s.profiles.find((p) => p.id === s.profile))) return 'No torrents in this profile.';
  return long
    ? 'No torrents yet. Add one with the Add button or Ctrl+O, by pasting a magnet, or by dropping .torrent files here.'
    : 'No torrents yet. Tap + to add one.';
}

/** Click, Ctrl+click and Shift+click selection over the shown order. */
export function selectRow(hash: string, e: { ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }) {
  const s = app.get();
  if (e.shiftKey && s.anchor) {
    const a = shown.findIndex((r) => r.hash === s.anchor);
    const b = shown.findIndex((r) => r.hash === hash);
    if (a >= 0 && b >= 0) {
      const [lo, hi] = a < b ? [a, b] : [b, a];
      const sel = new Set(e.ctrlKey || e.metaKey ? s.selected : []);
      for (let i = lo; i <= hi; i++) sel.add(shown[i].hash);
      app.set({ selected: sel, focus: hash });
      return;
    }
  }
  if (e.ctrlKey || e.metaKey) {
    const sel = new Set(s.selected);
    if (sel.has(hash)) sel.delete(hash);
    else sel.add(hash);
    app.set({ selected: sel, focus: hash, anchor: hash });
    return;
  }
  app.set({ selected: new Set([hash]), focus: hash, anchor: hash });
}

export function useShownList(): Row[] {
  const version = useStore(rowsStore, (s) => s.version);
  const status = useStore(app, (s) => s.status);
  const label = useStore(app, (s) => s.label);
  const tracker = useStore(app, (s) => s.tracker);
  const search = useStore(app, (s) => s.search);
  const [sort] = useSortState();
  const list = useMemo(
    () => compute(rows.map.values(), { status, label, tracker, search, trackerOf: trackersOf }, sort),
    [version, status, label, tracker, search, sort],
  );
  setShown(list);
  // The selection only ever holds shown rows (filters narrow it, like qBittorrent).
  useEffect(() => {
    const s = app.get();
    if (!s.selected.size) return;
    const vis = new Set(list.map((r) => r.hash));
    let drop = false;
    for (const h of s.selected) if (!vis.has(h)) drop = true;
    if (drop) app.set({ selected: new Set([...s.selected].filter((h) => vis.has(h))) });
  }, [list]);
  return list;
}

// The sort is shared by the table and the phone cards.
let sortState: Sort = load<Sort>('pt.sort', { col: 'queue_position', desc: false });
const sortListeners = new Set<() => void>();
function useSortState(): [Sort, (s: Sort) => void] {
  const [, force] = useState(0);
  useEffect(() => {
    const l = () => force((x) => x + 1);
    sortListeners.add(l);
    return () => void sortListeners.delete(l);
  }, []);
  return [
    sortState,
    (s: Sort) => {
      sortState = s;
      localStorage.setItem('pt.sort', JSON.stringify(s));
      sortListeners.forEach((l) => l());
    },
  ];
}

/** Fixed-height windowing over a scroll container: re-renders only when the window of
 * rendered rows changes, not on every scroll event. */
export function useWindow(count: number, rowH: number, headH = 0) {
  const ref = useRef<HTMLDivElement>(null);
  const [win, setWin] = useState({ top: 0, h: 600 });
  const countRef = useRef(count);
  countRef.current = count;
  useLayoutEffect(() => {
    const el = ref.current!;
    let raf = 0;
    const update = () => {
      raf = 0;
      // Quantize to rows so small scrolls inside the overscan do not re-render.
      const top = Math.floor(el.scrollTop / rowH / 4) * rowH * 4;
      const h = el.clientHeight;
      setWin((w) => (w.top === top && w.h === h ? w : { top, h }));
    };
    const onScroll = () => {
      if (!raf) raf = requestAnimationFrame(update);
    };
    const ro = new ResizeObserver(onScroll);
    ro.observe(el);
    update();
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      ro.disconnect();
      el.removeEventListener('scroll', onScroll);
      cancelAnimationFrame(raf);
    };
  }, []);
  const first = Math.max(0, Math.floor((win.top - headH) / rowH) - OVERSCAN);
  const last = Math.min(count, Math.ceil((win.top - headH + win.h) / rowH) + OVERSCAN + 4);
  // Rows are keyed by slot (index modulo the window size): a row scrolled out is reused for
  // the row scrolled in, so scrolling updates a few text nodes instead of rebuilding DOM.
  const slots = Math.ceil(win.h / rowH) + 2 * OVERSCAN + 6;
  return { ref, first, last, slots };
}

export function Table() {
  const list = useShownList();
  const selected = useStore(app, (s) => s.selected);
  const focus = useStore(app, (s) => s.focus);
  const loaded = useStore(rowsStore, (s) => s.loaded);
  const [sort, setSort] = useSortState();
  const [colState, setColStateRaw] = useState<ColState>(() => load('pt.cols', { hidden: [], widths: {} }));
  const setColState = (s: ColState) => {
    setColStateRaw(s);
    localStorage.setItem('pt.cols', JSON.stringify(s));
  };
  const [colMenu, setColMenu] = useState<{ x: number; y: number } | null>(null);
  const [rowMenu, setRowMenu] = useState<{ x: number; y: number } | null>(null);
  const cols = useMemo(
    () => COLUMNS.filter((c) => !colState.hidden.includes(c.id)).map((c) => ({ ...c, width: colState.widths[c.id] || c.width })),
    [colState],
  );
  // Column widths are CSS variables on the container (flex cells read them); the name
  // column also takes the spare width; 24px at the end hold the columns button.
  const widthVars: Record<string, string> = {};
  for (const c of cols) widthVars['--w-' + c.id] = c.width + 'px';
  const total = cols.reduce((a, c) => a + c.width, 0) + 24;
  const { ref, first, last, slots } = useWindow(list.length, ROW_H, ROW_H + 2);

  // Keep the focused row visible when it moves by keyboard.
  useEffect(() => {
    if (!focus || !ref.current) return;
    const i = list.findIndex((r) => r.hash === focus);
    if (i < 0) return;
    const el = ref.current;
    const y = i * ROW_H;
    const head = ROW_H + 2;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + ROW_H > el.scrollTop + el.clientHeight - head) el.scrollTop = y + ROW_H - el.clientHeight + head;
  }, [focus]);

  const resize = (id: ColId, e: PointerEvent) => {
    e.preventDefault();
    e.stopPropagation();
    const startX = e.clientX;
    const start = cols.find((c) => c.id === id)!.width;
    let w = start;
    const move = (ev: PointerEvent) => {
      w = Math.max(32, Math.round(start + ev.clientX - startX));
      setColStateRaw((s) => ({ ...s, widths: { ...s.widths, [id]: w } }));
    };
    const up = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      setColStateRaw((s) => {
        localStorage.setItem('pt.cols', JSON.stringify(s));
        return s;
      });
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  const rowOf = (e: Event) => (e.target as HTMLElement).closest('[data-h]')?.getAttribute('data-h') || null;
  const onClick = (e: MouseEvent) => {
    if ((e.target as HTMLElement).closest('.thead')) return;
    const h = rowOf(e);
    if (h) selectRow(h, e);
    else if (!e.ctrlKey && !e.shiftKey && !e.metaKey) app.set({ selected: new Set(), focus: null });
  };
  const onDbl = (e: MouseEvent) => {
    const h = rowOf(e);
    const r = h && rows.map.get(h);
    if (!r || !writable()) return;
    act(r.state === 'paused' ? 'resume' : 'pause', [r.hash]);
  };
  const onCtx = (e: MouseEvent) => {
    const h = rowOf(e);
    if (!h) return;
    e.preventDefault();
    if (!app.get().selected.has(h)) selectRow(h, { ctrlKey: false, metaKey: false, shiftKey: false });
    setRowMenu({ x: Math.min(e.clientX, window.innerWidth - 200), y: Math.min(e.clientY, window.innerHeight - 360) });
  };
  return (
    <div class="table-wrap">
      <div
        class="tt"
        ref={ref}
        role="grid"
        aria-rowcount={list.length}
        data-testid="torrent-table"
        style={widthVars}
        onClick={onClick}
      >
        <div
          class="thead"
          role="row"
          style={{ minWidth: total + 'px' }}
          onContextMenu={(e) => {
            e.preventDefault();
            setColMenu({ x: e.clientX, y: e.clientY });
          }}
        >
          {cols.map((c) => (
            <div
              key={c.id}
              class={'th c-' + c.id + (c.right ? ' r' : '') + (sort.col === c.id ? ' sorted' : '')}
              role="columnheader"
              aria-sort={sort.col === c.id ? (sort.desc ? 'descending' : 'ascending') : 'none'}
              data-col={c.id}
              onClick={() => setSort({ col: c.id, desc: sort.col === c.id ? !sort.desc : false })}
            >
              <span class="ellip">{c.title}</span>
              {sort.col === c.id && <span class="arrow">{sort.desc ? '▼' : '▲'}</span>}
              <span class="grip" onPointerDown={(e) => resize(c.id, e)} onClick={(e) => e.stopPropagation()} />
            </div>
          ))}
          <button
            class="th-more"
            title="Columns"
            aria-label="Columns"
            onClick={(e) => {
              const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
              setColMenu({ x: Math.min(r.left, window.innerWidth - 200), y: r.bottom });
            }}
          >
            <Icon n="cols" size={12} />
          </button>
        </div>
        <div
          class="tbody"
          style={{ height: list.length * ROW_H + 'px', minWidth: total + 'px' }}
          onDblClick={onDbl}
          onContextMenu={onCtx}
        >
          {bySlot(first, last, slots, (j) => {
            const r = list[j];
            return <RowView key={j % slots} r={r} top={j * ROW_H} sel={selected.has(r.hash)} focus={focus === r.hash} cols={cols} odd={j % 2 === 1} />;
          })}
        </div>
        {list.length === 0 && (
          <div class="empty">
            {emptyText(loaded, true)}
          </div>
        )}
      </div>
      {colMenu && <ColumnMenu at={colMenu} state={colState} onChange={setColState} close={() => setColMenu(null)} />}
      {rowMenu && <RowMenu at={rowMenu} close={() => setRowMenu(null)} />}
    </div>
  );
}

