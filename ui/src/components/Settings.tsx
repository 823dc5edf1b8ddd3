// The settings page (administrators): the run-time settings of `/api/settings`, edited as one
// form with one Save. Each section reads its part of the settings into the form, shows its
// fields, and turns the fields it changed into its part of the PATCH (checked first, with the
// server's limits: nothing is sent while a field is wrong). More sections are added to
// SECTIONS. Engine settings the running engine does not use yet (`restart_needed`) are marked
// "applies after restart". The backup schedule (folder, how many to keep) is a section too.
// Below the form: the backup download, "Back up now" and the last backup's outcome, then the
// webhooks (`Webhooks.tsx`, their own resource with their own saves).
import { useEffect, useState } from 'preact/hooks';
import { loadSettings, saveSettings } from '../actions';
import { errText, post } from '../api';
import { SHARE_ACTIONS, kibText, numText, parseKib, parseMinutes, parseRatio, type Parsed, type ShareAction } from '../limits';
import { Icon } from '../icons';
import { app, useStore } from '../store';
import { backupOf, type BackupStatus, type Settings, type SettingsPatch } from '../types';
import * as fmt from '../format';
import { Webhooks } from './Webhooks';

interface Form {
  dl: string;
  ul: string;
  altDl: string;
  altUl: string;
  alt: boolean;
  schedOn: boolean;
  days: number[];
  from: string;
  to: string;
  ratio: string;
  minutes: string;
  action: ShareAction;
  port: string;
  dht: boolean;
  lsd: boolean;
  upnp: boolean;
  pex: boolean;
  peersGlobal: string;
  peersTorrent: string;
  blocklist: string;
  iface: string;
  bkOn: boolean;
  bkDir: string;
  bkKeep: string;
}

type SetForm = (p: Partial<Form>) => void;

interface Section {
  id: string;
  title: string;
  /** This section's fields from the settings. */
  read: (s: Settings) => Partial<Form>;
  View: (p: { f: Form; set: SetForm; restart: string[] }) => preact.JSX.Element;
  /** Adds the changes of this section (form against the settings it was read from) to
   * `patch`, or error sentences to `errors`. */
  collect: (f: Form, was: Form, patch: SettingsPatch, errors: string[]) => void;
}

/** Reads a parsed field into `put` when it changed, or its error into `errors`. */
function take<T>(changed: boolean, p: Parsed<T>, errors: string[], put: (v: T) => void) {
  if (!changed) return;
  if (p.ok) put(p.v);
  else errors.push(p.error);
}

function Kib({ label, value, onInput, id }: { label: string; value: string; onInput: (v: string) => void; id: string }) {
  return (
    <label class="field">
      <span>
        {label} <span class="muted">KiB/s</span>
      </span>
      <input inputMode="decimal" value={value} placeholder="unlimited" onInput={(e) => onInput(e.currentTarget.value)} data-testid={id} />
    </label>
  );
}

const speed: Section = {
  id: 'speed',
  title: 'Speed limits',
  read: (s) => ({
    dl: kibText(s.speed.dl_limit),
    ul: kibText(s.speed.ul_limit),
    altDl: kibText(s.speed.alt_dl_limit),
    altUl: kibText(s.speed.alt_ul_limit),
    alt: !!s.speed.alt_enabled,
  }),
  View: ({ f, set }) => (
    <>
      <div class="field-row">
        <Kib label="Download limit" value={f.dl} onInput={(v) => set({ dl: v })} id="set-dl" />
        <Kib label="Upload limit" value={f.ul} onInput={(v) => set({ ul: v })} id="set-ul" />
      </div>
      <div class="field-row">
        <Kib label="Alternative download limit" value={f.altDl} onInput={(v) => set({ altDl: v })} id="set-alt-dl" />
        <Kib label="Alternative upload limit" value={f.altUl} onInput={(v) => set({ altUl: v })} id="set-alt-ul" />
      </div>
      <label class="check">
        <input type="checkbox" checked={f.alt} onChange={(e) => set({ alt: e.currentTarget.checked })} data-testid="set-alt" />
        Use the alternative limits now (the turtle switch in the top bar)
      </label>
      <p class="muted small">For all torrents together. Empty or 0 = unlimited; otherwise at least 16 KiB/s. Profiles and torrents can have limits of their own; the tightest one applies.</p>
    </>
  ),
  collect: (f, was, patch, errors) => {
    const sp: NonNullable<SettingsPatch['speed']> = {};
    take(f.dl !== was.dl, parseKib(f.dl, 'Download limit'), errors, (v) => (sp.dl_limit = v));
    take(f.ul !== was.ul, parseKib(f.ul, 'Upload limit'), errors, (v) => (sp.ul_limit = v));
    take(f.altDl !== was.altDl, parseKib(f.altDl, 'Alternative download limit'), errors, (v) => (sp.alt_dl_limit = v));
    take(f.altUl !== was.altUl, parseKib(f.altUl, 'Alternative upload limit'), errors, (v) => (sp.alt_ul_limit = v));
    if (f.alt !== was.alt) sp.alt_enabled = f.alt;
    if (Object.keys(sp).length) patch.speed = { ...patch.speed, ...sp };
  },
};

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

const schedule: Section = {
  id: 'schedule',
  title: 'Alternative speed schedule',
  read: (s) => {
    const sc = s.speed.schedule;
    return { schedOn: !!sc?.enabled, days: [...(sc?.days ?? [0, 1, 2, 3, 4, 5, 6])].sort(), from: sc?.from || '08:00', to: sc?.to || '20:00' };
  },
  View: ({ f, set }) => (
    <>
      <label class="check">
        <input type="checkbox" checked={f.schedOn} onChange={(e) => set({ schedOn: e.currentTarget.checked })} data-testid="set-sched" />
        Switch to the alternative limits on a schedule
      </label>
      <div class="days" role="group" aria-label="Days the window starts on">
        {DAYS.map((d, i) => {
          const on = f.days.includes(i);
          return (
            <button
              type="button"
              key={d}
              class={'day' + (on ? ' on' : '')}
              aria-pressed={on}
              title={DAY_NAMES[i]}
              onClick={() => set({ days: on ? f.days.filter((x) => x !== i) : [...f.days, i].sort() })}
              data-testid={'set-day-' + i}
            >
              {d}
            </button>
          );
        })}
      </div>
      <div class="field-row">
        <label class="field">
          From
          <input type="time" value={f.from} onInput={(e) => set({ from: e.currentTarget.value })} data-testid="set-from" />
        </label>
        <label class="field">
          To
          <input type="time" value={f.to} onInput={(e) => set({ to: e.currentTarget.value })} data-testid="set-to" />
        </label>
      </div>
      <p class="muted small">In the server's local time. The alternative limits go on when the window starts and off when it ends; a window that ends before it starts runs past midnight, equal times cover the whole day.</p>
    </>
  ),
  collect: (f, was, patch, errors) => {
    const same = f.schedOn === was.schedOn && f.from === was.from && f.to === was.to && f.days.join() === was.days.join();
    if (same) return;
    if (!HHMM.test(f.from)) errors.push('Schedule: the start time must be HH:MM.');
    if (!HHMM.test(f.to)) errors.push('Schedule: the end time must be HH:MM.');
    if (f.schedOn && !f.days.length) errors.push('Schedule: choose at least one day.');
    patch.speed = { ...patch.speed, schedule: { enabled: f.schedOn, days: f.days, from: f.from, to: f.to } };
  },
};

const share: Section = {
  id: 'share',
  title: 'Share limits',
  // Globally there is nothing to inherit: null and -1 both mean none, shown empty.
  read: (s) => ({
    ratio: s.share.ratio_limit === -1 ? '' : numText(s.share.ratio_limit),
    minutes: s.share.seed_time_limit === -1 ? '' : numText(s.share.seed_time_limit),
    action: s.share.share_action || 'pause',
  }),
  View: ({ f, set }) => (
    <>
      <div class="field-row">
        <label class="field">
          Ratio limit
          <input inputMode="decimal" value={f.ratio} placeholder="none" onInput={(e) => set({ ratio: e.currentTarget.value })} data-testid="set-ratio" />
        </label>
        <label class="field">
          <span>
            Seeding time <span class="muted">minutes</span>
          </span>
          <input inputMode="numeric" value={f.minutes} placeholder="none" onInput={(e) => set({ minutes: e.currentTarget.value })} data-testid="set-minutes" />
        </label>
        <label class="field">
          Then
          <select value={f.action} onChange={(e) => set({ action: e.currentTarget.value as ShareAction })} data-testid="set-action">
            {SHARE_ACTIONS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </label>
      </div>
      <p class="muted small">When a finished torrent reaches the ratio or has seeded that long. Empty = no limit. Profiles and torrents can set their own.</p>
    </>
  ),
  collect: (f, was, patch, errors) => {
    const sh: NonNullable<SettingsPatch['share']> = {};
    take(f.ratio !== was.ratio, parseRatio(f.ratio), errors, (v) => (sh.ratio_limit = v));
    take(f.minutes !== was.minutes, parseMinutes(f.minutes), errors, (v) => (sh.seed_time_limit = v));
    if (f.action !== was.action) sh.share_action = f.action;
    if (Object.keys(sh).length) patch.share = sh;
  },
};

/** Whole numbers from `min` to `max` (an input's text). */
function parseInt10(text: string, what: string, min: number, max: number, hint: string): Parsed<number> {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < min || n > max) return { ok: false, error: `${what}: “${t}” must be a whole number from ${min} to ${max}${hint}.` };
  return { ok: true, v: n };
}

/** The engine settings' names as the page shows them (also in the restart banner). */
const ENGINE_NAMES: Record<string, string> = {
  listen_port: 'listen port',
  dht: 'DHT',
  lsd: 'local peer discovery',
  upnp: 'UPnP',
  pex: 'peer exchange',
  peer_limit_global: 'peer connections (all torrents)',
  peer_limit_torrent: 'peer connections per torrent',
  blocklist_url: 'IP blocklist',
  bind_interface: 'network interface',
};

/** "applies after restart" next to a field whose stored value the engine does not use yet. */
function Restart({ on, name }: { on: string[]; name: string }) {
  return on.includes(name) ? (
    <span class="restart-note" data-testid={'restart-' + name}>
      applies after restart
    </span>
  ) : null;
}

function EngineField(p: { label: string; name: string; help: string; restart: string[]; wide?: boolean; children: preact.ComponentChildren }) {
  return (
    <label class={'field' + (p.wide ? ' wide' : '')}>
      <span>
        {p.label} <Restart on={p.restart} name={p.name} />
      </span>
      {p.children}
      <span class="help">{p.help}</span>
    </label>
  );
}

function EngineCheck(p: { label: string; name: string; help: string; restart: string[]; checked: boolean; set: (v: boolean) => void }) {
  return (
    <label class="check">
      <input type="checkbox" checked={p.checked} onChange={(e) => p.set(e.currentTarget.checked)} data-testid={'set-' + p.name} />
      <span>
        {p.label} <span class="help">{p.help}</span> <Restart on={p.restart} name={p.name} />
      </span>
    </label>
  );
}

const IFACE = /^[A-Za-z0-9_.:-]{1,15}$/;

const engine: Section = {
  id: 'engine',
  title: 'Engine',
  read: (s) => ({
    port: String(s.engine.listen_port),
    dht: s.engine.dht,
    lsd: s.engine.lsd,
    upnp: s.engine.upnp,
    pex: s.engine.pex,
    peersGlobal: String(s.engine.peer_limit_global),
    peersTorrent: String(s.engine.peer_limit_torrent),
    blocklist: s.engine.blocklist_url || '',
    iface: s.engine.bind_interface || '',
  }),
  View: ({ f, set, restart }) => (
    <>
      <div class="field-row top">
        <EngineField label="Listen port" name="listen_port" help="TCP and µTP port for incoming peers; 0 = a random port at each start. After a restart." restart={restart}>
          <input inputMode="numeric" value={f.port} onInput={(e) => set({ port: e.currentTarget.value })} data-testid="set-listen_port" />
        </EngineField>
        <EngineField label="Peer connections, all torrents" name="peer_limit_global" help="0 = no cap. Applies at once: no new connection while at the cap." restart={restart}>
          <input inputMode="numeric" value={f.peersGlobal} onInput={(e) => set({ peersGlobal: e.currentTarget.value })} data-testid="set-peer_limit_global" />
        </EngineField>
        <EngineField label="Peer connections per torrent" name="peer_limit_torrent" help="1 to 1000. For torrents started after a restart." restart={restart}>
          <input inputMode="numeric" value={f.peersTorrent} onInput={(e) => set({ peersTorrent: e.currentTarget.value })} data-testid="set-peer_limit_torrent" />
        </EngineField>
      </div>
      <div class="check-list">
        <EngineCheck label="DHT" name="dht" help="finds peers without trackers; after a restart" restart={restart} checked={f.dht} set={(v) => set({ dht: v })} />
        <EngineCheck label="Peer exchange (PEX)" name="pex" help="with connected peers, never for private torrents; at once" restart={restart} checked={f.pex} set={(v) => set({ pex: v })} />
        <EngineCheck label="Local peer discovery" name="lsd" help="multicast on the LAN; after a restart" restart={restart} checked={f.lsd} set={(v) => set({ lsd: v })} />
        <EngineCheck label="UPnP" name="upnp" help="port forwarding on the router; after a restart" restart={restart} checked={f.upnp} set={(v) => set({ upnp: v })} />
      </div>
      <div class="field-row top">
        <EngineField wide label="IP blocklist URL" name="blocklist_url" help="http(s):// or file:// of a P2P-format list (gzip allowed), loaded at start. Empty = none." restart={restart}>
          <input class="mono" value={f.blocklist} placeholder="none" onInput={(e) => set({ blocklist: e.currentTarget.value })} data-testid="set-blocklist_url" />
        </EngineField>
        <EngineField label="Network interface" name="bind_interface" help="All BitTorrent traffic goes through it (e.g. wg0 for a VPN); when it is missing at start the daemon does not start. Empty = any." restart={restart}>
          <input class="mono" value={f.iface} placeholder="any" onInput={(e) => set({ iface: e.currentTarget.value })} data-testid="set-bind_interface" />
        </EngineField>
      </div>
    </>
  ),
  collect: (f, was, patch, errors) => {
    const en: NonNullable<SettingsPatch['engine']> = {};
    take(f.port !== was.port, parseInt10(f.port, 'Listen port', 0, 65535, ' (0 = random)'), errors, (v) => (en.listen_port = v));
    take(f.peersGlobal !== was.peersGlobal, parseInt10(f.peersGlobal, 'Peer connections, all torrents', 0, 100000, ' (0 = no cap)'), errors, (v) => (en.peer_limit_global = v));
    take(f.peersTorrent !== was.peersTorrent, parseInt10(f.peersTorrent, 'Peer connections per torrent', 1, 1000, ''), errors, (v) => (en.peer_limit_torrent = v));
    for (const k of ['dht', 'lsd', 'upnp', 'pex'] as const) if (f[k] !== was[k]) en[k] = f[k];
    if (f.blocklist.trim() !== was.blocklist) {
      const u = f.blocklist.trim();
      if (u && !/^(https?|file):\/\/\S+$/i.test(u)) errors.push(`IP blocklist URL: “${u}” must be an http://, https:// or file:// URL (empty = none).`);
      else en.blocklist_url = u || null;
    }
    if (f.iface.trim() !== was.iface) {
      const i = f.iface.trim();
      if (i && !IFACE.test(i)) errors.push(`Network interface: “${i}” is not an interface name (at most 15 letters, digits, _ . : or -).`);
      else en.bind_interface = i || null;
    }
    if (Object.keys(en).length) patch.engine = en;
  },
};

const backup: Section = {
  id: 'backup',
  title: 'Backup schedule',
  read: (s) => {
    const b = backupOf(s);
    return { bkOn: b.enabled, bkDir: b.dir || '', bkKeep: String(b.keep) };
  },
  View: ({ f, set }) => (
    <>
      <label class="check">
        <input type="checkbox" checked={f.bkOn} onChange={(e) => set({ bkOn: e.currentTarget.checked })} data-testid="set-backup-enabled" />
        Write a backup to a folder every day
      </label>
      <div class="field-row top">
        <label class="field wide">
          <span>Folder</span>
          <input class="mono" value={f.bkDir} placeholder="/srv/backups/pytorrentd" onInput={(e) => set({ bkDir: e.currentTarget.value })} data-testid="set-backup-dir" />
          <span class="help">An absolute path of an existing folder the daemon can write to, on the server. Empty = none.</span>
        </label>
        <label class="field">
          <span>Keep</span>
          <input inputMode="numeric" value={f.bkKeep} onInput={(e) => set({ bkKeep: e.currentTarget.value })} data-testid="set-backup-keep" />
          <span class="help">The newest 1 to 365 backups stay in the folder; older ones are deleted.</span>
        </label>
      </div>
    </>
  ),
  collect: (f, was, patch, errors) => {
    const b: NonNullable<SettingsPatch['backup']> = {};
    if (f.bkOn !== was.bkOn) b.enabled = f.bkOn;
    const dir = f.bkDir.trim();
    if (dir !== was.bkDir) {
      if (dir && !dir.startsWith('/')) errors.push(`Backup folder: “${dir}” must be an absolute path (starting with /).`);
      else b.dir = dir || null;
    }
    if (f.bkOn && !dir) errors.push('Backup schedule: choose a folder for the daily backups.');
    take(f.bkKeep !== was.bkKeep, parseInt10(f.bkKeep, 'Backups kept', 1, 365, ''), errors, (v) => (b.keep = v));
    if (Object.keys(b).length) patch.backup = b;
  },
};

const SECTIONS: Section[] = [speed, schedule, share, engine, backup];

function read(s: Settings): Form {
  return Object.assign({}, ...SECTIONS.map((x) => x.read(s))) as Form;
}

export function SettingsPage() {
  const [was, setWas] = useState<Form | null>(null);
  const [f, setF] = useState<Form | null>(null);
  const [errors, setErrors] = useState<string[]>([]);
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const [restart, setRestart] = useState<string[]>([]);
  const [bk, setBk] = useState<{ status: BackupStatus; dir: string | null }>({ status: {}, dir: null });
  const [bkBusy, setBkBusy] = useState(false);
  const [bkErr, setBkErr] = useState('');
  const liveAlt = useStore(app, (s) => s.stats?.limits.alt_enabled);
  const load = (s: Settings) => {
    const r = read(s);
    setWas(r);
    setF(r);
    setRestart(s.restart_needed || []);
    setBk({ status: s.backup_status || {}, dir: backupOf(s).dir || null });
  };
  const backupNow = async () => {
    setBkBusy(true);
    setBkErr('');
    try {
      const st = await post<BackupStatus>('/api/backup');
      setBk({ ...bk, status: st });
    } catch (e) {
      setBkErr(errText(e));
      // A failed write is recorded as the last outcome too.
      loadSettings().then((s) => setBk({ status: s.backup_status || {}, dir: backupOf(s).dir || null }), () => {});
    }
    setBkBusy(false);
  };
  useEffect(() => {
    loadSettings().then(load, (e) => setErrors([errText(e)]));
  }, []);
  // The switch also moves from the top bar and the schedule: follow it unless changed here.
  useEffect(() => {
    if (liveAlt === undefined || !was || !f || was.alt === liveAlt || f.alt !== was.alt) return;
    setWas({ ...was, alt: liveAlt });
    setF({ ...f, alt: liveAlt });
  }, [liveAlt]);
  if (!f || !was) {
    return (
      <section>
        <h2>Settings</h2>
        {errors.length ? <div class="form-error" role="alert">{errors.join(' ')}</div> : <p class="muted">Loading…</p>}
      </section>
    );
  }
  const set: SetForm = (p) => {
    setF({ ...f, ...p });
    setMsg('');
    setErrors([]);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const patch: SettingsPatch = {};
    const errs: string[] = [];
    for (const s of SECTIONS) s.collect(f, was, patch, errs);
    setMsg('');
    if (errs.length) return setErrors(errs);
    if (!Object.keys(patch).length) return setMsg('Nothing changed.');
    setBusy(true);
    try {
      load(await saveSettings(patch));
      setErrors([]);
      setMsg('Saved.');
    } catch (x) {
      setErrors([errText(x)]);
    }
    setBusy(false);
  };
  return (
    <section>
      <h2>Settings</h2>
      {restart.length > 0 && (
        <p class="note restart-banner" role="status" data-testid="restart-banner">
          Some settings apply after the daemon restarts: {restart.map((n) => ENGINE_NAMES[n] || n).join(', ')}.
        </p>
      )}
      <form class="settings" onSubmit={save} data-testid="settings-form" noValidate>
        {SECTIONS.map((s) => (
          <fieldset key={s.id} class="card-form" data-section={s.id}>
            <legend>{s.title}</legend>
            <s.View f={f} set={set} restart={restart} />
          </fieldset>
        ))}
        {errors.length > 0 && (
          <div class="form-error" role="alert" data-testid="settings-error">
            {errors.map((x) => <p key={x}>{x}</p>)}
          </div>
        )}
        <div class="settings-foot">
          <button type="submit" class="btn primary" disabled={busy} data-testid="settings-save">Save</button>
          {msg && <span class="ok" role="status" data-testid="settings-saved">{msg}</span>}
        </div>
      </form>
      <div class="card-form backup" data-testid="backup">
        <h3>Backup</h3>
        <p class="muted small">
          One file (tar.gz) with the database (users, profiles, torrents, labels, settings) and the torrents' verified pieces, taken while the daemon runs; the downloaded data is not in it.
          With the daemon stopped, <code>pytorrentd restore FILE</code> restores it into a data directory without a database (<code>--force</code> moves the present one aside).
        </p>
        <p data-testid="backup-status">
          <BackupOutcome s={bk.status} />
        </p>
        <p class="backup-actions">
          <a class="btn" href="/api/backup" download data-testid="backup-link">
            <Icon n="down" size={12} /> Download backup
          </a>
          <button type="button" class="btn" disabled={bkBusy || !bk.dir} onClick={backupNow} data-testid="backup-now">
            <Icon n="disk" size={12} /> Back up now
          </button>
          {!bk.dir && <span class="muted small">“Back up now” writes to the schedule's folder: set one above and save.</span>}
        </p>
        {bkErr && <p class="form-error" role="alert" data-testid="backup-error">{bkErr}</p>}
      </div>
      <Webhooks />
    </section>
  );
}

/** The last scheduled or "now" backup, in a sentence. */
function BackupOutcome({ s }: { s: BackupStatus }) {
  if (!s.last_at) return <span class="muted">No backup has been written to a folder yet.</span>;
  const when = <span title={s.last_at}>{fmt.date(s.last_at)}</span>;
  if (s.last_error) {
    return (
      <span class="err">
        The last backup ({when}) failed: {s.last_error}
      </span>
    );
  }
  return (
    <span>
      Last backup {when}: <code data-testid="backup-file">{s.last_file}</code>
    </span>
  );
}
