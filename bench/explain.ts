import type { Knex } from 'knex';
import type pg from 'pg';

/** Tables big enough that a sequential scan of one is a missing index, not a planner's sensible choice. */
const largeTables = new Set(['videos', 'transcripts', 'processing_jobs']);

export interface Explained {
  name: string;
  ms: number;
  indexes: string[];
  seqScans: string[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
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

/** auto_explain, for the statements run inside a function (the queue's): each plan comes back as a notice. */
const explainNested = [
  "LOAD 'auto_explain'",
  'SET LOCAL auto_explain.log_min_duration = 0',
  'SET LOCAL auto_explain.log_analyze = on',
  'SET LOCAL auto_explain.log_nested_statements = on',
  "SET LOCAL auto_explain.log_format = 'json'",
  'SET LOCAL client_min_messages = log',
];

/** The plans auto_explain sends as notices: `duration: … ms  plan:` followed by the plan in JSON. */
function nestedPlan(message: string): PlanNode | undefined {
  const start = message.indexOf('{');
  if (!message.startsWith('duration:') || start < 0) return undefined;
  return (JSON.parse(message.slice(start)) as { Plan: PlanNode }).Plan;
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
    for (const setting of explainNested) await client.query(setting);
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
