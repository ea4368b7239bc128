/**
 * The rollout config as the Worker reads it: a lite Standard Schema validator
 * (shared/kv/lite.ts) that accepts exactly what `RolloutConfigSchema` (valibot,
 * config.ts) accepts and fills the same defaults, in a fraction of the bytes.
 * The CLI validates every write with the valibot schema;
 * test/splitter/shape.test.ts proves the two agree with fast-check.
 */
import { arr, bool, int, match, num, obj, opt, pick, refine, standard, str, type Lite } from "../../shared/kv/lite.ts";
import type { Schema } from "../../shared/kv/schema.ts";
import { MAX_GLOB_LENGTH } from "../../shared/http/glob.ts";
import {
  COLORS,
  DEFAULT_COOKIE,
  DEFAULT_COOKIE_MAX_AGE,
  DEFAULT_OVERRIDE_COOKIE,
  DEFAULT_OVERRIDE_HEADER,
  DEFAULT_TIMEOUT_MS,
  MAX_RULES,
  MAX_STEPS,
  TOKEN_RE,
  isHttpUrl,
  isIncreasing,
  isPercent,
  isTime,
  type RolloutConfig,
} from "./config.ts";

const text = (max: number, min = 0) => refine(str, (s) => s.length >= min && s.length <= max, `must be ${min}..${max} characters`);
const some = <T>(item: Lite<T>) => refine(arr(item), (a) => a.length > 0, "must not be empty");
const color = pick(COLORS);
const percent = refine(num, isPercent, "must be 0..100 with at most two decimals");
const token = match(TOKEN_RE);
const url = refine(str, isHttpUrl, "must be an absolute http(s) URL");
const pair = obj({ name: token, value: opt(text(1024)) }, true);

const rule = refine(
  obj(
    {
      name: opt(text(64)),
      match: refine(
        obj(
          {
            path: opt(refine(text(MAX_GLOB_LENGTH, 1), (s) => /^[/*]/.test(s), "must start with / or *")),
            method: opt(some(match(/^[A-Z]{1,16}$/))),
            header: opt(pair),
            cookie: opt(pair),
            country: opt(some(match(/^[A-Z0-9]{2}$/))),
            colo: opt(some(match(/^[A-Z]{3}$/))),
          },
          true,
        ),
        (m) => Object.keys(m).length > 0,
        "needs at least one condition",
      ),
      to: opt(color),
      percent: opt(percent),
    },
    true,
  ),
  (r) => (r.to === undefined) !== (r.percent === undefined),
  "needs exactly one of to or percent",
);

const sticky = refine(
  obj(
    {
      by: opt(pick(["cookie", "header", "ip"] as const), "cookie"),
      cookie: opt(token, DEFAULT_COOKIE),
      header: opt(token),
      maxAgeSeconds: opt(int(60, 34_560_000), DEFAULT_COOKIE_MAX_AGE),
    },
    true,
  ),
  (s) => s.by !== "header" || s.header !== undefined,
  'sticky.header is required when sticky.by is "header"',
);

/** The Worker's read validator of the rollout config (see the file comment). */
export const RolloutConfigShape = standard(
  refine(
    obj(
      {
        version: int(1),
        live: color,
        origins: obj({ blue: url, green: url }, true),
        percent,
        salt: opt(text(64, 1), "edgekv"),
        sticky: opt(sticky, {}),
        schedule: opt(
          refine(
            arr(obj({ at: refine(str, isTime, "must be an ISO 8601 time with a zone"), percent }, true)),
            (s) => s.length <= MAX_STEPS && isIncreasing(s),
            `must be at most ${MAX_STEPS} steps in time order`,
          ),
        ),
        rules: opt(refine(arr(rule), (r) => r.length <= MAX_RULES, `must have at most ${MAX_RULES} rules`)),
        overrides: opt(obj({ cookie: opt(token, DEFAULT_OVERRIDE_COOKIE), header: opt(token, DEFAULT_OVERRIDE_HEADER) }, true), {}),
        failover: opt(bool, false),
        timeoutMs: opt(int(100, 120_000), DEFAULT_TIMEOUT_MS),
        updatedAt: opt(str),
        updatedBy: opt(text(128)),
      },
      true,
    ),
    (c) => c.origins.blue !== c.origins.green,
    "origins.blue and origins.green must differ",
  ),
) as Schema<RolloutConfig>;
