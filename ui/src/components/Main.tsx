import { useEffect } from 'preact/hooks';
import { act, askRemove, openAdd } from '../actions';
import { PHONE, useMedia } from '../hooks';
import { shown } from '../list';
import { app, useStore } from '../store';
import { AddDialog } from './AddDialog';
import { Cards } from './Cards';
import { DetailsPane } from './Details';
import { Footer } from './Footer';
import { HelpOverlay, RemoveDialog, Toasts } from './Dialogs';
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
  return s.addOpen || s.removeOpen || s.helpOpen;
}

function onKey(e: KeyboardEvent) {
  const ctrl = e.ctrlKey || e.metaKey;
  if (e.key === 'Escape') {
    const s = app.get();
    if (s.helpOpen) app.set({ helpOpen: false });
    else if (s.removeOpen) app.set({ removeOpen: false });
    else if (s.addOpen) app.set({ addOpen: false });
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
  if (ctrl || e.altKey) return;
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
    case 'ArrowDown':
    case 'ArrowUp': {
      e.preventDefault();
      if (!shown.length) return;
      const s = app.get();
      const i = s.focus ? shown.findIndex((r) => r.hash === s.focus) : -1;
      const j = Math.max(0, Math.min(shown.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
      const h = shown[j].hash;
      app.set({ focus: h, anchor: h, selected: new Set([h]) });
      break;
    }
  }
}

function dropHasFiles(e: DragEvent) {
  return !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
}

export function Main() {
  const phone = useMedia(PHONE);
  const addOpen = useStore(app, (s) => s.addOpen);
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
    <div class={'main' + (phone ? ' phone' : '')}>
      <TopBar phone={phone} />
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
      <RemoveDialog />
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
    </>
  );
}
