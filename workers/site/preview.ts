/**
 * Previews: any retained version, seen before (or without) becoming live.
 * Two ways in, both read-only (the Worker never moves the live pointer):
 *
 * - a preview hostname, `<version>.<PREVIEW_HOST>` (a wildcard route such as
 *   `*.preview.example.com`), where the version is the first label;
 * - a signed link from `edgekv site preview <version>`: `?edgekv_preview=<token>`
 *   on any path. The Worker checks it, sets the token as an HttpOnly cookie and
 *   redirects to the same URL without it, so the whole site browses at that
 *   version and the token leaves the address bar. A link that is expired,
 *   tampered with or for another secret redirects the same way but clears the
 *   cookie: the live site, never an error page.
 *
 * Tokens are signed links (shared/signed-link.ts) in the "edgekv-preview"
 * context, `<version>.<expiry in epoch seconds>.<HMAC-SHA-256>`, under
 * PREVIEW_SECRET (at least MIN_SECRET_BYTES, a Worker secret; the CLI signs
 * with the same value from its environment), valid for at most 30 days.
 * Runtime-neutral: the CLI imports it.
 */
import { signLink, verifyLink } from "../../shared/signed-link.ts";
import { cookieValue } from "../../shared/http/cookies.ts";

export const PREVIEW_PARAM = "edgekv_preview";
export const PREVIEW_COOKIE = "edgekv_preview";
/** Default lifetime of a preview link, in seconds (the longest is the signed-link cap, MAX_LINK_SECONDS). */
export const DEFAULT_PREVIEW_SECONDS = 86_400; // 24 h
/** A version id as `edgekv site deploy` makes it (cli/site/publish.ts versionId). */
export const VERSION_RE = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;
/** The same id as a DNS label: hostnames are lowercase. */
const VERSION_LABEL = /^(\d{8})t(\d{6})z-([0-9a-f]{8})$/;

/**
 * A preview token for `version`, valid until `exp` (epoch seconds).
 * @example await signPreview(secret, "20261202T051200Z-1a2b3c4d", Math.floor(Date.now() / 1000) + 3600)
 */
export async function signPreview(secret: string, version: string, exp: number): Promise<string> {
  if (!VERSION_RE.test(version)) throw new RangeError(`not a version id: ${version}`);
  return signLink(secret, "edgekv-preview", version, exp);
}

/**
 * The version a token names, or null when it is malformed, expired, too far in the future, or not signed with `secret`.
 * @example await verifyPreview(secret, token, Date.now()) // "20261202T051200Z-1a2b3c4d" | null
 */
export function verifyPreview(secret: string, token: string, nowMs: number): Promise<string | null> {
  // Only a version id is ever signed in this context (signPreview), and any signed subject is a safe KV key part.
  return verifyLink(secret, "edgekv-preview", token, nowMs);
}

/**
 * The version a preview hostname names, or null when `host` is not `<version>.<previewHost>`.
 * @example versionFromHost("20261202t051200z-1a2b3c4d.preview.example.com", "preview.example.com") // "20261202T051200Z-1a2b3c4d"
 */
export function versionFromHost(host: string, previewHost: string | undefined): string | null {
  if (!previewHost) return null;
  const suffix = `.${previewHost.toLowerCase()}`;
  if (!host.endsWith(suffix)) return null;
  const m = VERSION_LABEL.exec(host.slice(0, -suffix.length));
  return m ? `${m[1]}T${m[2]}Z-${m[3]}` : null;
}

/** What a request asks for: a version to preview, or a redirect that swaps a link's token for the cookie. */
export type PreviewAsk = { kind: "none" } | { kind: "version"; version: string } | { kind: "redirect"; response: Response };

/**
 * Reads the preview a request asks for (hostname, link or cookie). `secret` is
 * PREVIEW_SECRET when it is set and strong; without it only the hostname works.
 */
export async function previewAsk(request: Request, url: URL, previewHost: string | undefined, secret: string | undefined, nowMs: number): Promise<PreviewAsk> {
  const byHost = versionFromHost(url.hostname, previewHost);
  if (byHost) return { kind: "version", version: byHost };
  if (!secret) return { kind: "none" };
  const link = url.searchParams.get(PREVIEW_PARAM);
  if (link !== null) return { kind: "redirect", response: await swapLink(url, link, secret, nowMs) };
  const cookie = cookieValue(request.headers.get("Cookie"), PREVIEW_COOKIE);
  const version = cookie === null ? null : await verifyPreview(secret, cookie, nowMs);
  return version ? { kind: "version", version } : { kind: "none" };
}

/** 302 to the same URL without the token; the cookie is set when the token is good, cleared when not. */
async function swapLink(url: URL, token: string, secret: string, nowMs: number): Promise<Response> {
  const clean = new URL(url);
  clean.searchParams.delete(PREVIEW_PARAM);
  // Path-absolute and on this host: never a redirect elsewhere ("//x" would be another host).
  const location = clean.pathname.replace(/^\/+/, "/") + clean.search;
  const version = await verifyPreview(secret, token, nowMs);
  // A good token expires after now (verifyLink): its Max-Age is positive.
  const maxAge = version ? Math.floor(Number(token.split(".")[1]) - nowMs / 1000) : 0;
  const cookie = `${PREVIEW_COOKIE}=${version ? token : ""}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Lax`;
  return new Response(null, {
    status: 302,
    // handler.ts finish() makes it `private, no-store` and noindex, as every preview response.
    headers: { Location: location, "Set-Cookie": cookie, "Referrer-Policy": "no-referrer" },
  });
}
