import { describe, expectTypeOf, it } from 'vitest';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../src/client';

type Outputs = inferRouterOutputs<AppRouter>;
type Inputs = inferRouterInputs<AppRouter>;

describe('the API’s type contract', () => {
  it('returns channels with typed enums and dates', () => {
    expectTypeOf<Outputs['channels']['get']['status']>().toEqualTypeOf<'active' | 'paused' | 'inactive'>();
    expectTypeOf<Outputs['channels']['get']['createdAt']>().toEqualTypeOf<Date>();
    expectTypeOf<Outputs['channels']['get']['subscriberCount']>().toEqualTypeOf<number | null>();
  });

  it('returns pages of videos with optional relations', () => {
    type Page = Outputs['videos']['list'];
    expectTypeOf<Page['nextCursor']>().toEqualTypeOf<string | null>();
    expectTypeOf<Page['items'][number]['channel']>().toEqualTypeOf<Outputs['channels']['get'] | undefined>();
    expectTypeOf<Page['items'][number]['tags']>().toEqualTypeOf<string[]>();
  });

  it('returns upsert counts and claimed jobs with lease tokens', () => {
    expectTypeOf<Outputs['videos']['upsertMany']>().toEqualTypeOf<{
      inserted: number;
      updated: number;
      skipped: string[];
    }>();
    expectTypeOf<Outputs['jobs']['claim'][number]['leaseToken']>().toEqualTypeOf<string>();
    expectTypeOf<Outputs['jobs']['get']>().not.toHaveProperty('leaseToken');
    expectTypeOf<Outputs['jobs']['heartbeat']>().not.toHaveProperty('leaseToken');
  });

  it('accepts only the statuses the schema lists', () => {
    expectTypeOf<Inputs['videos']['list']['status']>().toEqualTypeOf<
      'discovered' | 'queued' | 'processing' | 'completed' | 'failed' | undefined
    >();
  });
});
