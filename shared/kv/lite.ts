/**
 * Tiny hand-rolled Standard Schema validators: edgekv's one validator for
 * every KV document (each defined once, in its Worker's model.ts, and used by
 * the Worker and the CLI alike). A few hundred bytes where valibot costs
 * KiBs of a Worker's bundle; messages name the rule broken ("must be at most
 * 100"), and `toIssues` (schema.ts) prefixes the field path.
 *
 * Semantics follow valibot's: `obj` strips unknown keys (`strict` refuses
 * them), `rec` skips `__proto__`/`prototype`/`constructor`, `opt` fills a
 * default (validated like a given value), `tup` keeps only its items.
 * Objects, arrays and records report every field that fails (as valibot
 * does); a field's own checks stop at its first failure.
 * @example
 * const Pointer = standard(obj({ v: lit(1), live: str, previous: arr(str) }));
 * new KvReader(env.SITE_KV, { codec: json(Pointer) });
 */
import type { Schema } from "./schema.ts";

/** Returns the (possibly defaulted) value, or throws `Issues`. */
export type Lite<T> = (value: unknown) => T;
/** An optional field of `obj`: may be missing or undefined. */
export type Opt<T> = Lite<T | undefined> & { readonly opt: true };

/**
 * One problem, with the path to it (a Standard Schema issue).
 * @example standard(obj({ a: str }))["~standard"].validate({ a: 1 }) // { issues: [{ message: "expected string", path: ["a"] }] }
 */
export interface Issue {
  readonly message: string;
  readonly path: PropertyKey[];
}

/** What a check throws: every issue found (one for a leaf check; all of its items' for a container). */
export class Issues extends Array<Issue> {}

/**
 * Throws an issue; `check` functions call it.
 * @example const port: Lite<number> = (v) => (Number.isInteger(v) ? (v as number) : fail("expected a port"));
 */
export function fail(message: string): never {
  // A plain object, not a class: no constructor in every bundle.
  throw Issues.of({ message, path: [] });
}

/** Checks one item of a container; its issues, with `key` prefixed to their paths, go to `found`. */
function at<T>(key: PropertyKey, check: Lite<T>, value: unknown, found: Issues): T {
  try {
    return check(value);
  } catch (e) {
    if (!(e instanceof Issues)) throw e;
    // One push per issue: spreading a huge list into push() overflows the stack (a RangeError, not Issues).
    for (const i of e) {
      i.path.unshift(key);
      found.push(i);
    }
    return undefined as T;
  }
}

/** A container's result: `out`, unless an item failed. */
function done<T>(out: T, found: Issues): T {
  if (found.length) throw found;
  return out;
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
          if (e instanceof Issues) return { issues: [...e] };
          throw e;
        }
      },
    },
  };
}

/**
 * A value of `typeof` `name` (NaN is not a number), with its own message.
 * @example const n = kind<number>("number", "must be a number")
 */
export const kind =
  <T>(name: string, message = `expected ${name}`): Lite<T> =>
  (v) =>
    typeof v === name && !Number.isNaN(v) ? (v as T) : fail(message);

/** Primitive checks, e.g. `obj({ name: str, weight: num, on: bool })`. */
// Pure: a bundle that does not use one drops it.
export const str: Lite<string> = /* @__PURE__ */ kind("string");
export const num: Lite<number> = /* @__PURE__ */ kind("number");
export const bool: Lite<boolean> = /* @__PURE__ */ kind("boolean");

/**
 * `base`, then `ok` must hold.
 * @example const port = refine(num, (n) => Number.isInteger(n) && n > 0, "expected a port")
 */
export function refine<T>(base: Lite<T>, ok: (v: T) => boolean, message: string): Lite<T> {
  return all(base, [ok, message]);
}

/**
 * `base`, then each `[ok, message]` in turn: the first that fails names the rule.
 * @example const percent = all(num, [(n) => n >= 0, "must be at least 0"], [(n) => n <= 100, "must be at most 100"])
 */
export function all<T>(base: Lite<T>, ...checks: [ok: (v: T) => boolean, message: string][]): Lite<T> {
  return (v) => {
    const out = base(v);
    for (const [ok, message] of checks) if (!ok(out)) fail(message);
    return out;
  };
}

/**
 * A string matching `pattern`, of at most `max` characters (valibot's
 * `pipe(string(), maxLength(max), regex(pattern, message))`).
 * @example const user = match(/^[a-z]{1,8}$/, "user must be 1..8 of a-z")
 */
export const match = (pattern: RegExp, message = `must match ${pattern}`, max = Infinity): Lite<string> =>
  all(str, [(s) => s.length <= max, `must be at most ${max} characters`], [(s) => pattern.test(s), message]);

/**
 * An integer in [min, max]; each bound broken is named ("must be at least 1").
 * @example obj({ percent: int(0, 100) })
 */
export const int = (min = -Infinity, max = Infinity): Lite<number> =>
  all(num, [Number.isInteger, "must be a whole number"], [(n) => n >= min, `must be at least ${min}`], [(n) => n <= max, `must be at most ${max}`]);

/** Exactly `value`. */
export const lit =
  <const T>(value: T): Lite<T> =>
  (v) =>
    v === value ? value : fail(`expected ${String(value)}`);

/** One of `values`. */
export const pick =
  <const T>(values: readonly T[], message = `expected one of ${values.join(", ")}`): Lite<T> =>
  (v) =>
    values.includes(v as T) ? (v as T) : fail(message);

/**
 * Optional; a missing value becomes `fallback` (checked like a given one), so
 * with a fallback the output type has the key (use `Input` for what may be written).
 * @example obj({ ttl: opt(num, 3600), label: opt(str) }) // { ttl: 3600 } when ttl is missing
 */
export function opt<T>(check: Lite<T>): Opt<T>;
export function opt<T>(check: Lite<T>, fallback: unknown): Lite<T> & { readonly dflt: true };
export function opt<T>(check: Lite<T>, fallback?: unknown): Lite<T | undefined> {
  // `opt` is a type-level mark only (obj's output type): nothing reads it at run time.
  return (v: unknown) => (v === undefined ? (fallback === undefined ? undefined : check(fallback)) : check(v));
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
    const found = new Issues();
    for (const k in shape) {
      const r = at(k, shape[k]!, v[k], found);
      if (r !== undefined || k in v) out[k] = r;
    }
    if (strict) for (const k in v) if (!Object.hasOwn(shape, k)) at(k, () => fail("unknown key"), 0, found);
    return done(out as Out<S>, found);
  };
}

/** An array of `item`. */
export const arr =
  <T>(item: Lite<T>): Lite<T[]> =>
  (v) => {
    const found = new Issues();
    return Array.isArray(v)
      ? done(
          v.map((x, i) => at(i, item, x, found)),
          found,
        )
      : fail("expected array");
  };

/** A string-keyed record of `item`. */
export const rec =
  <T>(item: Lite<T>): Lite<Record<string, T>> =>
  (v) => {
    if (!isObj(v)) fail("expected object");
    const out: Record<string, T> = {};
    const found = new Issues();
    for (const k in v) if (Object.hasOwn(v, k) && k !== "__proto__" && k !== "prototype" && k !== "constructor") out[k] = at(k, item, v[k], found);
    return done(out, found);
  };

/** A tuple; extra items are dropped. */
export const tup =
  <const T extends readonly Lite<unknown>[]>(items: T): Lite<{ -readonly [I in keyof T]: ReturnType<T[I]> }> =>
  (v) => {
    const found = new Issues();
    return Array.isArray(v) ? done(items.map((f, i) => at(i, f, v[i], found)) as never, found) : fail("expected array");
  };
