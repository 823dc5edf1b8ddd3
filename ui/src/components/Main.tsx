import { useEffect } from 'preact/hooks';
import { act, askRemove, openAdd, queueMove } from '../actions';
import * as fmt from '../format';
import { PHONE, useMedia } from '../hooks';
import { shown } from '../list';
import { app, navigate, useStore } from '../store';
import { AddDialog } from './AddDialog';
import { CreateDialog } from './CreateDialog';
import { Cards, MoreSheet } from './Cards';
import { DetailsPane } from './Details';
import { Footer } from './Footer';
import { LimitsDialog } from './Limits';
import { HelpOverlay, LabelDialog, RemoveDialog, Toasts, modalOpen } from './Dialogs';
import { Sidebar } from './Sidebar';
import { Table } from './Table';
import { TopBar } from './TopBar';

function isTyping(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
}

function anyDialog(): boolean {
  const s = app.get();
  return modalOpen() || s.addOpen || s.createOpen || s.removeOpen || s.labelOpen || !!s.limitsOpen || s.helpOpen;
}

/** Moves the focus (and the selection) to row index `j` of the shown list. */
function focusIndex(j: number, extend: boolean) {
  if (!shown.length) return;
  const i = Math.max(0, Math.min(shown.length - 1, j));
  const h = shown[i].hash;
  const s = app.get();
  if (extend && s.anchor) {
    const a = shown.findIndex((r) => r.hash === s.anchor);
    if (a >= 0) {
      const [lo, hi] = a < i ? [a, i] : [i, a];
      app.set({ focus: h, selected: new Set(shown.slice(lo, hi + 1).map((r) => r.hash)) });
      return;
    }
  }
  app.set({ focus: h, anchor: h, selected: new Set([h]) });
}

function onKey(e: KeyboardEvent) {
  // A modal handles its own keys (Escape, Tab, Enter); nothing behind it reacts.
  if (modalOpen()) return;
  const ctrl = e.ctrlKey || e.metaKey;
  if (e.key === 'Escape') {
    const s = app.get();
    if (s.moreOpen) app.set({ moreOpen: false });
    else if (s.detailsOpen) app.set({ detailsOpen: false });
    else if (!isTyping(e.target)) app.set({ selected: new Set(), anchor: null });
    else (e.target as HTMLElement).blur();
    return;
  }
  if (ctrl && e.key.toLowerCase() === 'o') {
    e.preventDefault();
    openAdd();
    return;
  }
  if (isTyping(e.target) || anyDialog()) return;
  if (ctrl && e.key.toLowerCase() === 'a') {
    e.preventDefault();
    app.set({ selected: new Set(shown.map((r) => r.hash)) });
    return;
  }
  if (ctrl && e.key.toLowerCase() === 'i') {
    e.preventDefault();
    const cur = app.get().selected;
    app.set({ selected: new Set(shown.filter((r) => !cur.has(r.hash)).map((r) => r.hash)) });
    return;
  }
  if (ctrl && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    e.preventDefault();
    const up = e.key === 'ArrowUp';
    queueMove(e.shiftKey ? (up ? 'top' : 'bottom') : up ? 'up' : 'down');
    return;
  }
  if (ctrl || e.altKey) return;
  const s = app.get();
  const cur = s.focus ? shown.findIndex((r) => r.hash === s.focus) : -1;
  const page = Math.max(1, Math.floor((document.querySelector('[data-testid=torrent-table]')?.clientHeight || 440) / 22) - 2);
  switch (e.key) {
    case ' ':
      e.preventDefault();
      act('resume');
      break;
    case 'p':
    case 'P':
      act('pause');
      break;
    case 'r':
    case 'R':
      act('resume');
      break;
    case 'Delete':
      askRemove();
      break;
    case '?':
      app.set({ helpOpen: true });
      break;
    case 'Enter':
      if (s.focus) {
        e.preventDefault();
        app.set({ detailsOpen: true });
        (document.querySelector('.details [role=tab][aria-selected=true]') as HTMLElement | null)?.focus();
      }
      break;
    case 'ArrowDown':
    case 'ArrowUp':
      e.preventDefault();
      focusIndex(cur + (e.key === 'ArrowDown' ? 1 : -1), e.shiftKey);
      break;
    case 'PageDown':
    case 'PageUp':
      e.preventDefault();
      focusIndex(cur + (e.key === 'PageDown' ? page : -page), e.shiftKey);
      break;
    case 'Home':
    case 'End':
      e.preventDefault();
      focusIndex(e.key === 'Home' ? 0 : shown.length - 1, e.shiftKey);
      break;
  }
}

/** The tab title shows the global speeds, like other torrent clients. */
function useTitle() {
  const stats = useStore(app, (s) => s.stats);
  const conn = useStore(app, (s) => s.conn);
  useEffect(() => {
    if (conn !== 'online' || !stats) document.title = 'pytorrentd';
    else document.title = `↓ ${fmt.speed(stats.dl_speed) || '0 B/s'} ↑ ${fmt.speed(stats.ul_speed) || '0 B/s'} — pytorrentd`;
  }, [stats, conn]);
  useEffect(() => () => void (document.title = 'pytorrentd'), []);
}

/** While the feed is down: what the user sees instead of frozen figures. */
function OfflineBanner() {
  const conn = useStore(app, (s) => s.conn);
  const err = useStore(app, (s) => s.connError);
  const retries = useStore(app, (s) => s.retries);
  if (conn !== 'offline') return null;
  return (
    <div class="banner warn" role="status" data-testid="offline-banner">
      <b>Reconnecting…</b> {err || 'The daemon cannot be reached.'} Figures shown are from before the connection was lost; actions are disabled until it is back
      {retries > 0 ? ` (attempt ${retries})` : ''}.
    </div>
  );
}

/** After the first sign-in with the generated admin password. */
export function PasswordBanner() {
  const account = useStore(app, (s) => s.account);
  const path = useStore(app, (s) => s.path);
  if (!account?.password_change_required || path === '/settings/account') return null;
  return (
    <div class="banner" role="status" data-testid="password-banner">
      You are signed in with the password generated at first start (it is in the server log).{' '}
      <button class="link" onClick={() => navigate('/settings/account')}>Change it now</button>
    </div>
  );
}

function dropHasFiles(e: DragEvent) {
  return !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
}

export function Main() {
  const phone = useMedia(PHONE);
  const addOpen = useStore(app, (s) => s.addOpen);
  const conn = useStore(app, (s) => s.conn);
  useTitle();
  useEffect(() => {
    document.addEventListener('keydown', onKey);
    // A magnet pasted anywhere (outside a text field) opens the add dialog with it.
    const paste = (e: ClipboardEvent) => {
      if (isTyping(e.target) || app.get().addOpen) return;
      const text = e.clipboardData?.getData('text') || '';
      const magnets = text.split(/\s+/).filter((l) => /^magnet:\?/i.test(l));
      const files = [...(e.clipboardData?.files || [])].filter((f) => /\.torrent$/i.test(f.name));
      if (magnets.length || files.length) {
        e.preventDefault();
        openAdd({ magnets: magnets.join('\n'), files });
      }
    };
    // .torrent files dropped anywhere on the page.
    const over = (e: DragEvent) => {
      if (dropHasFiles(e)) {
        e.preventDefault();
        document.body.classList.add('dropping');
      }
    };
    const leave = (e: DragEvent) => {
      if (!e.relatedTarget) document.body.classList.remove('dropping');
    };
    const drop = (e: DragEvent) => {
      document.body.classList.remove('dropping');
      if (!dropHasFiles(e)) return;
      e.preventDefault();
      if (app.get().addOpen) return; // the dialog handles its own drops
      const files = [...(e.dataTransfer?.files || [])];
      if (files.length) openAdd({ files });
    };
    document.addEventListener('paste', paste);
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('paste', paste);
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, []);
  return (
    <div class={'main' + (phone ? ' phone' : '') + (conn === 'offline' ? ' offline' : '')}>
      <TopBar phone={phone} />
      <div class="banners">
        <OfflineBanner />
        <PasswordBanner />
      </div>
      <div class="body">
        {!phone && <Sidebar />}
        <div class="center">
          {phone ? <Cards /> : <Table />}
          {!phone && <DetailsPane />}
        </div>
      </div>
      <Footer phone={phone} />
      {phone && <PhoneExtras />}
      {addOpen && <AddDialog />}
      <CreateDialog />
      <RemoveDialog />
      <LabelDialog />
      <LimitsDialog />
      <HelpOverlay />
      <Toasts />
      <div class="drop-hint">Drop .torrent files to add them</div>
    </div>
  );
}

function PhoneExtras() {
  const sidebarOpen = useStore(app, (s) => s.sidebarOpen);
  const detailsOpen = useStore(app, (s) => s.detailsOpen);
  return (
    <>
      {sidebarOpen && (
        <div class="sheet-bg" onClick={() => app.set({ sidebarOpen: false })}>
          <div class="drawer" onClick={(e) => e.stopPropagation()}>
            <Sidebar />
          </div>
        </div>
      )}
      {detailsOpen && (
        <div class="sheet-bg">
          <div class="sheet">
            <DetailsPane sheet />
          </div>
        </div>
      )}
      <MoreSheet />
    </>
  );
}
