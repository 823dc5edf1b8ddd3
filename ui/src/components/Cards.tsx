// Phone layout: one card per torrent (virtualized like the table), a search field, and a
// bottom action bar within thumb reach once something is selected; the less frequent actions
// (force start, recheck, label, queue, move, copy) are in its "more" sheet.
import { act, askLabel, askLimits, askRemove, copyHash, copyMagnet, moveToProfile, openAdd, queueMove, writable } from '../actions';
import * as fmt from '../format';
import { memo } from '../hooks';
import { Icon } from '../icons';
import { app, canWrite, rows, rowsStore, useStore } from '../store';
import type { Row } from '../types';
import { labelsOf } from '../list';
import { Chips, EmptyState, ProgressBar, Status, bySlot, useShownList, useWindow } from './Table';

const CARD_H = 76;

const Card = memo(
  ({ r, top, sel }: { r: Row; top: number; sel: boolean }) => (
    <div class={'card' + (sel ? ' sel' : '')} data-h={r.hash} role="option" aria-selected={sel} style={{ transform: `translateY(${top}px)` }}>
      <div class="card-top">
        <span class="check" aria-hidden="true">{sel && <Icon n="check" size={12} />}</span>
        <span class="card-name">{r.name}</span>
        <span class="card-pct">{fmt.pct(r.state === 'checking' && r.check_progress != null ? r.check_progress : r.progress)}</span>
      </div>
      <ProgressBar r={r} />
      <div class="card-meta">
        <Status r={r} long />
        <span>{r.size ? fmt.bytes(r.size) : ''}</span>
        {r.dl_speed > 0 && <span class="dlc">↓ {fmt.speed(r.dl_speed)}</span>}
        {r.ul_speed > 0 && <span class="ulc">↑ {fmt.speed(r.ul_speed)}</span>}
        {r.eta != null && <span>{fmt.eta(r.eta)}</span>}
        <Chips labels={labelsOf(r)} />
      </div>
    </div>
  ),
  (a, b) => a.r === b.r && a.top === b.top && a.sel === b.sel,
);

export function Cards() {
  const list = useShownList();
  const selected = useStore(app, (s) => s.selected);
  const search = useStore(app, (s) => s.search);
  const status = useStore(app, (s) => s.status);
  const loaded = useStore(rowsStore, (s) => s.loaded);
  const profiles = useStore(app, (s) => s.profiles);
  const profile = useStore(app, (s) => s.profile);
  const conn = useStore(app, (s) => s.conn);
  const write = canWrite(profiles.find((p) => p.id === profile)) && conn === 'online';
  const { ref, first, last, slots } = useWindow(list.length, CARD_H);
  const onClick = (e: MouseEvent) => {
    const h = (e.target as HTMLElement).closest('[data-h]')?.getAttribute('data-h');
    if (!h) return;
    const sel = new Set(app.get().selected);
    if (sel.has(h)) sel.delete(h);
    else sel.add(h);
    app.set({ selected: sel, focus: h, anchor: h });
  };
  const n = selected.size;
  return (
    <div class="cards-wrap">
      <div class="phone-search">
        <label class="search">
          <Icon n="search" />
          <input type="search" placeholder="Filter by name" aria-label="Filter by name" value={search} onInput={(e) => app.set({ search: e.currentTarget.value })} />
        </label>
        {status !== 'all' && (
          <button class="chip" onClick={() => app.set({ status: 'all' })} aria-label={`Status filter ${status}: clear`}>
            {status} <Icon n="x" size={10} />
          </button>
        )}
      </div>
      <div class="cards" ref={ref} role="listbox" aria-label="Torrents" aria-multiselectable="true" data-testid="cards">
        <div class="cards-inner" style={{ height: list.length * CARD_H + 'px' }} onClick={onClick}>
          {bySlot(first, last, slots, (j) => (
            <Card key={j % slots} r={list[j]} top={j * CARD_H} sel={selected.has(list[j].hash)} />
          ))}
        </div>
        {list.length === 0 && <EmptyState loaded={loaded} long={false} />}
      </div>
      {n > 0 ? (
        <div class="actionbar" role="toolbar" aria-label="Selected torrents">
          <span class="sel-count" aria-label={`${n} selected`}>{n}</span>
          {write && (
            <>
              <button class="btn big" onClick={() => act('resume')} aria-label="Start"><Icon n="play" size={18} /></button>
              <button class="btn big" onClick={() => act('pause')} aria-label="Pause"><Icon n="pause" size={18} /></button>
              <button class="btn big" onClick={askRemove} aria-label="Remove"><Icon n="trash" size={18} /></button>
            </>
          )}
          {n === 1 && (
            <button class="btn big" onClick={() => app.set({ detailsOpen: true })} aria-label="Details"><Icon n="info" size={18} /></button>
          )}
          <button class="btn big" onClick={() => app.set({ moreOpen: true })} aria-label="More actions" data-testid="more-actions"><Icon n="more" size={18} /></button>
          <button class="btn big" onClick={() => app.set({ selected: new Set() })} aria-label="Clear selection"><Icon n="x" size={18} /></button>
        </div>
      ) : (
        profiles.some(canWrite) && (
          <button class="fab" onClick={() => openAdd()} aria-label="Add torrents" data-testid="add-button" disabled={conn !== 'online'}>
            <Icon n="plus" size={22} />
          </button>
        )
      )}
    </div>
  );
}

/** Phone: the actions that do not fit the action bar, as a bottom sheet. */
export function MoreSheet() {
  const open = useStore(app, (s) => s.moreOpen);
  const profiles = useStore(app, (s) => s.profiles);
  const profile = useStore(app, (s) => s.profile);
  if (!open) return null;
  const hashes = [...app.get().selected].filter((h) => rows.map.has(h));
  const one = hashes.length === 1 ? hashes[0] : null;
  const w = writable();
  const close = () => app.set({ moreOpen: false });
  const run = (f: () => unknown) => () => {
    close();
    f();
  };
  const targets = profiles.filter((p) => p.id !== profile && canWrite(p));
  return (
    <div class="sheet-bg" onClick={close}>
      <div class="action-sheet" role="menu" aria-label="More actions" data-testid="more-sheet" onClick={(e) => e.stopPropagation()}>
        {w && (
          <>
            <button role="menuitem" onClick={run(() => act('force-start', hashes))}><Icon n="force" /> Force start</button>
            <button role="menuitem" onClick={run(() => act('recheck', hashes))}><Icon n="recheck" /> Force recheck</button>
            <button role="menuitem" onClick={run(() => act('reannounce', hashes))}><Icon n="announce" /> Force reannounce</button>
            <button role="menuitem" onClick={run(askLabel)}><Icon n="tag" /> Labels…</button>
            <div class="sheet-row two">
              <button role="menuitem" onClick={run(() => askLimits('speed'))}><Icon n="gauge" /> Speed limits…</button>
              <button role="menuitem" onClick={run(() => askLimits('share'))}><Icon n="ratio" /> Share limits…</button>
            </div>
            <div class="sheet-row">
              <button role="menuitem" onClick={run(() => queueMove('top', hashes))} aria-label="Queue: top"><Icon n="top" /> Top</button>
              <button role="menuitem" onClick={run(() => queueMove('up', hashes))} aria-label="Queue: up"><Icon n="up" /> Up</button>
              <button role="menuitem" onClick={run(() => queueMove('down', hashes))} aria-label="Queue: down"><Icon n="down" /> Down</button>
              <button role="menuitem" onClick={run(() => queueMove('bottom', hashes))} aria-label="Queue: bottom"><Icon n="bottom" /> Bottom</button>
            </div>
            {targets.map((p) => (
              <button role="menuitem" key={p.id} onClick={run(() => moveToProfile(hashes, p.id, p.name || p.id))}>Move to {p.name || p.id}</button>
            ))}
          </>
        )}
        {one && <button role="menuitem" onClick={run(() => copyMagnet(one))}><Icon n="copy" /> Copy magnet link</button>}
        {one && <button role="menuitem" onClick={run(() => copyHash(one))}><Icon n="copy" /> Copy info hash</button>}
        <button role="menuitem" class="cancel" onClick={close}>Cancel</button>
      </div>
    </div>
  );
}
