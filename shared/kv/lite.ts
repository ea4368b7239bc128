/**
 * Tiny hand-rolled Standard Schema validators for Worker hot paths, where a
 * full validator library does not fit the bundle budget. Each Worker keeps its
 * full valibot schema for writes (the CLI) and property-tests its lite twin
 * against it, so the two accept and reject the same values.
 *
 * Semantics follow valibot's: `obj` strips unknown keys (`strict` refuses
 * them), `rec` skips `__proto__`/`prototype`/`constructor`, `opt` fills a
 * default (validated like a given value), `tup` keeps only its items.
 * Validation stops at the first issue.
 * @example
 * const Pointer = standard(obj({ v: lit(1), live: str, previous: arr(str) }));
 * new KvReader(env.SITE_KV, { codec: json(Pointer) });
 */
import type { Schema } from "./schema.ts";

/** Returns the (possibly defaulted) value, or throws an `Issue`. */
export type Lite<T> = (value: unknown) => T;
/** An optional field of `obj`: may be missing or undefined. */
export type Opt<T> = Lite<T | undefined> & { readonly opt: true };

/**
 * One problem, with the path to it (a Standard Schema issue).
 * @example standard(obj({ a: str }))["~standard"].validate({ a: 1 }) // { issues: [Issue { message: "expected string", path: ["a"] }] }
 */
export class Issue {
  readonly message: string;
  readonly path: PropertyKey[] = [];
  constructor(message: string) {
    this.message = message;
  }
}

/**
 * Throws an issue; `check` functions call it.
 * @example const port: Lite<number> = (v) => (Number.isInteger(v) ? (v as number) : fail("expected a port"));
 */
export function fail(message: string): never {
  throw new Issue(message);
}

function at<T>(key: PropertyKey, check: Lite<T>, value: unknown): T {
  try {
    return check(value);
  } catch (e) {
    if (e instanceof Issue) e.path.unshift(key);
    throw e;
  }
}

/**
 * Wraps a lite check as a Standard Schema (vendor "edgekv").
 * @example const r = standard(str)["~standard"].validate(1) // { issues: [{ message: "expected string", path: [] }] }
 */
export function standard<T>(check: Lite<T>): Schema<T> {
  return {
    "~standard": {
      version: 1,
      vendor: "edgekv",
      validate(value) {
        try {
          return { value: check(value) };
        } catch (e) {
          if (e instanceof Issue) return { issues: [e] };
          throw e;
        }
      },
    },
  };
}

const type =
  <T>(name: string): Lite<T> =>
  (v) =>
    // valibot's number() refuses NaN only.
    typeof v === name && !Number.isNaN(v) ? (v as T) : fail(`expected ${name}`);

/** Primitive checks, e.g. `obj({ name: str, weight: num, on: bool })`. */
export const str: Lite<string> = type("string");
export const num: Lite<number> = type("number");
export const bool: Lite<boolean> = type("boolean");

/**
 * `base`, then `ok` must hold.
 * @example const port = refine(num, (n) => Number.isInteger(n) && n > 0, "expected a port")
 */
export function refine<T>(base: Lite<T>, ok: (v: T) => boolean, message: string): Lite<T> {
  return (v) => {
    const out = base(v);
    return ok(out) ? out : fail(message);
  };
}

/**
 * A string matching `pattern`, of at most `max` characters (valibot's
 * `pipe(string(), maxLength(max), regex(pattern, message))`).
 * @example const user = match(/^[a-z]{1,8}$/, "user must be 1..8 of a-z")
 */
export const match = (pattern: RegExp, message = `must match ${pattern}`, max = Infinity): Lite<string> =>
  refine(str, (s) => s.length <= max && pattern.test(s), message);

/**
 * An integer in [min, max].
 * @example obj({ percent: int(0, 100) })
 */
export const int = (min = -Infinity, max = Infinity): Lite<number> =>
  refine(num, (n) => Number.isInteger(n) && n >= min && n <= max, `expected an integer in ${min}..${max}`);

/** Exactly `value`. */
export const lit =
  <const T>(value: T): Lite<T> =>
  (v) =>
    v === value ? value : fail(`expected ${String(value)}`);

/** One of `values`. */
export const pick =
  <const T>(values: readonly T[]): Lite<T> =>
  (v) =>
    values.includes(v as T) ? (v as T) : fail(`expected one of ${values.join(", ")}`);

/**
 * Optional; a missing value becomes `fallback` (checked like a given one).
 * @example obj({ ttl: opt(num, 3600), label: opt(str) }) // { ttl: 3600 } when ttl is missing
 */
export function opt<T>(check: Lite<T>): Opt<T>;
export function opt<T>(check: Lite<T>, fallback: unknown): Lite<T> & { readonly opt: true };
export function opt<T>(check: Lite<T>, fallback?: unknown): Opt<T> {
  const f = ((v: unknown) => (v === undefined ? (fallback === undefined ? undefined : check(fallback)) : check(v))) as Opt<T>;
  (f as { opt: boolean }).opt = true;
  return f;
}

type Shape = Record<string, Lite<unknown>>;
type Out<S extends Shape> = {
  [K in keyof S as S[K] extends { opt: true } ? never : K]: ReturnType<S[K]>;
} & {
  [K in keyof S as S[K] extends { opt: true } ? K : never]?: ReturnType<S[K]>;
} extends infer O
  ? { [K in keyof O]: O[K] }
  : never;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object";

/**
 * An object with these fields; unknown keys are dropped, or refused when `strict`.
 * @example obj({ h: str, s: int(0), i: opt(lit(1)) })
 */
export function obj<S extends Shape>(shape: S, strict?: boolean): Lite<Out<S>> {
  return (v) => {
    if (!isObj(v)) fail("expected object");
    const out: Record<string, unknown> = {};
    for (const k in shape) {
      const r = at(k, shape[k]!, v[k]);
      if (r !== undefined || k in v) out[k] = r;
    }
    if (strict) for (const k in v) if (!Object.hasOwn(shape, k)) at(k, () => fail("unknown key"), 0);
    return out as Out<S>;
  };
}

/** An array of `item`. */
export const arr =
  <T>(item: Lite<T>): Lite<T[]> =>
  (v) =>
    Array.isArray(v) ? v.map((x, i) => at(i, item, x)) : fail("expected array");

/** A string-keyed record of `item`. */
export const rec =
  <T>(item: Lite<T>): Lite<Record<string, T>> =>
  (v) => {
    if (!isObj(v)) fail("expected object");
    const out: Record<string, T> = {};
    for (const k in v) if (Object.hasOwn(v, k) && k !== "__proto__" && k !== "prototype" && k !== "constructor") out[k] = at(k, item, v[k]);
    return out;
  };

/** A tuple; extra items are dropped. */
export const tup =
  <const T extends readonly Lite<unknown>[]>(items: T): Lite<{ -readonly [I in keyof T]: ReturnType<T[I]> }> =>
  (v) =>
    Array.isArray(v) ? (items.map((f, i) => at(i, f, v[i])) as never) : fail("expected array");
