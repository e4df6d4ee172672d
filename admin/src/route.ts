import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { view: 'overview' }
  | { view: 'sessions' }
  | { view: 'search'; query: string }
  | { view: 'job'; id: string }
  | { view: 'bulk'; params: URLSearchParams }
  | { view: 'limits' };

/** The view a location hash names: `#/jobs/<id>`, `#/search?q=...`, `#/bulk?sessionId=...`, ... */
export function routeOf(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const params = new URLSearchParams(query);
  const [section, id] = path.split('/');
  if (section === 'jobs' && id) return { view: 'job', id: decodeURIComponent(id) };
  if (section === 'sessions') return { view: 'sessions' };
  if (section === 'search') return { view: 'search', query: params.get('q') ?? '' };
  if (section === 'bulk') return { view: 'bulk', params };
  if (section === 'limits') return { view: 'limits' };
  return { view: 'overview' };
}

export const hrefOf = {
  job: (id: string) => `#/jobs/${encodeURIComponent(id)}`,
  search: (query: string) => `#/search?q=${encodeURIComponent(query)}`,
  bulk: (params: Record<string, string>) => `#/bulk?${new URLSearchParams(params).toString()}`,
};

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const follow = () => setHash(location.hash);
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);
  return routeOf(hash);
}
