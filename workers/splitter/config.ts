/**
 * The rollout config: one JSON document in ROLLOUT_KV, validated by this
 * schema in the Worker (on every KV read) and in the CLI (before every write).
 * Runtime-neutral on purpose: the CLI imports it under Node.
 */
import {
  array,
  boolean,
  check,
  getDotPath,
  integer,
  maxLength,
  maxValue,
  minLength,
  minValue,
  number,
  optional,
  picklist,
  pipe,
  regex,
  safeParse,
  strictObject,
  string,
  type InferInput,
  type InferOutput,
} from "valibot";
import { MAX_GLOB_LENGTH } from "../../shared/http/glob.ts";

/** KV key of the one config document. */
export const CONFIG_KEY = "rollout/config";
/** KV prefix of history entries, `rollout/history/<version zero-padded to 10>`. */
export const HISTORY_PREFIX = "rollout/history/";
/** History entries kept; older ones are deleted by the CLI after each write. */
export const HISTORY_LIMIT = 50;
export const MAX_RULES = 50;
export const MAX_STEPS = 50;
export const DEFAULT_COOKIE = "edgekv_id";
export const DEFAULT_OVERRIDE_COOKIE = "edgekv_override";
export const DEFAULT_OVERRIDE_HEADER = "x-edgekv-override";
/** 30 days. */
export const DEFAULT_COOKIE_MAX_AGE = 2_592_000;
export const DEFAULT_TIMEOUT_MS = 10_000;

export const COLORS = ["blue", "green"] as const;
export type Color = (typeof COLORS)[number];

/** The colour that is not `c`. */
export const otherColor = (c: Color): Color => (c === "blue" ? "green" : "blue");

const Color = picklist(COLORS, 'must be "blue" or "green"');

/** 0..100 with at most two decimals, so percent * 100 is a whole number of buckets. */
const Percent = pipe(
  number("must be a number"),
  minValue(0, "must be at least 0"),
  maxValue(100, "must be at most 100"),
  check((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, "must have at most two decimals"),
);

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && !u.search && !u.hash && !u.username && !u.password;
  } catch {
    return false;
  }
}
const OriginUrl = pipe(string("must be a string"), check(isHttpUrl, "must be an absolute http(s) URL without query, fragment or credentials"));

// RFC 9110 token characters: valid for header and cookie names alike.
const Token = pipe(string("must be a string"), regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, "must be a header/cookie name token (1..64 chars)"));

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/;
const Time = pipe(
  string("must be a string"),
  check((s) => ISO_TIME.test(s) && !Number.isNaN(Date.parse(s)), "must be an ISO 8601 time with a zone, e.g. 2026-11-20T10:00:00Z"),
);

const Step = strictObject({ at: Time, percent: Percent });

const Match = pipe(
  strictObject({
    path: optional(pipe(string(), minLength(1), maxLength(MAX_GLOB_LENGTH), regex(/^[/*]/, "must start with / or *"))),
    method: optional(pipe(array(pipe(string(), regex(/^[A-Z]{1,16}$/, "must be an upper-case method"))), minLength(1))),
    header: optional(strictObject({ name: Token, value: optional(pipe(string(), maxLength(1024))) })),
    cookie: optional(strictObject({ name: Token, value: optional(pipe(string(), maxLength(1024))) })),
    country: optional(pipe(array(pipe(string(), regex(/^[A-Z0-9]{2}$/, "must be a 2-letter country code"))), minLength(1))),
    colo: optional(pipe(array(pipe(string(), regex(/^[A-Z]{3}$/, "must be a 3-letter colo code"))), minLength(1))),
  }),
  check((m) => Object.keys(m).length > 0, "needs at least one condition"),
);

const Rule = pipe(
  strictObject({
    name: optional(pipe(string(), maxLength(64))),
    match: Match,
    to: optional(Color),
    percent: optional(Percent),
  }),
  check((r) => (r.to === undefined) !== (r.percent === undefined), "needs exactly one of to or percent"),
);

const Sticky = pipe(
  strictObject({
    by: optional(picklist(["cookie", "header", "ip"], 'must be "cookie", "header" or "ip"'), "cookie"),
    cookie: optional(Token, DEFAULT_COOKIE),
    header: optional(Token),
    maxAgeSeconds: optional(pipe(number(), integer("must be a whole number"), minValue(60), maxValue(34_560_000)), DEFAULT_COOKIE_MAX_AGE),
  }),
  check((s) => s.by !== "header" || s.header !== undefined, 'sticky.header is required when sticky.by is "header"'),
);

const Overrides = strictObject({
  cookie: optional(Token, DEFAULT_OVERRIDE_COOKIE),
  header: optional(Token, DEFAULT_OVERRIDE_HEADER),
});

/**
 * The schema (valibot, also a Standard Schema for `KvStore`).
 * @example
 * const r = safeParse(RolloutConfigSchema, { version: 1, live: "blue", percent: 10,
 *   origins: { blue: "https://blue.example.com", green: "https://green.example.com" } });
 */
export const RolloutConfigSchema = pipe(
  strictObject({
    version: pipe(number("must be a number"), integer("must be a whole number"), minValue(1, "must be at least 1")),
    live: Color,
    origins: strictObject({ blue: OriginUrl, green: OriginUrl }),
    percent: Percent,
    salt: optional(pipe(string(), minLength(1), maxLength(64)), "edgekv"),
    sticky: optional(Sticky, { by: "cookie", cookie: DEFAULT_COOKIE, maxAgeSeconds: DEFAULT_COOKIE_MAX_AGE }),
    schedule: optional(
      pipe(
        array(Step),
        maxLength(MAX_STEPS, `must have at most ${MAX_STEPS} steps`),
        check((s) => s.every((x, i) => i === 0 || Date.parse(x.at) > Date.parse(s[i - 1]!.at)), "steps must be in strictly increasing time order"),
      ),
    ),
    rules: optional(pipe(array(Rule), maxLength(MAX_RULES, `must have at most ${MAX_RULES} rules`))),
    overrides: optional(Overrides, { cookie: DEFAULT_OVERRIDE_COOKIE, header: DEFAULT_OVERRIDE_HEADER }),
    failover: optional(boolean("must be true or false"), false),
    timeoutMs: optional(pipe(number(), integer("must be a whole number"), minValue(100), maxValue(120_000)), DEFAULT_TIMEOUT_MS),
    updatedAt: optional(string()),
    updatedBy: optional(pipe(string(), maxLength(128))),
  }),
  check((c) => c.origins.blue !== c.origins.green, "origins.blue and origins.green must differ"),
);

export type RolloutConfig = InferOutput<typeof RolloutConfigSchema>;
export type RolloutConfigInput = InferInput<typeof RolloutConfigSchema>;
export type Rule = NonNullable<RolloutConfig["rules"]>[number];
export type Step = NonNullable<RolloutConfig["schedule"]>[number];

export type ParseResult = { ok: true; config: RolloutConfig } | { ok: false; issues: string[] };

/**
 * Validates a config; every issue names its field.
 * @example parseConfig({ ...cfg, percent: 150 }) // { ok: false, issues: ["percent: must be at most 100"] }
 */
export function parseConfig(input: unknown): ParseResult {
  const r = safeParse(RolloutConfigSchema, input);
  if (r.success) return { ok: true, config: r.output };
  return { ok: false, issues: r.issues.map((i) => `${getDotPath(i) ?? "(config)"}: ${i.message}`) };
}
