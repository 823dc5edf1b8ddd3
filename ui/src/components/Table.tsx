// The virtualized torrent table: only the rows inside the viewport (plus a small overscan)
// are in the DOM, so thousands of torrents scroll smoothly. Columns are sortable (click),
// resizable (drag the header edge), reorderable (drag a header, or the arrows of the column
// chooser) and hideable; the choice is stored per user on the server. Rows are reordered in
// the queue by dragging while the table is sorted by #, or with Ctrl+↑/↓.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { act, askLabel, askLimits, askRemove, copyHash, copyMagnet, moveToProfile, openAdd, queueBlock, queueMove, writable } from '../actions';
import * as fmt from '../format';
import { memo, useDismiss } from '../hooks';
import { Icon } from '../icons';
import { COLUMNS, COL_BY_ID, DEFAULT_HIDDEN, type Col, type ColId, type Sort, compute, computeRanks, labelsOf, ranks, seedingSecs, setShown, shown } from '../list';
import { limitText } from '../limits';
import { getPref, prefs, setPref } from '../prefs';
import { app, canWrite, rows, rowsStore, useStore } from '../store';
import { trackersOf } from '../trackers';
import type { Row } from '../types';

export const ROW_H = 22;
const OVERSCAN = 8;

interface ColState {
  hidden: ColId[];
  widths: Partial<Record<ColId, number>>;
  order?: ColId[];
  /** The columns that existed when the state was saved: later ones start as for a new user. */
  known?: ColId[];
}

const DEFAULT_COLS: ColState = { hidden: DEFAULT_HIDDEN, widths: {}, order: [] };
/** Columns added after column states began to record `known`. */
const COLS_ADDED_LATER: ColId[] = ['availability', 'dl_limit', 'ul_limit'];

/** The stored column state, cleaned of unknown ids. */
function readCols(): ColState {
  const v = getPref<ColState>('cols', DEFAULT_COLS);
  const known = (ids: unknown) => (Array.isArray(ids) ? ids.filter((i): i is ColId => typeof i === 'string' && i in COL_BY_ID) : []);
  const seen = Array.isArray(v.known) ? known(v.known) : COLUMNS.map((c) => c.id).filter((id) => !COLS_ADDED_LATER.includes(id));
  const fresh = DEFAULT_HIDDEN.filter((id) => !seen.includes(id));
  return { hidden: [...new Set([...known(v.hidden), ...fresh])], widths: v.widths && typeof v.widths === 'object' ? v.widths : {}, order: known(v.order) };
}

/** Columns in the user's order (new columns at their default place). */
function ordered(order: ColId[] | undefined): Col[] {
  if (!order?.length) return COLUMNS;
  const pos = new Map(order.map((id, i) => [id, i]));
  const rest = COLUMNS.filter((c) => !pos.has(c.id));
  return [...order.map((id) => COL_BY_ID[id]), ...rest];
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

/** The state, with the reason it waits (disk space, descriptors) when there is one. */
export function Status({ r, long = false }: { r: Row; long?: boolean }) {
  const why = r.reason ? fmt.REASONS[r.reason] : undefined;
  const tip = r.error ? r.error + (r.save_dir ? ` (files in ${r.save_dir})` : '') : why?.tip;
  return (
    <span class={'st s-' + r.state + (r.reason ? ' why-' + r.reason : '')} title={tip} data-reason={r.reason || undefined}>
      <i class="dot" />
      {fmt.statusText(r, long)}
    </span>
  );
}

/** A torrent's labels as chips. */
export function Chips({ labels }: { labels: string[] }) {
  if (!labels.length) return null;
  return (
    <span class="chips" title={labels.join(', ')}>
      {labels.map((l) => <span key={l} class="tag chip">{l}</span>)}
    </span>
  );
}

function cell(c: ColId, r: Row) {
  switch (c) {
    case 'queue_position':
      return ranks.get(r.hash) ?? r.queue_position;
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
    case 'availability':
      return r.availability == null ? '' : r.availability.toFixed(3);
    case 'label':
      return <Chips labels={labelsOf(r)} />;
    case 'added_at':
      return fmt.date(r.added_at);
    case 'completed_at':
      return fmt.date(r.completed_at);
    case 'remaining':
      return r.size ? fmt.bytes(Math.max(0, r.size - r.downloaded)) : '';
    case 'downloaded':
      return fmt.bytes(r.downloaded);
    case 'uploaded':
      return fmt.bytes(r.uploaded);
    case 'uploaded_session':
      return fmt.bytes(r.uploaded_session ?? 0);
    case 'seeding_time':
      return fmt.eta(seedingSecs(r));
    case 'tracker':
      return <span title={(r.trackers || []).join(', ')}>{r.trackers?.[0] || ''}</span>;
    case 'save_dir':
      return <span title={r.save_dir}>{r.save_dir || ''}</span>;
    case 'dl_limit':
      return limitText(r.dl_limit, '');
    case 'ul_limit':
      return limitText(r.ul_limit, '');
  }
}

interface RowProps {
  r: Row;
  top: number;
  sel: boolean;
  focus: boolean;
  cols: Col[];
  odd: boolean;
  drag: boolean;
  flash: boolean;
  rank: number | undefined;
}

const RowView = memo(
  ({ r, top, sel, focus, cols, odd, drag, flash }: RowProps) => (
    <div
      id={'r-' + r.hash}
      class={'tr' + (sel ? ' sel' : '') + (focus ? ' focus' : '') + (odd ? ' odd' : '') + (r.state === 'error' ? ' err' : '') + (flash ? ' flash' : '')}
      data-h={r.hash}
      role="row"
      aria-selected={sel}
      draggable={drag}
      style={{ transform: `translateY(${top}px)` }}
    >
      {cols.map((c) => (
        <div key={c.id} class={'td c-' + c.id + (c.right ? ' r' : '')} role="gridcell">
          {cell(c.id, r)}
        </div>
      ))}
    </div>
  ),
  (a, b) =>
    a.r === b.r && a.top === b.top && a.sel === b.sel && a.focus === b.focus && a.cols === b.cols && a.odd === b.odd && a.drag === b.drag && a.flash === b.flash && a.rank === b.rank,
);

function ColumnMenu({ at, state, onChange, close }: { at: { x: number; y: number }; state: ColState; onChange: (s: ColState) => void; close: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(true, close, ref);
  const list = ordered(state.order);
  const toggle = (id: ColId) => {
    const hidden = state.hidden.includes(id) ? state.hidden.filter((h) => h !== id) : [...state.hidden, id];
    onChange({ ...state, hidden });
  };
  const move = (id: ColId, by: number) => {
    const ids = list.map((c) => c.id);
    const i = ids.indexOf(id);
    const j = i + by;
    if (j < 0 || j >= ids.length) return;
    [ids[i], ids[j]] = [ids[j], ids[i]];
    onChange({ ...state, order: ids });
  };
  return (
    <div class="menu ctx cols-menu" ref={ref} role="dialog" aria-label="Columns" style={{ left: Math.max(4, at.x) + 'px', top: at.y + 'px' }}>
      <div class="menu-head">Columns</div>
      <div class="menu-scroll">
        {list.map((c, i) => (
          <div key={c.id} class="menu-check">
            <label class="grow">
              <input type="checkbox" checked={!state.hidden.includes(c.id)} disabled={c.id === 'name'} onChange={() => toggle(c.id)} />
              {c.long || c.title}
            </label>
            <button class="mini" aria-label={`Move ${c.long || c.title} left`} disabled={i === 0} onClick={() => move(c.id, -1)}>
              <Icon n="up" size={10} />
            </button>
            <button class="mini" aria-label={`Move ${c.long || c.title} right`} disabled={i === list.length - 1} onClick={() => move(c.id, 1)}>
              <Icon n="down" size={10} />
            </button>
          </div>
        ))}
      </div>
      <button onClick={() => onChange({ ...DEFAULT_COLS })}>Reset columns</button>
    </div>
  );
}

export function RowMenu({ at, close }: { at: { x: number; y: number }; close: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(true, close, ref);
  const profiles = useStore(app, (s) => s.profiles);
  const profile = useStore(app, (s) => s.profile);
  const hashes = [...app.get().selected];
  const one = hashes.length === 1 ? hashes[0] : null;
  const w = writable();
  const run = (f: () => unknown) => () => {
    close();
    f();
  };
  const targets = profiles.filter((p) => p.id !== profile && canWrite(p));
  const style = { left: at.x + 'px', top: at.y + 'px' };
  return (
    <div class="menu ctx" ref={ref} role="menu" style={style} data-testid="row-menu">
      {w && (
        <>
          <button role="menuitem" onClick={run(() => act('resume'))}><Icon n="play" /> Start</button>
          <button role="menuitem" onClick={run(() => act('pause'))}><Icon n="pause" /> Pause</button>
          <button role="menuitem" onClick={run(() => act('force-start'))}><Icon n="force" /> Force start</button>
          <button role="menuitem" onClick={run(() => act('recheck'))}><Icon n="recheck" /> Force recheck</button>
          <button role="menuitem" onClick={run(() => act('reannounce'))}><Icon n="announce" /> Force reannounce</button>
          <hr />
        </>
      )}
      {one && <button role="menuitem" onClick={run(() => app.set({ focus: one, detailsOpen: true }))}><Icon n="info" /> Open details</button>}
      {one && <button role="menuitem" onClick={run(() => copyMagnet(one))}><Icon n="copy" /> Copy magnet link</button>}
      {one && <button role="menuitem" onClick={run(() => copyHash(one))}><Icon n="copy" /> Copy info hash</button>}
      {!w && <div class="menu-head muted">Read-only: no changes here</div>}
      {w && (
        <>
          <hr />
          <button role="menuitem" onClick={run(askLabel)}><Icon n="tag" /> Labels…</button>
          <button role="menuitem" onClick={run(() => askLimits('speed'))} data-testid="menu-speed-limits"><Icon n="gauge" /> Speed limits…</button>
          <button role="menuitem" onClick={run(() => askLimits('share'))} data-testid="menu-share-limits"><Icon n="ratio" /> Share limits…</button>
          <button role="menuitem" onClick={run(() => queueMove('top', hashes))}><Icon n="top" /> Queue: top</button>
          <button role="menuitem" onClick={run(() => queueMove('up', hashes))}><Icon n="up" /> Queue: up</button>
          <button role="menuitem" onClick={run(() => queueMove('down', hashes))}><Icon n="down" /> Queue: down</button>
          <button role="menuitem" onClick={run(() => queueMove('bottom', hashes))}><Icon n="bottom" /> Queue: bottom</button>
          {targets.length > 0 && <hr />}
          {targets.map((p) => (
            <button role="menuitem" key={p.id} onClick={run(() => moveToProfile(hashes, p.id, p.name || p.id))}>Move to {p.name || p.id}</button>
          ))}
          <hr />
          <button role="menuitem" class="danger" onClick={run(askRemove)}><Icon n="trash" /> Remove…</button>
        </>
      )}
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

/** What an empty table says, with what to do about it. */
export function EmptyState({ loaded, long }: { loaded: boolean; long: boolean }) {
  const s = app.get();
  let text: string;
  let cta = false;
  if (!s.profiles.length) text = 'No profile is visible to you. Ask an administrator for access.';
  else if (!loaded) text = s.connError || 'Loading…';
  else if (rows.map.size) text = 'No torrent matches the filters.';
  else if (!canWrite(s.profiles.find((p) => p.id === s.profile))) text = 'No torrents in this profile.';
  else {
    cta = true;
    text = long
      ? 'No torrents yet. Add one with the button below or Ctrl+O, by pasting a magnet link anywhere, or by dropping .torrent files on the page.'
      : 'No torrents yet.';
  }
  const filtered = loaded && rows.map.size > 0;
  return (
    <div class="empty" data-testid="empty-state">
      <p>{text}</p>
      {cta && (
        <p class="empty-actions">
          <button class="btn primary" onClick={() => openAdd()}><Icon n="plus" /> Add torrents</button>
          <a href="/api/openapi.json" target="_blank" rel="noopener">API documentation</a>
          <button class="link" onClick={() => app.set({ helpOpen: true })}>Keyboard shortcuts</button>
        </p>
      )}
      {filtered && (
        <p class="empty-actions">
          <button class="btn" onClick={() => app.set({ status: 'all', label: null, tracker: null, search: '' })}>Clear the filters</button>
        </p>
      )}
    </div>
  );
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
  const list = useMemo(() => {
    computeRanks(rows.map.values());
    return compute(rows.map.values(), { status, label, tracker, search, trackerOf: trackersOf }, sort);
  }, [version, status, label, tracker, search, sort]);
  setShown(list);
  // The selection and the details only ever show shown rows (filters narrow them, like
  // qBittorrent).
  useEffect(() => {
    const s = app.get();
    const vis = new Set(list.map((r) => r.hash));
    const patch: Partial<typeof s> = {};
    if ([...s.selected].some((h) => !vis.has(h))) patch.selected = new Set([...s.selected].filter((h) => vis.has(h)));
    if (s.focus && !vis.has(s.focus)) patch.focus = null;
    if (Object.keys(patch).length) app.set(patch);
  }, [list]);
  return list;
}

// The sort is shared by the table and the phone cards, and stored with the preferences.
function useSortState(): [Sort, (s: Sort) => void] {
  const sort = useStore(prefs, (p) => p.values.sort as Sort | undefined);
  const valid = sort && typeof sort === 'object' && sort.col in COL_BY_ID ? sort : { col: 'queue_position' as ColId, desc: false };
  return [valid, (s: Sort) => setPref('sort', s)];
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

/** Brings rows just added from this page into view, selected and briefly highlighted. When a
 * filter hides them, the filters are cleared. Returns the hashes to highlight. */
export function useReveal(list: Row[], scrollTo: (i: number) => void): Set<string> {
  const reveal = useStore(app, (s) => s.reveal);
  const [flash, setFlash] = useState<Set<string>>(new Set());
  useEffect(() => {
    if (!reveal.length) return;
    const here = reveal.filter((h) => rows.map.has(h));
    if (!here.length) return;
    const idx = here.map((h) => list.findIndex((r) => r.hash === h));
    if (idx.some((i) => i < 0)) {
      app.set({ status: 'all', label: null, tracker: null, search: '' });
      return;
    }
    app.set({ reveal: [], selected: new Set(here), focus: here[0], anchor: here[0] });
    scrollTo(Math.min(...idx));
    setFlash(new Set(here));
    const t = setTimeout(() => setFlash(new Set()), 2500);
    return () => clearTimeout(t);
  }, [reveal, list]);
  return flash;
}

export function Table() {
  const list = useShownList();
  const selected = useStore(app, (s) => s.selected);
  const focus = useStore(app, (s) => s.focus);
  const loaded = useStore(rowsStore, (s) => s.loaded);
  const conn = useStore(app, (s) => s.conn);
  const profile = useStore(app, (s) => s.profile);
  useStore(prefs, (p) => p.values.cols);
  const [sort, setSort] = useSortState();
  const colState = readCols();
  const [dragW, setDragW] = useState<{ id: ColId; w: number } | null>(null);
  const setColState = (s: ColState) => setPref('cols', { ...s, known: COLUMNS.map((c) => c.id) });
  const [colMenu, setColMenu] = useState<{ x: number; y: number } | null>(null);
  const [rowMenu, setRowMenu] = useState<{ x: number; y: number } | null>(null);
  const [dropAt, setDropAt] = useState<number | null>(null);
  const colKey = JSON.stringify(colState) + (dragW ? dragW.id + dragW.w : '');
  const cols = useMemo(
    () =>
      ordered(colState.order)
        .filter((c) => !colState.hidden.includes(c.id))
        .map((c) => ({ ...c, width: dragW?.id === c.id ? dragW.w : colState.widths[c.id] || c.width })),
    [colKey],
  );
  // Column widths are CSS variables on the container (flex cells read them); the name
  // column also takes the spare width; 24px at the end hold the columns button.
  const widthVars: Record<string, string> = {};
  for (const c of cols) widthVars['--w-' + c.id] = c.width + 'px';
  const total = cols.reduce((a, c) => a + c.width, 0) + 24;
  const { ref, first, last, slots } = useWindow(list.length, ROW_H, ROW_H + 2);
  const canWriteHere = canWrite(app.get().profiles.find((p) => p.id === profile)) && conn === 'online';
  const canDrag = canWriteHere && sort.col === 'queue_position' && !sort.desc;

  const scrollTo = (i: number) => {
    const el = ref.current;
    if (!el) return;
    const y = i * ROW_H;
    const head = ROW_H + 2;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + ROW_H > el.scrollTop + el.clientHeight - head) el.scrollTop = y + ROW_H - el.clientHeight + head;
  };
  const flash = useReveal(list, scrollTo);

  // Keep the focused row visible when it moves by keyboard.
  useEffect(() => {
    if (!focus) return;
    const i = list.findIndex((r) => r.hash === focus);
    if (i >= 0) scrollTo(i);
  }, [focus]);

  const resizing = useRef(false);
  const resize = (id: ColId, e: PointerEvent) => {
    e.preventDefault();
    e.stopPropagation();
    resizing.current = true;
    const startX = e.clientX;
    const start = cols.find((c) => c.id === id)!.width;
    let w = start;
    const move = (ev: PointerEvent) => {
      w = Math.max(32, Math.round(start + ev.clientX - startX));
      setDragW({ id, w });
    };
    const up = () => {
      resizing.current = false;
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      setDragW(null);
      const s = readCols();
      setColState({ ...s, widths: { ...s.widths, [id]: w } });
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };

  // Column reordering by dragging a header onto another.
  const onHeadDragStart = (e: DragEvent, id: ColId) => {
    if (resizing.current) return e.preventDefault();
    e.dataTransfer?.setData('application/x-pt-col', id);
    if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
  };
  const onHeadDrop = (e: DragEvent, target: ColId) => {
    const id = e.dataTransfer?.getData('application/x-pt-col') as ColId | undefined;
    if (!id || id === target) return;
    e.preventDefault();
    const ids = ordered(colState.order).map((c) => c.id).filter((c) => c !== id);
    ids.splice(ids.indexOf(target), 0, id);
    setColState({ ...colState, order: ids });
  };

  const rowOf = (e: Event) => (e.target as HTMLElement).closest('[data-h]')?.getAttribute('data-h') || null;
  const onClick = (e: MouseEvent) => {
    if ((e.target as HTMLElement).closest('.thead, .empty')) return;
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
    setRowMenu({ x: Math.min(e.clientX, window.innerWidth - 220), y: Math.min(e.clientY, window.innerHeight - 530) });
  };
  // Queue reordering by dragging rows (sorted by #, ascending).
  const onRowDragStart = (e: DragEvent) => {
    const h = rowOf(e);
    if (!h || !canDrag) return e.preventDefault();
    e.dataTransfer?.setData('application/x-pt-row', h);
    if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
    if (!app.get().selected.has(h)) selectRow(h, { ctrlKey: false, metaKey: false, shiftKey: false });
  };
  // Where a dragged row goes: before the row under the pointer, or after it when the pointer
  // is on its lower half; below the last row, at the end.
  const dropIndex = (e: DragEvent) => {
    const el = (e.target as HTMLElement).closest('[data-h]');
    const i = el ? list.findIndex((r) => r.hash === el.getAttribute('data-h')) : -1;
    if (el && i >= 0) {
      const r = el.getBoundingClientRect();
      return i + (e.clientY > r.top + r.height / 2 ? 1 : 0);
    }
    return list.length;
  };
  const onRowDragOver = (e: DragEvent) => {
    if (!canDrag || !e.dataTransfer?.types.includes('application/x-pt-row')) return;
    e.preventDefault();
    setDropAt(dropIndex(e));
  };
  const onRowDrop = (e: DragEvent) => {
    const h = e.dataTransfer?.getData('application/x-pt-row');
    setDropAt(null);
    if (!h || !canDrag) return;
    e.preventDefault();
    const at = dropIndex(e);
    // The dragged row carries the whole selection it belongs to, as one block in queue order.
    const sel = app.get().selected;
    const moving = sel.has(h) ? new Set([...sel].filter((x) => rows.map.has(x))) : new Set([h]);
    // A filter may hide rows: the block lands next to the shown row it was dropped at.
    const next = list.slice(at).find((r) => !moving.has(r.hash));
    const prev = [...list.slice(0, at)].reverse().find((r) => !moving.has(r.hash));
    if (next) queueBlock([...moving], { before: next.hash });
    else if (prev) queueBlock([...moving], { after: prev.hash });
  };
  return (
    <div class="table-wrap">
      <div
        class="tt"
        ref={ref}
        role="grid"
        aria-label="Torrents"
        aria-rowcount={list.length + 1}
        aria-multiselectable="true"
        aria-activedescendant={focus && list.some((r) => r.hash === focus) ? 'r-' + focus : undefined}
        tabIndex={0}
        data-testid="torrent-table"
        style={widthVars}
        onClick={onClick}
        onFocus={(e) => {
          // Keyboard users land on a row: the focused one, else the first.
          if (e.target === e.currentTarget && !app.get().focus && list.length) {
            const h = list[0].hash;
            app.set({ focus: h, anchor: h });
          }
        }}
      >
        <div
          class="thead"
          role="row"
          style={{ minWidth: total + 'px' }}
          onContextMenu={(e) => {
            e.preventDefault();
            setColMenu({ x: Math.min(e.clientX, window.innerWidth - 250), y: e.clientY });
          }}
        >
          {cols.map((c) => (
            <div
              key={c.id}
              class={'th c-' + c.id + (c.right ? ' r' : '') + (sort.col === c.id ? ' sorted' : '')}
              role="columnheader"
              aria-sort={sort.col === c.id ? (sort.desc ? 'descending' : 'ascending') : 'none'}
              data-col={c.id}
              draggable
              title={c.long}
              onDragStart={(e) => onHeadDragStart(e, c.id)}
              onDragOver={(e) => e.dataTransfer?.types.includes('application/x-pt-col') && e.preventDefault()}
              onDrop={(e) => onHeadDrop(e, c.id)}
              onClick={() => setSort({ col: c.id, desc: sort.col === c.id ? !sort.desc : false })}
            >
              <span class="ellip">{c.title}</span>
              {sort.col === c.id && <span class="arrow" aria-hidden="true">{sort.desc ? '▼' : '▲'}</span>}
              <span class="grip" onPointerDown={(e) => resize(c.id, e)} onClick={(e) => e.stopPropagation()} />
            </div>
          ))}
          <div class="th-more" role="columnheader">
            <button
              aria-label="Columns"
              data-tip="Columns"
              data-testid="columns-button"
              onClick={(e) => {
                const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
                setColMenu({ x: Math.min(r.left - 200, window.innerWidth - 250), y: r.bottom });
              }}
            >
              <Icon n="cols" size={12} />
            </button>
          </div>
        </div>
        <div
          class="tbody"
          role="rowgroup"
          style={{ height: list.length * ROW_H + 'px', minWidth: total + 'px' }}
          onDblClick={onDbl}
          onContextMenu={onCtx}
          onDragStart={onRowDragStart}
          onDragOver={onRowDragOver}
          onDragLeave={(e) => !e.relatedTarget && setDropAt(null)}
          onDrop={onRowDrop}
        >
          {bySlot(first, last, slots, (j) => {
            const r = list[j];
            return (
              <RowView
                key={j % slots}
                r={r}
                top={j * ROW_H}
                sel={selected.has(r.hash)}
                focus={focus === r.hash}
                cols={cols}
                odd={j % 2 === 1}
                drag={canDrag}
                flash={flash.has(r.hash)}
                rank={ranks.get(r.hash)}
              />
            );
          })}
          {dropAt !== null && <div class="drop-line" style={{ transform: `translateY(${dropAt * ROW_H - 1}px)` }} />}
        </div>
        {list.length === 0 && <EmptyState loaded={loaded} long />}
      </div>
      {colMenu && <ColumnMenu at={colMenu} state={colState} onChange={setColState} close={() => setColMenu(null)} />}
      {rowMenu && <RowMenu at={rowMenu} close={() => setRowMenu(null)} />}
    </div>
  );
}
