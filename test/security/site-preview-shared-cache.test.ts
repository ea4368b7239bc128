/**
 * Attack class: an unreleased preview kept by a shared cache. A CDN or proxy in front of the site
 * keys by URL; if a response chosen by a preview (cookie, signed link, preview hostname) is
 * cacheable, the next anonymous visitor of that URL gets the unreleased page. `_headers` is the
 * lever: `s-maxage`, `Public` in capitals, two rules appending values, CDN-Cache-Control and its
 * vendor forms, Surrogate-Control, Expires without Cache-Control, nginx's X-Accel-Expires.
 *
 * Real pieces: `edgekv site deploy` (live, then `--preview`), `edgekv site preview` for the link,
 * `wrangler dev --env site`, and nginx's proxy_cache in front, keyed by URI only, honouring the
 * origin's headers. For every hostile value and every way in: after the previewer's request, an
 * anonymous request through nginx gets the live content; the cache does work (a second anonymous
 * request is a HIT where nginx honours the value), and `Vary: Cookie` keeps the previewer's view.
 */
import { request } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../node/helpers/cli.ts";
import { siteDir } from "../node/helpers/site.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";
import { nginxAvailable, startNginxCache, NGINX, type NginxCache } from "./nginx-cache.ts";

const SECRET = "a-preview-secret-for-the-shared-cache-test";
const HOST = "preview.test";
const EXPIRES = new Date(Date.now() + 24 * 3600 * 1000).toUTCString();

/** Each case: the `_headers` rules for its folder, and whether nginx itself obeys the value (so the live page is stored). */
const CASES: Record<string, { rules: string[][]; nginxStores: boolean }> = {
  smaxage: { rules: [["Cache-Control: max-age=300, s-maxage=600"]], nginxStores: true },
  public: { rules: [["Cache-Control: Public, max-age=600"]], nginxStores: true },
  appended: { rules: [["Cache-Control: public"], ["Cache-Control: max-age=600"]], nginxStores: true },
  cdn: { rules: [["CDN-Cache-Control: max-age=600", "Cloudflare-CDN-Cache-Control: max-age=600"]], nginxStores: false },
  surrogate: { rules: [["Surrogate-Control: max-age=600"]], nginxStores: false },
  expires: { rules: [["! Cache-Control", `Expires: ${EXPIRES}`]], nginxStores: true },
  accel: { rules: [["! Cache-Control", "X-Accel-Expires: 600"]], nginxStores: true },
};
const WAYS = ["cookie", "link", "host"] as const;
type Way = (typeof WAYS)[number];

const HAVE_NGINX = nginxAvailable();
const SKIP = !HAVE_NGINX && !process.env.CI;
if (SKIP) console.warn(`site-preview-shared-cache: SKIPPED, no nginx at ${NGINX} (apt-get install nginx-light); with CI set this fails instead`);

let dir: string;
let dev: DevServer | undefined;
let cache: NginxCache | undefined;
let live: string;
let preview: string;
let token: string;

/**
 * The site at one version: per case a page, and the preview differs from live in three more ways:
 * a page only it has (`only`), a page only live has (`gone`: a 404 in the preview), and a
 * `_redirects` rule only it has (`moved`: a 301 in the preview, a page live).
 */
function files(tag: string, isPreview: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const headers: string[] = [];
  const redirects: string[] = [];
  for (const [name, { rules }] of Object.entries(CASES)) {
    out[`${name}/page.html`] = `<p>${tag} ${name}</p>`;
    if (isPreview) {
      out[`${name}/only.html`] = `<p>${tag} only ${name}</p>`;
      redirects.push(`/${name}/moved /${name}/page 301`);
    } else {
      out[`${name}/gone.html`] = `<p>${tag} gone ${name}</p>`;
      out[`${name}/moved.html`] = `<p>${tag} moved ${name}</p>`;
    }
    for (const lines of rules) headers.push(`/${name}/*`, ...lines.map((l) => `  ${l}`));
  }
  out._headers = `${headers.join("\n")}\n`;
  if (redirects.length) out._redirects = `${redirects.join("\n")}\n`;
  return out;
}

const json = <T>(r: { code: number; stdout: string; stderr: string }): T => {
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as T;
};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET through nginx with headers of our choosing (Host included, which fetch cannot set). */
function get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    request(`${cache!.url}${path}`, { headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on("error", reject)
      .end();
  });
}

beforeAll(async () => {
  if (SKIP) return;
  dir = await mkdtemp(join(tmpdir(), "edgekv-sec-preview-cache-"));
  const state = join(dir, "state");
  live = json<{ version: string }>(await runCli(["site", "deploy", await siteDir(dir, files("live", false), "live"), "--persist-to", state, "--json"])).version;
  preview = json<{ version: string }>(
    await runCli(["site", "deploy", await siteDir(dir, files("preview", true), "preview"), "--preview", "--persist-to", state, "--json"]),
  ).version;
  const link = json<{ url: string }>(
    await runCli(["site", "preview", preview, "--url", "https://www.example.test/", "--ttl", "1h", "--persist-to", state, "--json"], {
      env: { PREVIEW_SECRET: SECRET },
    }),
  ).url;
  token = new URL(link).searchParams.get("edgekv_preview")!;
  const envFile = join(dir, ".dev.vars");
  await writeFile(envFile, `PREVIEW_SECRET=${SECRET}\n`, { mode: 0o600 });
  dev = await startWranglerDev({ env: "site", persistTo: state, vars: { PREVIEW_HOST: HOST }, envFile });
  cache = await startNginxCache(dev.url);
}, 120_000);

afterAll(async () => {
  await cache?.stop();
  await dev?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The previewer's request for `path`, the given way; the link way swaps the token for the cookie first. */
async function asPreviewer(way: Way, path: string): Promise<Reply> {
  if (way === "host") return get(path, { Host: `${preview.toLowerCase()}.${HOST}` });
  if (way === "cookie") return get(path, { Cookie: `edgekv_preview=${token}` });
  const swap = await get(`${path}&edgekv_preview=${token}`);
  expect(swap.status).toBe(302);
  expect(swap.headers["cache-control"]).toBe("private, no-store");
  expect(swap.headers["x-cache-status"]).not.toBe("HIT");
  const cookie = String(swap.headers["set-cookie"] ?? "").split(";")[0]!;
  expect(cookie).toBe(`edgekv_preview=${token}`);
  return get(String(swap.headers.location), { Cookie: cookie });
}

describe.skipIf(SKIP)("a preview is never kept by a shared cache in front of the site (nginx proxy_cache)", () => {
  it("for every hostile _headers value and every way in, the next anonymous visitor gets the live page", async () => {
    for (const [name, { nginxStores }] of Object.entries(CASES)) {
      for (const way of WAYS) {
        const label = `${name} via ${way}`;
        const path = `/${name}/page?w=${way}`;
        const p = await asPreviewer(way, path);
        expect(p.body, label).toBe(`<p>preview ${name}</p>`);
        expect(p.headers["x-edgekv-site-version"], label).toBe(preview);
        const anon = await get(path);
        expect(anon.body, `${label}: anonymous after the previewer`).toBe(`<p>live ${name}</p>`);
        expect(anon.headers["x-edgekv-site-version"], label).toBe(live);
        expect(anon.headers["x-cache-status"], label).not.toBe("HIT");
        expect(String(anon.headers.vary).toLowerCase(), label).toContain("cookie");

        // What kept it out: the previewer's response told every cache not to store it.
        expect(p.headers["cache-control"], label).toBe("private, no-store");
        for (const h of ["cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control", "expires", "x-accel-expires", "pragma"]) {
          expect(p.headers[h], `${label}: ${h}`).toBeUndefined();
        }

        // The cache is real: where nginx honours the value, the live page is now stored...
        const again = await get(path);
        expect(again.body, label).toBe(`<p>live ${name}</p>`);
        if (nginxStores) expect(again.headers["x-cache-status"], `${label}: the live page is cached`).toBe("HIT");
        // ...and Vary: Cookie keeps the previewer's own view.
        if (way !== "host") expect((await asPreviewer(way, path)).body, `${label}: previewer after the cache`).toBe(`<p>preview ${name}</p>`);

        // A page only the preview has: the visitor gets the live 404, never the preview's page.
        const only = `/${name}/only?w=${way}`;
        expect((await asPreviewer(way, only)).body, label).toBe(`<p>preview only ${name}</p>`);
        const anonOnly = await get(only);
        expect(anonOnly.status, `${label}: preview-only page`).toBe(404);
        expect(anonOnly.body).not.toContain("preview");
        // The preview's 404 and its redirect (the rules apply to both) are not kept either.
        for (const [what, status] of [
          ["gone", 404],
          ["moved", 301],
        ] as const) {
          const at = `/${name}/${what}?w=${way}`;
          const seen = await asPreviewer(way, at);
          expect(seen.status, `${label}: ${what} as previewer`).toBe(status);
          expect(seen.headers["cache-control"], `${label}: ${what}`).toBe("private, no-store");
          const visitor = await get(at);
          expect(visitor.status, `${label}: ${what} for the visitor`).toBe(200);
          expect(visitor.body).toBe(`<p>live ${what} ${name}</p>`);
        }
      }
    }
  });
});
