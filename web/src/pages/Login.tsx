import { useState, type SyntheticEvent } from 'react';
import { ApiError, api } from '../api/client';
import type { Session } from '../api/types';

export function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = (e: SyntheticEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    api
      .post<Session>('/session', { body: { token: token.trim() } })
      .then(onLogin)
      .catch((err: unknown) => {
        setError(err instanceof ApiError ? err.message : String(err));
      })
      .finally(() => {
        setBusy(false);
      });
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit}>
        <h1>ContainerOps</h1>
        <p className="muted">Sign in with an API token. The server exchanges it for a session cookie.</p>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(e) => {
            setToken(e.target.value);
          }}
          placeholder="co_…"
          required
        />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || token.trim() === ''}>
          Log in
        </button>
      </form>
    </main>
  );
}
