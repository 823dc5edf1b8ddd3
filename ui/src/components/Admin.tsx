// Administration: users, profiles (admin only) and the caller's API tokens.
import { useEffect, useState } from 'preact/hooks';
import { api, errText } from '../api';
import * as fmt from '../format';
import { Icon } from '../icons';
import { markLeaving, signedOut } from '../feed';
import { app, navigate, toggleTheme, useStore } from '../store';
import { SHARE_ACTIONS, kibText, limitText, numText, parseKib, parseMinutes, parseRatio, parseSize, sizeText, type Parsed } from '../limits';
import type { Profile, ProfilePatch, SessionInfo, Token, User } from '../types';
import { PasswordBanner } from './Main';
import { ConnBadge } from './TopBar';
import { Modal, Toasts } from './Dialogs';
import { SettingsPage } from './Settings';
import { Audit } from './Audit';
import { Bell } from './Notifications';

const LEVELS = ['none', 'ro', 'full'];

function useList<T>(url: string): [T[] | null, string, () => void] {
  const [data, setData] = useState<T[] | null>(null);
  const [err, setErr] = useState('');
  const load = () => {
    api<T[]>('GET', url).then(
      (d) => {
        setData(d);
        setErr('');
      },
      (e) => setErr(errText(e)),
    );
  };
  useEffect(load, [url]);
  return [data, err, load];
}

async function refreshProfiles() {
  try {
    const profiles = await api<Profile[]>('GET', '/api/profiles');
    app.set({ profiles });
  } catch {
    /* the list stays as it was */
  }
}

function ErrorLine({ e }: { e: string }) {
  return e ? <p class="form-error" role="alert">{e}</p> : null;
}

// ---------------------------------------------------------------- users

function UserEditor({ u, profiles, onDone }: { u: User; profiles: Profile[]; onDone: () => void }) {
  const self = app.get().me?.username === u.username;
  const [role, setRole] = useState(u.role);
  const [perms, setPerms] = useState<Record<string, string>>({ ...u.permissions });
  const [pw, setPw] = useState('');
  const [err, setErr] = useState('');
  const [msg, setMsg] = useState('');
  const save = async () => {
    setErr('');
    setMsg('');
    const permissions: Record<string, string | null> = {};
    for (const k of new Set([...Object.keys(u.permissions), ...Object.keys(perms)])) {
      const v = perms[k] || null;
      if ((u.permissions[k] || null) !== v) permissions[k] = v;
    }
    const body: Record<string, unknown> = {};
    if (role !== u.role) body.role = role;
    if (Object.keys(permissions).length) body.permissions = permissions;
    if (!Object.keys(body).length) return onDone();
    try {
      await api('PATCH', `/api/users/${encodeURIComponent(u.username)}`, body);
      onDone();
    } catch (e) {
      setErr(errText(e));
    }
  };
  const reset = async () => {
    setErr('');
    setMsg('');
    try {
      await api('PATCH', `/api/users/${encodeURIComponent(u.username)}`, { password: pw });
      setPw('');
      if (self) {
        setMsg('Password changed. You stay signed in here; your other sessions were signed out.');
        const a = app.get().account;
        if (a) app.set({ account: { ...a, password_change_required: false } });
      } else {
        setMsg(`Password changed; ${u.username}'s sessions were signed out.`);
      }
    } catch (e) {
      setErr(errText(e));
    }
  };
  const targets = ['*', ...profiles.map((p) => p.id)];
  return (
    <Modal title={`User ${u.username}`} onClose={onDone} testid="user-editor">
      <div class="modal-body">
        <label class="field">
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as User['role'])} data-testid="edit-role">
            <option value="user">user</option>
            <option value="admin">admin (sees and changes everything)</option>
          </select>
        </label>
        <div class="field">
          <span>Profile access {role === 'admin' && <span class="muted">(ignored for admins)</span>}</span>
          <table class="plain perms">
            <tbody>
              {targets.map((p) => (
                <tr key={p}>
                  <td>{p === '*' ? <span>All profiles <code>*</code></span> : profiles.find((x) => x.id === p)?.name || p}</td>
                  <td>
                    <select
                      value={perms[p] || ''}
                      data-testid={'perm-' + p}
                      aria-label={'Access to ' + p}
                      onChange={(e) => setPerms({ ...perms, [p]: e.currentTarget.value })}
                    >
                      <option value="">{p === '*' ? 'not set' : 'inherit from *'}</option>
                      {LEVELS.map((l) => (
                        <option key={l} value={l}>{l === 'ro' ? 'ro (read-only)' : l === 'full' ? 'full (read-write)' : 'none (invisible)'}</option>
                      ))}
                    </select>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {u.external ? (
          <p class="muted small">External user: signs in through the reverse proxy; no password here.</p>
        ) : (
          <div class="field">
            <span>Reset password</span>
            <div class="inline-form">
              <input type="password" autoComplete="new-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} placeholder="new password" aria-label="New password" data-testid="reset-password" />
              <button class="btn" type="button" disabled={!pw} onClick={reset}>Set password</button>
            </div>
          </div>
        )}
        <ErrorLine e={err} />
        {msg && <p class="ok" role="status">{msg}</p>}
      </div>
      <div class="modal-foot">
        <button class="btn" onClick={onDone}>Cancel</button>
        <button class="btn primary" onClick={save} data-testid="save-user">Save</button>
      </div>
    </Modal>
  );
}

function Users() {
  const [users, err, reload] = useList<User>('/api/users');
  const profiles = useStore(app, (s) => s.profiles);
  const me = useStore(app, (s) => s.me);
  const [editing, setEditing] = useState<User | null>(null);
  const [name, setName] = useState('');
  const [pw, setPw] = useState('');
  const [kind, setKind] = useState<'local' | 'external'>('local');
  const [role, setRole] = useState('user');
  const [formErr, setFormErr] = useState('');
  const [actErr, setActErr] = useState('');
  const create = async (e: Event) => {
    e.preventDefault();
    setFormErr('');
    try {
      const body: Record<string, unknown> = { username: name.trim(), role };
      if (kind === 'local') body.password = pw;
      await api('POST', '/api/users', body);
      setName('');
      setPw('');
      reload();
    } catch (e) {
      setFormErr(errText(e));
    }
  };
  const remove = async (u: User) => {
    if (!window.confirm(`Delete user ${u.username}? Their sessions and API tokens stop working.`)) return;
    setActErr('');
    try {
      await api('DELETE', `/api/users/${encodeURIComponent(u.username)}`);
      reload();
    } catch (e) {
      setActErr(errText(e));
    }
  };
  return (
    <section>
      <h2>Users</h2>
      <form class="card-form" onSubmit={create} data-testid="create-user">
        <h3>New user</h3>
        <div class="field-row">
          <label class="field">
            Username
            <input name="username" required value={name} onInput={(e) => setName(e.currentTarget.value)} autoComplete="off" />
          </label>
          <label class="field">
            Sign-in
            <select value={kind} onChange={(e) => setKind(e.currentTarget.value as 'local')} name="kind">
              <option value="local">local password</option>
              <option value="external">external (proxy header)</option>
            </select>
          </label>
          {kind === 'local' && (
            <label class="field">
              Password
              <input name="password" type="password" required autoComplete="new-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} />
            </label>
          )}
          <label class="field">
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value)} name="role">
              <option value="user">user</option>
              <option value="admin">admin</option>
            </select>
          </label>
          <button class="btn primary" type="submit">Create</button>
        </div>
        <ErrorLine e={formErr} />
        <p class="muted small">A new user sees no profile until you grant one (Edit).</p>
      </form>
      <ErrorLine e={err || actErr} />
      {users && (
        <table class="plain list" data-testid="users-table">
          <thead>
            <tr><th>User</th><th>Role</th><th>Sign-in</th><th>Profiles</th><th>Created</th><th /></tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.username} data-user={u.username}>
                <td data-label="User"><b>{u.username}</b>{me?.username === u.username && <span class="muted"> (you)</span>}</td>
                <td data-label="Role">{u.role}</td>
                <td data-label="Sign-in">{u.external ? <span class="tag ext">external</span> : 'password'}</td>
                <td data-label="Profiles">
                  {u.role === 'admin' ? (
                    <span class="muted">all</span>
                  ) : Object.keys(u.permissions).length ? (
                    Object.entries(u.permissions).map(([p, l]) => (
                      <span key={p} class={'tag lvl-' + l}>{p}: {l}</span>
                    ))
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
                <td data-label="Created">{fmt.date(u.created_at)}</td>
                <td class="r nowrap actions">
                  <button class="btn small" onClick={() => setEditing(u)} data-testid={'edit-' + u.username} aria-label={'Edit ' + u.username}>Edit</button>{' '}
                  <button class="btn small danger" onClick={() => remove(u)} aria-label={'Delete ' + u.username}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <UserEditor
          u={editing}
          profiles={profiles}
          onDone={() => {
            setEditing(null);
            reload();
          }}
        />
      )}
    </section>
  );
}

// ---------------------------------------------------------------- profiles

/** A profile's limits in a few words, for the profiles table. */
function limitsSummary(p: Profile): string {
  const out: string[] = [];
  if (p.dl_limit || p.ul_limit) out.push(`↓ ${limitText(p.dl_limit)} ↑ ${limitText(p.ul_limit)}`);
  const sh = p.share || {};
  if (sh.ratio_limit != null) out.push(sh.ratio_limit === -1 ? 'no ratio limit' : `ratio ${sh.ratio_limit}`);
  if (sh.seed_time_limit != null) out.push(sh.seed_time_limit === -1 ? 'no time limit' : `${sh.seed_time_limit} min`);
  if (sh.share_action) out.push('then ' + sh.share_action.replace(/_/g, ' '));
  return out.join(' · ');
}

const GiB = 1024 * 1024 * 1024;

/** Reads the minimum free space input: bytes, 0 = no guard. */
function parseSpace(text: string, unit: string): Parsed<number> {
  const r = parseSize(text, unit, 'Minimum free space', '(0 = no guard)');
  return r.ok ? { ok: true, v: r.v ?? 0 } : r;
}

/** Edits a profile: name, folder, folder for completed torrents, minimum free space, queue
 * size, its shared speed limits and its share limits. Only the fields changed here are sent. */
function ProfileEditor({ p, onDone }: { p: Profile; onDone: (changed: boolean) => void }) {
  const sh = p.share || {};
  const space = sizeText(p.min_free_space ?? GiB);
  const init = {
    completeDir: p.complete_dir || '',
    minFree: space.text,
    minUnit: space.unit as string,
    name: p.name,
    dir: p.download_dir,
    max: String(p.max_active_downloads),
    dl: kibText(p.dl_limit),
    ul: kibText(p.ul_limit),
    ratio: numText(sh.ratio_limit),
    minutes: numText(sh.seed_time_limit),
    action: sh.share_action || '',
  };
  const [f, setF] = useState(init);
  const [errs, setErrs] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof init) => (e: Event) => {
    setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
    setErrs([]);
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const body: ProfilePatch = {};
    const errors: string[] = [];
    const ch = (k: keyof typeof init) => f[k] !== init[k];
    const take = <T,>(k: keyof typeof init, r: Parsed<T>, put: (v: T) => void) => {
      if (!ch(k)) return;
      if (r.ok) put(r.v);
      else errors.push(r.error);
    };
    if (ch('name')) body.name = f.name;
    if (ch('dir')) body.download_dir = f.dir;
    if (ch('completeDir')) body.complete_dir = f.completeDir.trim() || null;
    if (ch('minFree') || ch('minUnit')) {
      const r = parseSpace(f.minFree, f.minUnit);
      if (!r.ok) errors.push(r.error);
      else if (r.v !== p.min_free_space) body.min_free_space = r.v;
    }
    if (ch('max')) {
      const n = Number(f.max.trim() || '0');
      if (Number.isInteger(n) && n >= 0) body.max_active_downloads = n;
      else errors.push('Max active downloads: a whole number, 0 = unlimited.');
    }
    take('dl', parseKib(f.dl, 'Download limit', p.dl_limit), (v) => (body.dl_limit = v));
    take('ul', parseKib(f.ul, 'Upload limit', p.ul_limit), (v) => (body.ul_limit = v));
    take('ratio', parseRatio(f.ratio), (v) => (body.ratio_limit = v));
    take('minutes', parseMinutes(f.minutes), (v) => (body.seed_time_limit = v));
    if (ch('action')) body.share_action = (f.action || null) as ProfilePatch['share_action'];
    if (errors.length) return setErrs(errors);
    if (!Object.keys(body).length) return onDone(false);
    setBusy(true);
    try {
      await api('PATCH', `/api/profiles/${encodeURIComponent(p.id)}`, body);
      onDone(true);
    } catch (x) {
      setErrs([errText(x)]);
      setBusy(false);
    }
  };
  return (
    <Modal title={`Profile ${p.id}`} onClose={() => onDone(false)} testid="profile-editor" wide>
      <form class="modal-body" onSubmit={save} noValidate>
        <div class="field-row">
          <label class="field">
            Name
            <input value={f.name} onInput={set('name')} data-testid="profile-name" />
          </label>
          <label class="field grow">
            Download directory
            <input class="mono" value={f.dir} onInput={set('dir')} data-testid="profile-dir" />
          </label>
          <label class="field">
            <span>
              Max active downloads <span class="muted">0 = unlimited</span>
            </span>
            <input inputMode="numeric" value={f.max} onInput={set('max')} data-testid="profile-max" />
          </label>
        </div>
        <div class="field-row">
          <label class="field grow">
            <span>
              Move completed torrents to <span class="muted">(empty: they stay where they downloaded)</span>
            </span>
            <input class="mono" value={f.completeDir} placeholder="stay where downloaded" onInput={set('completeDir')} data-testid="profile-complete-dir" />
          </label>
          <div class="field">
            <span id={'minfree-' + p.id}>
              Minimum free space <span class="muted">(0 = no guard)</span>
            </span>
            <div class="inline-form">
              <input class="num" inputMode="decimal" value={f.minFree} onInput={set('minFree')} aria-labelledby={'minfree-' + p.id} data-testid="profile-min-free" />
              <select value={f.minUnit} onChange={set('minUnit')} aria-label="Unit of the minimum free space" data-testid="profile-min-free-unit">
                <option value="GiB">GiB</option>
                <option value="MiB">MiB</option>
              </select>
            </div>
          </div>
        </div>
        <p class="muted small">
          The folder for completed torrents must be an absolute path that exists and the daemon can write to; they keep seeding from there. Downloads wait (queued, “waiting for disk space”) rather than leave less free space than the minimum on the download folder's disk.
        </p>
        <h3 class="sub">Speed limits <span class="muted">shared by all torrents of the profile</span></h3>
        <div class="field-row">
          <label class="field">
            <span>
              Download limit <span class="muted">KiB/s</span>
            </span>
            <input inputMode="decimal" value={f.dl} placeholder="unlimited" onInput={set('dl')} data-testid="profile-dl-limit" />
          </label>
          <label class="field">
            <span>
              Upload limit <span class="muted">KiB/s</span>
            </span>
            <input inputMode="decimal" value={f.ul} placeholder="unlimited" onInput={set('ul')} data-testid="profile-ul-limit" />
          </label>
        </div>
        <p class="muted small">Empty or 0 = unlimited; otherwise at least 16 KiB/s.</p>
        <h3 class="sub">Share limits</h3>
        <div class="field-row">
          <label class="field">
            Ratio limit
            <input inputMode="decimal" value={f.ratio} placeholder="inherited" onInput={set('ratio')} data-testid="profile-ratio" />
          </label>
          <label class="field">
            <span>
              Seeding time <span class="muted">minutes</span>
            </span>
            <input inputMode="numeric" value={f.minutes} placeholder="inherited" onInput={set('minutes')} data-testid="profile-minutes" />
          </label>
          <label class="field">
            Then
            <select value={f.action} onChange={set('action')} data-testid="profile-action">
              <option value="">inherited action</option>
              {SHARE_ACTIONS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
            </select>
          </label>
        </div>
        <p class="muted small">Empty: the global limit applies (Settings); -1: no limit for this profile. Torrents can set their own.</p>
        {errs.length > 0 && (
          <div class="form-error" role="alert" data-testid="profile-error">
            {errs.map((x) => <p key={x}>{x}</p>)}
          </div>
        )}
        <div class="modal-foot">
          <button type="button" class="btn" onClick={() => onDone(false)}>Cancel</button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="save-profile">Save</button>
        </div>
      </form>
    </Modal>
  );
}

function ProfileRow({ p, reload }: { p: Profile; reload: () => void }) {
  const [edit, setEdit] = useState(false);
  const [err, setErr] = useState('');
  const remove = async () => {
    if (!window.confirm(`Delete profile ${p.id}? Only an empty profile can be deleted.`)) return;
    setErr('');
    try {
      await api('DELETE', `/api/profiles/${encodeURIComponent(p.id)}`);
      reload();
    } catch (e) {
      setErr(errText(e));
    }
  };
  const limits = limitsSummary(p);
  return (
    <>
      <tr data-profile={p.id}>
        <td data-label="Id"><code>{p.id}</code></td>
        <td data-label="Name">{p.name}</td>
        <td data-label="Directory" class="wrap">
          <span class="mono">{p.download_dir}</span>
          {(p.complete_dir || p.min_free_space !== GiB) && (
            <span class="muted small block" data-testid="profile-space">
              {[p.complete_dir ? 'completed → ' + p.complete_dir : '', p.min_free_space === 0 ? 'no free space guard' : p.min_free_space !== GiB ? `keeps ${fmt.bytes(p.min_free_space)} free` : ''].filter(Boolean).join(' · ')}
            </span>
          )}
        </td>
        <td data-label="Max active" class="r">{p.max_active_downloads || 'unlimited'}</td>
        <td data-label="Limits" class="small" data-testid="profile-limits">{limits || <span class="muted">global</span>}</td>
        <td class="r nowrap actions">
          <button class="btn small" onClick={() => setEdit(true)} aria-label={'Edit profile ' + p.id} data-testid={'edit-profile-' + p.id}>Edit</button>{' '}
          <button class="btn small danger" onClick={remove} aria-label={'Delete profile ' + p.id}>Delete</button>
        </td>
      </tr>
      {err && <tr><td colSpan={6}><ErrorLine e={err} /></td></tr>}
      {edit && (
        <ProfileEditor
          p={p}
          onDone={(changed) => {
            setEdit(false);
            if (changed) reload();
          }}
        />
      )}
    </>
  );
}

function Profiles() {
  const [list, err, reloadList] = useList<Profile>('/api/profiles');
  const reload = () => {
    reloadList();
    refreshProfiles();
  };
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [dir, setDir] = useState('');
  const [max, setMax] = useState('0');
  const [formErr, setFormErr] = useState('');
  const create = async (e: Event) => {
    e.preventDefault();
    setFormErr('');
    try {
      await api('POST', '/api/profiles', { id: id.trim(), name: name.trim() || id.trim(), download_dir: dir.trim(), max_active_downloads: parseInt(max, 10) || 0 });
      setId('');
      setName('');
      setDir('');
      setMax('0');
      reload();
    } catch (e) {
      setFormErr(errText(e));
    }
  };
  return (
    <section>
      <h2>Profiles</h2>
      <form class="card-form" onSubmit={create} data-testid="create-profile">
        <h3>New profile</h3>
        <div class="field-row">
          <label class="field">
            <span class="flabel">Id <span class="muted">(slug)</span></span>
            <input name="id" required value={id} onInput={(e) => setId(e.currentTarget.value)} maxLength={64} title="lowercase letters, digits, - and _" autoComplete="off" />
          </label>
          <label class="field">
            Name
            <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="field grow">
            Download directory
            <input name="download_dir" required value={dir} onInput={(e) => setDir(e.currentTarget.value)} placeholder="/srv/torrents/movies" />
          </label>
          <label class="field">
            Max active downloads
            <input name="max_active" type="number" min={0} value={max} onInput={(e) => setMax(e.currentTarget.value)} class="num" />
          </label>
          <button class="btn primary" type="submit">Create</button>
        </div>
        <ErrorLine e={formErr} />
        <p class="muted small">Max active downloads 0 = unlimited. The directory must exist and be writable by the daemon.</p>
      </form>
      <ErrorLine e={err} />
      {list && (
        <table class="plain list">
          <thead>
            <tr><th>Id</th><th>Name</th><th>Download directory</th><th class="r">Max active</th><th>Limits</th><th /></tr>
          </thead>
          <tbody>
            {list.map((p) => <ProfileRow key={p.id} p={p} reload={reload} />)}
          </tbody>
        </table>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- tokens

function Tokens() {
  const [list, err, reload] = useList<Token>('/api/tokens');
  const me = useStore(app, (s) => s.me);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [formErr, setFormErr] = useState('');
  const create = async (e: Event) => {
    e.preventDefault();
    setFormErr('');
    try {
      const t = await api<{ id: string; name: string; token: string }>('POST', '/api/tokens', { name: name.trim() });
      setSecret({ name: t.name, token: t.token });
      setName('');
      reload();
    } catch (e) {
      setFormErr(errText(e));
    }
  };
  const revoke = async (t: Token) => {
    if (!window.confirm(`Revoke token ${t.name}? Scripts using it stop working.`)) return;
    try {
      await api('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`);
      reload();
    } catch (e) {
      setFormErr(errText(e));
    }
  };
  if (me?.bypass) {
    return (
      <section>
        <h2>API tokens</h2>
        <p class="muted">Bypassed and auth-disabled requests have no account to own API tokens.</p>
      </section>
    );
  }
  return (
    <section>
      <h2>API tokens</h2>
      <p class="muted small">
        Tokens act as you ({me?.username}). Send one as <code>Authorization: Bearer pt_…</code> or <code>X-API-Key: pt_…</code>.
      </p>
      <form class="card-form" onSubmit={create}>
        <div class="field-row">
          <label class="field grow">
            Name
            <input required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. sonarr" />
          </label>
          <button class="btn primary" type="submit">Create token</button>
        </div>
        <ErrorLine e={formErr} />
      </form>
      {secret && (
        <div class="secret" role="status" data-testid="token-secret">
          <p>
            Token <b>{secret.name}</b> — copy it now, it is shown only once:
          </p>
          <div class="inline-form">
            <input readOnly class="mono grow" value={secret.token} aria-label="New token" onFocus={(e) => e.currentTarget.select()} />
            <button class="btn" type="button" onClick={() => navigator.clipboard?.writeText(secret.token)}>Copy</button>
            <button class="btn ghost" type="button" onClick={() => setSecret(null)}>Done</button>
          </div>
        </div>
      )}
      <ErrorLine e={err} />
      {list && (
        list.length ? (
          <table class="plain list">
            <thead><tr><th>Name</th><th>Id</th><th>Created</th><th /></tr></thead>
            <tbody>
              {list.map((t) => (
                <tr key={t.id}>
                  <td data-label="Name">{t.name}</td>
                  <td data-label="Id"><code>{t.id}</code></td>
                  <td data-label="Created">{fmt.date(t.created_at)}</td>
                  <td class="r actions"><button class="btn small danger" onClick={() => revoke(t)} aria-label={'Revoke token ' + t.name}>Revoke</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">No tokens.</p>
        )
      )}
    </section>
  );
}

// ---------------------------------------------------------------- own account

function Account() {
  const account = useStore(app, (s) => s.account);
  const me = useStore(app, (s) => s.me)!;
  const [cur, setCur] = useState('');
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [err, setErr] = useState('');
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const [sessions, sessErr, reload] = useList<SessionInfo>('/api/me/sessions');
  const [sessMsg, setSessMsg] = useState('');
  const change = async (e: Event) => {
    e.preventDefault();
    setErr('');
    setMsg('');
    if (pw !== pw2) return setErr('The two new passwords differ.');
    setBusy(true);
    try {
      const r = await api<{ revoked_sessions: number }>('POST', '/api/me/password', { current_password: cur, new_password: pw });
      setCur('');
      setPw('');
      setPw2('');
      const n = r.revoked_sessions;
      setMsg(`Password changed. You stay signed in here${n ? `; ${n} other session${n > 1 ? 's were' : ' was'} signed out` : ''}.`);
      if (account) app.set({ account: { ...account, password_change_required: false } });
      reload();
    } catch (e) {
      setErr(errText(e));
    }
    setBusy(false);
  };
  const revoke = async (s: SessionInfo) => {
    setSessMsg('');
    try {
      await api('DELETE', `/api/me/sessions/${s.id}`);
      if (s.current) return signedOut();
      reload();
    } catch (e) {
      setSessMsg(errText(e));
    }
  };
  const revokeOthers = async () => {
    setSessMsg('');
    try {
      const r = await api<{ revoked_sessions: number }>('DELETE', '/api/me/sessions');
      setSessMsg(`${r.revoked_sessions} other session${r.revoked_sessions === 1 ? '' : 's'} signed out.`);
      reload();
    } catch (e) {
      setSessMsg(errText(e));
    }
  };
  return (
    <section>
      <h2>Account</h2>
      <p class="muted small">
        Signed in as <b>{me.username}</b> ({me.role}{me.provider !== 'local' ? ', ' + me.provider : ''}).
      </p>
      {account?.can_change_password ? (
        <form class="card-form" onSubmit={change} data-testid="password-form">
          <h3>Change your password</h3>
          {account.password_change_required && (
            <p class="note">You are still using the password generated at first start. Choose your own.</p>
          )}
          <div class="field-row">
            <label class="field">
              Current password
              <input type="password" name="current" autoComplete="current-password" required value={cur} onInput={(e) => setCur(e.currentTarget.value)} />
            </label>
            <label class="field">
              New password <span class="muted">(8 characters or more)</span>
              <input type="password" name="new" autoComplete="new-password" required minLength={8} value={pw} onInput={(e) => setPw(e.currentTarget.value)} />
            </label>
            <label class="field">
              New password again
              <input type="password" name="again" autoComplete="new-password" required value={pw2} onInput={(e) => setPw2(e.currentTarget.value)} />
            </label>
            <button class="btn primary" type="submit" disabled={busy}>Change password</button>
          </div>
          <ErrorLine e={err} />
          {msg && <p class="ok" role="status" data-testid="password-changed">{msg}</p>}
        </form>
      ) : (
        <p class="muted">
          {me.bypass
            ? 'Bypassed and auth-disabled requests have no account and no password.'
            : 'Your account signs in through the reverse proxy: there is no password to change here.'}
        </p>
      )}
      {!me.bypass && (
        <>
          <h3>Sessions</h3>
          <p class="muted small">Browsers signed in to your account. Signing one out ends it at once.</p>
          <ErrorLine e={sessErr} />
          {sessMsg && <p class="ok" role="status">{sessMsg}</p>}
          {sessions && (
            sessions.length ? (
              <table class="plain list" data-testid="sessions-table">
                <thead><tr><th>Session</th><th>Signed in</th><th>Expires</th><th /></tr></thead>
                <tbody>
                  {sessions.map((x) => (
                    <tr key={x.id} data-session={x.id}>
                      <td data-label="Session"><code>{x.id}</code>{x.current && <span class="tag lvl-full">this browser</span>}</td>
                      <td data-label="Signed in">{fmt.date(x.created_at)}</td>
                      <td data-label="Expires">{fmt.date(x.expires_at)}</td>
                      <td class="r actions">
                        <button class="btn small danger" onClick={() => revoke(x)} aria-label={(x.current ? 'Sign out this browser, session ' : 'Revoke session ') + x.id}>
                          {x.current ? 'Sign out' : 'Revoke'}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="muted">No browser sessions (you use an API token or the proxy).</p>
            )
          )}
          {sessions && sessions.some((x) => !x.current) && (
            <p>
              <button class="btn" onClick={revokeOthers} data-testid="revoke-others">Sign out all other sessions</button>
            </p>
          )}
        </>
      )}
    </section>
  );
}

/** The frame of the pages outside the torrent list: a top bar (back to the torrents, the
 * bell, connection, theme, log out), the password banner, the page, the toasts. */
export function PageFrame({ title, children }: { title: string; children: preact.ComponentChildren }) {
  const me = useStore(app, (s) => s.me)!;
  const theme = useStore(app, (s) => s.theme);
  return (
    <div class="admin">
      <header class="topbar">
        <button class="btn ghost" onClick={() => navigate('/')} data-testid="back">
          <Icon n="back" /> Torrents
        </button>
        <span class="brand hide-phone">pytorrentd · {title}</span>
        <div class="spacer" />
        <Bell />
        <ConnBadge />
        <button class="btn icon ghost" onClick={toggleTheme} aria-label="Toggle theme" data-tip="Toggle theme"><Icon n={theme === 'dark' ? 'sun' : 'moon'} /></button>
        <span class="muted small hide-phone">{me.username}</span>
        {me.logout_available && (
          <form method="post" action="/logout" onSubmit={markLeaving}>
            <button class="btn ghost" type="submit" data-testid="logout" aria-label="Log out"><Icon n="logout" /> <span class="hide-phone">Log out</span></button>
          </form>
        )}
      </header>
      <PasswordBanner />
      {children}
      <Toasts />
    </div>
  );
}

export function Admin() {
  const path = useStore(app, (s) => s.path);
  const me = useStore(app, (s) => s.me)!;
  const admin = me.role === 'admin';
  const tabs: [string, string][] = [
    ...(admin ? ([['/admin/users', 'Users'], ['/admin/profiles', 'Profiles'], ['/admin/settings', 'Settings'], ['/admin/audit', 'Audit']] as [string, string][]) : []),
    ['/settings/account', 'Account'],
    ['/settings/tokens', 'API tokens'],
  ];
  const page =
    path === '/admin/profiles' && admin
      ? 'profiles'
      : path === '/admin/settings' && admin
        ? 'settings'
        : path === '/admin/audit' && admin
          ? 'audit'
          : path.startsWith('/admin') && admin
            ? 'users'
            : path === '/settings/account'
              ? 'account'
              : 'tokens';
  const pagePath: Record<string, string> = { users: '/admin/users', profiles: '/admin/profiles', settings: '/admin/settings', audit: '/admin/audit', account: '/settings/account', tokens: '/settings/tokens' };
  return (
    <PageFrame title="settings">
      <div class="admin-body">
        <nav class="admin-nav" aria-label="Settings">
          {tabs.map(([p, l]) => (
            <button key={p} class={'side-item' + (pagePath[page] === p ? ' on' : '')} aria-current={pagePath[page] === p ? 'page' : undefined} onClick={() => navigate(p)} data-testid={'nav-' + p.split('/').pop()}>
              {l}
            </button>
          ))}
        </nav>
        <main class="admin-main">
          {page === 'users' ? <Users /> : page === 'profiles' ? <Profiles /> : page === 'settings' ? <SettingsPage /> : page === 'audit' ? <Audit /> : page === 'account' ? <Account /> : <Tokens />}
        </main>
      </div>
    </PageFrame>
  );
}
