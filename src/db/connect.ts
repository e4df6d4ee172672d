import knex, { type Knex } from 'knex';
import { Model } from 'objection';
import type { Config } from '../config';
import { knexConfig } from './knex-config';

type PoolSettings = Pick<Config, 'DATABASE_POOL_SIZE' | 'DATABASE_CONNECT_TIMEOUT_MS' | 'DEBUG'>;

/** Opens the connection pool and binds every Objection model to it. */
export function connect(url: string, settings: PoolSettings): Knex {
  const db = knex(knexConfig(url, settings));
  Model.knex(db);
  return db;
}
