import { useEffect, useState } from 'preact/hooks';
import { type Caller, callerFor, connect, messageOf, tokenStore } from './api';
import { useRoute } from './route';
import { type Signed, SignedContext } from './session';
import { BulkView } from './views/bulk';
import { JobView } from './views/job';
import { LimitsView } from './views/limits';
import { OverviewView } from './views/overview';
import { SearchView } from './views/search';
import { SessionsView } from './views/sessions';

type State = { step: 'checking' } | { step: 'token'; error?: string } | ({ step: 'signed' } & Signed);

const signedIn = (token: string | undefined, caller: Caller): State => ({
  step: 'signed',
  client: connect(token),
  caller,
});

export function App() {
  const [state, setState] = useState<State>({ step: 'checking' });

  useEffect(() => {
    const token = tokenStore.read();
    callerFor(token)
      .then((caller) => {
        if (caller !== 'unauthorized') return setState(signedIn(token, caller));
        tokenStore.clear();
        setState({ step: 'token' });
      })
      .catch((error: unknown) => setState({ step: 'token', error: messageOf(error) }));
  }, []);

  const signIn = async (token: string) => {
    try {
      const caller = await callerFor(token);
      if (caller === 'unauthorized')
        return setState({ step: 'token', error: 'The server knows no such token.' });
      tokenStore.write(token);
      setState(signedIn(token, caller));
    } catch (error) {
      setState({ step: 'token', error: messageOf(error) });
    }
  };
  const signOut = () => {
    tokenStore.clear();
    setState({ step: 'token' });
  };

  if (state.step === 'checking') return <p class="muted page">Loading…</p>;
  if (state.step === 'token') return <TokenForm error={state.error} onSubmit={signIn} />;
  return (
    <SignedContext.Provider value={state}>
      <Layout caller={state.caller} onSignOut={signOut} />
    </SignedContext.Provider>
  );
}

function TokenForm({
  error,
  onSubmit,
}: {
  error?: string | undefined;
  onSubmit: (token: string) => Promise<void>;
}) {
  const [token, setToken] = useState('');
  return (
    <main class="page signin">
      <h1>TubeSensei admin</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void onSubmit(token.trim());
        }}
      >
        <label>
          API token
          <input
            type="password"
            name="token"
            autocomplete="off"
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={token.trim() === ''}>
          Sign in
        </button>
        <p class="muted">
          A reader token sees everything and changes nothing; an admin token may act. The token stays in this
          tab only.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

const sections = [
  ['overview', 'Overview', '#/'],
  ['sessions', 'Sessions', '#/sessions'],
  ['search', 'Search', '#/search'],
  ['bulk', 'Bulk actions', '#/bulk'],
  ['limits', 'Limits & schedules', '#/limits'],
] as const;

function Layout({ caller, onSignOut }: { caller: Caller; onSignOut: () => void }) {
  const route = useRoute();
  return (
    <>
      <header class="top">
        <strong class="brand">TubeSensei admin</strong>
        <nav>
          {sections.map(([view, label, href]) => (
            <a key={view} href={href} class={route.view === view ? 'current' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span class={`role role-${caller.role}`} title="The role of the token this page uses">
          {caller.role === 'admin' ? 'admin' : `${caller.role}: read only`}
        </span>
        {caller.tokensRequired && (
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </header>
      <main class="page">
        {route.view === 'overview' && <OverviewView />}
        {route.view === 'sessions' && <SessionsView />}
        {route.view === 'search' && <SearchView query={route.query} />}
        {route.view === 'job' && <JobView id={route.id} />}
        {route.view === 'bulk' && <BulkView params={route.params} />}
        {route.view === 'limits' && <LimitsView />}
      </main>
    </>
  );
}
