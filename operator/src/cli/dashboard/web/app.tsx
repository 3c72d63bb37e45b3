// The dashboard's page: the overview at `/`, a cutover at `/c/<Kind>/<namespace>/<name>`.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Overview } from './overview.tsx';
import { DetailPage } from './detail.tsx';
import { useStream, type Connection } from './stream.ts';
import { Link } from './nav.tsx';

function focusOf(path: string): string | undefined {
  const m = /^\/c\/([A-Za-z]+)\/([^/]+)\/([^/]+)$/.exec(path);
  return m ? `${m[1]}/${decodeURIComponent(m[2]!)}/${decodeURIComponent(m[3]!)}` : undefined;
}

const CONNECTION_TEXT: Record<Connection, string> = { connecting: 'connecting…', live: 'live', paused: 'paused (tab hidden)', reconnecting: 'reconnecting…' };

function App() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  const focus = focusOf(path);
  const state = useStream(focus);
  const context = document.querySelector('meta[name="cutover-context"]')?.getAttribute('content') ?? '';
  useEffect(() => { document.title = focus ? `${focus} · Cutover` : 'Cutover dashboard'; }, [focus]);
  return (
    <>
      <header class="top">
        <Link href="/" class="brand">Cutover</Link>
        {context && <span class="context" title="kubeconfig context">{context}</span>}
        {state.readOnly && <span class="badge neutral">read-only</span>}
        <span class={`conn conn-${state.connection}`} data-testid="connection" role="status">{CONNECTION_TEXT[state.connection]}</span>
      </header>
      <main>
        {focus ? <DetailPage focus={focus} state={state} /> : <Overview state={state} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
