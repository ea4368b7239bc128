/**
 * The Cloudflare API base (`CLOUDFLARE_API_BASE_URL`), one rule for the CLI's `--remote`
 * (cli/remote/client.ts) and the control Worker's Analytics Engine queries
 * (workers/control/metrics.ts): https, plain http only to this machine (a local
 * stand-in), no credentials, query or fragment, so a token is never sent in clear
 * or to a URL that hides another host.
 */

export const DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4";

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * The API base as a URL without a trailing slash; throws an Error saying which rule it breaks.
 * @example parseApiBase("http://127.0.0.1:8787/client/v4") // ok; "http://example.com" throws
 */
export function parseApiBase(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error("CLOUDFLARE_API_BASE_URL is not a URL");
  }
  const loopback = LOOPBACK.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error(`CLOUDFLARE_API_BASE_URL must be https (plain http only to localhost), got ${url.protocol}//${url.host}`);
  }
  if (url.username || url.password) throw new Error("CLOUDFLARE_API_BASE_URL must not hold credentials");
  if (url.search || url.hash) throw new Error("CLOUDFLARE_API_BASE_URL must not have a query or fragment");
  url.pathname = url.pathname.replace(/\/+$/, "");
  return url;
}
