/** A node of a plan as `EXPLAIN (FORMAT JSON)` and auto_explain write it, with the fields the checks read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/**
 * Settings, each for the transaction it runs in, under which auto_explain sends the plan of every statement a
 * function runs (the queue's) back to the client as a notice, analyzed, in JSON.
 */
export const nestedPlanSettings = [
  "LOAD 'auto_explain'",
  'SET LOCAL auto_explain.log_min_duration = 0',
  'SET LOCAL auto_explain.log_analyze = on',
  'SET LOCAL auto_explain.log_nested_statements = on',
  "SET LOCAL auto_explain.log_format = 'json'",
  'SET LOCAL client_min_messages = log',
];

/** The plan in one of auto_explain's notices (`duration: … ms  plan:` followed by the plan in JSON). */
export function nestedPlan(message: string): PlanNode | undefined {
  const start = message.indexOf('{');
  if (!message.startsWith('duration:') || start < 0) return undefined;
  return (JSON.parse(message.slice(start)) as { Plan: PlanNode }).Plan;
}
