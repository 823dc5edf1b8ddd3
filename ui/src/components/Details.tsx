// The details pane under the table (a full-screen sheet on phones): General, Files, Peers,
// Trackers. Row fields are live from the feed; the tab data is fetched when a torrent is
// chosen and refreshed when the feed reports that torrent changed (at most every 2 s); the
// Trackers tab also every 5 s while it is open (announces are not in the feed).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { writable } from '../actions';
import { errText, patch } from '../api';
import { mergeRow } from '../feed';
import * as fmt from '../format';
import { useFetched } from '../hooks';
import { Icon } from '../icons';
import { app, rows, rowsStore, toast, useStore } from '../store';
import type { Details, FileRow, PeerRow, Row } from '../types';
import { labelsOf } from '../list';
import { Modal } from './Dialogs';
import { SpeedEditor } from './Limits';
import { Chips, ProgressBar, Status, useWindow } from './Table';
import { Sparkline } from './Charts';
import { Trackers } from './Trackers';

type Tab = 'general' | 'files' | 'peers' | 'trackers';
const TABS: { id: Tab; label: string }[] = [
  { id: 'general', label: 'General' },
  { id: 'files', label: 'Files' },
  { id: 'peers', label: 'Peers' },
  { id: 'trackers', label: 'Trackers' },
];

function General({ r }: { r: Row }) {
  const [d] = useFetched<Details>(`/api/torrents/${r.hash}`, r.state);
  const kv = (k: string, v: unknown) => (
    <>
      <dt>{k}</dt>
      <dd>{v as string}</dd>
    </>
  );
  const waiting = r.state === 'initializing' && !r.size;
  const waited = waiting ? Math.max(0, Math.floor((Date.now() - Date.parse(r.added_at)) / 1000)) : 0;
  return (
    <div class="general">
      <dl>
        {kv('Status', waiting ? <span>Waiting for metadata from peers, for {fmt.eta(waited) || '0s'}</span> : <Status r={r} long />)}
        {kv('Progress', <ProgressBar r={r} />)}
        {kv('Speed', `↓ ${fmt.speed(r.dl_speed) || '0 B/s'}   ↑ ${fmt.speed(r.ul_speed) || '0 B/s'}`)}
        {kv('Last 2 minutes', <Sparkline r={r} />)}
        {kv('ETA', fmt.eta(r.eta) || '–')}
        {kv('Seeds / peers', `${r.seeds} / ${r.peers}`)}
        {r.availability != null && kv('Availability', r.availability.toFixed(3))}
        {kv('Queue position', r.queue_position)}
        {r.error ? kv('Error', <span class="err" title={r.error}>{r.error}{r.save_dir ? ` (files in ${r.save_dir})` : ''}</span>) : null}
      </dl>
      <dl>
        {kv('Size', waiting ? 'unknown until the metadata arrives' : fmt.bytes(r.size))}
        {kv('Downloaded', fmt.bytes(r.downloaded))}
        {kv('Uploaded', fmt.bytes(r.uploaded))}
        {kv('Ratio', fmt.ratio(r.ratio))}
        {kv('Pieces', d?.piece_length ? fmt.bytes(d.piece_length) : '–')}
        {kv('Files', d?.files_count ?? '–')}
      </dl>
      <dl>
        {kv('Info hash', <code class="sel-all">{r.hash}</code>)}
        {kv('Save path', <span title={d?.save_dir || r.save_dir}>{d?.save_dir || r.save_dir || ''}</span>)}
        {kv('Labels', labelsOf(r).length ? <Chips labels={labelsOf(r)} /> : '–')}
        {kv('Added', fmt.date(r.added_at))}
        {kv('Completed', fmt.date(r.completed_at) || '–')}
        {d?.source_url ? kv('Source', d.source_url) : null}
      </dl>
      <dl class="limits">
        <dt>Speed limits</dt>
        <dd class="edit">
          <SpeedEditor key={`${r.hash}:${r.dl_limit}:${r.ul_limit}`} r={r} />
        </dd>
        <dt>Share limits</dt>
        <dd class="edit">
          <ShareEditor key={r.hash} r={r} />
        </dd>
      </dl>
    </div>
  );
}

type ShareAction = NonNullable<Row['share']['share_action']>;

/** The torrent's own share limits: empty fields inherit the profile's (then the global
 * ones), -1 means none. */
function ShareEditor({ r }: { r: Row }) {
  const own = r.share || {};
  const show = (v: number | null | undefined) => (v == null ? '' : String(v));
  const [ratio, setRatio] = useState(show(own.ratio_limit));
  const [minutes, setMinutes] = useState(show(own.seed_time_limit));
  const [action, setAction] = useState<string>(own.share_action || '');
  const [busy, setBusy] = useState(false);
  const canEdit = writable();
  const num = (s: string) => (s.trim() === '' ? null : Number(s));
  const bad = [ratio, minutes].some((s) => s.trim() !== '' && !Number.isFinite(Number(s)));
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      mergeRow(await patch<Row>(`/api/torrents/${r.hash}`, {
        ratio_limit: num(ratio),
        seed_time_limit: num(minutes) == null ? null : Math.round(num(minutes)!),
        share_action: (action || null) as ShareAction | null,
      }));
      toast('Share limits saved.', 'info');
    } catch (x) {
      toast('Could not save the share limits: ' + errText(x));
    }
    setBusy(false);
  };
  return (
    <form class="share-edit" onSubmit={save} data-testid="share-editor">
      <input class="num" value={ratio} onInput={(e) => setRatio(e.currentTarget.value)} placeholder="ratio" aria-label="Ratio limit (empty: inherited, -1: none)" disabled={!canEdit} data-testid="share-ratio" />
      <input class="num" value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} placeholder="minutes" aria-label="Seeding time limit in minutes (empty: inherited, -1: none)" disabled={!canEdit} data-testid="share-minutes" />
      <select value={action} onChange={(e) => setAction(e.currentTarget.value)} aria-label="Then" disabled={!canEdit} data-testid="share-action">
        <option value="">inherited action</option>
        <option value="pause">pause</option>
        <option value="remove">remove</option>
        <option value="remove_with_data">remove with data</option>
      </select>
      {canEdit && <button class="btn small" disabled={busy || bad} data-testid="share-save">Save</button>}
    </form>
  );
}

interface Node {
  name: string;
  path: string;
  dirs: Map<string, Node>;
  files: FileRow[];
  size: number;
  downloaded: number;
  indices: number[];
}

function buildTree(files: FileRow[]): Node {
  const root: Node = { name: '', path: '', dirs: new Map(), files: [], size: 0, downloaded: 0, indices: [] };
  for (const f of files) {
    const parts = f.path.split('/');
    let n = root;
    n.size += f.size;
    n.downloaded += f.downloaded;
    n.indices.push(f.index);
    for (let i = 0; i < parts.length - 1; i++) {
      let c = n.dirs.get(parts[i]);
      if (!c) {
        c = { name: parts[i], path: parts.slice(0, i + 1).join('/'), dirs: new Map(), files: [], size: 0, downloaded: 0, indices: [] };
        n.dirs.set(parts[i], c);
      }
      n = c;
      n.size += f.size;
      n.downloaded += f.downloaded;
      n.indices.push(f.index);
    }
    n.files.push(f);
  }
  return root;
}

/** What the browser can show of a file: a player for video and audio, a new tab for images,
 * PDF and text (the server sends everything else as a download, docs/files.md). */
function viewKind(name: string): 'video' | 'audio' | 'page' | null {
  const ext = (name.split('.').pop() || '').toLowerCase();
  if (['webm', 'mp4', 'm4v', 'mkv', 'mov', 'ogv'].includes(ext)) return 'video';
  if (['mp3', 'ogg', 'oga', 'opus', 'flac', 'wav', 'm4a', 'aac'].includes(ext)) return 'audio';
  if (['png', 'jpg', 'jpeg', 'gif', 'webp', 'avif', 'bmp', 'pdf', 'txt', 'nfo'].includes(ext)) return 'page';
  return null;
}

type FLine = { dir: Node; depth: number } | { file: FileRow; depth: number };

const FROW_H = 24;

function Files({ r }: { r: Row }) {
  const [files, err, refresh] = useFetched<FileRow[]>(`/api/torrents/${r.hash}/files`, r);
  if (err) return <p class="err pad">{err}</p>;
  if (!files) return <p class="muted pad">Loading…</p>;
  if (!files.length) return <p class="muted pad">The file list is known once the metadata has arrived.</p>;
  return <FileTree r={r} files={files} refresh={refresh} />;
}

/** The file tree of a torrent whose metadata is known, windowed (see `useWindow`). */
function FileTree({ r, files, refresh }: { r: Row; files: FileRow[]; refresh: () => void }) {
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [playing, setPlaying] = useState<FileRow | null>(null);
  const canEdit = writable();
  const tree = useMemo(() => buildTree(files), [files]);
  // The visible lines of the tree, flattened: only those in view are rendered (a torrent
  // with 10,000 files stays smooth).
  const lines = useMemo(() => {
    const out: FLine[] = [];
    const walk = (n: Node, depth: number) => {
      for (const d of [...n.dirs.values()].sort((a, b) => a.name.localeCompare(b.name))) {
        out.push({ dir: d, depth });
        if (!collapsed.has(d.path)) walk(d, depth + 1);
      }
      for (const f of n.files) out.push({ file: f, depth });
    };
    walk(tree, 0);
    return out;
  }, [tree, collapsed]);
  const { ref, first, last } = useWindow(lines.length, FROW_H, FROW_H + 1);
  const base = `/api/torrents/${r.hash}`;
  const anyDone = files.some((f) => f.wanted && f.progress >= 1);
  const toolbar = (
    <div class="ftools">
      {anyDone ? (
        <a class="btn small" href={`${base}/archive`} download data-testid="download-zip"><Icon n="down" size={12} /> Download as ZIP</a>
      ) : (
        <button class="btn small" disabled data-tip="No file is complete yet"><Icon n="down" size={12} /> Download as ZIP</button>
      )}
      {r.size > 0 && <a class="btn small" href={`${base}/torrent`} download data-testid="export-torrent"><Icon n="file" size={12} /> Export .torrent</a>}
    </div>
  );
  const wanted = new Set(files.filter((f) => f.wanted).map((f) => f.index));
  const setWanted = async (indices: number[], on: boolean) => {
    const next = new Set(wanted);
    for (const i of indices) on ? next.add(i) : next.delete(i);
    setBusy(true);
    try {
      mergeRow(await patch<Row>(`/api/torrents/${r.hash}`, { files: [...next].sort((a, b) => a - b) }));
      refresh();
    } catch (e) {
      toast('Could not change the wanted files: ' + errText(e));
    }
    setBusy(false);
  };
  const toggleDir = (p: string) => {
    const s = new Set(collapsed);
    s.has(p) ? s.delete(p) : s.add(p);
    setCollapsed(s);
  };
  const line = (l: FLine) => {
    if ('dir' in l) {
      const d = l.dir;
      const on = d.indices.filter((i) => wanted.has(i)).length;
      const open = !collapsed.has(d.path);
      return (
        <div class="frow dir" key={'d' + d.path}>
          <span class="fname" style={{ paddingLeft: l.depth * 16 + 'px' }}>
            <input
              type="checkbox"
              checked={on === d.indices.length}
              indeterminate={on > 0 && on < d.indices.length}
              disabled={!canEdit || busy}
              aria-label={'Download folder ' + d.path}
              onChange={() => setWanted(d.indices, on !== d.indices.length)}
            />
            <button class="twist" onClick={() => toggleDir(d.path)} aria-label={open ? 'Collapse' : 'Expand'}>
              <Icon n={open ? 'chevd' : 'chev'} size={10} />
            </button>
            <Icon n="folder" size={12} />
            <span class="ellip">{d.name}</span>
          </span>
          <span />
          <span class="r">{fmt.bytes(d.size)}</span>
          <span><FileBar p={d.size ? d.downloaded / d.size : 1} /></span>
        </div>
      );
    }
    const f = l.file;
    const name = f.path.split('/').pop() || f.path;
    const kind = viewKind(name);
    const url = `${base}/files/${f.index}/content`;
    return (
      <div class={'frow' + (f.wanted ? '' : ' unwanted')} key={'f' + f.index} data-file={f.index}>
        <span class="fname" style={{ paddingLeft: l.depth * 16 + 18 + 'px' }}>
          <input
            type="checkbox"
            checked={f.wanted}
            disabled={!canEdit || busy}
            aria-label={'Download ' + f.path}
            data-testid={'file-want-' + f.index}
            onChange={() => setWanted([f.index], !f.wanted)}
          />
          <Icon n="file" size={12} />
          <span class="ellip" title={f.path}>{name}</span>
        </span>
        <span class="facts">
          {kind === 'video' || kind === 'audio' ? (
            <button class="btn icon ghost small" onClick={() => setPlaying(f)} aria-label={'Play ' + name} data-tip="Play" data-testid={'file-play-' + f.index}><Icon n="play" size={11} /></button>
          ) : kind === 'page' ? (
            <a class="btn icon ghost small" href={url} target="_blank" rel="noopener" aria-label={'Open ' + name} data-tip="Open in a new tab"><Icon n="info" size={11} /></a>
          ) : null}
          <a class="btn icon ghost small" href={url + '?download=1'} download={name} aria-label={'Save ' + name} data-tip="Download" data-testid={'file-download-' + f.index}><Icon n="down" size={11} /></a>
        </span>
        <span class="r">{fmt.bytes(f.size)}</span>
        <span><FileBar p={f.progress} /></span>
      </div>
    );
  };
  return (
    <div class="files-wrap">
      {toolbar}
      <div class="files" ref={ref}>
        <div class="frow fhead">
          <span>Name</span>
          <span />
          <span class="r">Size</span>
          <span>Progress</span>
        </div>
        <div style={{ height: first * FROW_H + 'px' }} />
        {lines.slice(first, last).map(line)}
        <div style={{ height: Math.max(0, lines.length - last) * FROW_H + 'px' }} />
      </div>
      {playing && <Player r={r} f={playing} onClose={() => setPlaying(null)} />}
    </div>
  );
}

/** Plays a video or audio file in the page, while it downloads too (the server fetches the
 * pieces under the playback position first). */
function Player({ r, f, onClose }: { r: Row; f: FileRow; onClose: () => void }) {
  const name = f.path.split('/').pop() || f.path;
  const src = `/api/torrents/${r.hash}/files/${f.index}/content`;
  const audio = viewKind(name) === 'audio';
  return (
    <Modal title={name} onClose={onClose} wide testid="player">
      <div class="modal-body player">
        {audio ? <audio src={src} controls autoPlay data-testid="media" /> : <video src={src} controls autoPlay data-testid="media" />}
        {f.progress < 1 && <p class="muted small">Still downloading ({fmt.pct(f.progress)}): the part you play is fetched first.</p>}
      </div>
    </Modal>
  );
}

function FileBar({ p }: { p: number }) {
  return (
    <div class="bar s-file">
      <div class="fill" style={{ width: (p * 100).toFixed(1) + '%' }} />
      <span>{fmt.pct(p)}</span>
    </div>
  );
}

/** Per-peer speeds from the change of the byte counters between two fetches. */
function usePeerSpeeds(peers: PeerRow[] | null): Map<string, { dl: number; ul: number }> {
  const last = useRef<{ at: number; bytes: Map<string, [number, number]> } | null>(null);
  const [speeds, setSpeeds] = useState(new Map<string, { dl: number; ul: number }>());
  useEffect(() => {
    if (!peers) return;
    const now = Date.now();
    const prev = last.current;
    const next = new Map(peers.map((p) => [p.addr, [p.downloaded, p.uploaded] as [number, number]]));
    if (prev && now > prev.at) {
      const secs = (now - prev.at) / 1000;
      const m = new Map<string, { dl: number; ul: number }>();
      for (const p of peers) {
        const b = prev.bytes.get(p.addr);
        if (b) m.set(p.addr, { dl: Math.max(0, (p.downloaded - b[0]) / secs), ul: Math.max(0, (p.uploaded - b[1]) / secs) });
      }
      setSpeeds(m);
    }
    last.current = { at: now, bytes: next };
  }, [peers]);
  return speeds;
}

/** qBittorrent-style flags: D downloading from, U uploading to, u wants our pieces but gets
 * none now, I incoming, P µTP. */
function peerFlags(p: PeerRow, s: { dl: number; ul: number } | undefined): string {
  let f = '';
  if (s && s.dl > 0) f += 'D';
  if (s && s.ul > 0) f += 'U';
  else if (p.interested) f += 'u';
  if (p.incoming) f += 'I';
  if (p.connection === 'utp') f += 'P';
  return f;
}

function Peers({ r }: { r: Row }) {
  const [peers, err] = useFetched<PeerRow[]>(`/api/torrents/${r.hash}/peers`, r);
  const speeds = usePeerSpeeds(peers);
  if (err) return <p class="err pad">{err}</p>;
  if (!peers) return <p class="muted pad">Loading…</p>;
  if (!peers.length) return <p class="muted pad">No peers connected.</p>;
  return (
    <table class="plain" data-testid="peers-table">
      <thead>
        <tr>
          <th>Address</th><th>Client</th><th><abbr title="D downloading from · U uploading to · u interested, not uploaded to now · I incoming · P µTP">Flags</abbr></th><th>Connection</th><th class="r">Progress</th>
          <th class="r">Down speed</th><th class="r">Up speed</th><th class="r">Downloaded</th><th class="r">Uploaded</th>
        </tr>
      </thead>
      <tbody>
        {peers.map((p) => {
          const sp = speeds.get(p.addr);
          return (
            <tr key={p.addr}>
              <td>{p.addr}</td><td>{p.client || ''}</td><td class="mono">{peerFlags(p, sp)}</td>
              <td>{p.connection ? p.connection.toUpperCase() : ''}{p.incoming ? ' (in)' : ''}</td>
              <td class="r" data-testid="peer-progress">{p.progress == null ? '' : fmt.pct(p.progress)}</td>
              <td class="r dlc">{sp ? fmt.speed(sp.dl) : ''}</td><td class="r ulc">{sp ? fmt.speed(sp.ul) : ''}</td>
              <td class="r">{fmt.bytes(p.downloaded)}</td><td class="r">{fmt.bytes(p.uploaded)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function DetailsPane({ sheet = false }: { sheet?: boolean }) {
  const focus = useStore(app, (s) => s.focus);
  useStore(rowsStore, (s) => s.version);
  const r = focus ? rows.map.get(focus) : undefined;
  const [tab, setTabRaw] = useState<Tab>(() => (localStorage.getItem('pt.tab') as Tab) || 'general');
  const [height, setHeight] = useState(() => parseInt(localStorage.getItem('pt.detailsH') || '230', 10));
  const [collapsed, setCollapsed] = useState(() => localStorage.getItem('pt.detailsCollapsed') === '1');
  const setTab = (t: Tab) => {
    setTabRaw(t);
    localStorage.setItem('pt.tab', t);
    if (collapsed) toggle();
  };
  const toggle = () => {
    localStorage.setItem('pt.detailsCollapsed', collapsed ? '0' : '1');
    setCollapsed(!collapsed);
  };
  const drag = (e: PointerEvent) => {
    e.preventDefault();
    const y0 = e.clientY;
    const h0 = height;
    let h = h0;
    const move = (ev: PointerEvent) => {
      h = Math.max(90, Math.min(window.innerHeight - 200, h0 - (ev.clientY - y0)));
      setHeight(h);
    };
    const up = () => {
      localStorage.setItem('pt.detailsH', String(h));
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
  };
  const style = sheet || collapsed ? undefined : { height: height + 'px' };
  return (
    <section class={'details' + (sheet ? ' as-sheet' : '') + (collapsed && !sheet ? ' collapsed' : '')} style={style} aria-label="Details">
      {!sheet && !collapsed && <div class="splitter" onPointerDown={drag} aria-hidden="true" />}
      <div class="tabs">
        <div class="tablist" role="tablist" aria-label="Details">
          {TABS.map((t) => (
            <button key={t.id} role="tab" aria-selected={tab === t.id && !collapsed} class={tab === t.id && !collapsed ? 'on' : ''} onClick={() => setTab(t.id)} data-testid={'tab-' + t.id}>
              {t.label}
            </button>
          ))}
        </div>
        <span class="tabs-title ellip">{r ? r.name : ''}</span>
        {sheet ? (
          <button class="btn icon ghost" onClick={() => app.set({ detailsOpen: false })} aria-label="Close details" data-tip="Close details"><Icon n="x" /></button>
        ) : (
          <button class="btn icon ghost" onClick={toggle} aria-label={collapsed ? 'Show details' : 'Hide details'} data-tip={collapsed ? 'Show details' : 'Hide details'}>
            <Icon n={collapsed ? 'up' : 'down'} size={12} />
          </button>
        )}
      </div>
      {(!collapsed || sheet) && (
        <div class="tab-body" role="tabpanel">
          {!r ? (
            <p class="muted pad">Select a torrent to see its details.</p>
          ) : tab === 'general' ? (
            <General r={r} />
          ) : tab === 'files' ? (
            <Files r={r} />
          ) : tab === 'peers' ? (
            <Peers r={r} />
          ) : (
            <Trackers r={r} />
          )}
        </div>
      )}
    </section>
  );
}
