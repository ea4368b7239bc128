import { flagArg, numberArg, stringArg, type ArgValues, type CommandGroup, type Context } from "../command.ts";
import { InputError } from "../errors.ts";
import { formatBytes, progress, table } from "../output.ts";
import { TRAILING_SLASH, type TrailingSlash } from "../../workers/site/model.ts";
import { nodeCompressor, readConfigFile, walkSite } from "../site/deploy.ts";
import { checkFiles, publishSite, siteStores, type PublishOptions, type PublishResult } from "../site/publish.ts";
import { parseHeaders, parseRedirects } from "../site/rules.ts";
import { DEFAULT_GC_KEEP, gc, listVersions, rollback } from "../site/versions.ts";

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
    compress: nodeCompressor,
    dryRun: flagArg(values, "dry-run"),
    ...(keepPrevious !== undefined ? { keepPrevious } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
  };
}

/** What a deploy did (or, with --dry-run, would do), for people. */
function deploySummary(r: PublishResult, where: string, ms: number): string {
  const verb = r.unchanged
    ? r.dryRun
      ? "nothing would change: the same site is live as"
      : "unchanged, still live:"
    : r.dryRun
      ? "would publish"
      : "published";
  const uploaded = r.unchanged ? "nothing to upload" : `${r.newBlobs} new blobs, ${formatBytes(r.uploadedBytes)} ${r.dryRun ? "to upload" : "uploaded"}`;
  return (
    `${verb} ${r.version} (${where})\n` +
    `  ${r.files} files, ${formatBytes(r.totalBytes)}; ${uploaded}; ${ms} ms` +
    (r.previous && !r.unchanged && !r.dryRun ? `\n  previous: ${r.previous} (edgekv site rollback)` : "")
  );
}

/**
 * `edgekv site`: publish a folder to SITE_KV, list versions, roll back, collect garbage.
 * The Worker (workers/site) serves whatever the pointer names; nothing is redeployed.
 */
export const siteGroup: CommandGroup = {
  name: "site",
  summary: "publish, list, roll back and clean up sites in SITE_KV",
  details: "A deploy uploads only the blobs KV lacks, then the manifest, then flips the pointer (one write).\nSee docs/site.md.",
  commands: [
    {
      name: "deploy",
      summary: "publish a folder as a new live version",
      usage: "site deploy DIR [--dry-run] [--spa FILE] [--trailing-slash auto|force|drop|none] [--keep-previous N]",
      details:
        "Skips dotfiles (except .well-known). _headers and _redirects (Pages syntax) are compiled into the manifest.\n" +
        "Safe to kill at any moment: the live site changes only with the last write.",
      options: {
        "dry-run": { type: "boolean", description: "hash, compress and count, write nothing" },
        spa: { type: "string", description: "FILE: SPA fallback (e.g. index.html), served 200 for extension-less misses" },
        "trailing-slash": { type: "string", description: "P: auto (default), force, drop or none" },
        "keep-previous": { type: "string", description: "N: previous versions served for version skew (default 3)" },
        concurrency: { type: "string", description: "N: uploads in flight (default 8)" },
      },
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        const dir = positionals[0]!;
        const plan = await deployPlan(ctx, dir, values);
        const started = ctx.now();
        const bar = progress(plan.dryRun ? "hashing" : "uploading", { tty: ctx.isTTY && !ctx.global.json, write: ctx.errRaw });
        if (!ctx.isTTY) ctx.err(`site deploy: ${plan.files.length} files from ${dir} (${ctx.describeTarget()})`);
        await ctx.withKv("site", async (kv, where) => {
          const result = await publishSite(kv, { ...plan, now: () => ctx.now(), onProgress: (done, total) => bar.update(done, total) });
          bar.done();
          const ms = ctx.now() - started;
          ctx.emit({ ...result, ms, where }, () => deploySummary(result, where, ms));
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
                  ["  VERSION", "DEPLOYED", "FILES", "SIZE"],
                  versions.map((v) => [`${v.live ? "*" : v.skew ? "+" : " "} ${v.id}`, new Date(v.at).toISOString(), String(v.files), formatBytes(v.bytes)]),
                  ctx.style,
                )}\n(* live, + previous versions still served for version skew)`,
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
      name: "gc",
      summary: "delete old versions and the blobs no retained version uses",
      usage: "site gc [--keep N] [--grace SECONDS] [--dry-run] [--yes]",
      details:
        "Keeps the newest N versions (default 5), the live one and those kept for version skew.\nAsks first unless --dry-run (--yes without a terminal).",
      options: {
        keep: { type: "string", description: "N: versions to keep, newest first (default 5)" },
        grace: { type: "string", description: "SECONDS: spare blobs uploaded in the last SECONDS (default 3600)" },
        "dry-run": { type: "boolean", description: "report, delete nothing" },
      },
      async run(ctx, { values }) {
        const keep = numberArg(values, "keep", { min: 1, integer: true });
        const grace = numberArg(values, "grace", { min: 0 });
        const dryRun = flagArg(values, "dry-run");
        if (!dryRun) await ctx.confirm(`delete site versions beyond the newest ${keep ?? DEFAULT_GC_KEEP} and the blobs no kept version uses`);
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
              `${r.dryRun ? "would delete" : "deleted"} ${r.deletedVersions.length} version(s) and ${r.deletedBlobs} blob key(s); kept ${r.keptVersions.length} version(s), ${r.keptBlobs} blob key(s)`,
          );
        });
      },
    },
  ],
};
