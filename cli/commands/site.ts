import { flagArg, numberArg, stringArg, type CommandGroup } from "../command.ts";
import { UsageError } from "../errors.ts";
import { TRAILING_SLASH, type TrailingSlash } from "../../workers/site/model.ts";
import { nodeCompressor, readConfigFile, walkSite } from "../site/deploy.ts";
import { publishSite, siteStores } from "../site/publish.ts";
import { parseHeaders, parseRedirects } from "../site/rules.ts";
import { gc, listVersions, rollback } from "../site/versions.ts";

const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;

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
        "dry-run": { type: "boolean", description: "--dry-run          hash, compress and count, write nothing" },
        spa: { type: "string", description: "--spa FILE         SPA fallback (e.g. index.html), served 200 for extension-less misses" },
        "trailing-slash": { type: "string", description: "--trailing-slash P auto (default), force, drop or none" },
        "keep-previous": { type: "string", description: "--keep-previous N  previous versions served for version skew (default 3)" },
        concurrency: { type: "string", description: "--concurrency N    uploads in flight (default 8)" },
      },
      positionals: { min: 1, max: 1 },
      async run(ctx, { positionals, values }) {
        const dir = positionals[0]!;
        const slash = stringArg(values, "trailing-slash", "auto");
        if (!(TRAILING_SLASH as readonly string[]).includes(slash)) throw new UsageError(`--trailing-slash must be one of ${TRAILING_SLASH.join(", ")}`);
        const spaRaw = stringArg(values, "spa");
        const spa = spaRaw === undefined ? undefined : `/${spaRaw.replace(/^\/+/, "")}`;
        const keepPrevious = numberArg(values, "keep-previous", { min: 0, max: 20, integer: true });
        const concurrency = numberArg(values, "concurrency", { min: 1, max: 64, integer: true });
        const dryRun = flagArg(values, "dry-run");
        const warn = (line: string) => ctx.err(line);
        const files = await walkSite(dir, { warn });
        const redirectsText = await readConfigFile(dir, "_redirects", { warn });
        const headersText = await readConfigFile(dir, "_headers", { warn });
        const redirects = redirectsText === undefined ? [] : parseRedirects(redirectsText, `${dir}/_redirects`);
        const headers = headersText === undefined ? [] : parseHeaders(headersText, `${dir}/_headers`);
        const started = ctx.now();
        let lastDraw = 0;
        await ctx.withKv("site", async (kv, where) => {
          const result = await publishSite(kv, {
            files,
            redirects,
            headers,
            slash: slash as TrailingSlash,
            ...(spa ? { spa } : {}),
            compress: nodeCompressor,
            dryRun,
            now: () => ctx.now(),
            ...(keepPrevious !== undefined ? { keepPrevious } : {}),
            ...(concurrency !== undefined ? { concurrency } : {}),
            onProgress: (done, total) => {
              if (!ctx.isTTY || ctx.global.json) return;
              const t = Date.now();
              if (done < total && t - lastDraw < 100) return;
              lastDraw = t;
              const width = 30;
              const filled = Math.round((done / total) * width);
              process.stderr.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} files${done === total ? "\n" : ""}`);
            },
          });
          const ms = ctx.now() - started;
          ctx.emit({ ...result, ms, where }, () => {
            const verb = result.dryRun ? "would publish" : result.unchanged ? "unchanged, still live:" : "published";
            return (
              `${verb} ${result.version} (${where})\n` +
              `  ${result.files} files, ${mib(result.totalBytes)}; ${result.newBlobs} new blobs, ${mib(result.uploadedBytes)} uploaded; ${ms} ms` +
              (result.previous && !result.unchanged && !result.dryRun ? `\n  previous: ${result.previous} (edgekv site rollback)` : "")
            );
          });
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
              : versions
                  .map((v) => `${v.live ? "*" : v.skew ? "+" : " "} ${v.id}  ${new Date(v.at).toISOString()}  ${v.files} files  ${mib(v.bytes)}`)
                  .join("\n") + "\n(* live, + previous versions still served for version skew)",
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
      usage: "site gc [--keep N] [--grace SECONDS] [--dry-run]",
      details: "Keeps the newest N versions (default 5), the live one and those kept for version skew.",
      options: {
        keep: { type: "string", description: "--keep N           versions to keep, newest first (default 5)" },
        grace: { type: "string", description: "--grace SECONDS    spare blobs uploaded in the last SECONDS (default 3600)" },
        "dry-run": { type: "boolean", description: "--dry-run          report, delete nothing" },
      },
      async run(ctx, { values }) {
        const keep = numberArg(values, "keep", { min: 1, integer: true });
        const grace = numberArg(values, "grace", { min: 0 });
        await ctx.withKv("site", async (kv) => {
          const r = await gc(siteStores(kv, ctx.now), {
            ...(keep !== undefined ? { keep } : {}),
            ...(grace !== undefined ? { graceMs: grace * 1000 } : {}),
            dryRun: flagArg(values, "dry-run"),
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
