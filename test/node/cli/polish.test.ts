// Issue 22 point 9: CLI polish. "Did you mean" for a mistyped option; help paragraphs that do
// not break mid-sentence and usage lines that name every option; numeric options shown and
// parsed as numbers; one number style (grouped, pluralised); `site preview` and `rollout
// override` read their secret from the Worker's `.dev.vars.<env>` as `wrangler dev` does, or
// say where they looked.
import { randomBytes } from "node:crypto";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUPS } from "../../../cli/main.ts";
import { formatCount } from "../../../cli/output.ts";
import { fullUsage, reflow } from "../../../cli/parser.ts";
import { verifyPreview } from "../../../workers/site/preview.ts";
import { readOverride } from "../../../workers/splitter/override.ts";
import { cli, ROOT } from "../helpers/cli.ts";
import { siteDir } from "../helpers/site.ts";

const commands = GROUPS.flatMap((g) => g.commands.map((c) => ({ group: g, cmd: c })));

describe("did you mean, for options", () => {
  it.each([
    [["site", "deploy", ".", "--dryrun"], "--dry-run"],
    [["kv", "list", "--env", "site", "--limt", "5"], "--limit"],
    [["rollout", "schedule", "10@now", "--alow-decrease"], "--allow-decrease"],
    [["rollout", "status", "--jsno"], "--json"],
    [["token", "issue", "--usr", "a"], "--user"],
    [["site", "gc", "--kep", "2"], "--keep"],
  ])("%j suggests %s (exit 2)", async (args, near) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`(did you mean ${near}?)`);
  });

  it("no suggestion for a word far from every option", async () => {
    const r = await cli(["site", "versions", "--zebra"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --zebra");
    expect(r.stderr).not.toContain("did you mean");
  });
});

describe("help", () => {
  it.each(commands.map(({ group, cmd }) => [`${group.name} ${cmd.name}`, cmd] as const))("%s: the usage line names every option", (_name, cmd) => {
    const usage = fullUsage(cmd);
    for (const [name, o] of Object.entries(cmd.options ?? {})) if (!o.hidden) expect(usage).toMatch(new RegExp(`--${name}(?![\\w-])`));
  });

  it("paragraphs flow: no line break inside a sentence, examples keep their lines", () => {
    for (const text of [...GROUPS.map((g) => g.details ?? ""), ...commands.map(({ cmd }) => cmd.details ?? "")]) {
      // A break inside a sentence is a newline followed by a lower-case word.
      expect(reflow(text)).not.toMatch(/\n[a-z(]/);
    }
    expect(reflow("one\ntwo\n\nthree\n  edgekv x\n- item")).toBe("one two\n\nthree\n  edgekv x\n- item");
  });

  it("numeric options are shown as [number] and checked as numbers, naming the option", async () => {
    const help = await cli(["site", "gc", "--help"]);
    expect(help.stdout).toMatch(/--keep\s+N: versions to keep.*\[number\]/);
    expect(help.stdout).toMatch(/--grace\s+SECONDS.*\[number\]/s);
    expect(help.stdout).toContain("Usage: edgekv site gc [--keep N] [--grace SECONDS] [--dry-run] [--yes]");
    const deploy = await cli(["site", "deploy", "--help"]);
    expect(deploy.stdout).toContain("[--keep-previous N] [--concurrency N]");
    for (const [args, message] of [
      [["rollout", "history", "--limit", "many"], '--limit must be a number, got "many"'],
      [["rollout", "history", "--limit=1.5"], "--limit must be a whole number, got 1.5"],
      [["site", "gc", "--keep", "0"], "--keep must be at least 1, got 0"],
      [["token", "issue", "--user", "a", "--ttl", "1e9"], "--ttl must be at most"],
    ] as const) {
      const r = await cli([...args, "--persist-to", join(tmpdir(), "edgekv-never-opened")]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });
});

describe("one number style", () => {
  it("formatCount groups digits and pluralises", () => {
    expect(formatCount(1, "new blob")).toBe("1 new blob");
    expect(formatCount(0, "file")).toBe("0 files");
    expect(formatCount(2010, "KV write")).toBe("2,010 KV writes");
    expect(formatCount(2001, "index", "indexes")).toBe("2,001 indexes");
  });
});

describe("signing secrets from the Worker's .dev.vars.<env>", () => {
  let project: string;
  let version: string;
  const previewSecret = randomBytes(32).toString("hex");
  const overrideSecret = randomBytes(32).toString("hex");
  const inProject = (args: string[]) => cli(args, { cwd: project, env: { PREVIEW_SECRET: undefined, OVERRIDE_SECRET: undefined } });

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), "edgekv-devvars-"));
    await copyFile(join(ROOT, "wrangler.toml"), join(project, "wrangler.toml"));
    const site = await siteDir(project, { "index.html": "home" });
    const deployed = await inProject(["site", "deploy", site, "--preview", "--json"]);
    expect(deployed.code, deployed.stderr).toBe(0);
    version = (JSON.parse(deployed.stdout) as { version: string }).version;
  }, 120_000);
  afterAll(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it("without the file: says where it looked", async () => {
    const r = await inProject(["site", "preview", version]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`looked in the environment and in ${join(project, ".dev.vars.site")} and ${join(project, ".dev.vars")}`);
  }, 60_000);

  it("site preview signs with PREVIEW_SECRET from .dev.vars.site; rollout override with OVERRIDE_SECRET from .dev.vars.splitter", async () => {
    await writeFile(join(project, ".dev.vars.site"), `# local secrets\nPREVIEW_SECRET="${previewSecret}"\n`);
    await writeFile(join(project, ".dev.vars.splitter"), `OVERRIDE_SECRET=${overrideSecret}\n`);
    const preview = await inProject(["site", "preview", version, "--json"]);
    expect(preview.code, preview.stderr).toBe(0);
    const token = new URL((JSON.parse(preview.stdout) as { url: string }).url, "https://x.test").searchParams.get("edgekv_preview")!;
    expect(await verifyPreview(previewSecret, token, Date.now())).toBe(version);
    const override = await inProject(["rollout", "override", "green"]);
    expect(override.code, override.stderr).toBe(0);
    const names = { cookie: "edgekv_override", header: "x-edgekv-override" };
    expect(await readOverride(new Headers({ "x-edgekv-override": override.stdout.trim() }), names, overrideSecret, Date.now())).toBe("green");
    // The environment still wins over the file.
    const other = randomBytes(32).toString("hex");
    const fromEnv = await cli(["site", "preview", version, "--json"], { cwd: project, env: { PREVIEW_SECRET: other } });
    const t2 = new URL((JSON.parse(fromEnv.stdout) as { url: string }).url, "https://x.test").searchParams.get("edgekv_preview")!;
    expect(await verifyPreview(other, t2, Date.now())).toBe(version);
  }, 60_000);
});
