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

// valibot's /* @__PURE__ */ pipe() is not marked side-effect free: the annotations let a Worker bundle
// that does not use these schemas drop them (and valibot).

/** The colour that is not `c`. */
export const otherColor = (c: Color): Color => (c === "blue" ? "green" : "blue");

const Color = /* @__PURE__ */ picklist(COLORS, 'must be "blue" or "green"');

/** 0..100 with at most two decimals, so percent * 100 is a whole number of buckets. */
const Percent = /* @__PURE__ */ pipe(
  /* @__PURE__ */ number("must be a number"),
  /* @__PURE__ */ minValue(0, "must be at least 0"),
  /* @__PURE__ */ maxValue(100, "must be at most 100"),
  /* @__PURE__ */ check((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, "must have at most two decimals"),
);

/** An absolute http(s) URL without query, fragment or credentials. */
export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && !u.search && !u.hash && !u.username && !u.password;
  } catch {
    return false;
  }
}
const OriginUrl = /* @__PURE__ */ pipe(
  /* @__PURE__ */ string("must be a string"),
  /* @__PURE__ */ check(isHttpUrl, "must be an absolute http(s) URL without query, fragment or credentials"),
);

/** RFC 9110 token characters: valid for header and cookie names alike. */
export const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const Token = /* @__PURE__ */ pipe(
  /* @__PURE__ */ string("must be a string"),
  /* @__PURE__ */ regex(TOKEN_RE, "must be a header/cookie name token (1..64 chars)"),
);

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/;
/** An ISO 8601 time with a zone that Date.parse understands. */
export const isTime = (s: string): boolean => ISO_TIME.test(s) && !Number.isNaN(Date.parse(s));
/** 0..100 with at most two decimals. */
export const isPercent = (n: number): boolean => n >= 0 && n <= 100 && Math.abs(n * 100 - Math.round(n * 100)) < 1e-6;
/** Schedule steps in strictly increasing time order. */
export const isIncreasing = (s: readonly { at: string }[]): boolean => s.every((x, i) => i === 0 || Date.parse(x.at) > Date.parse(s[i - 1]!.at));
const Time = /* @__PURE__ */ pipe(
  /* @__PURE__ */ string("must be a string"),
  /* @__PURE__ */ check(isTime, "must be an ISO 8601 time with a zone, e.g. 2026-11-20T10:00:00Z"),
);

const Step = /* @__PURE__ */ strictObject({ at: Time, percent: Percent });

const Match = /* @__PURE__ */ pipe(
  /* @__PURE__ */ strictObject({
    path: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(
        /* @__PURE__ */ string(),
        /* @__PURE__ */ minLength(1),
        /* @__PURE__ */ maxLength(MAX_GLOB_LENGTH),
        /* @__PURE__ */ regex(/^[/*]/, "must start with / or *"),
      ),
    ),
    method: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(
        /* @__PURE__ */ array(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ regex(/^[A-Z]{1,16}$/, "must be an upper-case method"))),
        /* @__PURE__ */ minLength(1),
      ),
    ),
    header: /* @__PURE__ */ optional(
      /* @__PURE__ */ strictObject({
        name: Token,
        value: /* @__PURE__ */ optional(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ maxLength(1024))),
      }),
    ),
    cookie: /* @__PURE__ */ optional(
      /* @__PURE__ */ strictObject({
        name: Token,
        value: /* @__PURE__ */ optional(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ maxLength(1024))),
      }),
    ),
    country: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(
        /* @__PURE__ */ array(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ regex(/^[A-Z0-9]{2}$/, "must be a 2-letter country code"))),
        /* @__PURE__ */ minLength(1),
      ),
    ),
    colo: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(
        /* @__PURE__ */ array(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ regex(/^[A-Z]{3}$/, "must be a 3-letter colo code"))),
        /* @__PURE__ */ minLength(1),
      ),
    ),
  }),
  /* @__PURE__ */ check((m) => Object.keys(m).length > 0, "needs at least one condition"),
);

const Rule = /* @__PURE__ */ pipe(
  /* @__PURE__ */ strictObject({
    name: /* @__PURE__ */ optional(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ maxLength(64))),
    match: Match,
    to: /* @__PURE__ */ optional(Color),
    percent: /* @__PURE__ */ optional(Percent),
  }),
  /* @__PURE__ */ check((r) => (r.to === undefined) !== (r.percent === undefined), "needs exactly one of to or percent"),
);

const Sticky = /* @__PURE__ */ pipe(
  /* @__PURE__ */ strictObject({
    by: /* @__PURE__ */ optional(/* @__PURE__ */ picklist(["cookie", "header", "ip"], 'must be "cookie", "header" or "ip"'), "cookie"),
    cookie: /* @__PURE__ */ optional(Token, DEFAULT_COOKIE),
    header: /* @__PURE__ */ optional(Token),
    maxAgeSeconds: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(
        /* @__PURE__ */ number(),
        /* @__PURE__ */ integer("must be a whole number"),
        /* @__PURE__ */ minValue(60),
        /* @__PURE__ */ maxValue(34_560_000),
      ),
      DEFAULT_COOKIE_MAX_AGE,
    ),
  }),
  /* @__PURE__ */ check((s) => s.by !== "header" || s.header !== undefined, 'sticky.header is required when sticky.by is "header"'),
);

const Overrides = /* @__PURE__ */ strictObject({
  cookie: /* @__PURE__ */ optional(Token, DEFAULT_OVERRIDE_COOKIE),
  header: /* @__PURE__ */ optional(Token, DEFAULT_OVERRIDE_HEADER),
});

/**
 * The schema (valibot, also a Standard Schema for `KvStore`).
 * @example
 * const r = safeParse(RolloutConfigSchema, { version: 1, live: "blue", percent: 10,
 *   origins: { blue: "https://blue.example.com", green: "https://green.example.com" } });
 */
export const RolloutConfigSchema = /* @__PURE__ */ pipe(
  /* @__PURE__ */ strictObject({
    version: /* @__PURE__ */ pipe(
      /* @__PURE__ */ number("must be a number"),
      /* @__PURE__ */ integer("must be a whole number"),
      /* @__PURE__ */ minValue(1, "must be at least 1"),
    ),
    live: Color,
    origins: /* @__PURE__ */ strictObject({ blue: OriginUrl, green: OriginUrl }),
    percent: Percent,
    salt: /* @__PURE__ */ optional(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ minLength(1), /* @__PURE__ */ maxLength(64)), "edgekv"),
    sticky: /* @__PURE__ */ optional(Sticky, { by: "cookie", cookie: DEFAULT_COOKIE, maxAgeSeconds: DEFAULT_COOKIE_MAX_AGE }),
    schedule: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(
        /* @__PURE__ */ array(Step),
        /* @__PURE__ */ maxLength(MAX_STEPS, "must have at most 50 steps" /* MAX_STEPS; a literal, so the bundle can drop it */),
        /* @__PURE__ */ check((s) => isIncreasing(s), "steps must be in strictly increasing time order"),
      ),
    ),
    rules: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(/* @__PURE__ */ array(Rule), /* @__PURE__ */ maxLength(MAX_RULES, "must have at most 50 rules" /* MAX_RULES */)),
    ),
    overrides: /* @__PURE__ */ optional(Overrides, { cookie: DEFAULT_OVERRIDE_COOKIE, header: DEFAULT_OVERRIDE_HEADER }),
    failover: /* @__PURE__ */ optional(/* @__PURE__ */ boolean("must be true or false"), false),
    timeoutMs: /* @__PURE__ */ optional(
      /* @__PURE__ */ pipe(
        /* @__PURE__ */ number(),
        /* @__PURE__ */ integer("must be a whole number"),
        /* @__PURE__ */ minValue(100),
        /* @__PURE__ */ maxValue(120_000),
      ),
      DEFAULT_TIMEOUT_MS,
    ),
    updatedAt: /* @__PURE__ */ optional(/* @__PURE__ */ string()),
    updatedBy: /* @__PURE__ */ optional(/* @__PURE__ */ pipe(/* @__PURE__ */ string(), /* @__PURE__ */ maxLength(128))),
  }),
  /* @__PURE__ */ check((c) => c.origins.blue !== c.origins.green, "origins.blue and origins.green must differ"),
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
