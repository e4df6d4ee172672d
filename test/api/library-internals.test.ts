import { describe, expect, it } from 'vitest';
import { procedureTable } from '../../src/api/library-internals';
import { openApiDocument } from '../../src/http/openapi';

/** Each `METHOD /path` the OpenAPI document has, as trpc-to-openapi reads the router's meta itself. */
function documentedRoutes(): string[] {
  const routes: string[] = [];
  for (const [path, item] of Object.entries(openApiDocument().paths ?? {}))
    for (const method of ['get', 'post', 'patch', 'put', 'delete'] as const)
      if ((item as Record<string, unknown>)[method]) routes.push(`${method.toUpperCase()} /api${path}`);
  return routes.sort();
}

describe('the reads of library internals', () => {
  it('find the same REST routes trpc-to-openapi finds in the router', () => {
    const fromTable = [...procedureTable.values()]
      .filter((entry) => entry.route)
      .map((entry) => `${entry.route!.method} /api${entry.route!.path}`)
      .sort();
    expect(fromTable).toEqual(documentedRoutes());
  });

  it('find every procedure with its type: a GET route is a query, any other a mutation', () => {
    expect(procedureTable.size).toBeGreaterThan(40);
    for (const [name, entry] of procedureTable) {
      expect(entry.procedure, name).toBeTypeOf('function');
      if (entry.route) expect(entry.type, name).toBe(entry.route.method === 'GET' ? 'query' : 'mutation');
    }
    expect(procedureTable.get('videos.list')?.type).toBe('query');
    expect(procedureTable.get('jobs.claim')?.type).toBe('mutation');
  });
});
