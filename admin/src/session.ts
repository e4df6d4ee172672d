import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Caller, Client } from './api';

/** The client every view calls through, and who it calls as. */
export interface Signed {
  client: Client;
  caller: Caller;
}

export const SignedContext = createContext<Signed | undefined>(undefined);

export function useSigned(): Signed & { canChange: boolean } {
  const signed = useContext(SignedContext);
  if (!signed) throw new Error('a view is rendered only once the page is signed in');
  return { ...signed, canChange: signed.caller.role === 'admin' };
}
