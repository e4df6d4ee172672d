import { z } from 'zod';
import { budgetSchema, setBudgetInput } from '../../schemas/budget';
import { listBudgets, setBudget } from '../../queue/budgets';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('jobs');

export const budgetsRouter = router({
  list: procedure
    .meta(
      route(
        'GET',
        '/budgets',
        'List quota budgets: units used and left in the current window, and when it resets',
      ),
    )
    .input(z.strictObject({}).optional())
    .output(z.array(budgetSchema))
    .query(({ ctx }) => listBudgets(ctx.db)),
  set: procedure
    .meta(
      route(
        'PUT',
        '/budgets/{name}',
        'Create a budget or set its capacity and window (a calendar day in a time zone, or rolling seconds)',
      ),
    )
    .input(setBudgetInput)
    .output(budgetSchema)
    .mutation(({ input, ctx }) => setBudget(ctx.db, input)),
});
