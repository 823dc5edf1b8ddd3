import { useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { Icon } from '../icons';

export function Login() {
  const [username, setUser] = useState('');
  const [password, setPass] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
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
        <div class="login-brand">
          <Icon n="down" size={22} />
          <span>pytorrentd</span>
        </div>
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
