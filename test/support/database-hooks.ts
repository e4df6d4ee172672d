import { afterAll, beforeAll } from 'vitest';
import { closeTestDatabase, openTestDatabase } from './database';

// A setup file: registered before any test file's own hooks, so those can already use the database. The state
// lives in `database.ts`, which test files import too, so it is shared even when modules are cached across files.
beforeAll(openTestDatabase);
afterAll(closeTestDatabase);
