/**
 * Attack class: an open redirect through `_redirects` substitution. A request whose splat or
 * `:placeholder` holds `//evil.com`, `\evil.com`, `%2F%2F`, `%5C`, tabs, `@`, `http:` ... must
 * never get a `Location` on another host. The real CLI deploys the rules, real
 * `wrangler dev --env site` serves them, and the requests go out as raw bytes (node:net),
 * so nothing on our side normalises them first. Deploy-time refusals go through the CLI too.
 */
import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../node/helpers/cli.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";
import { siteDir as writeSite } from "../node/helpers/site.ts";

const EXTERNAL = "https://example.com";
/** Rules whose targets an attacker fills; `/ext*` go to an absolute URL that must keep its host. */
const REDIRECTS = [
  "/blog/* /:splat 301",
  "/go/* /:splat/index.html",
  "/u/:id/* /:id/:splat 308",
  "/q/* /search?q=:splat",
  "/ext/* https://example.com/:splat",
  "/extq/* https://example.com/r?to=:splat",
].join("\n");

let dir: string;
let dev: DevServer;

const siteDir = (name: string, files: Record<string, string>) => writeSite(dir, files, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgekv-sec-redirect-"));
  const site = await siteDir("site", { "index.html": "home", _redirects: REDIRECTS });
  const deployed = await cli(["site", "deploy", site, "--persist-to", join(dir, "state")]);
  expect(deployed.code, deployed.stderr).toBe(0);
  dev = await startWranglerDev({ env: "site", persistTo: join(dir, "state") });
}, 120_000);

afterAll(async () => {
  await dev?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Sends a request line as it is (fetch would normalise the path); status and Location back. */
function raw(target: string): Promise<{ status: number; location: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(dev.port, "127.0.0.1", () =>
      sock.end(Buffer.from(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${dev.port}\r\nConnection: close\r\n\r\n`, "latin1")),
    );
    let out = "";
    sock.on("data", (d: Buffer) => (out += d.toString("latin1")));
    sock.on("end", () => {
      const head = out.split("\r\n\r\n", 1)[0] ?? "";
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const location = /\r\nlocation: ([^\r\n]*)/i.exec(head)?.[1];
      resolve({ status, location, text: out });
    });
    sock.on("error", reject);
    sock.setTimeout(10_000, () => sock.destroy(new Error("raw request timed out")));
  });
}

/** The Location's origin as a browser at the site would resolve it; undefined when there is none. */
async function landsOn(target: string): Promise<string | undefined> {
  const r = await raw(target);
  expect(r.status, `${target}\n${r.text.slice(0, 300)}`).toBeGreaterThan(0);
  if (r.location === undefined) return undefined;
  expect(r.status, target).toBeGreaterThanOrEqual(300);
  return new URL(r.location, `${dev.url}/`).origin;
}

const expectedOrigin = (target: string) => (target.startsWith("/ext") ? EXTERNAL : dev.url);

/** Pieces of hostile splats as they appear on the request line (raw or percent-encoded). */
const piece = fc.constantFrom(
  "/",
  "//",
  "\\",
  "/\\",
  "%2F",
  "%2f",
  "%5C",
  "%5c",
  "%252F",
  "%255C",
  "%2F%2F",
  "%5C%5C",
  "%09",
  "%0A",
  "%0D",
  "%20",
  "%00",
  "\t",
  "@",
  "%40",
  ":",
  "http:",
  "https:",
  "evil.com",
  "evil.com:8080",
  "user:pw@evil.com",
  ".",
  "..",
  "%2e",
  "%2e%2e",
  "%",
  "%EF%BC%8F",
  "%EF%BC%BC",
  "%E3%80%82",
  "%C0%AF",
  "?",
  "#",
  ";",
);
const payload = fc.array(piece, { minLength: 1, maxLength: 7 }).map((p) => p.join(""));

describe("_redirects never sends a visitor to another host", () => {
  it("the known payloads: //host, /\\host, encoded and whitespace-split forms", async () => {
    const targets = [
      "/blog//evil.com",
      "/blog/\\evil.com",
      "/blog//\\evil.com",
      "/blog/%2F%2Fevil.com",
      "/blog/%2F/evil.com",
      "/blog/%5Cevil.com",
      "/blog/%5C%5Cevil.com",
      "/blog/%09/evil.com",
      "/blog//%09/evil.com",
      "/blog/%0A/evil.com",
      "/blog/%252F%252Fevil.com",
      "/blog/@evil.com",
      "/blog/http:evil.com",
      "/blog/https://evil.com/x",
      "/blog/%EF%BC%8F%EF%BC%8Fevil.com",
      "/go/",
      "/go//evil.com",
      "/u/x//evil.com",
      "/q//evil.com",
      "/ext/@evil.com",
      "/ext//evil.com",
      "/ext/%2F%2Fevil.com",
      "/ext/..%2F..%2F@evil.com",
      "/extq/x&to=https://evil.com",
      "http://evil.com/blog//evil.com",
      "//evil.com/blog//evil.com",
    ];
    let redirects = 0;
    for (const t of targets) {
      const origin = await landsOn(t);
      if (origin !== undefined) {
        redirects++;
        expect(origin, t).toBe(expectedOrigin(t.replace(/^http:\/\/evil\.com|^\/\/evil\.com/, "")));
      }
    }
    // Most of them are answered with a redirect at all (or this test proves nothing).
    expect(redirects).toBeGreaterThan(targets.length / 2);
  });

  it("generated payloads under every rule (property-based, raw bytes)", async () => {
    let redirects = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/blog/", "/go/", "/u/id/", "/q/", "/ext/", "/extq/"), payload, async (prefix, p) => {
        const target = prefix + p;
        const origin = await landsOn(target);
        if (origin !== undefined) {
          redirects++;
          expect(origin, target).toBe(expectedOrigin(target));
        }
      }),
      { numRuns: 200 },
    );
    // Many generated paths are refused (400) by the path policy before any rule: enough must still reach the rules.
    expect(redirects).toBeGreaterThan(15);
  });

  it("the CLI refuses protocol-relative targets and placeholders in a URL's host, naming the line", async () => {
    const bad: [string, RegExp][] = [
      ["/a /b\n/x //evil.com 301", /_redirects:2: target "\/\/evil.com" is protocol-relative/],
      ["/x /\\evil.com", /_redirects:1: target "\/\\evil.com" is protocol-relative/],
      ["/x ///evil.com", /_redirects:1: .*protocol-relative/],
      ["/r/:host https://:host/", /_redirects:1: target puts :host in its host/],
      ["/r/:host https://:host.example.com/", /_redirects:1: target puts :host in its host/],
      ["/r/* https://example.com:splat", /_redirects:1: target puts :splat in its host/],
    ];
    for (const [i, [rules, re]] of bad.entries()) {
      const site = await siteDir(`bad-${i}`, { "index.html": "x", _redirects: rules });
      const r = await cli(["site", "deploy", site, "--persist-to", join(dir, "state-bad")]);
      expect(r.code, rules).toBe(2); // invalid input (issue 15)
      expect(r.stderr, rules).toMatch(re);
    }
  });
});
