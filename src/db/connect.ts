import knex, { type Knex } from 'knex';
import type { Config } from '../config';
import { knexConfig } from './knex-config';

type PoolSettings = Pick<Config, 'DATABASE_POOL_SIZE' | 'DATABASE_CONNECT_TIMEOUT_MS' | 'DEBUG'>;

/** Opens a connection pool. Nothing is bound globally: whoever opens it passes it on (see `buildApp`). */
export function connect(url: string, settings: PoolSettings): Knex {
  return knex(knexConfig(url, settings));
}
