import { readFile } from "node:fs/promises";
import { flagArg, numberArg, stringArg, type ArgValues, type CommandGroup, type Context } from "../command.ts";
import { CliError, InputError, UsageError } from "../errors.ts";
import { signingSecret } from "../secret-input.ts";
import { devVarsFiles } from "../targets.ts";
import { describeDecrease, findDecrease } from "../../shared/rollout/ramp.ts";
import { rolloutChanges } from "../../shared/rollout/write.ts";
import { describeGuard, describeMetrics, resumeGuard } from "../rollout/guard.ts";
import { parseSteps } from "../rollout/schedule.ts";
import { RolloutStore, whoAmI, type Current } from "../rollout/store.ts";
import { COLORS, otherColor, parseConfig, type Color, type HistoryEntry, type RolloutConfig } from "../../workers/splitter/model.ts";
import { signOverride } from "../../workers/splitter/override.ts";
import { linkTtl } from "../link-ttl.ts";
import { effectivePercent } from "../../workers/splitter/schedule.ts";
import { oneLine, registerSecret, table } from "../output.ts";
import { checkRolloutFields } from "../validate.ts";

/** Opens ROLLOUT_KV (local or --remote) as a RolloutStore. */
function withRollout<T>(ctx: Context, fn: (store: RolloutStore, where: string) => Promise<T>): Promise<T> {
  return ctx.withKv("splitter", (kv, where) => fn(new RolloutStore(kv, () => ctx.now()), where));
}

/** A percentage argument, its range checked (before KV is opened) by the config schema. */
function percentArg(raw: string, name = "PERCENT"): number {
  const s = raw.replace(/%$/, "");
  const n = Number(s);
  if (s.trim() === "" || !Number.isFinite(n)) throw new UsageError(`${name} must be a number, got "${raw}"`);
  checkRolloutFields({ percent: n }, { percent: name });
  return n;
}

function colorArg(raw: string | undefined, name: string): Color | undefined {
  if (raw === undefined) return undefined;
  if (!COLORS.includes(raw as Color)) throw new UsageError(`${name} must be blue or green, got "${raw}"`);
  return raw as Color;
}

/** Human summary of a config and the percentage in force now. */
function describe(c: RolloutConfig, now: number): string {
  const eff = effectivePercent(c, now);
  const other = otherColor(c.live);
  const steps = c.schedule ?? [];
  const lines = [
    `version ${c.version}${c.updatedAt ? `, written ${c.updatedAt}${c.updatedBy ? ` by ${c.updatedBy}` : ""}` : ""}`,
    `live:     ${c.live.padEnd(6)}${c.origins[c.live]}`,
    `other:    ${other.padEnd(6)}${c.origins[other]}`,
    `now:      ${eff.percent}% to ${other}, ${100 - eff.percent}% to ${c.live}` +
      (eff.step >= 0 ? ` (schedule step ${eff.step + 1} of ${steps.length})` : steps.length ? " (schedule not started)" : ""),
  ];
  if (eff.next) lines.push(`next:     ${eff.next.percent}% at ${eff.next.at}`);
  if (steps.length) lines.push(`schedule: ${steps.map((s) => `${s.percent}%@${s.at}`).join(" ")}`);
  lines.push(
    `percent:  ${c.percent} (base, before any schedule step)`,
    `sticky:   ${c.sticky.by === "header" ? `header ${c.sticky.header}` : c.sticky.by === "ip" ? "client IP" : `cookie ${c.sticky.cookie}`}, salt ${c.salt}`,
    `rules:    ${c.rules?.length ?? 0}, failover ${c.failover ? "on" : "off"}, timeout ${c.timeoutMs} ms`,
  );
  return lines.join("\n");
}

/**
 * Writes, then reports what changed (or that nothing did). A write that moves users back
 * (shared/rollout/ramp.ts) needs `allowDecrease` (--allow-decrease, or `rollback`, whose job it is)
 * or a "y" typed on a terminal; --yes is not enough, and without a terminal it is refused (exit 2).
 */
async function commit(ctx: Context, store: RolloutStore, base: Current, next: object, action: string, where: string, allowDecrease: boolean): Promise<void> {
  if (!allowDecrease) {
    const candidate = parseConfig({ ...next, version: base.version + 1 });
    const down = candidate.ok ? findDecrease(base.config, candidate.config, ctx.now()) : undefined;
    if (down) await ctx.confirm(`${action}: ${describeDecrease(down)}`, { flag: "--allow-decrease" });
  }
  const done = await store.write(base, next, action);
  if (!done) {
    ctx.emit({ changed: false, version: base.version }, () => `nothing to change (version ${base.version})`);
    return;
  }
  reportWrite(ctx, done, action, where);
}

/** What a write did: the new version and its changes. */
function reportWrite(ctx: Context, done: { config: RolloutConfig; changes: string[] }, action: string, where: string): void {
  ctx.emit({ changed: true, version: done.config.version, changes: done.changes, config: done.config, where }, () =>
    [`wrote version ${done.config.version} (${action}) to ROLLOUT_KV, ${where}`, ...done.changes.map((l) => `  ${l}`)].join("\n"),
  );
}

/** Reads the current config, then writes `change(config)` (validated, versioned, audited; see `commit`). */
function rewrite(ctx: Context, action: string, change: (config: RolloutConfig) => object, allowDecrease: boolean): Promise<void> {
  return withRollout(ctx, async (store, where) => {
    // One read: the write compares against this, and checks after writing (shared/rollout/write.ts).
    const cur = await store.current();
    const config = await store.require(cur);
    await commit(ctx, store, cur, change(config), action, where, allowDecrease);
  });
}

/** The config without its schedule (set, promote and rollback end any ramp). */
function unscheduled(config: RolloutConfig): Omit<RolloutConfig, "schedule"> {
  const { schedule: _dropped, ...rest } = config;
  return rest;
}

/**
 * A ramp only goes up: lowering the share moves users who already reached the other
 * colour back, which is a rollback; --allow-decrease says it is meant.
 */
function checkRamp(steps: readonly { percent: number }[], allowDecrease: boolean): void {
  if (allowDecrease) return;
  const down = steps.findIndex((s, i) => i > 0 && s.percent < steps[i - 1]!.percent);
  if (down > 0) {
    throw new InputError(
      `the ramp goes down at step ${down + 1} (${steps[down - 1]!.percent}% -> ${steps[down]!.percent}%), which moves users back; add --allow-decrease if that is meant`,
    );
  }
}

const ALLOW_DECREASE = {
  type: "boolean",
  description: "accept a write that lowers the share in force (moves users back; not implied by --yes)",
} as const;

/** OVERRIDE_SECRET: from stdin or the environment, never argv (cli/secret-input.ts). */
function overrideSecret(ctx: Context, fromStdin: boolean): Promise<string> {
  return signingSecret(ctx.env, ctx.stdin, fromStdin, {
    name: "OVERRIDE_SECRET",
    wranglerEnv: "splitter",
    devVars: devVarsFiles(ctx.global.target, "splitter"),
    weakEffect: "the splitter ignores overrides signed with it",
    example: "edgekv rollout override green --secret-stdin < override-secret.txt",
  });
}

function stickyArg(values: ArgValues): object | undefined {
  const raw = stringArg(values, "sticky");
  if (raw === undefined) return undefined;
  if (raw === "cookie" || raw === "ip") return { by: raw };
  if (raw.startsWith("header:")) return { by: "header", header: raw.slice(7) };
  throw new UsageError(`--sticky must be cookie, ip or header:NAME, got "${raw}"`);
}

/** History as an aligned table, each entry's changes indented under it. */
function historyTable(entries: readonly HistoryEntry[], ctx: Context): string {
  const [header, ...lines] = table(
    ["VERSION", "WRITTEN", "BY", "ACTION"],
    entries.map((e) => [`v${e.version}`, e.at, e.by, e.action]),
    ctx.style,
  ).split("\n");
  return [header, ...lines.flatMap((line, i) => [line, ...entries[i]!.changes.map((c) => `    ${oneLine(c)}`)])].join("\n");
}

/** The config `rollout init` writes, from its flags, checked (before KV is opened) by the splitter's schema. */
function initConfig(values: ArgValues): object {
  const blue = stringArg(values, "blue");
  const green = stringArg(values, "green");
  if (!blue || !green) throw new UsageError("--blue URL and --green URL are required");
  const sticky = stickyArg(values);
  const next = {
    live: colorArg(stringArg(values, "live"), "--live") ?? "blue",
    origins: { blue, green },
    percent: percentArg(stringArg(values, "percent", "0"), "--percent"),
    salt: stringArg(values, "salt") ?? crypto.randomUUID().slice(0, 8),
    failover: flagArg(values, "failover"),
    ...(sticky ? { sticky } : {}),
    ...(values.timeout !== undefined ? { timeoutMs: numberArg(values, "timeout") } : {}),
  };
  checkRolloutFields(next, { "origins.blue": "--blue", "origins.green": "--green", salt: "--salt", sticky: "--sticky", timeoutMs: "--timeout" });
  return next;
}

async function configGet(ctx: Context): Promise<void> {
  await withRollout(ctx, async (store) => {
    const cur = await store.current();
    if (cur.raw === null) throw new CliError("no rollout config yet; run `edgekv rollout init --blue URL --green URL`");
    if (cur.issues.length) ctx.err(`warning: the stored config is invalid: ${cur.issues.join("; ")}`);
    ctx.out(cur.config ? JSON.stringify(cur.config, null, 2) : cur.raw);
  });
}

/** Reads FILE as a JSON object and checks it with the splitter's schema, before KV is opened. */
async function readConfigFile(file: string): Promise<object> {
  let input: unknown;
  try {
    input = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${file}: ${e.code ?? e.message}`);
  }
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new InputError(`${file} must hold a JSON object`);
  // The version is the store's to assign; every other field must be valid as given.
  checkRolloutFields({ ...input, version: 1 });
  return input;
}

async function configPut(ctx: Context, file: string, dryRun: boolean, allowDecrease: boolean): Promise<void> {
  const input = await readConfigFile(file);
  if (!dryRun) await ctx.confirm(`replace the rollout config with ${file}`);
  await withRollout(ctx, async (store, where) => {
    const cur = await store.current();
    if (dryRun) {
      const r = parseConfig({ ...input, version: cur.version + 1 });
      if (!r.ok) throw new InputError(`invalid rollout config: ${r.issues.join("; ")}`);
      const changes = rolloutChanges(cur, r.config, ctx.now());
      const down = findDecrease(cur.config, r.config, ctx.now());
      if (down) changes.push(`! moves users back: ${describeDecrease(down)}; needs --allow-decrease`);
      ctx.emit({ valid: true, changes }, () => (changes.length ? changes.join("\n") : "no changes"));
      return;
    }
    await commit(ctx, store, cur, input, `config put ${file}`, where, allowDecrease);
  });
}

export const rolloutGroup: CommandGroup = {
  name: "rollout",
  summary: "shift blue-green traffic by editing the rollout config in ROLLOUT_KV",
  details:
    "Every write is validated with the splitter Worker's own schema, increments the version and\n" +
    "keeps an audit entry (who, when, what changed; last 50). Reference: docs/splitter.md.",
  commands: [
    {
      name: "init",
      summary: "create the rollout config (live colour at 100% unless --percent)",
      usage:
        "rollout init --blue URL --green URL [--live blue|green] [--percent P] [--sticky cookie|ip|header:NAME] [--salt S] [--failover] [--timeout MS] [--force [--allow-decrease]]",
      options: {
        blue: { type: "string", description: "URL: blue origin (absolute http(s) URL)" },
        green: { type: "string", description: "URL: green origin" },
        live: { type: "string", description: "COLOR: colour that is live (default blue)" },
        percent: { type: "number", description: "P: share sent to the other colour (default 0)" },
        sticky: { type: "string", description: "HOW: cookie (default), ip or header:NAME" },
        salt: { type: "string", description: "S: bucketing salt (default random)" },
        failover: { type: "boolean", description: "retry a failed GET or HEAD (no body) once on the other colour" },
        timeout: { type: "number", description: "MS: origin timeout (default 10000)" },
        force: { type: "boolean", description: "replace an existing config (asks first; --yes without a terminal)" },
        "allow-decrease": ALLOW_DECREASE,
      },
      async run(ctx, { values }) {
        const next = initConfig(values);
        await withRollout(ctx, async (store, where) => {
          const cur = await store.current();
          if (cur.raw !== null) {
            if (!flagArg(values, "force")) throw new CliError(`a rollout config already exists (version ${cur.version}); use --force to replace it`);
            await ctx.confirm(`replace the rollout config (version ${cur.version}) with a new one`);
          }
          await commit(ctx, store, cur, next, "init", where, flagArg(values, "allow-decrease"));
        });
      },
    },
    {
      name: "status",
      summary: "show the config and the percentage in force now",
      usage: "rollout status [--json]",
      async run(ctx) {
        await withRollout(ctx, async (store, where) => {
          const config = await store.require();
          const now = ctx.now();
          const guard = describeGuard(config, now);
          registerSecret(ctx.env.ANALYTICS_API_TOKEN);
          const metrics = await describeMetrics(config, ctx.env, (r) => fetch(r), now);
          ctx.emit({ where, effective: effectivePercent(config, now), guard, metrics: metrics.look, config }, () =>
            [describe(config, now), ...guard.lines, ...metrics.lines].join("\n"),
          );
        });
      },
    },
    {
      name: "set",
      summary: "send PERCENT (0..100, two decimals) to the other colour now; clears any schedule",
      usage: "rollout set PERCENT [--allow-decrease]",
      details: "A share lower than the one in force moves users back: refused unless --allow-decrease (or confirmed on a terminal).",
      options: { "allow-decrease": ALLOW_DECREASE },
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        const percent = percentArg(positionals[0]!);
        await rewrite(
          ctx,
          `set ${percent}%`,
          (config) => {
            if (config.schedule?.length) ctx.err(`note: clearing the schedule (${config.schedule.length} steps)`);
            return { ...unscheduled(config), percent };
          },
          flagArg(values, "allow-decrease"),
        );
      },
    },
    {
      name: "promote",
      summary: "make the other colour live at 100% (the roles swap; percent 0, schedule cleared); asks first",
      usage: "rollout promote [--yes]",
      async run(ctx) {
        await ctx.confirm("promote: make the other colour live for 100% of traffic");
        await rewrite(ctx, "promote", (config) => ({ ...unscheduled(config), live: otherColor(config.live), percent: 0 }), false);
      },
    },
    {
      name: "rollback",
      summary: "send 0% to the other colour at once and clear the schedule; or --to VERSION restores a version (asks first)",
      usage: "rollout rollback [--to VERSION [--yes]]",
      details: "Plain `rollback` never asks: it is the emergency brake. `--to VERSION` replaces the whole config, so it asks first.",
      options: { to: { type: "number", description: "VERSION: restore that version's config from the history" } },
      async run(ctx, { values }) {
        const to = numberArg(values, "to", { min: 1, integer: true });
        if (to === undefined) {
          // Moving users back is what rollback is for: never refused, never asked.
          await rewrite(ctx, "rollback", (config) => ({ ...unscheduled(config), percent: 0 }), true);
          return;
        }
        await ctx.confirm(`replace the rollout config with version ${to}'s`);
        await withRollout(ctx, async (store, where) => {
          const cur = await store.current();
          const entry = await store.entry(to);
          if (!entry) throw new CliError(`no history entry for version ${to} (the last 50 are kept; see \`edgekv rollout history\`)`);
          const { version: _v, updatedAt: _a, updatedBy: _b, ...restored } = entry.config;
          await commit(ctx, store, cur, restored, `rollback to ${to}`, where, true);
        });
      },
    },
    {
      name: "resume",
      summary: "clear a tripped guard after a human looked: a paused ramp continues where it stopped; after a rollback the share stays 0%",
      usage: "rollout resume",
      details: 'The guard (config `guard`) trips by itself when green fails its probes; it never clears by itself. See docs/splitter.md "Guard".',
      async run(ctx) {
        await withRollout(ctx, async (store, where) => reportWrite(ctx, await resumeGuard(store, whoAmI(), ctx.now()), "resume", where));
      },
    },
    {
      name: "schedule",
      summary: "ramp by the clock: steps PERCENT@WHEN (now, +10m, +1h30m or an ISO time), going up",
      usage: "rollout schedule STEP... [--allow-decrease] (e.g. 10@now 20@+10m 50@+30m 100@+1h)",
      details:
        "The Worker computes the percentage from the clock: no controller, no further write.\nBefore the first step the base percent applies. `set` or `rollback` clears the schedule.\n" +
        "A step lower than the one before, or than the share in force now, is refused (it moves users back)\n" +
        "unless --allow-decrease (or confirmed on a terminal).",
      options: { "allow-decrease": ALLOW_DECREASE },
      positionals: { min: 1, max: 50 },
      async run(ctx, { positionals, values }) {
        const schedule = parseSteps(positionals, ctx.now());
        checkRolloutFields({ schedule });
        checkRamp(schedule, flagArg(values, "allow-decrease"));
        const allow = flagArg(values, "allow-decrease");
        await rewrite(ctx, `schedule ${positionals.join(" ")}`, (config) => ({ ...config, schedule }), allow);
      },
    },
    {
      name: "config",
      summary: "config get: print the stored JSON; config put FILE: validate, show the diff, write (asks first)",
      usage: "rollout config get | rollout config put FILE [--dry-run] [--yes] [--allow-decrease]",
      options: { "dry-run": { type: "boolean", description: "validate and show the diff, do not write" }, "allow-decrease": ALLOW_DECREASE },
      positionals: { min: 1, max: 2 },
      async run(ctx, { positionals, values }) {
        const [sub, file] = positionals as [string, string | undefined];
        if (sub === "get") {
          if (file !== undefined) throw new UsageError("usage: edgekv rollout config get");
          await configGet(ctx);
          return;
        }
        if (sub !== "put" || file === undefined) throw new UsageError("usage: edgekv rollout config get | rollout config put FILE");
        await configPut(ctx, file, flagArg(values, "dry-run"), flagArg(values, "allow-decrease"));
      },
    },
    {
      name: "history",
      summary: "the audit trail: who wrote which version when, and what changed",
      usage: "rollout history [--limit N]",
      options: { limit: { type: "number", description: "N: newest N entries (default all kept, up to 50)" } },
      async run(ctx, { values }) {
        const limit = numberArg(values, "limit", { min: 1, integer: true }) ?? Infinity;
        await withRollout(ctx, async (store) => {
          const entries = (await store.history()).slice(0, limit);
          ctx.emit(entries, () => (entries.length ? historyTable(entries, ctx) : "no history yet"));
        });
      },
    },
    {
      name: "override",
      summary: "print a signed tester override (cookie edgekv_override or header x-edgekv-override)",
      usage: "rollout override COLOR [--secret-stdin] [--ttl 1d]",
      details:
        "Signs with the Worker's OVERRIDE_SECRET, taken from the OVERRIDE_SECRET environment variable\n" +
        "or from stdin (--secret-stdin, or a pipe when the variable is unset; trailing newline ignored,\n" +
        "as `wrangler secret put` does). Never on the command line: `ps` and shell history keep argv.\n" +
        "  edgekv rollout override green --secret-stdin < override-secret.txt\n" +
        "Prints the signed value on stdout (safe to share with testers until it expires; how to use it goes to stderr), never the secret.",
      options: {
        "secret-stdin": { type: "boolean", description: "read OVERRIDE_SECRET from stdin (default: $OVERRIDE_SECRET)" },
        // Declared only to refuse it with a reason; the parser (cli/parser.ts, yargs) would just call it unknown.
        secret: { type: "string", description: "S: refused: argv is visible in ps and shell history" },
        ttl: { type: "string", description: "DURATION: validity, e.g. 2h or 1d (default 1d, at most 30d)" },
      },
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        if (values.secret !== undefined) {
          throw new UsageError(
            "--secret is refused: ps and shell history keep the command line. Set OVERRIDE_SECRET in the environment or pipe it in with --secret-stdin",
          );
        }
        // Not colorArg: a secret typed in COLOR's place must not be echoed back.
        const color = positionals[0] as Color;
        if (!COLORS.includes(color)) throw new UsageError("COLOR must be blue or green");
        const exp = Math.floor(ctx.now() / 1000) + linkTtl(stringArg(values, "ttl"), 86400);
        const secret = await overrideSecret(ctx, flagArg(values, "secret-stdin"));
        const value = await signOverride(secret, color, exp);
        const expires = new Date(exp * 1000).toISOString();
        ctx.emit({ color, value, expires, header: "x-edgekv-override", cookie: "edgekv_override" }, () => value);
        // How to use it is a hint, not the result: stderr, so `V=$(edgekv rollout override green)` gets one line.
        if (!ctx.global.json) {
          ctx.err(`curl -H 'x-edgekv-override: ${value}' https://your.app/\nor set cookie edgekv_override=${value} (valid until ${expires})`);
        }
      },
    },
  ],
};
