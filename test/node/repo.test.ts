// Repository conventions (issue 15): every secret a Worker reads is in .dev.vars.example with a way to
// generate it, local secret files stay out of git, and the scripts Cloudflare's templates name exist.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/wrangler-dev.ts";

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** Secret names a Worker's env.ts types: every `*_SECRET` or `*_JWK` property (edgekv names its secrets so). */
function secretsOf(envTs: string): string[] {
  return [...new Set([...envTs.matchAll(/^\s*([A-Z][A-Z0-9_]*(?:_SECRET|_JWK))\?:/gm)].map((m) => m[1]!))];
}

describe("repository conventions", () => {
  const example = read(".dev.vars.example");
  const listed = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);

  it("lists every secret the Workers read in .dev.vars.example, each with how to generate it and no value", () => {
    const secrets = ["site", "splitter", "auth", "control"].flatMap((w) => secretsOf(read(`workers/${w}/env.ts`)));
    expect(secrets).toEqual(expect.arrayContaining(["ADMIN_SECRET", "IDENTITY_PRIVATE_JWK", "IDENTITY_SECRET", "OVERRIDE_SECRET", "STATUS_SECRET"]));
    expect([...listed].sort()).toEqual([...new Set(secrets)].sort());
    for (const name of listed) {
      const before = example.slice(0, example.indexOf(`\n${name}=`));
      const comment = before.slice(before.lastIndexOf("\n\n"));
      expect(comment, name).toMatch(/openssl rand -base64 32|npx edgekv token keygen/);
      expect(example, `${name} must be empty in the example`).toMatch(new RegExp(`^${name}=$`, "m"));
    }
  });

  it("keeps local secret files out of git, and the example in", () => {
    const ignored = (path: string) => {
      try {
        execFileSync("git", ["check-ignore", "-q", "--no-index", path], { cwd: ROOT });
        return true;
      } catch {
        return false;
      }
    };
    for (const path of [".dev.vars", ".dev.vars.auth", ".dev.vars.splitter", ".env", ".env.auth", "dist/cli/main.js"]) expect(ignored(path), path).toBe(true);
    expect(ignored(".dev.vars.example")).toBe(false);
  });

  it("has the scripts Cloudflare's templates name, and a LICENSE matching package.json", () => {
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string>; license: string };
    for (const w of ["site", "splitter", "auth"]) {
      expect(pkg.scripts[`dev:${w}`]).toBe(`wrangler dev --env ${w}`);
      expect(pkg.scripts[`deploy:${w}`]).toBe(`wrangler deploy --env ${w}`);
    }
    expect(pkg.scripts["cf-typegen"]).toMatch(/^wrangler types /);
    expect(pkg.scripts.typecheck).toMatch(/^wrangler types --check && /);
    expect(pkg.license).toBe("MIT");
    expect(read("LICENSE")).toMatch(/^MIT License\n\nCopyright \(c\) 2026 edgekv contributors\n/);
  });
});
