// The audit log (administrators, `GET /api/audit`): newest first, filtered by user, action
// (one, or a group by prefix such as `torrent_*`) and target, 100 entries a page with "Load
// more" (the answer's `next` is the following page's `before`).
import { useEffect, useState } from 'preact/hooks';
import { errText, get } from '../api';
import * as fmt from '../format';
import type { AuditEntry, AuditPage, User } from '../types';

const GROUPS: [string, string][] = [
  ['login*', 'Sign-ins (login*)'],
  ['user_*', 'Users (user_*)'],
  ['token_*', 'API tokens (token_*)'],
  ['session_*', 'Sessions (session_*)'],
  ['profile_*', 'Profiles (profile_*)'],
  ['torrent_*', 'Torrents (torrent_*)'],
  ['settings_*', 'Settings (settings_*)'],
  ['rss_*', 'RSS (rss_*)'],
  ['webhook_*', 'Webhooks (webhook_*)'],
];

const ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'password_change',
  'session_revoke',
  'user_create',
  'user_update',
  'user_delete',
  'token_create',
  'token_delete',
  'profile_create',
  'profile_update',
  'profile_delete',
  'torrent_add',
  'torrent_create',
  'torrent_update',
  'torrent_move',
  'torrent_delete',
  'torrent_pause',
  'torrent_resume',
  'torrent_force-start',
  'torrent_recheck',
  'torrent_reannounce',
  'settings_update',
  'rss_feed_create',
  'rss_feed_update',
  'rss_feed_delete',
  'rss_rule_create',
  'rss_rule_update',
  'rss_rule_delete',
  'webhook_create',
  'webhook_update',
  'webhook_delete',
  'webhook_test',
  'backup',
];

const PAGE = 100;

interface Filter {
  user: string;
  action: string;
  target: string;
}

function query(f: Filter, before?: string | null): string {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (before) q.set('before', before);
  if (f.user.trim()) q.set('user', f.user.trim());
  if (f.action) q.set('action', f.action);
  if (f.target.trim()) q.set('target', f.target.trim());
  return '/api/audit?' + q.toString();
}

export function Audit() {
  const [form, setForm] = useState<Filter>({ user: '', action: '', target: '' });
  const [applied, setApplied] = useState<Filter>(form);
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const [users, setUsers] = useState<string[]>([]);
  useEffect(() => {
    get<User[]>('/api/users').then((u) => setUsers(u.map((x) => x.username)), () => {});
  }, []);
  const load = async (f: Filter, before: string | null) => {
    setBusy(true);
    try {
      const p = await get<AuditPage>(query(f, before));
      setEntries((old) => (before && old ? [...old, ...p.entries] : p.entries));
      setNext(p.next || null);
      setErr('');
    } catch (e) {
      setErr(errText(e));
    }
    setBusy(false);
  };
  useEffect(() => {
    load(applied, null);
  }, [applied]);
  const apply = (f: Filter) => {
    setForm(f);
    setApplied({ ...f });
  };
  const filtered = !!(applied.user.trim() || applied.action || applied.target.trim());
  return (
    <section>
      <h2>Audit log</h2>
      <form
        class="card-form audit-filter"
        data-testid="audit-filter"
        onSubmit={(e) => {
          e.preventDefault();
          apply(form);
        }}
      >
        <div class="field-row">
          <label class="field">
            User
            <input list="audit-users" value={form.user} onInput={(e) => setForm({ ...form, user: e.currentTarget.value })} placeholder="anyone" autoComplete="off" data-testid="audit-user" />
            <datalist id="audit-users">
              {users.map((u) => <option key={u} value={u} />)}
            </datalist>
          </label>
          <label class="field">
            Action
            <select value={form.action} onChange={(e) => apply({ ...form, action: e.currentTarget.value })} data-testid="audit-action">
              <option value="">all actions</option>
              <optgroup label="Groups">
                {GROUPS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
              </optgroup>
              <optgroup label="One action">
                {ACTIONS.map((a) => <option key={a} value={a}>{a}</option>)}
              </optgroup>
            </select>
          </label>
          <label class="field">
            Target
            <input value={form.target} onInput={(e) => setForm({ ...form, target: e.currentTarget.value })} placeholder="user, profile id or info hash" autoComplete="off" data-testid="audit-target" />
          </label>
          <button class="btn primary" type="submit" data-testid="audit-apply">Filter</button>
          {filtered && (
            <button class="btn" type="button" onClick={() => apply({ user: '', action: '', target: '' })} data-testid="audit-clear">Clear</button>
          )}
        </div>
        <p class="muted small">Sign-ins, changes of users, tokens, profiles, torrents and settings, from the web UI, the qBittorrent API and the command line; kept 90 days. The detail names the fields a change touched, never their values.</p>
      </form>
      {err && <p class="form-error" role="alert">{err}</p>}
      {entries && !entries.length && <p class="muted" data-testid="audit-empty">{filtered ? 'No entry matches.' : 'No entry yet.'}</p>}
      {entries && entries.length > 0 && (
        <table class="plain list audit" data-testid="audit-table">
          <thead>
            <tr><th>Time</th><th>User</th><th>Address</th><th>Action</th><th>Target</th><th>Detail</th><th>Via</th></tr>
          </thead>
          <tbody>
            {entries.map((e, i) => (
              <tr key={e.id || i} data-action={e.action}>
                <td data-label="Time" class="nowrap" title={e.at}>{fmt.date(e.at)}</td>
                <td data-label="User">{e.user || <span class="muted">–</span>}</td>
                <td data-label="Address" class="mono">{e.ip || <span class="muted">–</span>}</td>
                <td data-label="Action" class="mono a-action">{e.action}</td>
                <td data-label="Target" class="mono a-target"><span class="ellip" title={e.target || ''}>{e.target || ''}</span></td>
                <td data-label="Detail" class="a-detail">{e.detail || ''}</td>
                <td data-label="Via">{e.via}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <p>
          <button class="btn" disabled={busy} onClick={() => load(applied, next)} data-testid="audit-more">Load more</button>
        </p>
      )}
    </section>
  );
}
