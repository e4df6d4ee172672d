import { Validator, type ValidatorArgs } from 'objection';
import type { z } from 'zod';

type ObjectSchema = z.ZodObject;

interface ValidatedModelClass {
  writeSchema?: ObjectSchema;
  createValidationError: (args: { type: string; message: string; data: unknown }) => Error;
}

const partials = new WeakMap<ObjectSchema, ObjectSchema>();

/** The schema with every field optional, built once per schema rather than on every patch. */
function partialOf(schema: ObjectSchema): ObjectSchema {
  let partial = partials.get(schema);
  if (!partial) partials.set(schema, (partial = schema.partial()));
  return partial;
}

/**
 * Validates a model's writes with the zod schema the API uses (`static writeSchema`), so the field rules are
 * written once. Patches accept any subset of the fields; inserts need the required ones.
 */
export class ZodValidator extends Validator {
  override validate({ model, json, options }: ValidatorArgs): Record<string, unknown> {
    const modelClass = model.constructor as unknown as ValidatedModelClass;
    const schema = modelClass.writeSchema;
    if (!schema) return json;
    const result = (options.patch ? partialOf(schema) : schema).safeParse(json);
    if (result.success) return result.data;
    const data: Record<string, { message: string; keyword: string; params: object }[]> = {};
    for (const issue of result.error.issues) {
      const key = issue.path.join('.') || '(root)';
      (data[key] ??= []).push({ message: issue.message, keyword: issue.code, params: {} });
    }
    const message = result.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw modelClass.createValidationError({ type: 'ModelValidation', message, data });
  }
}
