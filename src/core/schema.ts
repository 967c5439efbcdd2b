import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ValidationError, type ValidationIssue } from './errors.ts';

export type { StandardSchemaV1 };

function pathOf(issue: StandardSchemaV1.Issue): (string | number)[] {
  return (issue.path ?? []).map((seg) => {
    const key = typeof seg === 'object' ? seg.key : seg;
    return typeof key === 'number' ? key : String(key);
  });
}

function describe(issues: readonly ValidationIssue[]): string {
  return issues
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * Validates `value` with any Standard Schema validator (zod, valibot, arktype, …).
 * Returns the parsed value or throws a ValidationError that names the offending fields.
 */
export async function validate<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  what: string,
): Promise<StandardSchemaV1.InferOutput<S>> {
  let result = schema['~standard'].validate(value);
  if (result instanceof Promise) result = await result;
  if (result.issues) {
    const issues = result.issues.map((i) => ({ message: i.message, path: pathOf(i) }));
    throw new ValidationError(`${what} is invalid: ${describe(issues)}`, issues);
  }
  return result.value;
}
