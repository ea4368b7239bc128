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
/** KV prefix of history entries, `rollout/history/<version zero-padded to 10>-<write id>` (shared/rollout/write.ts historyKey). */
export const HISTORY_PREFIX = "rollout/history/";
/** KV key of what the cron last notified webhooks of (`NotifiedSchema`); written only when that changes. */
export const NOTIFIED_KEY = "rollout/notified";
/** History entries kept; older ones are deleted after each write (shared/rollout/write.ts). */
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

/**
 * An absolute http(s) URL without fragment or credentials (which would sit in
 * KV and logs), and without a query unless `query` (webhook receivers may route by one).
 */
export function isHttpUrl(s: string, query = false): boolean {
  const u = URL.parse(s);
  return !!u && (u.protocol === "http:" || u.protocol === "https:") && (query || !u.search) && !u.hash && !u.username && !u.password;
}
/** A webhook receiver (see isHttpUrl). */
export const isWebhookUrl = (s: string): boolean => s.length <= 2048 && isHttpUrl(s, true);

/**
 * A probe path: one `/`, then RFC 3986 path characters (no `\`, no `//`, no
 * `.`/`..` segment that would climb out of the origin's prefix), and an
 * optional query. Probes go only to the configured origin (shared/http/target.ts).
 */
export const isProbePath = (s: string): boolean =>
  s.length <= 256 && /^\/(?!\/)[\w\-.~!$&'()*+,;=:@%/]*(\?[\w\-.~!$&'()*+,;=:@%/?]*)?$/.test(s) && !/(^|\/)\.\.?(\/|\?|$)|%2e|%2f|%5c/i.test(s.split("?")[0]!);

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
/** The check "at most `n` <what>" on an array. */
const most = (n: number, what: string): [(a: { length: number }) => boolean, string] => [(a) => a.length <= n, `must have at most ${n} ${what}`];
const boolean = kind<boolean>("boolean", "must be true or false");
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

/** Probe rounds per tick times their worst duration must fit in a one-minute cron tick, with room for webhooks. */
export const MAX_GUARD_TICK_MS = 50_000;
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
export const DEFAULT_PROBE_INTERVAL_MS = 1_000;
export const MAX_PROBES = 3;
export const MAX_WEBHOOKS = 5;
/** Header names `mirror.stripHeaders` may list. */
export const MAX_MIRROR_STRIP = 32;

const probe = obj(
  {
    path: refine(string, isProbePath, "must be a path starting with one / (no //, \\ or dot segments), e.g. /health"),
    status: opt(all(some(whole(100, 599)), most(10, "statuses"))),
    timeoutMs: opt(whole(100, 10_000), DEFAULT_PROBE_TIMEOUT_MS),
  },
  true,
);
const guardAction = pick(["pause", "rollback"] as const, 'must be "pause" or "rollback"');
const threshold = refine(
  obj({ failures: whole(1, 10), of: opt(whole(1, 10)) }, true),
  (t) => t.of === undefined || t.of >= t.failures,
  "threshold.of must be at least threshold.failures",
);
/** Probe rounds one tick runs: `of`, or `failures` (consecutive) when `of` is absent. */
export const guardRounds = (t: { failures: number; of?: number | undefined }): number => t.of ?? t.failures;

/**
 * `guard.metrics`: judge green against blue on real traffic (Analytics Engine; docs/splitter.md
 * "Metrics"). Every field reaches the control Worker's SQL query only as a validated number or
 * the dataset name checked here (letters, digits, `_`), never as free text.
 */
export const DATASET_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const guardMetrics = obj(
  {
    dataset: opt(match(DATASET_RE, "must be a dataset name (letters, digits, _; 1..64)"), "edgekv_rollout"),
    windowMinutes: opt(whole(1, 60), 10),
    minRequests: opt(whole(50, 1_000_000), 200),
    /** Percentage points green's error rate may exceed blue's. */
    maxErrorDiff: opt(all(percent, [(n) => n <= 50, "must be at most 50"]), 1),
    /** The largest tolerated green p95 over blue p95. */
    maxLatencyRatio: opt(all(number, [(n) => n >= 1.05, "must be at least 1.05"], [(n) => n <= 100, "must be at most 100"]), 1.5),
  },
  true,
);

const guard = refine(
  obj(
    {
      probes: all(some(probe), most(MAX_PROBES, "probes")),
      threshold: opt(threshold, { failures: 3 }),
      action: guardAction,
      intervalMs: opt(whole(0, 10_000), DEFAULT_PROBE_INTERVAL_MS),
      metrics: opt(guardMetrics),
      /** Set by the cron when the guard trips; cleared by `edgekv rollout resume`. Absent: healthy. */
      trip: opt(obj({ at: time, reason: text(500, 1), action: guardAction }, true)),
    },
    true,
  ),
  (g) => guardRounds(g.threshold) * (Math.max(...g.probes.map((p) => p.timeoutMs)) + g.intervalMs) <= MAX_GUARD_TICK_MS,
  `threshold.of (else .failures) x (largest probe timeoutMs + intervalMs) must be at most ${MAX_GUARD_TICK_MS} ms (one cron tick)`,
);

const webhookUrl = refine(string, isWebhookUrl, "must be an absolute http(s) URL without credentials or fragment");

const rolloutConfig = refine(
  obj(
    {
      version: whole(1),
      live: color,
      origins: obj({ blue: originUrl, green: originUrl }, true),
      percent,
      salt: opt(text(64, 1), "edgekv"),
      sticky: opt(sticky, {}),
      schedule: opt(all(arr(step), most(MAX_STEPS, "steps"), [isIncreasing, "steps must be in strictly increasing time order"])),
      rules: opt(all(arr(rule), most(MAX_RULES, "rules"))),
      overrides: opt(obj({ cookie: opt(token, DEFAULT_OVERRIDE_COOKIE), header: opt(token, DEFAULT_OVERRIDE_HEADER) }, true), {}),
      failover: opt(boolean, false),
      timeoutMs: opt(whole(100, 120_000), DEFAULT_TIMEOUT_MS),
      guard: opt(guard),
      mirror: opt(
        obj(
          {
            percent,
            // Credentials (Authorization, identity headers, cookies besides the sticky id) ride on copies only when opted in.
            forwardCredentials: opt(boolean, false),
            stripHeaders: opt(all(arr(token), most(MAX_MIRROR_STRIP, "names"))),
          },
          true,
        ),
      ),
      webhooks: opt(obj({ urls: all(some(webhookUrl), most(MAX_WEBHOOKS, "URLs")) }, true)),
      updatedAt: opt(str),
      updatedBy: opt(text(128)),
      /** Unique per write (shared/rollout/write.ts): how a writer tells its own write from a concurrent one. */
      writeId: opt(text(64)),
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
export type RolloutConfigInput = Omit<RolloutConfig, "salt" | "sticky" | "overrides" | "failover" | "timeoutMs" | "guard" | "mirror"> & {
  guard?: GuardInput;
  mirror?: { percent: number; forwardCredentials?: boolean; stripHeaders?: string[] };
  salt?: string;
  sticky?: Partial<RolloutConfig["sticky"]>;
  overrides?: Partial<RolloutConfig["overrides"]>;
  failover?: boolean;
  timeoutMs?: number;
};
export type Guard = NonNullable<RolloutConfig["guard"]>;
export type GuardTrip = NonNullable<Guard["trip"]>;
export type GuardMetrics = NonNullable<Guard["metrics"]>;
/** A guard as written: defaults may be left out. */
export type GuardInput = Omit<Guard, "probes" | "threshold" | "intervalMs" | "metrics"> & {
  probes: { path: string; status?: number[]; timeoutMs?: number }[];
  metrics?: Partial<GuardMetrics>;
  threshold?: Guard["threshold"];
  intervalMs?: number;
};
export type Mirror = NonNullable<RolloutConfig["mirror"]>;
export type Rule = NonNullable<RolloutConfig["rules"]>[number];
export type Step = NonNullable<RolloutConfig["schedule"]>[number];

/** One audit-trail entry (shared/rollout/write.ts, for the CLI and the guard alike): the config written as `version`, by whom, when, and what changed. */
// Pure (as NotifiedSchema): only the CLI and the control Worker use them, so the splitter's bundle drops them.
export const HistoryEntrySchema = /* @__PURE__ */ standard(
  /* @__PURE__ */ obj(
    { version: /* @__PURE__ */ whole(1), at: string, by: string, action: string, changes: /* @__PURE__ */ arr(string), config: rolloutConfig },
    true,
  ),
);
export type HistoryEntry = Infer<typeof HistoryEntrySchema>;

/** What the cron last sent webhooks about: the config version and the schedule step in force. */
export const NotifiedSchema = /* @__PURE__ */ standard(
  /* @__PURE__ */ obj({ version: /* @__PURE__ */ whole(1), step: /* @__PURE__ */ whole(-1), at: string }, true),
);
export type Notified = Infer<typeof NotifiedSchema>;

/**
 * The guard's state as the edge sees it: off (no guard), healthy, paused or rolled back.
 * @example guardState(cfg) // "healthy"
 */
export function guardState(config: Pick<RolloutConfig, "guard">): "off" | "healthy" | "paused" | "rolled-back" {
  const g = config.guard;
  return !g ? "off" : !g.trip ? "healthy" : g.trip.action === "pause" ? "paused" : "rolled-back";
}

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
