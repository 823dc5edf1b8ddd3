import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { remove, selectedHashes, setLabels } from '../actions';
import { labelsOf } from '../list';
import { Icon } from '../icons';
import { app, dismissToast, rows, toasts, useStore } from '../store';

/** Open modal dialogs, innermost last. */
const stack: HTMLElement[] = [];
/** Whether a modal dialog is open: nothing behind it reacts to keys. */
export function modalOpen(): boolean {
  return stack.length > 0;
}

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((e) => e.offsetParent !== null || e === document.activeElement);
}

/**
 * A modal dialog. On open it takes the focus (the element marked `data-autofocus`, else the
 * first field or button), keeps Tab and Shift+Tab inside, closes on Escape, and gives the
 * focus back to where it was when it closes. Keys never reach the page behind it.
 */
export function Modal({ title, onClose, children, wide, testid }: { title: string; onClose: () => void; children: preact.ComponentChildren; wide?: boolean; testid?: string }) {
  const down = useRef(false);
  const box = useRef<HTMLDivElement>(null);
  const close = useRef(onClose);
  close.current = onClose;
  useLayoutEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const el = box.current!;
    stack.push(el);
    const first = el.querySelector<HTMLElement>('[data-autofocus]') || focusables(el).find((e) => !e.closest('.modal-head')) || el;
    first.focus();
    // Focus can still leave the dialog (a focused button becomes disabled, a click on the
    // backdrop): keys then arrive at the document. The innermost dialog takes them back.
    const outside = (e: KeyboardEvent) => {
      if (stack[stack.length - 1] !== el || el.contains(document.activeElement)) return;
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        close.current();
      } else if (e.key === 'Tab') {
        e.preventDefault();
        e.stopPropagation();
        (focusables(el)[0] || el).focus();
      }
    };
    document.addEventListener('keydown', outside, true);
    return () => {
      document.removeEventListener('keydown', outside, true);
      stack.splice(stack.indexOf(el), 1);
      if (before && before.isConnected && typeof before.focus === 'function') before.focus();
    };
  }, []);
  const onKeyDown = (e: KeyboardEvent) => {
    e.stopPropagation();
    if (e.key === 'Escape') {
      e.preventDefault();
      close.current();
      return;
    }
    if (e.key !== 'Tab') return;
    const list = focusables(box.current!);
    if (!list.length) {
      e.preventDefault();
      return;
    }
    const i = list.indexOf(document.activeElement as HTMLElement);
    const next = e.shiftKey ? (i <= 0 ? list.length - 1 : i - 1) : i < 0 || i === list.length - 1 ? 0 : i + 1;
    e.preventDefault();
    list[next].focus();
  };
  return (
    <div
      class="modal-bg"
      onPointerDown={(e) => (down.current = e.target === e.currentTarget)}
      onClick={(e) => e.target === e.currentTarget && down.current && onClose()}
      onKeyDown={onKeyDown}
    >
      <div class={'modal' + (wide ? ' wide' : '')} role="dialog" aria-modal="true" aria-label={title} data-testid={testid} ref={box} tabIndex={-1}>
        <div class="modal-head">
          <h2>{title}</h2>
          <button class="btn icon ghost" onClick={onClose} aria-label="Close" data-tip="Close"><Icon n="x" /></button>
        </div>
        {children}
      </div>
    </div>
  );
}

export function RemoveDialog() {
  const open = useStore(app, (s) => s.removeOpen);
  // A new dialog (and so new, safe state) every time it opens.
  return open ? <RemoveBody /> : null;
}

function RemoveBody() {
  const [withData, setWithData] = useState(false);
  const [hashes] = useState(selectedHashes);
  const close = () => app.set({ removeOpen: false });
  const go = async () => {
    close();
    await remove(hashes, withData);
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
        <button class="btn danger" onClick={go} data-autofocus data-testid="confirm-remove">
          {withData ? 'Remove with data' : 'Remove'}
        </button>
      </div>
    </Modal>
  );
}

export function LabelDialog() {
  const open = useStore(app, (s) => s.labelOpen);
  return open ? <LabelBody /> : null;
}

/** Labels in use in the loaded profile, most used first, with how many torrents carry each. */
function labelsInUse(): [string, number][] {
  const n = new Map<string, number>();
  for (const r of rows.map.values()) for (const l of labelsOf(r)) n.set(l, (n.get(l) || 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

type Pick = 'on' | 'off' | 'mixed';

/** Why a typed label cannot be used, if it cannot (the server's limits, docs/limits.md). */
function labelProblem(l: string): string | null {
  if ([...l].length > 128) return 'A label has at most 128 characters.';
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(l)) return 'A label cannot contain control characters.';
  return null;
}

/**
 * Edits the labels of the selected torrents. Each label in use is on (every selected torrent
 * has it), mixed (some have it) or off; a click turns it on or off. New labels are typed
 * (commas separate several). Apply adds the labels that are on, removes those that are off
 * and leaves mixed ones as each torrent has them.
 */
function LabelBody() {
  const [hashes] = useState(selectedHashes);
  const [used] = useState(labelsInUse);
  const [picks, setPicks] = useState<Map<string, Pick>>(() => {
    const m = new Map<string, Pick>();
    for (const [l] of used) {
      const n = hashes.filter((h) => labelsOf(rows.map.get(h) || {}).includes(l)).length;
      m.set(l, n === 0 ? 'off' : n === hashes.length ? 'on' : 'mixed');
    }
    return m;
  });
  const [text, setText] = useState('');
  const typed = text.split(',').map((l) => l.trim()).filter(Boolean);
  const problem = typed.map(labelProblem).find(Boolean) || null;
  const close = () => app.set({ labelOpen: false });
  const toggle = (l: string) => setPicks((m) => new Map(m).set(l, m.get(l) === 'on' ? 'off' : 'on'));
  const addTyped = () => {
    if (problem || !typed.length) return;
    setPicks((m) => {
      const n = new Map(m);
      for (const l of typed) n.set(l, 'on');
      return n;
    });
    setText('');
  };
  const apply = () => {
    if (problem) return;
    const all = new Map(picks);
    for (const l of typed) all.set(l, 'on');
    const changes: [string, string[]][] = [];
    for (const h of hashes) {
      const cur = labelsOf(rows.map.get(h) || {});
      const next = cur.filter((l) => all.get(l) !== 'off');
      for (const [l, p] of all) if (p === 'on' && !next.includes(l)) next.push(l);
      if (next.join('\n') !== cur.join('\n')) changes.push([h, next]);
    }
    close();
    setLabels(changes);
  };
  const what = hashes.length === 1 ? `“${rows.map.get(hashes[0])?.name || hashes[0]}”` : `${hashes.length} torrents`;
  const shown = [...picks.keys()];
  return (
    <Modal title="Labels" onClose={close} testid="label-dialog">
      <form class="modal-body" onSubmit={(e) => { e.preventDefault(); apply(); }}>
        <p class="muted">For {what}. Click a label to add it to or remove it from {hashes.length === 1 ? 'the torrent' : 'all of them'}.</p>
        {shown.length > 0 && (
          <div class="label-picks" role="group" aria-label="Labels">
            {shown.map((l) => {
              const p = picks.get(l) || 'off';
              const n = used.find(([u]) => u === l)?.[1];
              return (
                <button type="button" key={l} class={'label-pick ' + p} aria-pressed={p === 'on' ? true : p === 'mixed' ? 'mixed' : false} onClick={() => toggle(l)} data-testid={'label-pick-' + l}>
                  <Icon n={p === 'off' ? 'tag' : 'check'} size={12} /> {l}{n != null && <span class="muted"> {n}</span>}
                  {p === 'mixed' && <span class="muted"> (some)</span>}
                </button>
              );
            })}
          </div>
        )}
        <label class="field">
          <span>{shown.length ? 'New labels' : 'Labels'} <span class="muted">(commas separate several; Enter adds them)</span></span>
          <input
            data-autofocus
            value={text}
            maxLength={4096}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => { if (e.key === 'Enter' && typed.length) { e.preventDefault(); addTyped(); } }}
            aria-invalid={!!problem}
            data-testid="label-input"
          />
        </label>
        {problem && <p class="err">{problem}</p>}
        <div class="modal-foot">
          <button type="button" class="btn" onClick={() => setPicks((m) => new Map([...m.keys()].map((l) => [l, 'off' as Pick])))} disabled={!shown.length}>Remove all</button>
          <span class="grow" />
          <button type="button" class="btn" onClick={close}>Cancel</button>
          <button type="submit" class="btn primary" disabled={!!problem} data-testid="apply-label">Apply</button>
        </div>
      </form>
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
  ['Enter', 'Open the details of the focused torrent'],
  ['Ctrl + O', 'Add torrents'],
  ['↑ / ↓', 'Move the selection (Shift extends it)'],
  ['Home / End', 'First / last torrent'],
  ['Ctrl + ↑ / ↓', 'Move up / down in the queue'],
  ['Ctrl + Shift + ↑ / ↓', 'Move to the top / bottom of the queue'],
  ['Esc', 'Clear the selection / close a dialog'],
  ['?', 'Show this list'],
  ['Ctrl + V', 'Paste a magnet anywhere to add it'],
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
        <p class="muted small">Right-click a row for labels, speed and share limits, queue moves, copying its magnet link and moving it to another profile; right-click the table header (or use the columns button) to show, hide and reorder columns. Drag rows to reorder the queue while the table is sorted by #.</p>
      </div>
    </Modal>
  );
}

export function Toasts() {
  const list = useStore(toasts, (s) => s.list);
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} class={'toast ' + t.kind} role={t.kind === 'info' ? 'status' : 'alert'} data-testid={'toast-' + t.kind}>
          <span>{t.text}</span>
          <button class="btn icon ghost" onClick={() => dismissToast(t.id)} aria-label="Dismiss" data-tip="Dismiss"><Icon n="x" size={12} /></button>
        </div>
      ))}
    </div>
  );
}
