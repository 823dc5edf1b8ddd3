import { useRef, useState } from 'preact/hooks';
import { remove, selectedHashes } from '../actions';
import { Icon } from '../icons';
import { app, dismissToast, rows, toasts, useStore } from '../store';

export function Modal({ title, onClose, children, wide, testid }: { title: string; onClose: () => void; children: preact.ComponentChildren; wide?: boolean; testid?: string }) {
  const down = useRef(false);
  return (
    <div
      class="modal-bg"
      onPointerDown={(e) => (down.current = e.target === e.currentTarget)}
      onClick={(e) => e.target === e.currentTarget && down.current && onClose()}
    >
      <div class={'modal' + (wide ? ' wide' : '')} role="dialog" aria-modal="true" aria-label={title} data-testid={testid}>
        <div class="modal-head">
          <h2>{title}</h2>
          <button class="btn icon ghost" onClick={onClose} aria-label="Close"><Icon n="x" /></button>
        </div>
        {children}
      </div>
    </div>
  );
}

export function RemoveDialog() {
  const open = useStore(app, (s) => s.removeOpen);
  const [withData, setWithData] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!open) return null;
  const hashes = selectedHashes();
  const close = () => app.set({ removeOpen: false });
  const go = async () => {
    setBusy(true);
    close();
    await remove(hashes, withData);
    setBusy(false);
    app.set({ selected: new Set() });
  };
  const names = hashes.slice(0, 5).map((h) => rows.map.get(h)?.name || h);
  return (
    <Modal title={hashes.length === 1 ? 'Remove torrent' : `Remove ${hashes.length} torrents`} onClose={close} testid="remove-dialog">
      <div class="modal-body">
        <ul class="names">
          {names.map((n) => <li key={n}>{n}</li>)}
          {hashes.length > 5 && <li class="muted">and {hashes.length - 5} more</li>}
        </ul>
        <label class="check">
          <input type="checkbox" checked={withData} onChange={(e) => setWithData(e.currentTarget.checked)} />
          Also delete the downloaded data
        </label>
      </div>
      <div class="modal-foot">
        <button class="btn" onClick={close}>Cancel</button>
        <button class="btn danger" onClick={go} disabled={busy} autoFocus data-testid="confirm-remove">
          {withData ? 'Remove with data' : 'Remove'}
        </button>
      </div>
    </Modal>
  );
}

export const SHORTCUTS: [string, string][] = [
  ['Ctrl + A', 'Select all shown torrents'],
  ['Ctrl + I', 'Invert the selection'],
  ['Space', 'Start the selected torrents'],
  ['P', 'Pause the selected torrents'],
  ['R', 'Resume the selected torrents'],
  ['Delete', 'Remove the selected torrents (asks first)'],
  ['Ctrl + O', 'Add torrents'],
  ['↑ / ↓', 'Move the selection'],
  ['Esc', 'Clear the selection / close a dialog'],
  ['?', 'Show this list'],
  ['Ctrl+V', 'Paste a magnet anywhere to add it'],
];

export function HelpOverlay() {
  const open = useStore(app, (s) => s.helpOpen);
  if (!open) return null;
  return (
    <Modal title="Keyboard shortcuts" onClose={() => app.set({ helpOpen: false })} testid="help-overlay">
      <div class="modal-body">
        <table class="keys">
          <tbody>
            {SHORTCUTS.map(([k, v]) => (
              <tr key={k}>
                <td>{k.split(' + ').map((p, i) => <>{i > 0 && ' + '}<kbd>{p}</kbd></>)}</td>
                <td>{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="muted small">Right-click a row for labels, queue moves and moving to another profile; right-click the table header to show or hide columns.</p>
      </div>
    </Modal>
  );
}

export function Toasts() {
  const list = useStore(toasts, (s) => s.list);
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={'toast ' + t.kind} role={t.kind === 'error' ? 'alert' : 'status'}>
          <span>{t.text}</span>
          <button class="btn icon ghost" onClick={() => dismissToast(t.id)} aria-label="Dismiss"><Icon n="x" size={12} /></button>
        </div>
      ))}
    </div>
  );
}
