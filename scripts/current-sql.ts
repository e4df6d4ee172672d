import type { Knex } from 'knex';

/**
 * The current text of the schema, read from a migrated database's catalog: one file per function (with the
 * triggers that run it) under `src/queue/sql/`, and a schema dump. `npm run db:snapshot` writes them and
 * `test/db/current-sql.test.ts` holds them against the test database, so both print with this module.
 *
 * The dump is built from catalog queries rather than pg_dump: the embedded PostgreSQL ships no pg_dump, a
 * machine's pg_dump refuses a newer server, and pg_dump's output names its versions (and, since 17.6, a random
 * restrict key). Every query orders by byte ("C" collation), so the text is the same on every server.
 */

/** Where the function files live, relative to the project's root. */
export const functionFilesDir = 'src/queue/sql';
/** The committed schema dump, relative to the project's root. */
export const schemaDumpFile = 'src/db/schema.sql';

/** knex's bookkeeping, not the project's schema. */
const knexTables = ['knex_migrations', 'knex_migrations_lock'];

interface FunctionRow {
  name: string;
  /** Null for an aggregate or a window function, which pg_get_functiondef does not print. */
  definition: string | null;
}

interface TriggerRow {
  function_name: string;
  function_schema: string;
  name: string;
  definition: string;
}

type Query = <Row>(sql: string, bindings?: readonly Knex.RawBinding[]) => Promise<Row[]>;

/**
 * Runs `read` in one transaction whose search path is only `public`, so that names print the same way (unqualified
 * types, schema-qualified tables where PostgreSQL always qualifies them) whatever the connection's settings.
 */
async function withCatalog<T>(db: Knex, read: (query: Query) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw('SET LOCAL search_path = public');
    const query: Query = async <Row>(sql: string, bindings: readonly Knex.RawBinding[] = []) =>
      (await trx.raw<{ rows: Row[] }>(sql, bindings)).rows;
    return read(query);
  });
}

/** The project's functions in `public` (not those an extension installed there), as pg_get_functiondef prints them. */
const functionsSql = `
  SELECT p.proname AS name,
         CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS definition
    FROM pg_proc p
   WHERE p.pronamespace = 'public'::regnamespace
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
   ORDER BY p.proname COLLATE "C", pg_get_function_identity_arguments(p.oid) COLLATE "C"`;

/** Every trigger a statement fires (not the ones PostgreSQL makes for foreign keys), by table and name. */
const triggersSql = `
  SELECT p.proname AS function_name, p.pronamespace::regnamespace::text AS function_schema,
         t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
    FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_proc p ON p.oid = t.tgfoid
   WHERE NOT t.tgisinternal
   ORDER BY c.relnamespace::regnamespace::text COLLATE "C", c.relname COLLATE "C", t.tgname COLLATE "C"`;

async function functionsAndTriggers(
  query: Query,
): Promise<{ functions: { name: string; definition: string }[]; triggers: TriggerRow[] }> {
  const rows = await query<FunctionRow>(functionsSql);
  const functions = rows.flatMap(({ name, definition }) =>
    definition === null ? [] : [{ name, definition }],
  );
  if (functions.length < rows.length) {
    const unprintable = rows.filter((row) => row.definition === null).map((row) => row.name);
    throw new Error(`pg_get_functiondef cannot print ${unprintable.join(', ')}`);
  }
  return { functions, triggers: await query<TriggerRow>(triggersSql) };
}

/** A definition as a statement: pg_get_functiondef and pg_get_triggerdef print none of the semicolons. */
const statement = (definition: string) => `${definition.trimEnd()};\n`;

/**
 * The text of each function file, by function name: its definition (overloads one after another), then the
 * triggers that run it, one statement a line. Every trigger is in the file of the function it calls.
 */
export async function functionFiles(db: Knex): Promise<Map<string, string>> {
  const { functions, triggers } = await withCatalog(db, functionsAndTriggers);
  const files = new Map<string, { definitions: string[]; triggers: string[] }>();
  for (const row of functions) {
    const file = files.get(row.name) ?? { definitions: [], triggers: [] };
    file.definitions.push(statement(row.definition));
    files.set(row.name, file);
  }
  for (const trigger of triggers) {
    const file = trigger.function_schema === 'public' ? files.get(trigger.function_name) : undefined;
    if (!file) {
      throw new Error(
        `Trigger ${trigger.name} runs ${trigger.function_schema}.${trigger.function_name}, which has no file`,
      );
    }
    file.triggers.push(statement(trigger.definition));
  }
  return new Map(
    [...files].map(([name, file]) => [
      name,
      [file.definitions.join('\n'), file.triggers.join('')].join('\n').trimEnd() + '\n',
    ]),
  );
}

/** Kinds of object the dump does not print: a migration that makes one must teach it first. */
const unprintedSql = `
  SELECT format('%s %s', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                         WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table'
                                         ELSE 'relation of kind ' || c.relkind::text END, c.relname) AS object
    FROM pg_class c
   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind NOT IN ('r', 'i', 'S', 'c', 't')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  UNION ALL
  SELECT format('sequence %s, which no column owns', s.relname)
    FROM pg_class s
   WHERE s.relnamespace = 'public'::regnamespace AND s.relkind = 'S'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i', 'e'))
  UNION ALL
  SELECT format('type %s (typtype %s)', t.typname, t.typtype)
    FROM pg_type t
   WHERE t.typnamespace = 'public'::regnamespace AND t.typtype NOT IN ('e', 'b', 'c', 'm')
     AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
  UNION ALL
  SELECT format('%s on %s', kind, relname) FROM (
    SELECT 'policy' AS kind, c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
    UNION ALL
    SELECT 'rule', c.relname FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
     WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'extended statistics', c.relname FROM pg_statistic_ext s JOIN pg_class c ON c.oid = s.stxrelid
  ) others`;

const extensionsSql = `
  SELECT format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I;', e.extname, n.nspname) AS line
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname <> 'plpgsql'
   ORDER BY e.extname COLLATE "C"`;

const typesSql = `
  SELECT format('CREATE TYPE %I AS ENUM (%s);', t.typname,
                (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                   FROM pg_enum e WHERE e.enumtypid = t.oid)) AS line
    FROM pg_type t
   WHERE t.typnamespace = 'public'::regnamespace AND t.typtype = 'e'
   ORDER BY t.typname COLLATE "C"`;

/** Tables and their columns, in the order the migrations made them; each column as CREATE TABLE spells it. */
const columnsSql = `
  SELECT quote_ident(c.relname) AS table, c.reloptions AS options,
         concat_ws(' ', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attcollation <> ty.typcollation THEN 'COLLATE ' || quote_ident(co.collname) END,
                   CASE WHEN a.attgenerated = '' AND d.adbin IS NOT NULL
                        THEN 'DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) END,
                   CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                   CASE a.attidentity
                        WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY'
                        WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END
                     || CASE WHEN a.attidentity <> ''
                             THEN format(' (SEQUENCE NAME %s)', pg_get_serial_sequence(c.oid::regclass::text, a.attname)) END,
                   CASE a.attgenerated
                        WHEN 's' THEN format('GENERATED ALWAYS AS (%s) STORED', pg_get_expr(d.adbin, d.adrelid))
                        WHEN 'v' THEN format('GENERATED ALWAYS AS (%s) VIRTUAL', pg_get_expr(d.adbin, d.adrelid)) END
         ) AS line
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type ty ON ty.oid = a.atttypid
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname <> ALL(?)
   ORDER BY c.relname COLLATE "C", a.attnum`;

/**
 * Constraints, by table: primary key, unique, exclusion, check, then foreign keys, each kind by name. NOT NULL
 * is printed on its column (PostgreSQL 18 also lists it here, as kind 'n'); constraint triggers with the
 * triggers.
 */
const constraintsSql = `
  SELECT quote_ident(c.relname) AS table, con.contype AS kind,
         format('CONSTRAINT %I %s', con.conname, pg_get_constraintdef(con.oid)) AS line
    FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
   WHERE c.relnamespace = 'public'::regnamespace AND con.contype IN ('p', 'u', 'x', 'c', 'f')
     AND c.relname <> ALL(?)
   ORDER BY c.relname COLLATE "C", position(con.contype IN 'puxcf'), con.conname COLLATE "C"`;

/** Indexes of their own: those behind a primary key, unique or exclusion constraint come with the constraint. */
const indexesSql = `
  SELECT pg_get_indexdef(i.indexrelid) || ';' AS line
    FROM pg_index i
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_class ic ON ic.oid = i.indexrelid
   WHERE t.relnamespace = 'public'::regnamespace AND t.relname <> ALL(?)
     AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                      WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))
   ORDER BY t.relname COLLATE "C", ic.relname COLLATE "C"`;

interface Line {
  line: string;
}

/**
 * The schema a freshly migrated database holds, in an order that loads into an empty database: extensions,
 * types, tables with their columns and constraints, foreign keys, indexes, functions, triggers.
 */
export async function schemaDump(db: Knex): Promise<string> {
  return withCatalog(db, async (query) => {
    const unprinted = await query<{ object: string }>(unprintedSql);
    if (unprinted.length > 0) {
      throw new Error(
        `The schema dump prints none of: ${unprinted.map((row) => row.object).join(', ')}. Teach scripts/current-sql.ts to.`,
      );
    }
    const lines = async (sql: string, bindings?: readonly Knex.RawBinding[]) =>
      (await query<Line>(sql, bindings)).map((row) => row.line);
    const columns = await query<{ table: string; options: string[] | null; line: string }>(columnsSql, [
      knexTables,
    ]);
    const constraints = await query<{ table: string; kind: string; line: string }>(constraintsSql, [
      knexTables,
    ]);
    const tables = [...new Set(columns.map((column) => column.table))].map((table) => {
      const body = [
        ...columns.filter((column) => column.table === table),
        ...constraints.filter((constraint) => constraint.table === table && constraint.kind !== 'f'),
      ].map((row) => `    ${row.line}`);
      const options = columns.find((column) => column.table === table)?.options;
      return `CREATE TABLE ${table} (\n${body.join(',\n')}\n)${options ? ` WITH (${options.join(', ')})` : ''};\n`;
    });
    const foreignKeys = constraints
      .filter((constraint) => constraint.kind === 'f')
      .map((constraint) => `ALTER TABLE ONLY ${constraint.table} ADD ${constraint.line};`);
    const { functions, triggers } = await functionsAndTriggers(query);
    const sections = [
      [
        '-- The schema a freshly migrated database holds: written by `npm run db:snapshot` from its catalog, never by',
        "-- hand; CI fails when the migrations make anything else. knex's own tables are left out.",
      ],
      await lines(extensionsSql),
      await lines(typesSql),
      tables,
      foreignKeys,
      await lines(indexesSql, [knexTables]),
      functions.map((row) => statement(row.definition)),
      triggers.map((row) => statement(row.definition).trimEnd()),
    ];
    return `${sections
      .filter((section) => section.length > 0)
      .map((section) => section.join('\n').trimEnd())
      .join('\n\n')}\n`;
  });
}
