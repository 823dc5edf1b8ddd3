// "Create torrent": pick a file or folder inside a profile's download folder (browsed on the
// server, never outside it), set trackers and options, and follow the hashing; the new
// torrent is added to the profile, seeding, and its .torrent can be downloaded.
import { useEffect, useState } from 'preact/hooks';
import { del, errText, get, post } from '../api';
import * as fmt from '../format';
import { Icon } from '../icons';
import { app, canWrite, useStore } from '../store';
import type { CreationView, DirEntry } from '../types';
import { Modal } from './Dialogs';

export function CreateDialog() {
  const open = useStore(app, (s) => s.createOpen);
  return open ? <CreateBody /> : null;
}

const lines = (s: string) => s.split(/\s+/).map((l) => l.trim()).filter(Boolean);

function CreateBody() {
  const profiles = useStore(app, (s) => s.profiles).filter(canWrite);
  const current = useStore(app, (s) => s.profile);
  const [profile, setProfile] = useState(profiles.some((p) => p.id === current) ? current : profiles[0]?.id || '');
  const [dir, setDir] = useState('');
  const [entries, setEntries] = useState<DirEntry[] | null>(null);
  const [picked, setPicked] = useState('');
  const [trackers, setTrackers] = useState('');
  const [webSeeds, setWebSeeds] = useState('');
  const [comment, setComment] = useState('');
  const [priv, setPriv] = useState(false);
  const [err, setErr] = useState('');
  const [job, setJob] = useState<CreationView | null>(null);
  const close = () => app.set({ createOpen: false });

  useEffect(() => {
    if (!profile) return;
    setEntries(null);
    get<DirEntry[]>(`/api/profiles/${encodeURIComponent(profile)}/browse?path=${encodeURIComponent(dir)}`)
      .then((e) => { setEntries(e); setErr(''); })
      .catch((e) => setErr(errText(e)));
  }, [profile, dir]);

  // Progress: polled while hashing (the feed sends it too, to the profile's room).
  useEffect(() => {
    if (!job || job.state !== 'hashing') return;
    const t = setTimeout(() => {
      get<CreationView>(`/api/creations/${job.id}`).then(setJob).catch((e) => setErr(errText(e)));
    }, 500);
    return () => clearTimeout(t);
  }, [job]);

  const join = (a: string, b: string) => (a ? a + '/' + b : b);
  const start = async (e: Event) => {
    e.preventDefault();
    setErr('');
    try {
      setJob(await post<CreationView>(`/api/profiles/${encodeURIComponent(profile)}/create-torrent`, {
        path: picked,
        trackers: lines(trackers),
        web_seeds: lines(webSeeds),
        private: priv,
        comment: comment.trim() || null,
      }));
    } catch (x) {
      setErr(errText(x));
    }
  };
  const crumbs = dir ? dir.split('/') : [];
  return (
    <Modal title="Create torrent" onClose={close} wide testid="create-dialog">
      {job ? (
        <div class="modal-body">
          <p>
            <b>{job.path}</b>{' '}
            {job.state === 'hashing' ? `hashing… ${job.total ? fmt.pct(job.hashed / job.total) : ''}` : job.state === 'done' ? 'is now a torrent, seeding.' : job.state === 'cancelled' ? 'was cancelled.' : 'failed.'}
          </p>
          {job.state === 'hashing' && (
            <div class="bar s-file" data-testid="create-progress">
              <div class="fill" style={{ width: ((job.total ? job.hashed / job.total : 0) * 100).toFixed(1) + '%' }} />
              <span>{fmt.bytes(job.hashed)} of {fmt.bytes(job.total)}</span>
            </div>
          )}
          {job.error && job.state === 'failed' && <p class="err">{job.error}</p>}
          <div class="modal-foot">
            {job.state === 'hashing' && <button type="button" class="btn" onClick={() => del(`/api/creations/${job.id}`).catch((e) => setErr(errText(e)))}>Cancel</button>}
            {job.state === 'done' && job.hash && (
              <a class="btn" href={`/api/torrents/${job.hash}/torrent`} download data-testid="created-torrent"><Icon n="down" size={12} /> Download .torrent</a>
            )}
            <span class="grow" />
            <button type="button" class="btn primary" onClick={close}>Close</button>
          </div>
          {err && <p class="err">{err}</p>}
        </div>
      ) : (
        <form class="modal-body" onSubmit={start}>
          <label class="field">
            Profile
            <select value={profile} onChange={(e) => { setProfile(e.currentTarget.value); setDir(''); setPicked(''); }}>
              {profiles.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
            </select>
          </label>
          <div class="picker" role="group" aria-label="File or folder">
            <div class="crumbs">
              <button type="button" class="btn small ghost" onClick={() => setDir('')}><Icon n="folder" size={12} /> {profiles.find((p) => p.id === profile)?.name || profile}</button>
              {crumbs.map((c, i) => (
                <span key={i}> / <button type="button" class="btn small ghost" onClick={() => setDir(crumbs.slice(0, i + 1).join('/'))}>{c}</button></span>
              ))}
            </div>
            <ul class="picker-list" data-testid="create-picker">
              {entries === null && !err && <li class="muted">Loading…</li>}
              {entries?.length === 0 && <li class="muted">This folder is empty.</li>}
              {entries?.map((e) => {
                const path = join(dir, e.name);
                return (
                  <li key={e.name} class={picked === path ? 'on' : ''}>
                    <label>
                      <input type="radio" name="pick" checked={picked === path} onChange={() => setPicked(path)} data-testid={'pick-' + e.name} />
                      <Icon n={e.dir ? 'folder' : 'file'} size={12} /> {e.name}
                      {!e.dir && <span class="muted"> {fmt.bytes(e.size)}</span>}
                    </label>
                    {e.dir && <button type="button" class="btn icon ghost small" aria-label={'Open ' + e.name} onClick={() => setDir(path)}><Icon n="chev" size={10} /></button>}
                  </li>
                );
              })}
            </ul>
          </div>
          <label class="field">
            Trackers <span class="muted">(one URL per line)</span>
            <textarea rows={2} value={trackers} onInput={(e) => setTrackers(e.currentTarget.value)} />
          </label>
          <label class="field">
            Web seeds <span class="muted">(optional, one URL per line)</span>
            <textarea rows={1} value={webSeeds} onInput={(e) => setWebSeeds(e.currentTarget.value)} />
          </label>
          <label class="field">
            Comment
            <input value={comment} maxLength={4096} onInput={(e) => setComment(e.currentTarget.value)} />
          </label>
          <label class="check inline">
            <input type="checkbox" checked={priv} onChange={(e) => setPriv(e.currentTarget.checked)} /> Private (no DHT or peer exchange)
          </label>
          {err && <p class="err">{err}</p>}
          <div class="modal-foot">
            <span class="muted small">{picked ? `Makes a torrent of “${picked}”; it seeds from where it is.` : 'Pick a file or folder.'}</span>
            <span class="grow" />
            <button type="button" class="btn" onClick={close}>Cancel</button>
            <button type="submit" class="btn primary" disabled={!picked} data-testid="create-start">Create</button>
          </div>
        </form>
      )}
    </Modal>
  );
}
