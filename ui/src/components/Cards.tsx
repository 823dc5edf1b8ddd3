// Phone layout: one card per torrent (virtualized like the table), a search field, and a
// bottom action bar within thumb reach once something is selected.
import { act, askRemove, openAdd, writable } from '../actions';
import * as fmt from '../format';
import { memo } from '../hooks';
import { Icon } from '../icons';
import { app, canWrite, rowsStore, useStore } from '../store';
import type { Row } from '../types';
import { ProgressBar, Status, bySlot, emptyText, useShownList, useWindow } from './Table';

const CARD_H = 76;

const Card = memo(
  ({ r, top, sel }: { r: Row; top: number; sel: boolean }) => (
    <div class={'card' + (sel ? ' sel' : '')} data-h={r.hash} role="listitem" aria-selected={sel} style={{ transform: `translateY(${top}px)` }}>
      <div class="card-top">
        <span class="check" aria-hidden="true">{sel && <Icon n="check" size={12} />}</span>
        <span class="card-name">{r.name}</span>
      </div>
      <ProgressBar r={r} />
      <div class="card-meta">
        <Status r={r} />
        <span>{r.size ? fmt.bytes(r.size) : ''}</span>
        {r.dl_speed > 0 && <span class="dlc">↓ {fmt.speed(r.dl_speed)}</span>}
        {r.ul_speed > 0 && <span class="ulc">↑ {fmt.speed(r.ul_speed)}</span>}
        {r.eta != null && <span>{fmt.eta(r.eta)}</span>}
        {r.label && <span class="tag">{r.label}</span>}
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
  const write = canWrite(profiles.find((p) => p.id === profile));
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
          <button class="chip" onClick={() => app.set({ status: 'all' })}>
            {status} <Icon n="x" size={10} />
          </button>
        )}
      </div>
      <div class="cards" ref={ref} role="list" data-testid="cards">
        <div class="cards-inner" style={{ height: list.length * CARD_H + 'px' }} onClick={onClick}>
          {bySlot(first, last, slots, (j) => (
            <Card key={j % slots} r={list[j]} top={j * CARD_H} sel={selected.has(list[j].hash)} />
          ))}
        </div>
        {list.length === 0 && <div class="empty">{emptyText(loaded, false)}</div>}
      </div>
      {n > 0 ? (
        <div class="actionbar" role="toolbar" aria-label="Selected torrents">
          <span class="sel-count">{n}</span>
          {write && writable() && (
            <>
              <button class="btn big" onClick={() => act('resume')} aria-label="Start"><Icon n="play" size={18} /></button>
              <button class="btn big" onClick={() => act('pause')} aria-label="Pause"><Icon n="pause" size={18} /></button>
              <button class="btn big" onClick={askRemove} aria-label="Remove"><Icon n="trash" size={18} /></button>
            </>
          )}
          {n === 1 && (
            <button class="btn big" onClick={() => app.set({ detailsOpen: true })} aria-label="Details"><Icon n="info" size={18} /></button>
          )}
          <button class="btn big" onClick={() => app.set({ selected: new Set() })} aria-label="Clear selection"><Icon n="x" size={18} /></button>
        </div>
      ) : (
        profiles.some(canWrite) && (
          <button class="fab" onClick={() => openAdd()} aria-label="Add torrents" data-testid="add-button">
            <Icon n="plus" size={22} />
          </button>
        )
      )}
    </div>
  );
}
