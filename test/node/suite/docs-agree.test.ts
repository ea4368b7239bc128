// Issue 22 point 7: the docs agree with each other and with the code. Each claim below was
// wrong once; each is checked against what the code does (run for real where it can be).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrigin, stateDir, type Origin } from "../../security/helpers.ts";
import { cli, ROOT } from "../helpers/cli.ts";
import { freePort } from "../helpers/ports.ts";
import { startWranglerDev, type DevServer } from "../helpers/wrangler-dev.ts";

const doc = (path: string) => readFileSync(join(ROOT, path), "utf8");
/** Markdown with line breaks as spaces, so a claim split across lines is one string. */
const flat = (path: string) => doc(path).replace(/\s+/g, " ");

describe("failover: docs/splitter.md says which requests are retried, and that is what the splitter does", () => {
  let state: Awaited<ReturnType<typeof stateDir>>;
  let green: Origin;
  let splitter: DevServer;
  beforeAll(async () => {
    state = await stateDir("failover-doc");
    green = await startOrigin("green");
    // Blue is live and refuses connections: every request fails there first.
    const blue = `http://127.0.0.1:${await freePort()}`;
    const init = await cli(["rollout", "init", "--blue", blue, "--green", green.url, "--failover", "--timeout", "5000", "--persist-to", state.dir]);
    expect(init.code, init.stderr).toBe(0);
    splitter = await startWranglerDev({ env: "splitter", persistTo: state.dir, vars: { CONFIG_TTL_MS: "0" } });
  }, 120_000);
  afterAll(async () => {
    await splitter?.stop();
    await green?.close();
    await state?.remove();
  });

  it("retried: bodiless GET and HEAD; not retried: PUT, DELETE and OPTIONS (even without a body) and a POST", async () => {
    const outcome: Record<string, string> = {};
    for (const method of ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "POST"]) {
      const res = await fetch(`${splitter.url}/x`, { method, ...(method === "POST" ? { body: "b" } : {}) });
      await res.arrayBuffer();
      outcome[method] = res.headers.get("x-edgekv-reason") === "failover" && res.status < 500 ? "retried" : `not retried (${res.status})`;
    }
    expect(outcome).toEqual({
      GET: "retried",
      HEAD: "retried",
      PUT: "not retried (502)",
      DELETE: "not retried (502)",
      OPTIONS: "not retried (502)",
      POST: "not retried (502)",
    });
    const text = flat("docs/splitter.md");
    expect(text.includes("only a GET or HEAD without a body is retried"), "docs/splitter.md states which requests fail over").toBe(true);
    expect(/a GET, HEAD, OPTIONS, PUT or DELETE \*\*without a body\*\*|failed idempotent requests/.test(text), "an old failover claim").toBe(false);
  }, 60_000);
});

describe("exit codes", () => {
  it("a refused rollout write exits 2, as docs/splitter.md says", async () => {
    const r = await cli(["rollout", "set", "150", "--persist-to", join(ROOT, ".never-opened")]);
    expect(r.code).toBe(2);
    const text = flat("docs/splitter.md");
    expect(text.includes("a refusal names the field, exits 2"), "docs/splitter.md gives the exit code").toBe(true);
    expect(text.includes("exits 1, writes nothing"), "the old exit code").toBe(false);
  });
});

describe("claims that were out of date", () => {
  it("README: a first --remote site deploy is bulk requests, not one request per key", () => {
    expect(/writes one request per key/.test(flat("README.md"))).toBe(false);
  });

  it("CHANGELOG: compressed copies are opt-in (--precompress), not stored by default", () => {
    const changelog = flat("CHANGELOG.md");
    expect(/files with brotli\/gzip copies,|compressed copies (are )?stored by default/i.test(changelog)).toBe(false);
    expect(changelog.includes("--precompress")).toBe(true);
    // The flag the CLI has.
    expect(doc("cli/commands/site.ts")).toContain("precompress");
  });

  it("README: npm warns EBADENGINE on the system's old Node, and does not say it is once", () => {
    expect(/EBADENGINE` once/.test(flat("README.md"))).toBe(false);
  });

  it("every curl example of the proxies works with plain curl (issue 22.5) or says --compressed", () => {
    for (const file of ["README.md", "docs/splitter.md", "docs/auth.md", "docs/site.md", "docs/remote.md"]) {
      for (const line of doc(file).split("\n")) {
        if (!/^\s*(\$ )?curl\b/.test(line) || /--compressed|-o \/dev\/null|-I\b|-sI\b|--head/.test(line)) continue;
        // Plain curl is fine since the proxies answer identity to a client without Accept-Encoding
        // (shared/http/encoding.ts); what must not appear is an example that asks for br and prints it.
        expect(line, `${file}: ${line}`).not.toMatch(/accept-encoding: *(br|gzip)/i);
      }
    }
  });
});
