import { listRateKeysInput, rateKeySchema, setRateKeyInput } from '../../schemas/rate-key';
import { pageOf } from '../../schemas/responses';
import { listRateKeys, setRateKey } from '../../queue/rate-limits';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('jobs');

export const rateKeysRouter = router({
  list: procedure
    .meta(
      route(
        'GET',
        '/rate-keys',
        'List the keys with a start rate or a rate-limit history: tokens, cool-down, breaker',
      ),
    )
    .input(listRateKeysInput)
    .output(pageOf(rateKeySchema))
    .query(({ input, ctx }) => listRateKeys(ctx.db, input)),
  set: procedure
    .meta(
      route(
        'PUT',
        '/rate-keys/{key}',
        "Set how many of a key's jobs may start per interval across all workers, and its breaker's threshold and cool-down",
      ),
    )
    .input(setRateKeyInput)
    .output(rateKeySchema)
    .mutation(({ input, ctx }) => setRateKey(ctx.db, input)),
});
