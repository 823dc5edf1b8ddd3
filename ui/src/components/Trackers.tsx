// The Trackers tab of the details pane: each tracker's status, seeds/peers/downloads, last and
// next announce and its last error or message; add trackers (one URL per line), edit a URL in
// place, remove one, announce now. The list is replaced as a whole (`PATCH /api/torrents/{hash}
// {"trackers": [...]}`); the server checks it and its message is shown when it refuses.
// Announces are not in the feed, so the tab fetches the list every 5 s while it is open.
import { useEffect, useRef, useState } from 'preact/hooks';
import { writable } from '../actions';
import { errText, patch, post } from '../api';
import { mergeRow } from '../feed';
import * as fmt from '../format';
import { useFetched } from '../hooks';
import { Icon } from '../icons';
import type { Row, TrackerRow } from '../types';

const POLL_MS = 5000;

const STATUS: Record<TrackerRow['status'], string> = {
  not_contacted: 'Not contacted',
  updating: 'Updating…',
  working: 'Working',
  error: 'Error',
};

/** An instant relative to now: "12s ago", "in 29m 5s", "now"; '–' when unknown. */
export function relTime(iso: string | null | undefined, now: number): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (isNaN(t)) return '–';
  const s = Math.round((t - now) / 1000);
  if (Math.abs(s) < 1) return 'now';
  return s > 0 ? 'in ' + fmt.eta(s) : fmt.eta(-s) + ' ago';
}

const num = (v: number | null | undefined) => (v == null ? '–' : String(v));

/** The URLs of a text area: one per line, blank lines ignored. */
function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

export function Trackers({ r }: { r: Row }) {
  const [list, loadErr, refresh] = useFetched<TrackerRow[]>(`/api/torrents/${r.hash}/trackers`, r.state);
  const [now, setNow] = useState(Date.now());
  const [adding, setAdding] = useState(false);
  const [text, setText] = useState('');
  const [edit, setEdit] = useState<{ i: number; url: string } | null>(null);
  const [err, setErr] = useState('');
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const canEdit = writable();
  const editRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (edit) editRef.current?.focus();
  }, [edit?.i]);

  // A clock for the relative times, and a fetch every POLL_MS while the tab is shown.
  useEffect(() => {
    let n = 0;
    const t = window.setInterval(() => {
      setNow(Date.now());
      if (++n % (POLL_MS / 1000) === 0 && !document.hidden) refresh();
    }, 1000);
    return () => clearInterval(t);
  }, [r.hash]);
  // Another torrent: nothing of the last one's forms stays.
  useEffect(() => {
    setAdding(false);
    setText('');
    setEdit(null);
    setErr('');
    setMsg('');
  }, [r.hash]);

  const sorted = list ? [...list].sort((a, b) => a.tier - b.tier) : null;
  const urls = sorted ? sorted.map((t) => t.url) : [];

  /** Sends the whole new list; true when the server took it. */
  const save = async (next: string[], done: string): Promise<boolean> => {
    setBusy(true);
    setErr('');
    setMsg('');
    try {
      mergeRow(await patch<Row>(`/api/torrents/${r.hash}`, { trackers: next }));
      setMsg(done);
      refresh();
      return true;
    } catch (e) {
      setErr(errText(e));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const add = async (e: Event) => {
    e.preventDefault();
    const fresh = lines(text).filter((u) => !urls.includes(u));
    if (!fresh.length) return setErr(lines(text).length ? 'These trackers are in the list already.' : 'Type one tracker URL per line.');
    if (await save([...urls, ...fresh], fresh.length === 1 ? 'Tracker added.' : `${fresh.length} trackers added.`)) {
      setText('');
      setAdding(false);
    }
  };

  const saveEdit = async () => {
    if (!edit) return;
    const u = edit.url.trim();
    if (!u) return setErr('A tracker URL cannot be empty (use Remove to drop it).');
    if (u === urls[edit.i]) return setEdit(null);
    const next = [...urls];
    next[edit.i] = u;
    if (await save(next, 'Tracker changed.')) setEdit(null);
  };

  const remove = (i: number) => save(urls.filter((_, j) => j !== i), 'Tracker removed.');

  const reannounce = async () => {
    setBusy(true);
    setErr('');
    setMsg('');
    try {
      mergeRow(await post<Row>(`/api/torrents/${r.hash}/reannounce`));
      setMsg('Announcing to every tracker now.');
      refresh();
    } catch (e) {
      setErr(errText(e));
    }
    setBusy(false);
  };

  const paused = r.state === 'paused';
  const toolbar = canEdit && (
    <div class="ftools" data-testid="tracker-tools">
      <button
        type="button"
        class="btn small"
        onClick={() => {
          setAdding(!adding);
          setErr('');
        }}
        aria-expanded={adding}
        data-testid="tracker-add-open"
      >
        <Icon n="plus" size={12} /> Add trackers
      </button>
      <button
        type="button"
        class="btn small"
        onClick={reannounce}
        disabled={busy || paused}
        data-tip={paused ? 'Start the torrent to announce it' : 'Announce to every tracker (and the DHT) now'}
        data-testid="tracker-reannounce"
      >
        <Icon n="announce" size={12} /> Reannounce now
      </button>
      {msg && <span class="ok small" role="status" data-testid="tracker-msg">{msg}</span>}
    </div>
  );
  const addForm = canEdit && adding && (
    <form class="tracker-add" onSubmit={add} data-testid="tracker-add-form">
      <label class="field grow">
        <span class="flabel">
          Tracker URLs <span class="muted">(one per line: http://, https:// or udp://)</span>
        </span>
        <textarea
          rows={3}
          value={text}
          spellcheck={false}
          placeholder="udp://tracker.example.org:6969/announce"
          onInput={(e) => {
            setText(e.currentTarget.value);
            setErr('');
          }}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              setAdding(false);
            }
          }}
          data-testid="tracker-add-text"
        />
      </label>
      <div class="tracker-add-foot">
        <button type="button" class="btn small" onClick={() => setAdding(false)}>Cancel</button>
        <button type="submit" class="btn small primary" disabled={busy || !lines(text).length} data-testid="tracker-add-save">Add</button>
      </div>
    </form>
  );
  const errLine = err && (
    <p class="form-error tracker-err" role="alert" data-testid="tracker-error">{err}</p>
  );

  if (loadErr && !sorted) return <p class="err pad">{loadErr}</p>;
  if (!sorted) return <p class="muted pad">Loading…</p>;
  return (
    <div class="trackers" data-testid="trackers">
      {toolbar}
      {addForm}
      {errLine}
      {!sorted.length ? (
        <p class="muted pad">No trackers (peers come from DHT, PEX or the add options).</p>
      ) : (
        <div class="tracker-scroll">
          <table class="plain trackers-table" data-testid="trackers-table">
            <thead>
              <tr>
                <th>URL</th>
                <th>Status</th>
                <th class="r">Seeds</th>
                <th class="r">Peers</th>
                <th class="r">Downloads</th>
                <th>Last announce</th>
                <th>Next announce</th>
                <th>Message</th>
                {canEdit && <th><span class="sr-only">Actions</span></th>}
              </tr>
            </thead>
            <tbody>
              {sorted.map((t, i) => {
                const editing = edit?.i === i;
                const note = t.last_error || t.message || '';
                return (
                  <tr key={t.url} data-tracker={t.url} data-status={t.status}>
                    <td class="t-url">
                      {editing ? (
                        <input
                          class="mono"
                          value={edit.url}
                          aria-label={'New URL for ' + t.url}
                          onInput={(e) => {
                            setEdit({ i, url: e.currentTarget.value });
                            setErr('');
                          }}
                          onKeyDown={(e) => {
                            if (e.key === 'Enter') {
                              e.preventDefault();
                              saveEdit();
                            } else if (e.key === 'Escape') {
                              e.stopPropagation();
                              setEdit(null);
                              setErr('');
                            }
                          }}
                          ref={editRef}
                          data-testid="tracker-edit-input"
                        />
                      ) : (
                        <span class="ellip" title={t.url}>{t.url}</span>
                      )}
                    </td>
                    <td>
                      <span class={'st ts-' + t.status} data-testid="tracker-status">
                        <i class="dot" />
                        {STATUS[t.status] || t.status}
                      </span>
                    </td>
                    <td class="r" data-testid="tracker-seeds">{num(t.seeds)}</td>
                    <td class="r" data-testid="tracker-peers">{num(t.peers)}</td>
                    <td class="r" data-testid="tracker-downloads">{num(t.downloads)}</td>
                    <td title={fmt.date(t.last_announce)} data-testid="tracker-last">{relTime(t.last_announce, now)}</td>
                    <td title={fmt.date(t.next_announce)} data-testid="tracker-next">{relTime(t.next_announce, now)}</td>
                    <td class={'t-msg' + (t.last_error ? ' err' : '')} title={note || undefined} data-testid="tracker-message">
                      <span class="ellip">{note}</span>
                    </td>
                    {canEdit && (
                      <td class="r nowrap t-actions">
                        {editing ? (
                          <>
                            <button type="button" class="btn small primary" onClick={saveEdit} disabled={busy} data-testid="tracker-edit-save">Save</button>{' '}
                            <button
                              type="button"
                              class="btn small"
                              onClick={() => {
                                setEdit(null);
                                setErr('');
                              }}
                            >
                              Cancel
                            </button>
                          </>
                        ) : (
                          <>
                            <button
                              type="button"
                              class="btn icon ghost small"
                              onClick={() => {
                                setEdit({ i, url: t.url });
                                setErr('');
                              }}
                              disabled={busy}
                              aria-label={'Edit tracker ' + t.url}
                              data-tip="Edit the URL"
                              data-testid="tracker-edit"
                            >
                              <Icon n="edit" size={12} />
                            </button>
                            <button
                              type="button"
                              class="btn icon ghost small"
                              onClick={() => remove(i)}
                              disabled={busy}
                              aria-label={'Remove tracker ' + t.url}
                              data-tip="Remove from the list"
                              data-testid="tracker-remove"
                            >
                              <Icon n="x" size={12} />
                            </button>
                          </>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
