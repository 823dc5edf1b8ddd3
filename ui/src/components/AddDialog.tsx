// Add torrents: magnets (one per line), a URL, and .torrent files (picker, drop anywhere,
// paste). Each .torrent is decoded in the browser so its files can be picked before adding.
import { useEffect, useRef, useState } from 'preact/hooks';
import { reveal } from '../actions';
import { api, errText } from '../api';
import { type TorrentInfo, parseTorrent } from '../bencode';
import * as fmt from '../format';
import { Icon } from '../icons';
import { labelsOf } from '../list';
import { app, canWrite, rows, toast, useStore } from '../store';
import type { AddResponse } from '../types';
import { Modal } from './Dialogs';

interface PickedFile {
  id: number;
  file: File;
  info: TorrentInfo | null;
  error: string;
  wanted: Set<number>;
  open: boolean;
}

let fileId = 0;

async function readPicked(file: File): Promise<PickedFile> {
  const p: PickedFile = { id: ++fileId, file, info: null, error: '', wanted: new Set(), open: false };
  try {
    if (file.size > 10 * 1024 * 1024) throw new Error('larger than 10 MiB, the daemon will refuse it');
    const info = parseTorrent(new Uint8Array(await file.arrayBuffer()));
    p.info = info;
    p.wanted = new Set(info.files.filter((f) => !f.padding).map((f) => f.index));
    p.open = info.files.length > 1 && info.files.length <= 200;
  } catch (e) {
    p.error = errText(e);
  }
  return p;
}

function isTyping(t: EventTarget | null) {
  const el = t as HTMLElement | null;
  return !!el && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName || '');
}

export function AddDialog() {
  const profiles = useStore(app, (s) => s.profiles);
  const current = useStore(app, (s) => s.profile);
  const init = useStore(app, (s) => s.addInit);
  const stats = useStore(app, (s) => s.stats);
  const writableProfiles = profiles.filter(canWrite);
  const [profile, setProfile] = useState(() =>
    writableProfiles.some((p) => p.id === current) ? current : writableProfiles[0]?.id || '',
  );
  const [magnets, setMagnets] = useState(init?.magnets || '');
  const [url, setUrl] = useState('');
  const [files, setFiles] = useState<PickedFile[]>([]);
  const [paused, setPaused] = useState(false);
  const [label, setLabel] = useState('');
  const [peers, setPeers] = useState('');
  const [subdir, setSubdir] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<string[]>([]);
  const [dragOver, setDragOver] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const close = () => app.set({ addOpen: false, addInit: null });

  const addFiles = async (list: File[]) => {
    const picked = await Promise.all(list.map(readPicked));
    setFiles((f) => [...f, ...picked]);
  };

  useEffect(() => {
    if (init?.files?.length) addFiles(init.files);
    const over = (e: DragEvent) => {
      e.preventDefault();
      setDragOver(true);
    };
    const leave = (e: DragEvent) => !e.relatedTarget && setDragOver(false);
    const drop = (e: DragEvent) => {
      e.preventDefault();
      setDragOver(false);
      const list = [...(e.dataTransfer?.files || [])];
      if (list.length) addFiles(list);
      const text = e.dataTransfer?.getData('text') || '';
      if (/^magnet:\?/i.test(text.trim())) setMagnets((m) => (m ? m + '\n' : '') + text.trim());
    };
    const paste = (e: ClipboardEvent) => {
      if (isTyping(e.target)) return;
      const text = e.clipboardData?.getData('text') || '';
      const ms = text.split(/\s+/).filter((l) => /^magnet:\?/i.test(l));
      const fs = [...(e.clipboardData?.files || [])];
      if (ms.length) setMagnets((m) => (m ? m + '\n' : '') + ms.join('\n'));
      if (fs.length) addFiles(fs);
    };
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    document.addEventListener('paste', paste);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
      document.removeEventListener('paste', paste);
    };
  }, []);

  const labels = [...new Set([...rows.map.values()].flatMap((r) => labelsOf(r)))].sort();
  const labelList = [...new Set(label.split(',').map((l) => l.trim()).filter(Boolean))];
  const magnetLines = magnets.split('\n').map((l) => l.trim()).filter(Boolean);
  const count = magnetLines.length + (url.trim() ? 1 : 0) + files.filter((f) => !f.error).length;

  const updateFile = (id: number, f: (p: PickedFile) => Partial<PickedFile>) =>
    setFiles((list) => list.map((p) => (p.id === id ? { ...p, ...f(p) } : p)));

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!profile) return;
    const peerList = peers.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
    const base: Record<string, unknown> = { paused };
    if (labelList.length) base.labels = labelList;
    if (peerList.length) base.peers = peerList;
    if (subdir.trim()) base.subdir = subdir.trim();
    const path = `/api/profiles/${encodeURIComponent(profile)}/torrents`;
    const errs: string[] = [];
    let added = 0;
    const addedHashes: string[] = [];
    const warnings: string[] = [];
    const note = (r: unknown) => {
      const a = r as AddResponse | undefined;
      for (const row of a?.added || []) addedHashes.push(row.hash);
      for (const w of a?.warnings || []) warnings.push(w);
    };
    setBusy(true);
    setErrors([]);
    const leftMagnets: string[] = [];
    for (const m of magnetLines) {
      try {
        note(await api('POST', path, { ...base, magnet: m }));
        added++;
      } catch (err) {
        errs.push(`Magnet ${m.slice(0, 60)}${m.length > 60 ? '…' : ''}: ${errText(err)}`);
        leftMagnets.push(m);
      }
    }
    let leftUrl = '';
    if (url.trim()) {
      try {
        note(await api('POST', path, { ...base, url: url.trim() }));
        added++;
      } catch (err) {
        errs.push(`URL ${url.trim()}: ${errText(err)}`);
        leftUrl = url;
      }
    }
    const leftFiles: PickedFile[] = [];
    for (const f of files) {
      if (f.error) {
        leftFiles.push(f);
        continue;
      }
      const fd = new FormData();
      fd.append('torrent', f.file, f.file.name);
      fd.append('paused', String(paused));
      if (labelList.length) fd.append('labels', labelList.join(','));
      if (peerList.length) fd.append('peers', peerList.join(','));
      if (subdir.trim()) fd.append('subdir', subdir.trim());
      if (f.info) {
        const real = f.info.files.filter((x) => !x.padding);
        if (f.wanted.size === 0) {
          errs.push(`${f.file.name}: choose at least one file`);
          leftFiles.push(f);
          continue;
        }
        if (real.some((x) => !f.wanted.has(x.index))) fd.append('only_files', [...f.wanted].sort((a, b) => a - b).join(','));
      }
      try {
        note(await api('POST', path, fd));
        added++;
      } catch (err) {
        errs.push(`${f.file.name}: ${errText(err)}`);
        leftFiles.push(f);
      }
    }
    setBusy(false);
    setMagnets(leftMagnets.join('\n'));
    setUrl(leftUrl);
    setFiles(leftFiles);
    if (added) {
      const pname = profiles.find((p) => p.id === profile)?.name || profile;
      toast(`Added ${added} torrent${added > 1 ? 's' : ''}${profile !== current ? ' to ' + pname : ''}.`, 'info');
      if (profile === current) reveal(addedHashes);
    }
    // Added, but not fitting the free space the profile allows: they wait in the queue. Said
    // in a notice that stays until dismissed.
    if (warnings.length) toast(warnings.join('\n'), 'warn');
    if (errs.length) setErrors(errs);
    else close();
  };

  // The chosen profile's free space (from the feed's stats) and what it allows to fill: the
  // server keeps `min_free_space` free and lets larger torrents wait (docs/transfer.md).
  const chosen = profiles.find((p) => p.id === profile);
  const free = stats?.profiles.find((p) => p.id === profile)?.disk_free;
  const keep = chosen?.min_free_space ?? 0;
  const keepText = fmt.bytes(keep).replace(/\.0+ /, ' ');
  const allowed = free == null ? null : Math.max(0, free - keep);
  const need = files.reduce((a, f) => a + (f.info ? f.info.files.filter((x) => f.wanted.has(x.index)).reduce((b, x) => b + x.size, 0) : 0), 0);
  const tooBig = allowed != null && need > allowed;

  return (
    <Modal title="Add torrents" onClose={close} wide testid="add-dialog">
      <form class={'modal-body add' + (dragOver ? ' over' : '')} onSubmit={submit}>
        <div class="field-row">
          <label class="field">
            <span>
              Profile{' '}
              {free != null && (
                <span class="muted small" data-testid="add-free" title={keep ? `The profile keeps ${keepText} free: ${fmt.bytes(allowed)} can be filled.` : undefined}>
                  {fmt.bytes(free)} free{keep ? ` (keeps ${keepText})` : ''}
                </span>
              )}
            </span>
            <select value={profile} onChange={(e) => setProfile(e.currentTarget.value)} name="profile" data-testid="add-profile">
              {writableProfiles.map((p) => (
                <option key={p.id} value={p.id}>{p.name || p.id}</option>
              ))}
            </select>
          </label>
          <label class="field">
            Labels
            <input name="label" list="add-labels" value={label} onInput={(e) => setLabel(e.currentTarget.value)} placeholder="optional, comma-separated" />
            <datalist id="add-labels">{labels.map((l) => <option key={l} value={l} />)}</datalist>
          </label>
          <label class="check inline">
            <input type="checkbox" name="paused" checked={paused} onChange={(e) => setPaused(e.currentTarget.checked)} />
            Add paused
          </label>
        </div>
        <label class="field">
          <span class="flabel">Magnet links <span class="muted">(one per line)</span></span>
          <textarea name="magnets" rows={3} value={magnets} onInput={(e) => setMagnets(e.currentTarget.value)} placeholder="magnet:?xt=urn:btih:…" spellcheck={false} data-testid="add-magnets" />
        </label>
        <label class="field">
          URL of a .torrent
          <input name="url" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://…/file.torrent" />
        </label>
        <div class="field">
          <span>.torrent files</span>
          <div class="dropzone" onClick={() => picker.current?.click()}>
            <Icon n="file" /> Choose files or drop them anywhere on the page
            <input
              ref={picker}
              type="file"
              accept=".torrent,application/x-bittorrent"
              multiple
              hidden
              data-testid="add-file-input"
              onChange={(e) => {
                const l = [...(e.currentTarget.files || [])];
                e.currentTarget.value = '';
                addFiles(l);
              }}
            />
          </div>
          {files.map((f) => (
            <div class="tfile" key={f.id} data-testid="add-file">
              <div class="tfile-head">
                {f.info && f.info.files.length > 1 && (
                  <button type="button" class="twist" onClick={() => updateFile(f.id, (p) => ({ open: !p.open }))} aria-label="Show files">
                    <Icon n={f.open ? 'chevd' : 'chev'} size={10} />
                  </button>
                )}
                <span class="ellip grow" title={f.file.name}>{f.info?.name || f.file.name}</span>
                {f.info && (
                  <span class="muted small">
                    {f.wanted.size}/{f.info.files.filter((x) => !x.padding).length} files · {fmt.bytes(f.info.files.filter((x) => f.wanted.has(x.index)).reduce((a, x) => a + x.size, 0))}
                  </span>
                )}
                <button type="button" class="btn icon ghost" aria-label={'Remove ' + f.file.name} data-tip="Remove from the list" onClick={() => setFiles((l) => l.filter((p) => p.id !== f.id))}>
                  <Icon n="x" size={12} />
                </button>
              </div>
              {f.error && <p class="form-error">{f.file.name}: {f.error}</p>}
              {f.info && f.open && (
                <div class="tfile-list">
                  <div class="tfile-tools">
                    <button type="button" class="link" onClick={() => updateFile(f.id, (p) => ({ wanted: new Set(p.info!.files.filter((x) => !x.padding).map((x) => x.index)) }))}>all</button>
                    <button type="button" class="link" onClick={() => updateFile(f.id, () => ({ wanted: new Set() }))}>none</button>
                  </div>
                  {f.info.files.filter((x) => !x.padding).map((x) => (
                    <label key={x.index} class="tfile-row">
                      <input
                        type="checkbox"
                        checked={f.wanted.has(x.index)}
                        data-testid={'pick-file-' + x.index}
                        onChange={(e) => {
                          const on = e.currentTarget.checked;
                          updateFile(f.id, (p) => {
                            const w = new Set(p.wanted);
                            on ? w.add(x.index) : w.delete(x.index);
                            return { wanted: w };
                          });
                        }}
                      />
                      <span class="ellip grow" title={x.path}>{x.path}</span>
                      <span class="muted">{fmt.bytes(x.size)}</span>
                    </label>
                  ))}
                </div>
              )}
            </div>
          ))}
        </div>
        <details class="advanced">
          <summary>Advanced</summary>
          <div class="field-row">
            <label class="field">
              <span class="flabel">Extra peers <span class="muted">(IP:port, comma-separated)</span></span>
              <input name="peers" value={peers} onInput={(e) => setPeers(e.currentTarget.value)} placeholder="192.168.1.20:6881" data-testid="add-peers" />
            </label>
            <label class="field">
              Subfolder
              <input name="subdir" value={subdir} onInput={(e) => setSubdir(e.currentTarget.value)} placeholder="inside the profile's folder" />
            </label>
          </div>
        </details>
        {tooBig && (
          <p class="space-warn" role="status" data-testid="add-space-warning">
            These files need {fmt.bytes(need)}, but the profile has only {fmt.bytes(allowed)} to fill ({fmt.bytes(free)} free{keep ? `, keeping ${keepText}` : ''}). They will be added and wait in the queue until there is room.
          </p>
        )}
        {errors.length > 0 && (
          <div class="form-error" role="alert" data-testid="add-errors">
            {errors.map((e) => <p key={e}>{e}</p>)}
          </div>
        )}
        <div class="modal-foot">
          <button type="button" class="btn" onClick={close}>Cancel</button>
          <button type="submit" class="btn primary" disabled={busy || count === 0 || !profile} data-testid="add-submit">
            {busy ? 'Adding…' : count > 1 ? `Add ${count} torrents` : 'Add'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
