// The signed-in session: the role decides what the UI lets a person do. A viewer sees every page,
// with edit, save, run and cancel disabled and the reason shown.
import { createContext, useContext } from 'react';
import type { Session } from './api/types';

export interface SessionState {
  session: Session;
  logout: () => void;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

export const VIEWER_REASON = 'Read-only: you are signed in with a viewer token.';

/** `null` if the session may change things, else the reason it may not. */
export function useWriteBlock(): string | null {
  const { session } = useSession();
  return session.role === 'admin' ? null : VIEWER_REASON;
}
