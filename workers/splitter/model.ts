/**
 * The rollout config: one JSON document in ROLLOUT_KV, validated by this one
 * schema in the Worker (on every KV read) and in the CLI (before every write),
 * and the CLI's history entries. Built with shared/kv/lite.ts (no valibot in
 * the Worker's bundle); every message names the rule broken. Runtime-neutral
 * on purpose: the CLI imports it under Node.
 */
import { all, arr, kind, match, obj, opt, pick, refine, standard, str, type Lite } from "../../shared/kv/lite.ts";
import { toIssues, type Infer } from "../../shared/kv/schema.ts";
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

/** An absolute http(s) URL without query, fragment or credentials. */
export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && !u.search && !u.hash && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** RFC 9110 token characters: valid for header and cookie names alike. */
export const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/;
/** An ISO 8601 time with a zone that Date.parse understands. */
export const isTime = (s: string): boolean => ISO_TIME.test(s) && !Number.isNaN(Date.parse(s));
/** At most two decimals, so percent * 100 is a whole number of buckets. */
const twoDecimals = (n: number): boolean => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6;
/** 0..100 with at most two decimals. */
export const isPercent = (n: number): boolean => n >= 0 && n <= 100 && twoDecimals(n);
/** Schedule steps in strictly increasing time order. */
export const isIncreasing = (s: readonly { at: string }[]): boolean => s.every((x, i) => i === 0 || Date.parse(x.at) > Date.parse(s[i - 1]!.at));

const string = kind<string>("string", "must be a string");
const number = kind<number>("number", "must be a number");
/** A string of min..max characters. */
const text = (max: number, min = 0): Lite<string> =>
  all(str, [(s) => s.length >= min, `must be at least ${min} characters`], [(s) => s.length <= max, `must be at most ${max} characters`]);
/** A non-empty array of `item`. */
const some = <T>(item: Lite<T>): Lite<T[]> => refine(arr(item), (a) => a.length > 0, "must not be empty");
const whole = (min: number, max = Infinity): Lite<number> =>
  all(number, [Number.isInteger, "must be a whole number"], [(n) => n >= min, `must be at least ${min}`], [(n) => n <= max, `must be at most ${max}`]);

const color = pick(COLORS, 'must be "blue" or "green"');
const percent = all(number, [(n) => n >= 0, "must be at least 0"], [(n) => n <= 100, "must be at most 100"], [twoDecimals, "must have at most two decimals"]);
const originUrl = refine(string, isHttpUrl, "must be an absolute http(s) URL without query, fragment or credentials");
const token = all(string, [(s) => TOKEN_RE.test(s), "must be a header/cookie name token (1..64 chars)"]);
const time = refine(string, isTime, "must be an ISO 8601 time with a zone, e.g. 2026-11-20T10:00:00Z");
const pair = obj({ name: token, value: opt(text(1024)) }, true);

const step = obj({ at: time, percent }, true);

const ruleMatch = refine(
  obj(
    {
      path: opt(all(text(MAX_GLOB_LENGTH, 1), [(s) => /^[/*]/.test(s), "must start with / or *"])),
      method: opt(some(match(/^[A-Z]{1,16}$/, "must be an upper-case method"))),
      header: opt(pair),
      cookie: opt(pair),
      country: opt(some(match(/^[A-Z0-9]{2}$/, "must be a 2-letter country code"))),
      colo: opt(some(match(/^[A-Z]{3}$/, "must be a 3-letter colo code"))),
    },
    true,
  ),
  (m) => Object.keys(m).length > 0,
  "needs at least one condition",
);

const rule = refine(
  obj({ name: opt(text(64)), match: ruleMatch, to: opt(color), percent: opt(percent) }, true),
  (r) => (r.to === undefined) !== (r.percent === undefined),
  "needs exactly one of to or percent",
);

const sticky = refine(
  obj(
    {
      by: opt(pick(["cookie", "header", "ip"] as const, 'must be "cookie", "header" or "ip"'), "cookie"),
      cookie: opt(token, DEFAULT_COOKIE),
      header: opt(token),
      maxAgeSeconds: opt(whole(60, 34_560_000), DEFAULT_COOKIE_MAX_AGE),
    },
    true,
  ),
  (s) => s.by !== "header" || s.header !== undefined,
  'sticky.header is required when sticky.by is "header"',
);

const rolloutConfig = refine(
  obj(
    {
      version: whole(1),
      live: color,
      origins: obj({ blue: originUrl, green: originUrl }, true),
      percent,
      salt: opt(text(64, 1), "edgekv"),
      sticky: opt(sticky, {}),
      schedule: opt(
        all(
          arr(step),
          [(s) => s.length <= MAX_STEPS, `must have at most ${MAX_STEPS} steps`],
          [isIncreasing, "steps must be in strictly increasing time order"],
        ),
      ),
      rules: opt(refine(arr(rule), (r) => r.length <= MAX_RULES, `must have at most ${MAX_RULES} rules`)),
      overrides: opt(obj({ cookie: opt(token, DEFAULT_OVERRIDE_COOKIE), header: opt(token, DEFAULT_OVERRIDE_HEADER) }, true), {}),
      failover: opt(kind<boolean>("boolean", "must be true or false"), false),
      timeoutMs: opt(whole(100, 120_000), DEFAULT_TIMEOUT_MS),
      updatedAt: opt(str),
      updatedBy: opt(text(128)),
    },
    true,
  ),
  (c) => c.origins.blue !== c.origins.green,
  "origins.blue and origins.green must differ",
);
/**
 * The one schema of the rollout config (a Standard Schema, for `KvStore`/`KvReader`).
 * Optional fields with a default come out filled.
 * @example parseConfig({ version: 1, live: "blue", percent: 10,
 *   origins: { blue: "https://blue.example.com", green: "https://green.example.com" } }).ok // true
 */
export const RolloutConfigSchema = standard(rolloutConfig);

export type RolloutConfig = Infer<typeof RolloutConfigSchema>;
/** What may be written: the fields with a default may be left out. */
export type RolloutConfigInput = Omit<RolloutConfig, "salt" | "sticky" | "overrides" | "failover" | "timeoutMs"> & {
  salt?: string;
  sticky?: Partial<RolloutConfig["sticky"]>;
  overrides?: Partial<RolloutConfig["overrides"]>;
  failover?: boolean;
  timeoutMs?: number;
};
export type Rule = NonNullable<RolloutConfig["rules"]>[number];
export type Step = NonNullable<RolloutConfig["schedule"]>[number];

/** One audit-trail entry (written by the CLI): the config written as `version`, by whom, when, and what changed. */
export const HistoryEntrySchema = standard(
  obj({ version: whole(1), at: string, by: string, action: string, changes: arr(string), config: rolloutConfig }, true),
);
export type HistoryEntry = Infer<typeof HistoryEntrySchema>;

export type ParseResult = { ok: true; config: RolloutConfig } | { ok: false; issues: string[] };

/**
 * Validates a config; every issue names its field.
 * @example parseConfig({ ...cfg, percent: 150 }) // { ok: false, issues: ["percent: must be at most 100"] }
 */
export function parseConfig(input: unknown): ParseResult {
  const r = RolloutConfigSchema["~standard"].validate(input);
  if (r instanceof Promise) throw new TypeError("lite schemas are synchronous");
  if (!r.issues) return { ok: true, config: r.value };
  return { ok: false, issues: toIssues(r.issues).map((i) => `${i.path || "(config)"}: ${i.message}`) };
}
