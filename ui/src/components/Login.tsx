import { useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { Icon } from '../icons';

export function Login() {
  const [username, setUser] = useState('');
  const [password, setPass] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  // Sent here because the session ended while a page was open (password changed elsewhere,
  // signed out from another browser, expired, user removed).
  const ended = new URLSearchParams(location.search).has('ended');
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await api('POST', '/api/auth/login', { username, password }, { noAuthRedirect: true });
      location.href = '/';
      return;
    } catch (err) {
      const a = err as ApiError;
      if (a.status === 401) setError('Wrong username or password.');
      else if (a.status === 429)
        setError(
          `Too many failed logins from your address. Try again in ${a.retryAfter ?? '?'} seconds.`,
        );
      else if (a.status === 409) setError(a.message);
      else setError(a.message || 'Login failed.');
      setPass('');
    }
    setBusy(false);
  };
  return (
    <div class="login-wrap">
      <form class="login" onSubmit={submit}>
        <h1 class="login-brand">
          <Icon n="down" size={22} />
          <span>pytorrentd</span>
        </h1>
        {ended && !error && (
          <p class="form-note" role="status" data-testid="login-reason">
            You were signed out: your session ended (the password was changed, you signed out
            elsewhere, or it expired). Sign in again to continue.
          </p>
        )}
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            autoFocus
            required
            value={username}
            onInput={(e) => setUser(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPass(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="form-error" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button class="btn primary" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
