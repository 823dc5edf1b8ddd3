// Speed and share limits outside the settings page: the alternative-speed switch (top bar,
// phone footer), a torrent's own speed limits (details pane) and the dialog that sets speed
// or share limits on a whole selection.
import { useEffect, useState } from 'preact/hooks';
import { loadSettings, patchTorrents, selectedHashes, setAltSpeeds, writable } from '../actions';
import { errText, patch } from '../api';
import { mergeRow } from '../feed';
import { Icon } from '../icons';
import { SHARE_ACTIONS, kibText, limitText, numText, parseKib, parseMinutes, parseRatio, type Parsed } from '../limits';
import { app, rows, toast, useStore } from '../store';
import type { Row, TorrentPatch } from '../types';
import { Modal } from './Dialogs';

const pair = (dl: number | undefined, ul: number | undefined) => `↓ ${limitText(dl)} · ↑ ${limitText(ul)}`;

/**
 * The alternative speed limits (the "turtle"): a switch for administrators, an indicator for
 * everybody else. It follows the limits in force that every `stats` event carries.
 */
export function AltSwitch({ compact = false }: { compact?: boolean }) {
  const limits = useStore(app, (s) => s.stats?.limits);
  const admin = useStore(app, (s) => s.me?.role === 'admin');
  const alt = useStore(app, (s) => s.settings?.speed);
  const conn = useStore(app, (s) => s.conn);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    // The title names the pair the switch turns on: only administrators may read it.
    if (admin && !app.get().settings) loadSettings().catch(() => {});
  }, [admin]);
  if (!limits) return null;
  const on = limits.alt_enabled;
  const now = pair(limits.dl_limit, limits.ul_limit);
  const tip = on
    ? `Alternative speed limits on: ${now}.`
    : `Alternative speed limits off${alt ? ` (they would be ${pair(alt.alt_dl_limit, alt.alt_ul_limit)})` : ''}. In force now: ${now}.`;
  const body = (
    <>
      <Icon n="turtle" size={compact ? 18 : 15} />
      {!compact && <span class="alt-label">Alt speed</span>}
      {!compact && <span class="alt-state">{on ? 'on' : 'off'}</span>}
    </>
  );
  if (!admin) {
    return (
      <span class={'alt-switch ro' + (on ? ' on' : '') + (compact ? ' compact' : '')} role="img" aria-label={`Alternative speed limits ${on ? 'on' : 'off'}`} title={tip} data-testid="alt-speed" data-on={String(on)}>
        {body}
      </span>
    );
  }
  const toggle = async () => {
    setBusy(true);
    await setAltSpeeds(!on);
    setBusy(false);
  };
  return (
    <button
      type="button"
      class={'btn alt-switch' + (on ? ' on' : '') + (compact ? ' icon ghost compact' : '')}
      aria-pressed={on}
      aria-label={compact ? 'Alternative speed limits' : undefined}
      title={`${tip} Click to switch them ${on ? 'off' : 'on'}.`}
      disabled={busy || conn !== 'online'}
      onClick={toggle}
      data-testid="alt-speed"
      data-on={String(on)}
    >
      {body}
    </button>
  );
}

/** A torrent's own speed limits, in KiB/s (empty or 0: none of its own). */
export function SpeedEditor({ r }: { r: Row }) {
  const [dl, setDl] = useState(kibText(r.dl_limit));
  const [ul, setUl] = useState(kibText(r.ul_limit));
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const prof = useStore(app, (s) => s.profiles.find((p) => p.id === r.profile));
  const canEdit = writable();
  const save = async (e: Event) => {
    e.preventDefault();
    const d = parseKib(dl, 'Download limit', r.dl_limit);
    const u = parseKib(ul, 'Upload limit', r.ul_limit);
    const bad = [d, u].find((x): x is { ok: false; error: string } => !x.ok);
    if (bad) return setErr(bad.error);
    setErr('');
    setBusy(true);
    try {
      mergeRow(await patch<Row>(`/api/torrents/${r.hash}`, { dl_limit: (d as { v: number }).v, ul_limit: (u as { v: number }).v }));
      toast('Speed limits saved.', 'info');
    } catch (x) {
      setErr(errText(x));
    }
    setBusy(false);
  };
  const input = (v: string, set: (s: string) => void, what: string, id: string) => (
    <input
      class="num"
      inputMode="decimal"
      value={v}
      onInput={(e) => {
        set(e.currentTarget.value);
        setErr('');
      }}
      placeholder="none"
      aria-label={`${what} limit of this torrent, KiB/s (empty or 0: none of its own; at least 16)`}
      aria-invalid={!!err}
      disabled={!canEdit}
      data-testid={id}
    />
  );
  const profLimits = prof && (prof.dl_limit || prof.ul_limit) ? `profile: ${pair(prof.dl_limit, prof.ul_limit)}` : '';
  return (
    <form class="share-edit" onSubmit={save} data-testid="speed-editor">
      <span aria-hidden="true">↓</span>
      {input(dl, setDl, 'Download', 'torrent-dl-limit')}
      <span aria-hidden="true">↑</span>
      {input(ul, setUl, 'Upload', 'torrent-ul-limit')}
      <span class="muted">KiB/s</span>
      {canEdit && <button class="btn small" disabled={busy} data-testid="torrent-limit-save">Save</button>}
      {profLimits && <span class="muted small" title="The profile's limits are shared by all its torrents">{profLimits}</span>}
      {err && <span class="err" role="alert" data-testid="torrent-limit-error">{err}</span>}
    </form>
  );
}

export function LimitsDialog() {
  const kind = useStore(app, (s) => s.limitsOpen);
  return kind ? <LimitsBody key={kind} kind={kind} /> : null;
}

const MIXED = 'mixed';

/** The field's text for each selected torrent: one text when they agree, else MIXED. */
function common(list: Row[], f: (r: Row) => string): string {
  const vals = new Set(list.map(f));
  return vals.size === 1 ? [...vals][0] : MIXED;
}

type Key = 'dl' | 'ul' | 'ratio' | 'minutes' | 'action';

/**
 * Sets speed or share limits on every selected torrent. Each field starts with the value the
 * torrents share, or empty and marked "mixed" when they differ; only the fields changed here
 * are sent, so a mixed field left empty stays as each torrent has it.
 */
function LimitsBody({ kind }: { kind: 'speed' | 'share' }) {
  const [hashes] = useState(selectedHashes);
  const [init] = useState(() => {
    const list = hashes.map((h) => rows.map.get(h)).filter((r): r is Row => !!r);
    const m: Record<Key, string> = {
      dl: common(list, (r) => kibText(r.dl_limit)),
      ul: common(list, (r) => kibText(r.ul_limit)),
      ratio: common(list, (r) => numText(r.share?.ratio_limit)),
      minutes: common(list, (r) => numText(r.share?.seed_time_limit)),
      action: common(list, (r) => r.share?.share_action || ''),
    };
    return m;
  });
  const [vals, setVals] = useState<Record<Key, string>>(() => {
    const v = { ...init };
    for (const k of Object.keys(v) as Key[]) if (v[k] === MIXED) v[k] = k === 'action' ? MIXED : '';
    return v;
  });
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const close = () => app.set({ limitsOpen: null });
  const changed = (k: Key) => vals[k] !== (init[k] === MIXED ? (k === 'action' ? MIXED : '') : init[k]);
  const set = (k: Key) => (e: Event) => {
    setVals({ ...vals, [k]: (e.currentTarget as HTMLInputElement).value });
    setErrors([]);
  };
  const fields: Key[] = kind === 'speed' ? ['dl', 'ul'] : ['ratio', 'minutes', 'action'];
  const dirty = fields.some(changed);
  const apply = async (e: Event) => {
    e.preventDefault();
    const body: TorrentPatch = {};
    const errs: string[] = [];
    const take = <T,>(k: Key, p: Parsed<T>, put: (v: T) => void) => {
      if (!changed(k)) return;
      if (p.ok) put(p.v);
      else errs.push(p.error);
    };
    take('dl', parseKib(vals.dl, 'Download limit'), (v) => (body.dl_limit = v));
    take('ul', parseKib(vals.ul, 'Upload limit'), (v) => (body.ul_limit = v));
    take('ratio', parseRatio(vals.ratio), (v) => (body.ratio_limit = v));
    take('minutes', parseMinutes(vals.minutes), (v) => (body.seed_time_limit = v));
    if (changed('action')) body.share_action = (vals.action || null) as TorrentPatch['share_action'];
    if (errs.length) return setErrors(errs);
    if (!Object.keys(body).length) return close();
    setBusy(true);
    const failed = await patchTorrents(hashes, body);
    setBusy(false);
    if (failed.length) {
      setErrors([`${failed.length} of ${hashes.length} not changed:`, ...failed.slice(0, 5)]);
      return;
    }
    close();
    toast(`${kind === 'speed' ? 'Speed' : 'Share'} limits set on ${hashes.length === 1 ? '1 torrent' : hashes.length + ' torrents'}.`, 'info');
  };
  const what = hashes.length === 1 ? `“${rows.map.get(hashes[0])?.name || hashes[0]}”` : `${hashes.length} torrents`;
  const mixed = (k: Key) => init[k] === MIXED && <span class="tag mixed" data-testid={'mixed-' + k}>mixed</span>;
  const text = (k: Key, label: string, unit: string, hint: string) => (
    <label class="field">
      <span>
        {label} <span class="muted">{unit}</span> {mixed(k)}
      </span>
      <input
        value={vals[k]}
        inputMode="decimal"
        onInput={set(k)}
        placeholder={init[k] === MIXED ? 'mixed: leave empty to keep' : hint}
        aria-invalid={errors.length > 0 && changed(k)}
        data-testid={'limits-' + k}
        data-autofocus={k === fields[0] ? true : undefined}
      />
    </label>
  );
  return (
    <Modal title={kind === 'speed' ? 'Speed limits' : 'Share limits'} onClose={close} testid="limits-dialog">
      <form class="modal-body" onSubmit={apply}>
        <p class="muted">
          For {what}. Fields you leave as they are stay as each torrent has them.
        </p>
        {kind === 'speed' ? (
          <>
            <div class="field-row">
              {text('dl', 'Download limit', 'KiB/s', 'none')}
              {text('ul', 'Upload limit', 'KiB/s', 'none')}
            </div>
            <p class="muted small">Empty or 0: no limit of the torrent's own (its profile's and the global limits still apply). At least 16 KiB/s.</p>
          </>
        ) : (
          <>
            <div class="field-row">
              {text('ratio', 'Ratio limit', '', 'inherited')}
              {text('minutes', 'Seeding time', 'minutes', 'inherited')}
              <label class="field">
                <span>Then {mixed('action')}</span>
                <select value={vals.action} onChange={set('action')} data-testid="limits-action">
                  {init.action === MIXED && <option value={MIXED}>mixed: keep</option>}
                  <option value="">inherited action</option>
                  {SHARE_ACTIONS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
                </select>
              </label>
            </div>
            <p class="muted small">Empty: inherit the profile's limit (then the global one); -1: no limit. Seeding time counts from completion.</p>
          </>
        )}
        {errors.length > 0 && (
          <div class="form-error" role="alert" data-testid="limits-error">
            {errors.map((x) => <p key={x}>{x}</p>)}
          </div>
        )}
        <div class="modal-foot">
          <button type="button" class="btn" onClick={close}>Cancel</button>
          <button type="submit" class="btn primary" disabled={busy || !dirty} data-testid="apply-limits">Apply</button>
        </div>
      </form>
    </Modal>
  );
}
