// Repository conventions (issue 15): every secret a Worker reads is in .dev.vars.example with a way to
// generate it, local secret files stay out of git, and the scripts Cloudflare's templates name exist.
// Issue 21: no function over 80 lines outside tests, no import cycle, scripts/ never imports bench/.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import ts from "typescript";
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

/** The TypeScript sources outside tests: what the rooms rules (issue 21) cover. */
const SOURCE_DIRS = ["workers", "shared", "cli", "scripts", "bench"];
/** A function body longer than this is split: it no longer reads as one step. */
const MAX_FUNCTION_LINES = 80;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${name}`;
    if (name === "node_modules" || name === "results") continue;
    if (statSync(join(ROOT, path)).isDirectory()) sources(path, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Relative imports of one file (static, type-only, re-exports and dynamic `import()`), as repository paths. */
function importsOf(path: string, sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const add = (spec: string) => {
    if (!spec.startsWith(".")) return;
    const target = posix.normalize(posix.join(posix.dirname(path), spec));
    out.push(existsSync(join(ROOT, target)) || !existsSync(join(ROOT, `${target}.ts`)) ? target : `${target}.ts`);
  };
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) add(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteralLike(n.arguments[0]))
      add(n.arguments[0].text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe("rooms that match their names (issue 21)", () => {
  const files = SOURCE_DIRS.flatMap((d) => sources(d));
  const parsed = new Map(files.map((f) => [f, ts.createSourceFile(f, read(f), ts.ScriptTarget.Latest, true)]));
  const graph = new Map(files.map((f) => [f, importsOf(f, parsed.get(f) as ts.SourceFile)]));

  it(`has no function over ${MAX_FUNCTION_LINES} lines outside tests`, () => {
    const long: string[] = [];
    for (const [path, sf] of parsed) {
      const visit = (n: ts.Node): void => {
        if (ts.isFunctionLike(n) && "body" in n && n.body) {
          const from = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
          const lines = sf.getLineAndCharacterOfPosition(n.getEnd()).line - from + 1;
          const name = "name" in n && n.name ? n.name.getText(sf) : "(anonymous)";
          if (lines > MAX_FUNCTION_LINES) long.push(`${path}:${from + 1} ${name} (${lines} lines)`);
        }
        ts.forEachChild(n, visit);
      };
      visit(sf);
    }
    expect(files.length).toBeGreaterThan(100);
    expect(long).toEqual([]);
  });

  it("has no import cycle, not even a type-only one", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const dfs = (u: string): void => {
      state.set(u, "open");
      stack.push(u);
      for (const v of graph.get(u) ?? []) {
        if (!graph.has(v)) continue;
        if (state.get(v) === "open") cycles.push([...stack.slice(stack.indexOf(v)), v].join(" -> "));
        else if (!state.has(v)) dfs(v);
      }
      stack.pop();
      state.set(u, "done");
    };
    for (const f of graph.keys()) if (!state.has(f)) dfs(f);
    expect(cycles).toEqual([]);
  });

  it("finds a cycle when there is one (the check above can fail)", () => {
    const a = ts.createSourceFile("x/a.ts", 'import type { B } from "./b.ts";', ts.ScriptTarget.Latest, true);
    expect(importsOf("x/a.ts", a)).toEqual(["x/b.ts"]);
  });

  it("names the rooms alike in every Worker: handler.ts holds handle(request, deps), env.ts only types, one forward.ts", () => {
    for (const w of ["site", "splitter", "auth", "control"]) {
      expect(read(`workers/${w}/handler.ts`), w).toMatch(/^export async function handle\(request: Request, deps: Deps\b/m);
      const env = parsed.get(`workers/${w}/env.ts`) as ts.SourceFile;
      const code = env.statements.filter((st) => ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isImportDeclaration(st));
      expect(
        code.map((st) => st.getText(env).slice(0, 60)),
        `workers/${w}/env.ts parses nothing`,
      ).toEqual([]);
    }
    expect(files.filter((f) => f.endsWith("/forward.ts"))).toEqual(["shared/http/forward.ts"]);
    // One name, one contract: a Worker's config parser and decision types are named apart.
    const declared = (name: string) => files.filter((f) => new RegExp(`^export (?:async )?(?:function|interface|type|class) ${name}\\b`, "m").test(read(f)));
    for (const name of ["parseConfig", "Decision"]) expect(declared(name).length, name).toBeLessThanOrEqual(1);
  });

  it("keeps scripts/ independent of bench/", () => {
    const wrong = [...graph].flatMap(([f, deps]) => (f.startsWith("scripts/") ? deps.filter((d) => d.startsWith("bench/")).map((d) => `${f} -> ${d}`) : []));
    expect(wrong).toEqual([]);
  });
});
