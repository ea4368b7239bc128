// Previews (workers/site/preview.ts): a signed link or a preview hostname serves
// one version whole, while everyone else keeps the live one; a bad link is the
// live site, never an error page; nothing here can move the live pointer.
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_LINK_SECONDS } from "../../shared/signed-link.ts";
import { DEFAULT_PREVIEW_SECONDS, PREVIEW_PARAM, signPreview, verifyPreview, versionFromHost } from "../../workers/site/preview.ts";
import { handle } from "../../workers/site/handler.ts";
import { SiteReader } from "../../workers/site/store.ts";
import { freshKv, publish } from "./helpers.ts";

const SECRET = "p".repeat(32);
const OTHER = "q".repeat(32);
const HOST = "preview.example.com";
const now = () => Math.floor(Date.now() / 1000);

let reader: SiteReader;
let older: string; // retained, not live: the version previewed
let live: string;

beforeAll(async () => {
  const kv = freshKv();
  older = await publish(kv, { "/index.html": "old home", "/about.html": "old about" });
  // Distinct version ids need distinct seconds.
  live = await publish(kv, { "/index.html": "new home", "/about.html": "new about" }, { now: () => Date.now() + 2_000 });
  reader = new SiteReader(kv);
});

const fetchSite = (url: string, init: RequestInit = {}, secret: string | null = SECRET) =>
  handle(new Request(url, init), { reader, preview: { host: HOST, secret: secret ?? undefined } });

const link = async (version: string, exp = now() + 3600, secret = SECRET) =>
  `https://www.example.test/about?x=1&${PREVIEW_PARAM}=${await signPreview(secret, version, exp)}`;

/** The cookie a 302 sets: [name=value, attributes]. */
function setCookie(res: Response): { pair: string; attrs: string } {
  const v = res.headers.get("Set-Cookie") ?? "";
  const i = v.indexOf(";");
  return { pair: v.slice(0, i), attrs: v.slice(i) };
}

describe("signed preview links", () => {
  it("swaps the link for an HttpOnly cookie and redirects to the same URL without it", async () => {
    const res = await fetchSite(await link(older));
    expect(res.status).toBe(302);
    expect(res.headers.get("Location")).toBe("/about?x=1");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    const { pair, attrs } = setCookie(res);
    expect(pair).toMatch(new RegExp(`^edgekv_preview=${older}\\.\\d+\\.[A-Za-z0-9_-]{43}$`));
    expect(attrs).toMatch(/Max-Age=(3[5-6]\d\d);/);
    expect(attrs).toContain("HttpOnly");
    expect(attrs).toContain("Secure");
    expect(attrs).toContain("SameSite=Lax");
  });

  it("serves the whole site at the previewed version to the cookie's holder, and the live one to everyone else", async () => {
    const { pair } = setCookie(await fetchSite(await link(older)));
    for (const [path, body] of [
      ["/", "old home"],
      ["/about", "old about"],
    ]) {
      const res = await fetchSite(`https://www.example.test${path}`, { headers: { Cookie: `a=1; ${pair}` } });
      expect(await res.text()).toBe(body);
      expect(res.headers.get("x-edgekv-site-version")).toBe(older);
      expect(res.headers.get("X-Robots-Tag")).toBe("noindex");
      expect(res.headers.get("Cache-Control")).toMatch(/^private/);
    }
    const visitor = await fetchSite("https://www.example.test/");
    expect(await visitor.text()).toBe("new home");
    expect(visitor.headers.get("x-edgekv-site-version")).toBe(live);
    expect(visitor.headers.get("X-Robots-Tag")).toBeNull();
  });

  it("answers an expired, tampered, foreign or over-long link with the live site (cookie cleared), never an error", async () => {
    const good = await signPreview(SECRET, older, now() + 3600);
    const [v, exp, sig] = good.split(".") as [string, string, string];
    const flipped = sig.slice(0, -1) + (sig.endsWith("A") ? "B" : "A");
    const bad = [
      await signPreview(SECRET, older, now() - 1), // expired
      `${v}.${exp}.${flipped}`, // signature changed
      `${live}.${exp}.${sig}`, // another version under the same signature
      `${v}.${Number(exp) + 60}.${sig}`, // expiry pushed out
      await signPreview(OTHER, older, now() + 3600), // another secret
      await signPreview(SECRET, older, now() + MAX_LINK_SECONDS + 3600), // longer than any link the CLI makes
      "garbage",
      `${good}.extra`,
      "x".repeat(5000),
    ];
    for (const token of bad) {
      const res = await fetchSite(`https://www.example.test/?${PREVIEW_PARAM}=${encodeURIComponent(token)}`);
      expect(res.status, token).toBe(302);
      expect(res.headers.get("Location")).toBe("/");
      expect(setCookie(res).pair).toBe("edgekv_preview=");
      expect(setCookie(res).attrs).toContain("Max-Age=0");
      const after = await fetchSite("https://www.example.test/", { headers: { Cookie: `edgekv_preview=${token}` } });
      expect(after.status).toBe(200);
      expect(await after.text()).toBe("new home");
      expect(after.headers.get("X-Robots-Tag")).toBeNull();
    }
  });

  it("never redirects off the site, whatever the path", async () => {
    let redirects = 0;
    for (const path of ["//evil.example/", "///evil.example/x", "/\\evil.example/", "/.//evil.example/"]) {
      const res = await fetchSite(`https://www.example.test${path}?${PREVIEW_PARAM}=${await signPreview(SECRET, older, now() + 60)}`);
      if (res.status === 400) continue; // refused by the path policy first
      redirects++;
      const location = res.headers.get("Location") ?? "";
      expect(location.startsWith("/"), path).toBe(true);
      expect(location.startsWith("//"), path).toBe(false);
      expect(new URL(location, "https://www.example.test").host).toBe("www.example.test");
    }
    expect(redirects).toBeGreaterThan(0);
  });

  it("ignores links and cookies without a (strong) PREVIEW_SECRET: the live site, no redirect", async () => {
    const res = await fetchSite(await link(older), {}, null);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("new about");
    expect(res.headers.get("Set-Cookie")).toBeNull();
  });

  it("verifies what it signs, within the lifetime bounds", async () => {
    const t = await signPreview(SECRET, older, now() + DEFAULT_PREVIEW_SECONDS);
    expect(await verifyPreview(SECRET, t, Date.now())).toBe(older);
    expect(await verifyPreview(SECRET, t, Date.now() + (DEFAULT_PREVIEW_SECONDS + 1) * 1000)).toBeNull();
    await expect(signPreview(SECRET, "../live", now() + 60)).rejects.toThrow(RangeError);
  });
});

describe("preview hostnames", () => {
  it("serve `<version>.<PREVIEW_HOST>` at that version, never indexed", async () => {
    const res = await fetchSite(`https://${older.toLowerCase()}.${HOST}/about`);
    expect(await res.text()).toBe("old about");
    expect(res.headers.get("x-edgekv-site-version")).toBe(older);
    expect(res.headers.get("X-Robots-Tag")).toBe("noindex");
  });

  it("fall back to the live version for a version that does not exist, and ignore other hosts", async () => {
    const missing = await fetchSite(`https://20990101t000000z-00000000.${HOST}/`);
    expect(missing.status).toBe(200);
    expect(await missing.text()).toBe("new home");
    expect(missing.headers.get("X-Robots-Tag")).toBe("noindex");
    expect(versionFromHost(`${older.toLowerCase()}.${HOST}.evil.example`, HOST)).toBeNull();
    expect(versionFromHost(`x.${older.toLowerCase()}.${HOST}`, HOST)).toBeNull();
    expect(versionFromHost(`${older.toLowerCase()}.${HOST}`, undefined)).toBeNull();
    const other = await fetchSite(`https://${older.toLowerCase()}.elsewhere.example/`);
    expect(await other.text()).toBe("new home");
  });
});
