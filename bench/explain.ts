import type { Knex } from 'knex';
import type pg from 'pg';
import { nestedPlan, nestedPlanSettings, type PlanNode } from '../dev/nested-plans';

/** Tables big enough that a sequential scan of one is a missing index, not a planner's sensible choice. */
const largeTables = new Set(['videos', 'transcripts', 'processing_jobs']);

export interface Explained {
  name: string;
  ms: number;
  indexes: string[];
  seqScans: string[];
}

function walk(node: PlanNode, visit: (node: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/** Records every statement a piece of work sends, with its bindings, to explain afterwards. */
export async function captureQueries(
  db: Knex,
  work: () => Promise<unknown>,
): Promise<{ sql: string; bindings: readonly unknown[] }[]> {
  const captured: { sql: string; bindings: readonly unknown[] }[] = [];
  const listener = (query: { sql: string; bindings?: readonly unknown[] }) =>
    captured.push({ sql: query.sql, bindings: query.bindings ?? [] });
  db.on('query', listener);
  try {
    await work();
  } finally {
    db.off('query', listener);
  }
  return captured;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS), twice, inside a transaction that is rolled back, so explaining a claim claims
 * nothing. The statements come as knex sent them to pg ($1 placeholders), so they go to a pg connection as they
 * are. The statements a function runs are explained too (auto_explain), so their indexes and scans count as the
 * caller's.
 */
export async function explain(
  db: Knex,
  name: string,
  sql: string,
  bindings: readonly unknown[],
  { forbidSeqScans = false } = {},
): Promise<Explained> {
  const client = (await db.client.acquireConnection()) as pg.PoolClient;
  const nested: PlanNode[] = [];
  const onNotice = (notice: { message?: string }) => {
    const plan = nestedPlan(notice.message ?? '');
    if (plan) nested.push(plan);
  };
  try {
    await client.query('BEGIN');
    for (const setting of nestedPlanSettings) await client.query(setting);
    client.on('notice', onNotice);
    // On a small database the planner rightly prefers scanning; forbidding it leaves a scan only where no
    // index could serve the query at all.
    if (forbidSeqScans) await client.query('SET LOCAL enable_seqscan = off');
    const run = () => client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, bindings as unknown[]);
    // The first run on a connection compiles a function and plans its statements; a pooled connection pays that
    // once, so the figure is the second run's.
    await run();
    nested.length = 0;
    const { rows } = await run();
    const [{ Plan: plan, 'Execution Time': ms }] = rows[0]['QUERY PLAN'] as [
      { Plan: PlanNode; 'Execution Time': number },
    ];
    const indexes: string[] = [];
    const seqScans: string[] = [];
    const visit = (node: PlanNode) => {
      if (node['Index Name']) indexes.push(node['Index Name']);
      if (
        node['Node Type'] === 'Seq Scan' &&
        node['Relation Name'] &&
        largeTables.has(node['Relation Name'])
      ) {
        seqScans.push(node['Relation Name']);
      }
    };
    for (const root of [plan, ...nested]) walk(root, visit);
    return { name, ms, indexes: [...new Set(indexes)], seqScans };
  } finally {
    client.off('notice', onNotice);
    await client.query('ROLLBACK');
    await db.client.releaseConnection(client);
  }
}
