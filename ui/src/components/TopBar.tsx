import { useRef, useState } from 'preact/hooks';
import { act, askRemove, openAdd, queueMove } from '../actions';
import { markLeaving, switchProfile } from '../feed';
import { useDismiss } from '../hooks';
import { Icon } from '../icons';
import { app, canWrite, navigate, toggleTheme, useStore } from '../store';
import { AltSwitch } from './Limits';
import { Bell } from './Notifications';

function ProfileSwitch() {
  const profiles = useStore(app, (s) => s.profiles);
  const profile = useStore(app, (s) => s.profile);
  if (!profiles.length) return <span class="muted small">no profiles</span>;
  return (
    <select
      class="profile-switch"
      title="Profile"
      aria-label="Profile"
      value={profile}
      onChange={(e) => switchProfile(e.currentTarget.value)}
    >
      {profiles.map((p) => (
        <option key={p.id} value={p.id}>
          {p.name || p.id}
          {p.level === 'ro' ? ' (read-only)' : ''}
        </option>
      ))}
    </select>
  );
}

export function ConnBadge() {
  const conn = useStore(app, (s) => s.conn);
  const err = useStore(app, (s) => s.connError);
  const retries = useStore(app, (s) => s.retries);
  const text = conn === 'offline' ? 'reconnecting…' : conn;
  const tip =
    conn === 'online'
      ? 'Live: figures update as they change'
      : conn === 'connecting'
        ? 'Connecting to the daemon…'
        : `${err || 'The daemon cannot be reached.'} Trying again${retries ? ` (attempt ${retries})` : ''}; actions are disabled until then.`;
  return (
    <span class={'badge conn-' + conn} data-testid="conn-badge" data-state={conn} title={tip} role="status" aria-label={'Connection: ' + text}>
      <i />
      {text}
    </span>
  );
}

function UserMenu({ phone }: { phone: boolean }) {
  const me = useStore(app, (s) => s.me)!;
  const theme = useStore(app, (s) => s.theme);
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useDismiss(open, () => setOpen(false), ref);
  const go = (p: string) => {
    setOpen(false);
    navigate(p);
  };
  return (
    <div class="menu-wrap" ref={ref}>
      <button class="btn ghost" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="user-menu" aria-label={'User menu: ' + me.username}>
        <Icon n="user" />
        <span class="hide-phone">{me.username}</span>
        <Icon n="chevd" size={10} />
      </button>
      {open && (
        <div class="menu right" role="menu">
          <div class="menu-head">
            {me.username}
            <span class="muted">
              {' '}
              · {me.role}
              {me.provider !== 'local' ? ' · ' + me.provider : ''}
              {me.bypass ? ' · bypass' : ''}
            </span>
          </div>
          {me.role === 'admin' && (
            <>
              <button role="menuitem" onClick={() => go('/admin/users')}>Users</button>
              <button role="menuitem" onClick={() => go('/admin/profiles')}>Profiles</button>
              <button role="menuitem" onClick={() => go('/admin/settings')}>Settings</button>
            </>
          )}
          <button role="menuitem" onClick={() => go('/traffic')} data-testid="menu-traffic">Traffic history</button>
          <button role="menuitem" onClick={() => go('/rss')} data-testid="menu-rss">RSS feeds and rules</button>
          {phone && (
            <button role="menuitem" onClick={() => { setOpen(false); toggleTheme(); }} data-testid="menu-theme">
              <Icon n={theme === 'dark' ? 'sun' : 'moon'} /> {theme === 'dark' ? 'Light theme' : 'Dark theme'}
            </button>
          )}
          <button role="menuitem" onClick={() => go('/settings/account')}>Account and sessions</button>
          <button role="menuitem" onClick={() => go('/settings/tokens')}>API tokens</button>
          <button role="menuitem" onClick={() => { setOpen(false); app.set({ helpOpen: true }); }}>Keyboard shortcuts</button>
          {me.logout_available && (
            <form method="post" action="/logout" onSubmit={markLeaving}>
              <button role="menuitem" type="submit" data-testid="logout">
                <Icon n="logout" /> Log out
              </button>
            </form>
          )}
        </div>
      )}
    </div>
  );
}

function Bulk() {
  const sel = useStore(app, (s) => s.selected.size);
  const conn = useStore(app, (s) => s.conn);
  const none = sel === 0 || conn !== 'online';
  const b = (n: string, title: string, f: () => void, testid: string) => (
    <button class="btn icon" aria-label={title} data-tip={title} disabled={none} onClick={f} data-testid={testid}>
      <Icon n={n} />
    </button>
  );
  return (
    <>
      <div class="group" role="toolbar" aria-label="Selected torrents">
        {b('play', 'Start (Space / R)', () => act('resume'), 'bulk-start')}
        {b('pause', 'Pause (P)', () => act('pause'), 'bulk-pause')}
        {b('force', 'Force start (ignore the queue)', () => act('force-start'), 'bulk-force')}
        {b('recheck', 'Recheck data', () => act('recheck'), 'bulk-recheck')}
        {b('trash', 'Remove (Delete)', askRemove, 'bulk-remove')}
      </div>
      <div class="group" role="toolbar" aria-label="Queue">
        {b('top', 'Queue: top (Ctrl+Shift+↑)', () => queueMove('top'), 'queue-top')}
        {b('up', 'Queue: up (Ctrl+↑)', () => queueMove('up'), 'queue-up')}
        {b('down', 'Queue: down (Ctrl+↓)', () => queueMove('down'), 'queue-down')}
        {b('bottom', 'Queue: bottom (Ctrl+Shift+↓)', () => queueMove('bottom'), 'queue-bottom')}
      </div>
    </>
  );
}

export function TopBar({ phone }: { phone: boolean }) {
  const theme = useStore(app, (s) => s.theme);
  const search = useStore(app, (s) => s.search);
  const profiles = useStore(app, (s) => s.profiles);
  const profile = useStore(app, (s) => s.profile);
  const conn = useStore(app, (s) => s.conn);
  const cur = profiles.find((p) => p.id === profile);
  const anyWritable = profiles.some(canWrite);
  const write = canWrite(cur);
  return (
    <header class="topbar">
      {phone ? (
        <button class="btn icon" aria-label="Filters" data-tip="Filters" onClick={() => app.set({ sidebarOpen: true })}>
          <Icon n="menu" />
        </button>
      ) : (
        <span class="brand">
          <Icon n="down" size={16} />
          pytorrentd
        </span>
      )}
      <ProfileSwitch />
      {cur && cur.level === 'ro' && (
        <span class="badge ro" title="You can only look at this profile" aria-label="read-only profile">
          {phone ? 'ro' : 'read-only'}
        </span>
      )}
      {anyWritable && !phone && (
        <button class="btn primary" onClick={() => openAdd()} data-tip="Add torrents (Ctrl+O)" data-testid="add-button" disabled={conn !== 'online'}>
          <Icon n="plus" />
          Add
        </button>
      )}
      {anyWritable && !phone && (
        <button class="btn" onClick={() => app.set({ createOpen: true })} data-tip="Make a torrent of a file or folder on the server" data-testid="create-button" disabled={conn !== 'online'}>
          <Icon n="file" />
          Create
        </button>
      )}
      {write && !phone && <Bulk />}
      {!phone && <div class="spacer" />}
      {!phone && (
        <label class="search">
          <Icon n="search" />
          <input
            type="search"
            placeholder="Filter by name"
            aria-label="Filter by name"
            value={search}
            onInput={(e) => app.set({ search: e.currentTarget.value })}
          />
        </label>
      )}
      {!phone && <AltSwitch />}
      <ConnBadge />
      {/* On a phone the theme switch is in the user menu: the bell takes its place. */}
      {!phone && (
        <button class="btn icon ghost" onClick={toggleTheme} data-tip="Toggle theme" aria-label="Toggle theme" data-testid="theme-toggle">
          <Icon n={theme === 'dark' ? 'sun' : 'moon'} />
        </button>
      )}
      {!phone && (
        <button class="btn icon ghost" onClick={() => navigate('/traffic')} data-tip="Traffic history" aria-label="Traffic history" data-testid="traffic-button">
          <Icon n="chart" />
        </button>
      )}
      {!phone && (
        <button class="btn icon ghost" onClick={() => navigate('/rss')} data-tip="RSS feeds and rules" aria-label="RSS feeds and rules" data-testid="rss-button">
          <Icon n="rss" />
        </button>
      )}
      {!phone && (
        <button class="btn icon ghost" onClick={() => app.set({ helpOpen: true })} data-tip="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts">
          <Icon n="key" />
        </button>
      )}
      <Bell />
      <UserMenu phone={phone} />
    </header>
  );
}

