import type { StandardSchemaV1 } from "@standard-schema/spec";
import { KvValidationError, type ValidationIssue } from "./errors.ts";

/** Any Standard Schema validator: zod, valibot, arktype, effect... */
export type Schema<Output = unknown> = StandardSchemaV1<unknown, Output>;
/** The type a schema produces. */
export type Infer<S> = S extends StandardSchemaV1<unknown, infer O> ? O : never;

function pathOf(issue: StandardSchemaV1.Issue): string {
  if (!issue.path) return "";
  return issue.path
    .map((p) => (typeof p === "object" && p !== null ? p.key : p))
    .map(String)
    .join(".");
}

/**
 * Turns a schema's issues into plain, printable ones.
 * @example toIssues([{ message: "too big", path: [{ key: "percent" }] }]) // [{ message: "too big", path: "percent" }]
 */
export function toIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): ValidationIssue[] {
  return issues.map((i) => ({ message: i.message, path: pathOf(i) }));
}

/**
 * Validates `value` with any Standard Schema, sync or async.
 * @example
 * const cfg = await validate(RolloutSchema, json, { key: "rollout", phase: "read", target: "value" });
 */
export async function validate<T>(
  schema: Schema<T>,
  value: unknown,
  where: { key: string; phase: "read" | "write"; target: "value" | "metadata" },
): Promise<T> {
  let result = schema["~standard"].validate(value);
  if (result instanceof Promise) result = await result;
  if (result.issues) throw new KvValidationError(where.key, where.phase, where.target, toIssues(result.issues));
  return result.value;
}
