// RSS (`/rss` feeds, `/rss/rules`, `/rss/history`; every user, over the profiles they see):
// feeds the daemon reads on a schedule, with their last and next fetch, item count and last
// error, "Refresh now" and their items (and which rule grabbed each, or why the add failed);
// rules that pick items from feeds and add them to a profile, edited in a dialog with a live
// preview (`POST /api/rss/preview`, debounced) of what they match now; the grab history.
// Changing a feed or rule needs `full` on its profile: read-only users see no edit controls.
// Feeds and rules are fetched on open, after each change (and again 1.5, 5 and 12 s later: the
// server fetches and applies rules in the background), every 30 s while the page is visible,
// and every 2 s while an enabled feed waits for its first fetch; the items shown and the
// history follow each of these loads.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errText, get } from '../api';
import * as fmt from '../format';
import { useFetched } from '../hooks';
import { Icon } from '../icons';
import { parseSize, sizeText } from '../limits';
import { app, canWrite, navigate, toast, useStore } from '../store';
import type { Feed, FeedInput, FeedItem, Grab, PreviewItem, Profile, Rule, RuleSpec } from '../types';
import { PageFrame } from './Admin';
import { Modal } from './Dialogs';

const enc = encodeURIComponent;

/** The feed's name for people: the user's name for it, else its own title, else its URL. */
export function feedName(f: Feed): string {
  return f.name || f.title || f.url;
}

function profileName(profiles: Profile[], id: string): string {
  return profiles.find((p) => p.id === id)?.name || id;
}

function useWritable(): [Profile[], (id: string) => boolean] {
  const profiles = useStore(app, (s) => s.profiles);
  const writable = profiles.filter(canWrite);
  return [writable, (id: string) => writable.some((p) => p.id === id)];
}

/** The profile a new feed or rule goes to: the one on show if it can be written, else the
 * first that can. */
function defaultProfile(writable: Profile[]): string {
  const cur = app.get().profile;
  return (writable.find((p) => p.id === cur) || writable[0])?.id || '';
}

function When({ at, future }: { at: string | null | undefined; future?: boolean }) {
  if (!at) return <span class="muted">–</span>;
  return <span title={fmt.date(at)}>{future ? fmt.until(at) : fmt.ago(at)}</span>;
}

// ---------------------------------------------------------------- data

interface RssData {
  feeds: Feed[] | null;
  rules: Rule[] | null;
  err: string;
  /** Bumped by every load: the items and the history fetch again. */
  tick: number;
  reload: () => void;
  /** Reloads now and three times more in the next seconds (rules apply in the background). */
  soon: () => void;
  /** Puts a feed the server just answered in the list. */
  putFeed: (f: Feed) => void;
}

function useRssData(): RssData {
  const [feeds, setFeeds] = useState<Feed[] | null>(null);
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [err, setErr] = useState('');
  const [tick, setTick] = useState(0);
  const st = useRef({ live: true, seq: 0, timers: [] as number[] });
  const reload = () => {
    const seq = ++st.current.seq;
    Promise.all([get<Feed[]>('/api/rss/feeds'), get<Rule[]>('/api/rss/rules')]).then(
      ([f, r]) => {
        if (!st.current.live || seq !== st.current.seq) return;
        // The server lists them by id (random): by name they keep their places.
        setFeeds(f.sort((a, b) => feedName(a).localeCompare(feedName(b))));
        setRules(r.sort((a, b) => a.name.localeCompare(b.name)));
        setErr('');
        setTick((t) => t + 1);
      },
      (e) => st.current.live && seq === st.current.seq && setErr(errText(e)),
    );
  };
  useEffect(() => {
    const s = st.current;
    s.live = true;
    reload();
    return () => {
      s.live = false;
      s.timers.forEach(clearTimeout);
    };
  }, []);
  // A feed just added (or enabled) is fetched in the background: look again soon.
  const pending = !!feeds?.some((f) => f.enabled && !f.last_fetch);
  useEffect(() => {
    const t = window.setInterval(() => document.visibilityState === 'visible' && reload(), pending ? 2000 : 30_000);
    return () => clearInterval(t);
  }, [pending]);
  const soon = () => {
    reload();
    for (const ms of [1500, 5000, 12_000]) st.current.timers.push(window.setTimeout(reload, ms));
  };
  const putFeed = (f: Feed) => setFeeds((l) => (l ? l.map((x) => (x.id === f.id ? f : x)) : l));
  return { feeds, rules, err, tick, reload, soon, putFeed };
}

// ---------------------------------------------------------------- page

const TABS: [string, string, string][] = [
  ['feeds', '/rss', 'Feeds'],
  ['rules', '/rss/rules', 'Rules'],
  ['history', '/rss/history', 'History'],
];

export function RssPage() {
  const path = useStore(app, (s) => s.path);
  const tab = path === '/rss/rules' ? 'rules' : path === '/rss/history' ? 'history' : 'feeds';
  const d = useRssData();
  const count = (t: string) => (t === 'feeds' ? d.feeds?.length : t === 'rules' ? d.rules?.length : undefined);
  return (
    <PageFrame title="RSS">
      <div class="admin-body">
        <nav class="admin-nav" aria-label="RSS">
          {TABS.map(([t, p, l]) => (
            <button key={t} class={'side-item' + (tab === t ? ' on' : '')} aria-current={tab === t ? 'page' : undefined} onClick={() => navigate(p)} data-testid={'nav-rss-' + t}>
              <span class="grow">{l}</span>
              {count(t) != null && <span class="count">{count(t)}</span>}
            </button>
          ))}
        </nav>
        <main class="admin-main">
          {d.err && <p class="form-error" role="alert">Cannot load the RSS feeds: {d.err}</p>}
          {tab === 'feeds' ? <Feeds d={d} /> : tab === 'rules' ? <Rules d={d} /> : <History d={d} />}
        </main>
      </div>
    </PageFrame>
  );
}

// ---------------------------------------------------------------- feeds

function Feeds({ d }: { d: RssData }) {
  const profiles = useStore(app, (s) => s.profiles);
  const [writable, canChange] = useWritable();
  const [editing, setEditing] = useState<Feed | 'new' | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const shown = d.feeds?.find((f) => f.id === open) || null;
  return (
    <section class="rss" data-testid="rss-feeds">
      <div class="rss-head">
        <h2>RSS feeds</h2>
        <span class="spacer" />
        {writable.length > 0 && (
          <button class="btn primary" onClick={() => setEditing('new')} data-testid="feed-add">
            <Icon n="plus" size={12} /> Add feed
          </button>
        )}
      </div>
      <p class="muted small">
        Each feed is read every few minutes; rules pick items from it and add their torrents. A feed belongs to a profile: its users see it, and those who may change the profile may change it.
      </p>
      {d.feeds && !d.feeds.length && <p class="muted" data-testid="feeds-empty">No feed yet.</p>}
      {d.feeds && d.feeds.length > 0 && (
        <table class="plain list rss-table" data-testid="feeds-table">
          <thead>
            <tr><th>Feed</th><th>Profile</th><th>Status</th><th>Last fetch</th><th>Next fetch</th><th class="r">Items</th><th>Enabled</th><th /></tr>
          </thead>
          <tbody>
            {d.feeds.map((f) => (
              <FeedRow key={f.id} f={f} d={d} profile={profileName(profiles, f.profile)} write={canChange(f.profile)} open={open === f.id} onOpen={(o) => setOpen(o ? f.id : null)} onEdit={() => setEditing(f)} />
            ))}
          </tbody>
        </table>
      )}
      {shown && <FeedItems feed={shown} tick={d.tick} onClose={() => setOpen(null)} />}
      {editing && (
        <FeedEditor
          feed={editing === 'new' ? null : editing}
          writable={writable}
          onDone={(f) => {
            setEditing(null);
            if (f) d.soon();
          }}
        />
      )}
    </section>
  );
}

function FeedRow({ f, d, profile, write, open, onOpen, onEdit }: { f: Feed; d: RssData; profile: string; write: boolean; open: boolean; onOpen: (open: boolean) => void; onEdit: () => void }) {
  const [busy, setBusy] = useState(false);
  const name = feedName(f);
  const path = `/api/rss/feeds/${enc(f.id)}`;
  const refresh = async () => {
    setBusy(true);
    try {
      d.putFeed(await api<Feed>('POST', path + '/refresh'));
      d.soon();
    } catch (e) {
      toast(`Could not refresh “${name}”: ${errText(e)}`);
    }
    setBusy(false);
  };
  const setEnabled = async (on: boolean) => {
    try {
      d.putFeed(await api<Feed>('PATCH', path, { enabled: on }));
      d.soon();
    } catch (e) {
      toast(`Could not change “${name}”: ${errText(e)}`);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the feed “${name}”? Its items and grab history go with it; rules left without a feed are disabled.`)) return;
    try {
      await api('DELETE', path);
      if (open) onOpen(false);
      d.soon();
    } catch (e) {
      toast(`Could not delete “${name}”: ${errText(e)}`);
    }
  };
  const status = f.error ? (
    <span class="tag bad">error</span>
  ) : !f.enabled ? (
    <span class="tag">disabled</span>
  ) : !f.last_fetch ? (
    <span class="muted">not fetched yet</span>
  ) : (
    <span class="tag good">OK</span>
  );
  return (
    <tr data-feed={f.id} class={(open ? 'on' : '') + (f.error ? ' has-error' : '')}>
      <td data-label="Feed" class="rss-name">
        <button type="button" class="linkish" aria-expanded={open} onClick={() => onOpen(!open)} data-testid="feed-open">
          <Icon n={open ? 'chevd' : 'chev'} size={10} />
          <span data-testid="feed-name">{name}</span>
        </button>
        {name !== f.url && <span class="muted small mono block ellip" title={f.url}>{f.url}</span>}
        {f.error && (
          <span class="feed-error block" data-testid="feed-error">
            <Icon n="alert" size={12} /> {f.error}
            {f.last_ok && <span class="muted"> · last worked <When at={f.last_ok} /></span>}
          </span>
        )}
      </td>
      <td data-label="Profile">{profile}</td>
      <td data-label="Status" data-testid="feed-status">{status}</td>
      <td data-label="Last fetch" data-testid="feed-last"><When at={f.last_fetch} /></td>
      <td data-label="Next fetch">{f.enabled ? <When at={f.next_fetch} future /> : <span class="muted">disabled</span>}</td>
      <td data-label="Items" class="r" data-testid="feed-count">{f.items}</td>
      <td data-label="Enabled">
        {write ? (
          <input type="checkbox" checked={f.enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} aria-label={'Enabled: ' + name} data-testid="feed-toggle" />
        ) : f.enabled ? (
          'yes'
        ) : (
          'no'
        )}
      </td>
      <td class="r nowrap actions">
        {write && (
          <>
            <button class="btn small" onClick={refresh} disabled={busy} aria-label={'Refresh now: ' + name} data-testid="feed-refresh">{busy ? 'Fetching…' : 'Refresh now'}</button>{' '}
            <button class="btn small" onClick={onEdit} aria-label={'Edit the feed ' + name} data-testid="feed-edit">Edit</button>{' '}
            <button class="btn small danger" onClick={remove} aria-label={'Delete the feed ' + name} data-testid="feed-delete">Delete</button>
          </>
        )}
      </td>
    </tr>
  );
}

/** Whether/which rule grabbed an item, or why its add failed. */
function GrabText({ g }: { g: Grab | null | undefined }) {
  if (!g) return <span class="muted">–</span>;
  if (g.hash) {
    return (
      <span class="ok" data-testid="item-grabbed">
        <Icon n="check" size={12} /> by “{g.rule_name}” <When at={g.at} />
      </span>
    );
  }
  return (
    <span class="err" data-testid="item-failed">
      <Icon n="alert" size={12} /> “{g.rule_name}” could not add it: {g.error || 'unknown error'}
      {g.attempts >= 3 ? ' (given up after 3 attempts)' : ` (attempt ${g.attempts} of 3; tried again at the next fetch)`}
    </span>
  );
}

function FeedItems({ feed, tick, onClose }: { feed: Feed; tick: number; onClose: () => void }) {
  const [items, err] = useFetched<FeedItem[]>(`/api/rss/feeds/${enc(feed.id)}/items`, tick, 1000);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.scrollIntoView?.({ block: 'nearest' }), [feed.id]);
  const name = feedName(feed);
  return (
    <section class="rss-items" ref={ref} aria-labelledby="feed-items-title" data-testid="feed-items" data-feed={feed.id}>
      <div class="rss-head">
        <h3 id="feed-items-title">Items of “{name}”</h3>
        {items && <span class="muted small">{items.length}, newest first</span>}
        <span class="spacer" />
        <button class="btn small" onClick={onClose} data-testid="feed-items-close">Close</button>
      </div>
      {err && <p class="form-error" role="alert">{err}</p>}
      {items && !items.length && (
        <p class="muted" data-testid="feed-items-empty">
          No items{feed.error ? ': the last fetch failed.' : feed.last_fetch ? '.' : ' yet: the feed has not been fetched.'}
        </p>
      )}
      {!items && !err && <p class="muted">Loading…</p>}
      {items && items.length > 0 && (
        <table class="plain list rss-table">
          <thead>
            <tr><th>Title</th><th class="r">Size</th><th>Published</th><th>Grabbed</th></tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr key={i.key} data-item={i.key}>
                <td data-label="Title" class="wrap" data-testid="item-title">
                  {i.title}
                  {!i.link && <span class="muted small"> (no link to add)</span>}
                </td>
                <td data-label="Size" class="r nowrap">{i.size != null ? fmt.bytes(i.size) : <span class="muted">–</span>}</td>
                <td data-label="Published" class="nowrap">{i.published ? fmt.date(i.published) : <span class="muted">–</span>}</td>
                <td data-label="Grabbed" data-testid="item-grab"><GrabText g={i.grab} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function FeedEditor({ feed, writable, onDone }: { feed: Feed | null; writable: Profile[]; onDone: (f: Feed | null) => void }) {
  const init = {
    url: feed?.url || '',
    profile: feed?.profile || defaultProfile(writable),
    name: feed?.name || '',
    minutes: String(feed?.refresh_minutes ?? 30),
    enabled: feed ? feed.enabled : true,
  };
  const [f, setF] = useState(init);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof init) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setF({ ...f, [k]: t.type === 'checkbox' ? t.checked : t.value });
    setErr('');
  };
  const save = async (e: Event) => {
    e.preventDefault();
    const url = f.url.trim();
    if (!/^https?:\/\/[^/?#\s]+/i.test(url)) return setErr(`URL: “${url}” is not an http:// or https:// URL.`);
    const m = Number(f.minutes.trim());
    if (!/^\d+$/.test(f.minutes.trim()) || m < 1 || m > 1440) return setErr('Refresh every: a whole number of minutes from 1 to 1440.');
    if (!f.profile) return setErr('Choose a profile.');
    // Only what changed: a URL sent again would be saved again (and its trust with it).
    const body: FeedInput = {};
    if (!feed || url !== feed.url) body.url = url;
    if (!feed || f.profile !== feed.profile) body.profile = f.profile;
    if (!feed || f.name.trim() !== feed.name) body.name = f.name.trim();
    if (!feed || m !== feed.refresh_minutes) body.refresh_minutes = m;
    if (!feed || f.enabled !== feed.enabled) body.enabled = f.enabled;
    if (feed && !Object.keys(body).length) return onDone(null);
    setBusy(true);
    try {
      onDone(feed ? await api<Feed>('PATCH', `/api/rss/feeds/${enc(feed.id)}`, body) : await api<Feed>('POST', '/api/rss/feeds', body));
    } catch (x) {
      setErr(errText(x));
      setBusy(false);
    }
  };
  return (
    <Modal title={feed ? 'Edit feed' : 'Add feed'} onClose={() => onDone(null)} testid="feed-editor">
      <form class="rss-form" onSubmit={save} noValidate>
        <div class="modal-body">
          <label class="field">
            Feed URL
            <input class="mono" type="url" value={f.url} onInput={set('url')} placeholder="https://example.org/rss" data-testid="feed-url" data-autofocus required />
          </label>
          <div class="field-row">
            <label class="field">
              Profile
              <select value={f.profile} onChange={set('profile')} data-testid="feed-profile">
                {writable.map((p) => (
                  <option key={p.id} value={p.id}>{p.name || p.id}</option>
                ))}
              </select>
            </label>
            <label class="field">
              <span>
                Refresh every <span class="muted">minutes</span>
              </span>
              <input inputMode="numeric" value={f.minutes} onInput={set('minutes')} data-testid="feed-minutes" />
            </label>
          </div>
          <label class="field">
            <span>
              Name <span class="muted">(empty: the feed's own title)</span>
            </span>
            <input value={f.name} maxLength={100} onInput={set('name')} data-testid="feed-name-input" />
          </label>
          <label class="check">
            <input type="checkbox" checked={f.enabled} onChange={set('enabled')} data-testid="feed-enabled" />
            Enabled
          </label>
          <p class="muted small">Grabbed items go to the profile unless a rule says otherwise; the profile's users see the feed. It is fetched as soon as it is saved.</p>
          {err && <p class="form-error" role="alert" data-testid="feed-editor-error">{err}</p>}
        </div>
        <div class="modal-foot">
          <button type="button" class="btn" onClick={() => onDone(null)}>Cancel</button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="feed-save">{feed ? 'Save' : 'Add'}</button>
        </div>
      </form>
    </Modal>
  );
}

// ---------------------------------------------------------------- rules

function sizeRange(r: Rule): string {
  const a = r.min_size != null ? fmt.bytes(r.min_size) : '';
  const b = r.max_size != null ? fmt.bytes(r.max_size) : '';
  return a && b ? `${a} to ${b}` : a ? `at least ${a}` : b ? `at most ${b}` : '';
}

function Rules({ d }: { d: RssData }) {
  const profiles = useStore(app, (s) => s.profiles);
  const [writable, canChange] = useWritable();
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const feedsById = new Map((d.feeds || []).map((f) => [f.id, f]));
  const setEnabled = async (r: Rule, on: boolean) => {
    try {
      await api('PATCH', `/api/rss/rules/${enc(r.id)}`, { enabled: on });
      d.soon();
    } catch (e) {
      toast(`Could not change the rule “${r.name}”: ${errText(e)}`);
    }
  };
  const remove = async (r: Rule) => {
    if (!window.confirm(`Delete the rule “${r.name}”? What it grabbed stays in the history (and is not grabbed again).`)) return;
    try {
      await api('DELETE', `/api/rss/rules/${enc(r.id)}`);
      d.soon();
    } catch (e) {
      toast(`Could not delete the rule “${r.name}”: ${errText(e)}`);
    }
  };
  const canAdd = writable.length > 0 && !!d.feeds?.length;
  return (
    <section class="rss" data-testid="rss-rules">
      <div class="rss-head">
        <h2>RSS rules</h2>
        <span class="spacer" />
        {canAdd && (
          <button class="btn primary" onClick={() => setEditing('new')} data-testid="rule-add">
            <Icon n="plus" size={12} /> Add rule
          </button>
        )}
      </div>
      <p class="muted small">
        A rule reads some feeds and adds the torrents of the items whose titles it matches to a profile, each item once. Items already in a feed are checked as soon as a rule is saved.
      </p>
      {d.feeds && !d.feeds.length && writable.length > 0 && <p class="muted">Add a feed first (Feeds).</p>}
      {d.rules && !d.rules.length && <p class="muted" data-testid="rules-empty">No rule yet.</p>}
      {d.rules && d.rules.length > 0 && (
        <table class="plain list rss-table" data-testid="rules-table">
          <thead>
            <tr><th>Rule</th><th>Profile</th><th>Feeds</th><th>Matches</th><th class="r">Grabbed</th><th>Enabled</th><th /></tr>
          </thead>
          <tbody>
            {d.rules.map((r) => {
              const write = canChange(r.profile);
              const size = sizeRange(r);
              return (
                <tr key={r.id} data-rule={r.id}>
                  <td data-label="Rule"><b data-testid="rule-name">{r.name}</b></td>
                  <td data-label="Profile">{profileName(profiles, r.profile)}</td>
                  <td data-label="Feeds">
                    {r.feeds.map((id) => {
                      const f = feedsById.get(id);
                      return <span key={id} class="tag">{f ? feedName(f) : id}</span>;
                    })}
                  </td>
                  <td data-label="Matches" class="small rss-match">
                    {r.include ? <span class="block">title has <code>{r.include}</code></span> : <span class="block muted">every title</span>}
                    {r.exclude && <span class="block">but not <code>{r.exclude}</code></span>}
                    {r.episodes && <span class="block">episodes {r.episodes}</span>}
                    {size && <span class="block">size {size}</span>}
                    <span class="block">
                      {r.only_new && <span class="tag">only new episodes</span>}
                      {r.paused && <span class="tag">added paused</span>}
                      {(r.labels || []).map((l) => <span key={l} class="tag chip">{l}</span>)}
                    </span>
                  </td>
                  <td data-label="Grabbed" class="r" data-testid="rule-grabbed">
                    {r.grabbed}
                    {r.last_grab && <span class="muted small block">last <When at={r.last_grab} /></span>}
                  </td>
                  <td data-label="Enabled">
                    {write ? (
                      <input type="checkbox" checked={r.enabled} onChange={(e) => setEnabled(r, e.currentTarget.checked)} aria-label={'Enabled: ' + r.name} data-testid="rule-toggle" />
                    ) : r.enabled ? (
                      'yes'
                    ) : (
                      'no'
                    )}
                  </td>
                  <td class="r nowrap actions">
                    {write && (
                      <>
                        <button class="btn small" onClick={() => setEditing(r)} aria-label={'Edit the rule ' + r.name} data-testid="rule-edit">Edit</button>{' '}
                        <button class="btn small danger" onClick={() => remove(r)} aria-label={'Delete the rule ' + r.name} data-testid="rule-delete">Delete</button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {editing && (
        <RuleEditor
          rule={editing === 'new' ? null : editing}
          feeds={d.feeds || []}
          writable={writable}
          onDone={(changed) => {
            setEditing(null);
            if (changed) d.soon();
          }}
        />
      )}
    </section>
  );
}

interface RuleForm {
  name: string;
  profile: string;
  feeds: string[];
  include: string;
  exclude: string;
  episodes: string;
  onlyNew: boolean;
  min: string;
  minUnit: string;
  max: string;
  maxUnit: string;
  labels: string;
  paused: boolean;
  enabled: boolean;
}

function formOf(r: Rule | null, feeds: Feed[], writable: Profile[]): RuleForm {
  const min = r?.min_size != null ? sizeText(r.min_size) : { text: '', unit: 'MiB' };
  const max = r?.max_size != null ? sizeText(r.max_size) : { text: '', unit: 'GiB' };
  return {
    name: r?.name || '',
    profile: r?.profile || defaultProfile(writable),
    feeds: r ? [...r.feeds] : feeds.length === 1 ? [feeds[0].id] : [],
    include: r?.include || '',
    exclude: r?.exclude || '',
    episodes: r?.episodes || '',
    onlyNew: r ? !!r.only_new : true,
    min: min.text,
    minUnit: min.unit,
    max: max.text,
    maxUnit: max.unit,
    labels: (r?.labels || []).join(', '),
    paused: r ? !!r.paused : false,
    enabled: r ? r.enabled !== false : true,
  };
}

/** The rule the form describes, or why it cannot be sent. */
function specOf(f: RuleForm): { spec: RuleSpec | null; errors: string[] } {
  const errors: string[] = [];
  const min = parseSize(f.min, f.minUnit, 'Minimum size', '(empty: no minimum)', true);
  const max = parseSize(f.max, f.maxUnit, 'Maximum size', '(empty: no maximum)', true);
  if (!min.ok) errors.push(min.error);
  if (!max.ok) errors.push(max.error);
  if (!f.feeds.length) errors.push('Choose at least one feed.');
  if (errors.length || !min.ok || !max.ok) return { spec: null, errors };
  return {
    spec: {
      name: f.name.trim(),
      profile: f.profile,
      feeds: f.feeds,
      include: f.include.trim(),
      exclude: f.exclude.trim(),
      episodes: f.episodes.trim(),
      only_new: f.onlyNew,
      min_size: min.v,
      max_size: max.v,
      labels: f.labels.split(',').map((l) => l.trim()).filter(Boolean),
      paused: f.paused,
      enabled: f.enabled,
    },
    errors,
  };
}

function RuleEditor({ rule, feeds, writable, onDone }: { rule: Rule | null; feeds: Feed[]; writable: Profile[]; onDone: (changed: boolean) => void }) {
  const [f, setF] = useState(() => formOf(rule, feeds, writable));
  const [errs, setErrs] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof RuleForm) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setF({ ...f, [k]: t.type === 'checkbox' ? t.checked : t.value });
    setErrs([]);
  };
  const toggleFeed = (id: string, on: boolean) => {
    setF({ ...f, feeds: on ? [...f.feeds, id] : f.feeds.filter((x) => x !== id) });
    setErrs([]);
  };
  const { spec, errors } = specOf(f);
  const save = async (e: Event) => {
    e.preventDefault();
    const problems = [...errors];
    if (!f.name.trim()) problems.unshift('Name: give the rule a name.');
    if (problems.length || !spec) return setErrs(problems);
    setBusy(true);
    try {
      if (rule) await api('PATCH', `/api/rss/rules/${enc(rule.id)}`, spec);
      else await api('POST', '/api/rss/rules', spec);
      onDone(true);
    } catch (x) {
      setErrs([errText(x)]);
      setBusy(false);
    }
  };
  const id = rule?.id || 'new';
  return (
    <Modal title={rule ? `Edit rule “${rule.name}”` : 'Add rule'} onClose={() => onDone(false)} testid="rule-editor" wide>
      <form class="rss-form" onSubmit={save} noValidate>
        <div class="modal-body">
          <div class="field-row">
            <label class="field">
              Name
              <input value={f.name} maxLength={100} onInput={set('name')} data-testid="rule-name-input" data-autofocus />
            </label>
            <label class="field">
              <span>
                Add to profile
              </span>
              <select value={f.profile} onChange={set('profile')} data-testid="rule-profile">
                {writable.map((p) => (
                  <option key={p.id} value={p.id}>{p.name || p.id}</option>
                ))}
              </select>
            </label>
          </div>
          <fieldset class="plain-set">
            <legend>Feeds</legend>
            <div class="check-list">
              {feeds.map((x) => (
                <label class="check" key={x.id}>
                  <input type="checkbox" checked={f.feeds.includes(x.id)} onChange={(e) => toggleFeed(x.id, e.currentTarget.checked)} data-testid={'rule-feed-' + x.id} />
                  <span class="ellip">{feedName(x)}</span>
                </label>
              ))}
            </div>
          </fieldset>
          <div class="field-row">
            <label class="field">
              <span>
                Title contains <span class="muted">(regular expression; empty: every title)</span>
              </span>
              <input class="mono" value={f.include} maxLength={512} onInput={set('include')} placeholder="^night\.garden\." data-testid="rule-include" />
            </label>
            <label class="field">
              <span>
                But not <span class="muted">(regular expression)</span>
              </span>
              <input class="mono" value={f.exclude} maxLength={512} onInput={set('exclude')} placeholder="720p|cam" data-testid="rule-exclude" />
            </label>
          </div>
          <p class="muted small">Case is ignored in both. <code>.</code> stands for any character: write <code>\.</code> for a dot.</p>
          <div class="field-row">
            <label class="field">
              <span>
                Episodes <span class="muted">(empty: all)</span>
              </span>
              <input class="mono" value={f.episodes} maxLength={256} onInput={set('episodes')} placeholder="S01E01-S01E10; S02" data-testid="rule-episodes" />
            </label>
            <label class="field">
              <span>
                Labels <span class="muted">(commas separate several)</span>
              </span>
              <input value={f.labels} onInput={set('labels')} placeholder="tv" data-testid="rule-labels" />
            </label>
          </div>
          <p class="muted small">Episodes: <code>S01</code> (a season), <code>S01E05</code>, <code>S01E01-S01E10</code>, <code>S02E05-</code> (from there on), separated by <code>;</code> or <code>,</code>.</p>
          <div class="field-row">
            <SizeField id={'min-' + id} label="Minimum size" text={f.min} unit={f.minUnit} onText={set('min')} onUnit={set('minUnit')} testid="rule-min" />
            <SizeField id={'max-' + id} label="Maximum size" text={f.max} unit={f.maxUnit} onText={set('max')} onUnit={set('maxUnit')} testid="rule-max" />
          </div>
          <div class="check-list">
            <label class="check">
              <input type="checkbox" checked={f.onlyNew} onChange={set('onlyNew')} data-testid="rule-only-new" />
              Only new episodes (skip an episode it grabbed before)
            </label>
            <label class="check">
              <input type="checkbox" checked={f.paused} onChange={set('paused')} data-testid="rule-paused" />
              Add paused
            </label>
            <label class="check">
              <input type="checkbox" checked={f.enabled} onChange={set('enabled')} data-testid="rule-enabled" />
              Enabled
            </label>
          </div>
          {errs.length > 0 && (
            <div class="form-error rss-msg" role="alert" data-testid="rule-error">
              {errs.map((x) => <p key={x}>{x}</p>)}
            </div>
          )}
          <Preview spec={spec} problems={errors} feeds={feeds} />
        </div>
        <div class="modal-foot">
          <button type="button" class="btn" onClick={() => onDone(false)}>Cancel</button>
          <button type="submit" class="btn primary" disabled={busy} data-testid="rule-save">{rule ? 'Save' : 'Add rule'}</button>
        </div>
      </form>
    </Modal>
  );
}

function SizeField({ id, label, text, unit, onText, onUnit, testid }: { id: string; label: string; text: string; unit: string; onText: (e: Event) => void; onUnit: (e: Event) => void; testid: string }) {
  return (
    <div class="field">
      <span id={id}>
        {label} <span class="muted">(empty: any)</span>
      </span>
      <div class="inline-form">
        <input class="num" inputMode="decimal" value={text} onInput={onText} aria-labelledby={id} data-testid={testid} />
        <select value={unit} onChange={onUnit} aria-label={'Unit of the ' + label.toLowerCase()} data-testid={testid + '-unit'}>
          <option value="MiB">MiB</option>
          <option value="GiB">GiB</option>
        </select>
      </div>
    </div>
  );
}

/** What the rule being edited matches now, asked of the server 400 ms after the last change. */
function Preview({ spec, problems, feeds }: { spec: RuleSpec | null; problems: string[]; feeds: Feed[] }) {
  const [items, setItems] = useState<PreviewItem[] | null>(null);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  // The server checks the whole rule, name included: an unnamed rule is previewed as one.
  const body = spec ? { ...spec, name: spec.name || 'preview' } : null;
  const key = body ? JSON.stringify(body) : '';
  useEffect(() => {
    const n = ++seq.current;
    if (!body) {
      setItems(null);
      setErr('');
      setBusy(false);
      return;
    }
    setBusy(true);
    const t = window.setTimeout(() => {
      api<PreviewItem[]>('POST', '/api/rss/preview', body).then(
        (r) => {
          if (n !== seq.current) return;
          setItems(r);
          setErr('');
          setBusy(false);
        },
        (e) => {
          if (n !== seq.current) return;
          setItems(null);
          setErr(errText(e));
          setBusy(false);
        },
      );
    }, 400);
    return () => clearTimeout(t);
  }, [key]);
  const many = (spec?.feeds.length || 0) > 1;
  const names = new Map(feeds.map((f) => [f.id, feedName(f)]));
  const grabbed = items ? items.filter((i) => i.grabbed).length : 0;
  const skipped = items ? items.filter((i) => !i.grabbed && i.skipped).length : 0;
  const summary = !body
    ? problems.join(' ')
    : err
      ? ''
      : !items
        ? 'Checking…'
        : !items.length
          ? 'No item of these feeds matches now.'
          : `${items.length} item${items.length === 1 ? '' : 's'} match${items.length === 1 ? 'es' : ''} now` + (grabbed ? `, ${grabbed} grabbed already` : '') + (skipped ? `, ${skipped} skipped (episode taken)` : '') + '.';
  return (
    <section class="rss-preview" aria-labelledby="rule-preview-title" data-testid="rule-preview" data-busy={busy ? 'true' : 'false'}>
      <h3 class="sub" id="rule-preview-title">
        Preview <span class="muted">what the rule matches among the items its feeds hold now</span>
      </h3>
      <p class="small" role="status" data-testid="preview-summary">
        {summary}
        {err && <span class="err rss-msg" data-testid="preview-error">{err}</span>}
      </p>
      {items && items.length > 0 && (
        <ul class="preview-list" data-testid="preview-list">
          {items.map((i) => (
            <li key={i.feed + '/' + i.key} data-grabbed={i.grabbed ? 'true' : 'false'} data-skipped={i.skipped ? 'true' : 'false'}>
              <span class="grow wrap" data-testid="preview-title">{i.title}</span>
              {many && <span class="muted small">{names.get(i.feed) || i.feed}</span>}
              <span class="muted small nowrap">{i.size != null ? fmt.bytes(i.size) : ''}</span>
              {i.grabbed ? (
                <span class="tag" title={fmt.date(i.grabbed)}>grabbed {fmt.ago(i.grabbed)}</span>
              ) : i.skipped ? (
                <span class="tag" title="Only new episodes: an earlier item of this episode is taken">skipped</span>
              ) : (
                <span class="tag good">new</span>
              )}
            </li>
          ))}
        </ul>
      )}
      {spec?.only_new && skipped > 0 && <p class="muted small">With “only new episodes”, only the first item of each episode is added; another quality or a repack of it is skipped.</p>}
    </section>
  );
}

// ---------------------------------------------------------------- history

function History({ d }: { d: RssData }) {
  const [rule, setRule] = useState('');
  const [feed, setFeed] = useState('');
  const [limit, setLimit] = useState(100);
  const q = new URLSearchParams({ limit: String(limit) });
  if (rule) q.set('rule', rule);
  if (feed) q.set('feed', feed);
  const [list, err] = useFetched<Grab[]>('/api/rss/history?' + q.toString(), d.tick, 1000);
  const feedsById = new Map((d.feeds || []).map((f) => [f.id, f]));
  return (
    <section class="rss" data-testid="rss-history">
      <h2>Grab history</h2>
      <div class="traffic-tools">
        <select aria-label="Rule" value={rule} onChange={(e) => setRule(e.currentTarget.value)} data-testid="history-rule">
          <option value="">All rules</option>
          {(d.rules || []).map((r) => (
            <option key={r.id} value={r.id}>{r.name}</option>
          ))}
        </select>
        <select aria-label="Feed" value={feed} onChange={(e) => setFeed(e.currentTarget.value)} data-testid="history-feed">
          <option value="">All feeds</option>
          {(d.feeds || []).map((f) => (
            <option key={f.id} value={f.id}>{feedName(f)}</option>
          ))}
        </select>
      </div>
      {err && <p class="form-error" role="alert">{err}</p>}
      {!list && !err && <p class="muted">Loading…</p>}
      {list && !list.length && <p class="muted" data-testid="history-empty">Nothing grabbed{rule || feed ? ' by this choice' : ' yet'}.</p>}
      {list && list.length > 0 && (
        <table class="plain list rss-table" data-testid="history-table">
          <thead>
            <tr><th>When</th><th>Item</th><th>Rule</th><th>Feed</th><th>Outcome</th></tr>
          </thead>
          <tbody>
            {list.map((g) => {
              const f = feedsById.get(g.feed);
              return (
                <tr key={g.feed + '/' + g.item} data-outcome={g.hash ? 'added' : 'failed'}>
                  <td data-label="When" class="nowrap"><When at={g.at} /></td>
                  <td data-label="Item" class="wrap" data-testid="history-title">
                    {g.title}
                    {g.season != null && (
                      <span class="muted small">
                        {' '}
                        · S{String(g.season).padStart(2, '0')}
                        {g.episode != null ? 'E' + String(g.episode).padStart(2, '0') : ''}
                      </span>
                    )}
                  </td>
                  <td data-label="Rule">{g.rule_name}</td>
                  <td data-label="Feed">{f ? feedName(f) : <span class="muted">{g.feed}</span>}</td>
                  <td data-label="Outcome" data-testid="history-outcome">
                    {g.hash ? (
                      <span class="ok">
                        <Icon n="check" size={12} /> added to {g.profile} <code title={g.hash}>{g.hash.slice(0, 8)}</code>
                      </span>
                    ) : (
                      <span class="err">
                        <Icon n="alert" size={12} /> failed: {g.error || 'unknown error'} ({g.attempts >= 3 ? 'given up after 3 attempts' : `attempt ${g.attempts} of 3`})
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {list && list.length >= limit && limit < 1000 && (
        <p>
          <button class="btn" onClick={() => setLimit(Math.min(1000, limit + 100))} data-testid="history-more">Show more</button>
        </p>
      )}
    </section>
  );
}
