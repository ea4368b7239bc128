import { flagArg, numberArg, stringArg, type ArgValues, type CommandGroup, type Context } from "../command.ts";
import { CliError, InputError, UsageError } from "../errors.ts";
import { formatBytes, progress, table, formatCount } from "../output.ts";
import { signingSecret } from "../secret-input.ts";
import { devVarsFiles } from "../targets.ts";
import { indexKey, TRAILING_SLASH, type TrailingSlash } from "../../workers/site/model.ts";
import { MAX_LINK_SECONDS } from "../../shared/signed-link.ts";
import { DEFAULT_PREVIEW_SECONDS, PREVIEW_PARAM, VERSION_RE, signPreview } from "../../workers/site/preview.ts";
import { linkTtl } from "../link-ttl.ts";
import { IGNORE_FILE, nodeCompressor, readConfigFile, reclaimEvery, walkSite } from "../site/deploy.ts";
import {
  FREE_PLAN_WRITES_PER_DAY,
  checkFiles,
  publishSite,
  siteStores,
  type PublishOptions,
  type PublishResult,
  type WriteCount,
  type WritePlan,
} from "../site/publish.ts";
import { parseHeaders, parseRedirects } from "../site/rules.ts";
import { DEFAULT_GC_KEEP, gc, listVersions, promote, rollback, type VersionInfo } from "../site/versions.ts";

/** Everything `site deploy` needs from its arguments and the folder, read and checked before KV is opened. */
async function deployPlan(ctx: Context, dir: string, values: ArgValues): Promise<Omit<PublishOptions, "now" | "onProgress">> {
  const slash = stringArg(values, "trailing-slash", "auto");
  if (!(TRAILING_SLASH as readonly string[]).includes(slash)) throw new InputError(`--trailing-slash must be one of ${TRAILING_SLASH.join(", ")}`);
  const spaRaw = stringArg(values, "spa");
  const spa = spaRaw === undefined ? undefined : `/${spaRaw.replace(/^\/+/, "")}`;
  const keepPrevious = numberArg(values, "keep-previous", { min: 0, max: 20, integer: true });
  const concurrency = numberArg(values, "concurrency", { min: 1, max: 64, integer: true });
  const warn = (line: string) => ctx.err(line);
  const files = await walkSite(dir, { warn });
  checkFiles(files, spa);
  const redirectsText = await readConfigFile(dir, "_redirects", { warn });
  const headersText = await readConfigFile(dir, "_headers", { warn });
  return {
    files,
    redirects: redirectsText === undefined ? [] : parseRedirects(redirectsText, `${dir}/_redirects`),
    headers: headersText === undefined ? [] : parseHeaders(headersText, `${dir}/_headers`),
    slash: slash as TrailingSlash,
    ...(spa ? { spa } : {}),
    // Cloudflare compresses text for visitors itself; stored variants cost a KV write each.
    ...(flagArg(values, "precompress") ? { compress: nodeCompressor } : {}),
    dryRun: flagArg(values, "dry-run"),
    preview: flagArg(values, "preview"),
    ...(keepPrevious !== undefined ? { keepPrevious } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
  };
}

/** "20 KV writes (16 blobs + 2 shards + 1 index + 1 pointer)". */
export function describeWrites(w: WriteCount, atMost = false): string {
  const parts = [formatCount(w.blobs, "blob"), formatCount(w.shards, "shard"), formatCount(w.index, "index", "indexes"), formatCount(w.pointer, "pointer")];
  return `${atMost ? "at most " : ""}${formatCount(w.total, "KV write")}${w.total ? ` (${parts.join(" + ")})` : ""}`;
}

/** The stderr warning when a deploy to the account writes more than the Free plan allows in a day, else undefined. */
export function freePlanWarning(plan: WritePlan): string | undefined {
  const total = plan.writes.total;
  if (total <= FREE_PLAN_WRITES_PER_DAY) return undefined;
  return (
    `warning: this deploy makes ${plan.atMost ? "up to " : ""}${formatCount(total, "KV write")}; the Workers Free plan allows ` +
    `${FREE_PLAN_WRITES_PER_DAY.toLocaleString("en-US")} a day, so it may stop part-way (run it again the next day: stored files are not written again) ` +
    "unless the account is on Workers Paid (1 million writes a month included)"
  );
}

/** A deploy's rate: the site's files over the whole command's time. */
const filesPerSecond = (files: number, ms: number) => Math.round((files * 1000) / Math.max(ms, 1));

/** What a deploy did (or, with --dry-run, would do), for people. */
function deploySummary(r: PublishResult, where: string, ms: number): string {
  const verb = r.unchanged
    ? r.dryRun
      ? "nothing would change: the same site is live as"
      : "unchanged, still live:"
    : r.dryRun
      ? r.preview
        ? "would upload preview"
        : "would publish"
      : r.preview
        ? "uploaded preview"
        : "published";
  const uploaded = r.unchanged
    ? "nothing to upload"
    : `${formatCount(r.newBlobs, "new blob")}, ${formatBytes(r.uploadedBytes)} ${r.dryRun ? "to upload" : "uploaded"}`;
  const writes = `${r.dryRun ? "would make " : ""}${describeWrites(r.writes)}`;
  let next = "";
  if (r.preview && !r.unchanged) {
    next =
      `\n  live is still ${r.previous ?? "(none)"}; the pointer was not written` +
      `\n  look: edgekv site preview ${r.version} --url https://YOUR-SITE  (or https://${r.version.toLowerCase()}.PREVIEW_HOST/)` +
      `\n  make it live: edgekv site promote ${r.version}`;
  } else if (r.previous && !r.unchanged && !r.dryRun) next = `\n  previous: ${r.previous} (edgekv site rollback)`;
  return `${verb} ${r.version} (${where})\n  ${formatCount(r.files, "file")}, ${formatBytes(r.totalBytes)}; ${uploaded}; ${formatCount(ms, "ms", "ms")} (${formatCount(filesPerSecond(r.files, ms), "file")}/s)\n  ${writes}${next}`;
}

/** A version id argument, checked before KV is opened. Never echoed: a secret typed in its place must not be printed. */
function versionArg(raw: string | undefined): string {
  if (raw === undefined || !VERSION_RE.test(raw)) {
    throw new InputError("VERSION must be a version id such as 20261202T051200Z-1a2b3c4d (see `edgekv site versions`)");
  }
  return raw;
}

/** `--ttl` of `site preview` in seconds (cli/link-ttl.ts: at most the signed-link cap, 30d). */
export const previewTtl = (raw: string | undefined): number => linkTtl(raw, DEFAULT_PREVIEW_SECONDS);

/** `--url`: where the link points (any page of the site); http(s), no credentials. */
export function previewBase(raw: string | undefined): URL | undefined {
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError("--url must be an absolute URL such as https://www.example.com/");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new InputError("--url must be an http or https URL");
  if (url.username || url.password) throw new InputError("--url must not hold a user name or password");
  return url;
}

/** PREVIEW_SECRET: from stdin or the environment, never argv (cli/secret-input.ts). */
function previewSecret(ctx: Context, fromStdin: boolean): Promise<string> {
  return signingSecret(ctx.env, ctx.stdin, fromStdin, {
    name: "PREVIEW_SECRET",
    wranglerEnv: "site",
    devVars: devVarsFiles(ctx.global.target, "site"),
    weakEffect: "the site Worker ignores links signed with it",
    example: "edgekv site preview VERSION --secret-stdin < preview-secret.txt",
  });
}

/** One row's state in `site versions`. */
function versionState(v: VersionInfo): string {
  return v.live ? "live" : v.skew ? "previous" : v.preview ? "preview" : "";
}

/**
 * `edgekv site`: publish a folder to SITE_KV, list versions, roll back, collect garbage.
 * The Worker (workers/site) serves whatever the pointer names; nothing is redeployed.
 */
export const siteGroup: CommandGroup = {
  name: "site",
  summary: "publish, preview, promote, list, roll back and clean up sites in SITE_KV",
  details:
    "A deploy uploads only the blobs KV lacks, then the manifest, then flips the pointer (one write);\n" +
    "with --preview it stops before the pointer, and `site promote` flips it later.\nSee docs/site.md.",
  commands: [
    {
      name: "deploy",
      summary: "publish a folder as a new live version",
      usage:
        "site deploy DIR [--dry-run] [--preview] [--precompress] [--spa FILE] [--trailing-slash auto|force|drop|none] [--keep-previous N] [--concurrency N]",
      details:
        `Skips dotfiles (except .well-known) and what DIR/${IGNORE_FILE} names (gitignore syntax). _headers and _redirects\n` +
        "(Pages syntax) are compiled into the manifest. One KV write per new file, one per changed manifest shard, the index\n" +
        "and the pointer: a one-file change is 4 writes whatever the site's size; prints the count. At most 100,000 files.\n" +
        "Safe to kill at any moment: the live site changes only with the last write.",
      options: {
        "dry-run": { type: "boolean", description: "hash and count the KV writes, write nothing" },
        preview: { type: "boolean", description: "upload and record the version, leave the live one (see site preview, site promote)" },
        precompress: { type: "boolean", description: "also store brotli and gzip copies where they save 10% (a KV write each)" },
        spa: { type: "string", description: "FILE: SPA fallback (e.g. index.html), served 200 for extension-less misses" },
        "trailing-slash": { type: "string", description: "P: auto (default), force, drop or none" },
        "keep-previous": { type: "number", description: "N: previous versions served for version skew (default 3)" },
        concurrency: { type: "number", description: "N: uploads in flight (default 8)" },
      },
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        const dir = positionals[0]!;
        const plan = await deployPlan(ctx, dir, values);
        const started = ctx.now();
        const tty = ctx.isTTY && !ctx.global.json;
        let phase = "";
        let bar: ReturnType<typeof progress> | undefined;
        // Memory bounded by the work, not the site: see reclaimEvery.
        const reclaim = reclaimEvery();
        const onProgress = (done: number, total: number, p: string) => {
          reclaim(p);
          if (p !== phase) {
            bar?.done();
            phase = p;
            // A dry run writes nothing: its second pass only counts.
            bar = progress(plan.dryRun && p === "uploading" ? "counting (dry run, nothing written)" : p, { tty, write: ctx.errRaw, unit: "files" });
          }
          bar!.update(done, total);
        };
        const onPlan = (p: WritePlan) => {
          bar?.done();
          bar = undefined;
          phase = "";
          if (!p.unchanged)
            ctx.err(
              `site deploy: ${formatCount(p.newBlobs, "new blob")}; ${p.writes.total ? (plan.dryRun ? "would make " : "will make ") : ""}${describeWrites(p.writes, p.atMost)}`,
            );
          // Only the account's writes count against a plan; local state is free.
          const warning = ctx.global.target.remote ? freePlanWarning(p) : undefined;
          if (warning) ctx.err(warning);
        };
        if (!ctx.isTTY) ctx.err(`site deploy: ${formatCount(plan.files.length, "file")} from ${dir} (${ctx.describeTarget()})`);
        if (!plan.dryRun) {
          ctx.onInterrupt(() =>
            plan.preview
              ? "the live site is unchanged (a preview never writes the pointer); run the same command again to resume: files already uploaded are skipped"
              : "the live site is unchanged (it changes only with the deploy's last write); run the same command again to resume: files already uploaded are skipped",
          );
        }
        await ctx.withKv("site", async (kv, where) => {
          const result = await publishSite(kv, { ...plan, now: () => ctx.now(), onProgress, onPlan });
          // The pointer is written: an interruption now changes nothing.
          ctx.onInterrupt(undefined);
          bar?.done();
          const ms = ctx.now() - started;
          ctx.emit({ ...result, ms, filesPerSecond: filesPerSecond(result.files, ms), where }, () => deploySummary(result, where, ms));
        });
      },
    },
    {
      name: "versions",
      summary: "list stored versions, newest first",
      usage: "site versions",
      async run(ctx) {
        await ctx.withKv("site", async (kv) => {
          const { pointer, versions } = await listVersions(siteStores(kv, ctx.now));
          ctx.emit({ live: pointer?.live ?? null, previous: pointer?.previous ?? [], versions }, () =>
            versions.length === 0
              ? "no versions"
              : `${table(
                  ["  VERSION", "STATE", "DEPLOYED", "FILES", "SIZE"],
                  versions.map((v) => [
                    `${v.live ? "*" : v.skew ? "+" : v.preview ? "p" : " "} ${v.id}`,
                    versionState(v),
                    new Date(v.at).toISOString(),
                    String(v.files),
                    formatBytes(v.bytes),
                  ]),
                  ctx.style,
                )}\n(* live; + previous, still served for version skew; p uploaded with --preview, never live unless promoted)`,
          );
        });
      },
    },
    {
      name: "rollback",
      summary: "make an older version live again (one write)",
      usage: "site rollback [VERSION]",
      details: "Without VERSION, goes back to the version live before the current one.",
      positionals: { min: 0, max: 1 },
      async run(ctx, { positionals }) {
        await ctx.withKv("site", async (kv) => {
          const r = await rollback(siteStores(kv, ctx.now), positionals[0], () => ctx.now());
          ctx.emit(r, () => `live: ${r.to} (was ${r.from})`);
        });
      },
    },
    {
      name: "promote",
      summary: "make a version (a preview) live: one write",
      usage: "site promote VERSION [--yes]",
      details:
        "Flips the pointer to VERSION, as rollback does; the version live before joins those kept for version skew.\n" +
        "Asks first (--yes without a terminal). Seen everywhere within about a minute (docs/site.md, Consistency bound).",
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals }) {
        const version = versionArg(positionals[0]);
        await ctx.confirm(`make site version ${version} live`);
        await ctx.withKv("site", async (kv) => {
          const r = await promote(siteStores(kv, ctx.now), version, () => ctx.now());
          ctx.emit(r, () => (r.unchanged ? `${r.to} is already live; nothing written` : `live: ${r.to} (was ${r.from ?? "nothing"})`));
        });
      },
    },
    {
      name: "preview",
      summary: "print a signed link that shows the whole site at VERSION",
      usage: "site preview VERSION [--url https://www.example.com/] [--ttl 1d] [--secret-stdin]",
      details:
        "Signs with the site Worker's PREVIEW_SECRET, from the PREVIEW_SECRET environment variable or stdin\n" +
        "(--secret-stdin, or a pipe when the variable is unset). Never on the command line: ps and shell history keep argv.\n" +
        "  edgekv site preview 20261202T051200Z-1a2b3c4d --url https://www.example.com/ --secret-stdin < preview-secret.txt\n" +
        "Whoever opens the link browses that version (a cookie) until it expires; the secret is never printed.",
      options: {
        url: { type: "string", description: "URL: the page the link opens (default: a path to append to your site's URL)" },
        ttl: {
          type: "string",
          description: `DURATION: validity, e.g. 1h or 7d (default ${DEFAULT_PREVIEW_SECONDS / 3600}h, at most ${MAX_LINK_SECONDS / 86400}d)`,
        },
        "secret-stdin": { type: "boolean", description: "read PREVIEW_SECRET from stdin (default: $PREVIEW_SECRET)" },
        // Declared only to refuse it with a reason.
        secret: { type: "string", description: "S: refused: argv is visible in ps and shell history" },
      },
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        if (values.secret !== undefined) {
          throw new UsageError(
            "--secret is refused: ps and shell history keep the command line. Set PREVIEW_SECRET in the environment or pipe it in with --secret-stdin",
          );
        }
        const version = versionArg(positionals[0]);
        const ttl = previewTtl(stringArg(values, "ttl"));
        const base = previewBase(stringArg(values, "url"));
        const secret = await previewSecret(ctx, flagArg(values, "secret-stdin"));
        await ctx.withKv("site", async (kv) => {
          // A link to a version that is gone would quietly show the live site: say so now instead.
          if (!(await siteStores(kv, ctx.now).index.get(indexKey(version)))) {
            throw new CliError(`version ${version} not found (see \`edgekv site versions\`)`);
          }
        });
        const exp = Math.floor(ctx.now() / 1000) + ttl;
        const token = await signPreview(secret, version, exp);
        const url = base ? new URL(base) : new URL("https://site.invalid/");
        url.searchParams.set(PREVIEW_PARAM, token);
        const link = base ? url.href : `${url.pathname}${url.search}`;
        const expires = new Date(exp * 1000).toISOString();
        ctx.emit({ version, url: link, expires, ttlSeconds: ttl }, () => link);
        // The hint goes to stderr: stdout is the link alone (`URL=$(edgekv site preview ...)`).
        if (!ctx.global.json) {
          ctx.err(
            base
              ? `shows ${version} until ${expires} to whoever opens it (the live site to everyone else)`
              : `append it to your site's URL (or use --url); shows ${version} until ${expires} to whoever opens it`,
          );
        }
      },
    },
    {
      name: "gc",
      summary: "delete old versions and the shards and blobs no retained version uses",
      usage: "site gc [--keep N] [--grace SECONDS] [--dry-run] [--yes]",
      details:
        "Keeps the newest N versions (default 5; previews count), the live one and those kept for version skew,\n" +
        "every manifest shard a kept version lists and every blob a kept shard lists.\nAsks first unless --dry-run (--yes without a terminal).",
      options: {
        keep: { type: "number", description: "N: versions to keep, newest first (default 5)" },
        grace: { type: "number", description: "SECONDS: spare blobs uploaded in the last SECONDS (default 3600)" },
        "dry-run": { type: "boolean", description: "report, delete nothing" },
      },
      async run(ctx, { values }) {
        const keep = numberArg(values, "keep", { min: 1, integer: true });
        const grace = numberArg(values, "grace", { min: 0 });
        const dryRun = flagArg(values, "dry-run");
        if (!dryRun) await ctx.confirm(`delete site versions beyond the newest ${keep ?? DEFAULT_GC_KEEP} and the shards and blobs no kept version uses`);
        await ctx.withKv("site", async (kv) => {
          const r = await gc(siteStores(kv, ctx.now), {
            ...(keep !== undefined ? { keep } : {}),
            ...(grace !== undefined ? { graceMs: grace * 1000 } : {}),
            dryRun,
            now: () => ctx.now(),
          });
          ctx.emit(
            r,
            () =>
              `${r.dryRun ? "would delete" : "deleted"} ${formatCount(r.deletedVersions.length, "version")}, ${formatCount(r.deletedShards, "shard")} and ${formatCount(r.deletedBlobs, "blob key")}; ` +
              `kept ${formatCount(r.keptVersions.length, "version")}, ${formatCount(r.keptShards, "shard")}, ${formatCount(r.keptBlobs, "blob key")}`,
          );
        });
      },
    },
  ],
};
