import { useEffect, useState } from 'preact/hooks';
import { api, setUnauthorizedHandler } from '../api';
import { signedOut, startFeed } from '../feed';
import { loadPrefs } from '../prefs';
import { app, useStore } from '../store';
import type { Account, Me, Profile } from '../types';
import { Login } from './Login';
import { Main } from './Main';
import { Admin } from './Admin';
import { TrafficPage } from './Traffic';
import { RssPage } from './Rss';

setUnauthorizedHandler(() => {
  if (location.pathname !== '/login') {
    // Signed in before (the app was showing): the session ended while the page was open.
    if (app.get().me) signedOut();
    else location.href = '/login';
  }
});

let started = false;

function Shell() {
  const me = useStore(app, (s) => s.me);
  const path = useStore(app, (s) => s.path);
  const [err, setErr] = useState('');
  useEffect(() => {
    (async () => {
      try {
        const [me, profiles, account] = await Promise.all([
          api<Me>('GET', '/api/auth/me'),
          api<Profile[]>('GET', '/api/profiles'),
          api<Account>('GET', '/api/me').catch(() => null),
          loadPrefs(),
        ]);
        const cur = app.get().profile;
        app.set({
          me,
          account,
          profiles,
          profile: profiles.some((p) => p.id === cur) ? cur : profiles[0]?.id || '',
        });
        if (!started) {
          started = true;
          startFeed();
        }
      } catch (e) {
        setErr((e as Error).message);
      }
    })();
  }, []);
  if (!me) {
    return <div class="boot">{err ? <p class="err">Cannot load: {err}</p> : <p class="muted">Loading…</p>}</div>;
  }
  if (path.startsWith('/admin') || path.startsWith('/settings')) return <Admin />;
  if (path === '/traffic') return <TrafficPage />;
  if (path === '/rss' || path.startsWith('/rss/')) return <RssPage />;
  return <Main />;
}

export function App() {
  const path = useStore(app, (s) => s.path);
  if (path === '/login') return <Login />;
  return <Shell />;
}
