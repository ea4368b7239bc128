/**
 * The one forwarding policy of the proxying Workers (the gate and the
 * splitter): what an origin receives of a client's request headers.
 *  - Host: never the client's; fetch sets the target's.
 *  - Hop-by-hop headers (RFC 9110 7.6.1) and every name the client lists in
 *    `Connection` are dropped, except a WebSocket upgrade (`Upgrade:
 *    websocket`, `Connection: Upgrade`). `Proxy` goes too (httpoxy: CGI turns
 *    it into HTTP_PROXY). Names compare with `_` as `-` (CGI/PHP/WSGI read
 *    both as the same variable).
 *  - Forwarding claims are the proxy's, never the client's: every client-sent
 *    `X-Forwarded-For/-Host/-Proto/-Port/-Server/-Ssl/-Scheme`, `Forwarded`,
 *    `X-Url-Scheme`, `Front-End-Https` is dropped; then X-Forwarded-For is
 *    exactly CF-Connecting-IP (absent without it), X-Forwarded-Proto the
 *    scheme of the URL received, X-Forwarded-Host the pinned FORWARDED_HOST or
 *    else the URL's host.
 * `Connection` is applied to the client's headers only, before the proxy
 * adds its own: naming `X-Forwarded-For`, an identity header or the assertion
 * in it removes the client's copy, never what the proxy sends.
 */

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "proxy",
];
const FORWARDING = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-server",
  "x-forwarded-ssl",
  "x-forwarded-scheme",
  "x-url-scheme",
  "front-end-https",
];
/** Dropped from every client request (lowercase, `-` form). */
const DROPPED: ReadonlySet<string> = new Set([...HOP_BY_HOP, ...FORWARDING]);

/** A header name as CGI reads it: lowercase, `_` as `-`. */
export const canonicalName = (name: string): string => name.toLowerCase().replace(/_/g, "-");

/**
 * FORWARDED_HOST (a Worker var): undefined when unset or empty; a RangeError
 * unless it is a bare `host[:port]` exactly as a URL spells it (lowercase, no
 * scheme, path, credentials, wildcard or default port).
 * @example parseForwardedHost("www.example.com") // "www.example.com"
 */
export function parseForwardedHost(raw: string | undefined): string | undefined {
  const v = raw?.trim();
  if (!v) return undefined;
  if (!/^[a-z\d.:[\]-]+$/.test(v) || URL.parse(`http://${v}`)?.host !== v)
    throw new RangeError("FORWARDED_HOST must be host[:port] in lowercase, e.g. www.example.com");
  return v;
}

export interface ForwardPolicy {
  /** FORWARDED_HOST: X-Forwarded-Host for every request, whatever Host the client chose. */
  forwardedHost?: string | undefined;
  /** Client headers this proxy refuses besides the policy's (given the canonical name). */
  drop?: (canonical: string) => boolean;
}

/**
 * Request headers by lowercase name, on a null-prototype object (so `__proto__` is a name like
 * any other): the `HeadersInit` workerd converts fastest, in one call (issue 26: a list of pairs
 * costs more than a `set` per header; a record less).
 */
export type HeaderRecord = Record<string, string>;

/**
 * The headers to send to the origin for `request`, received at `incoming`, as a record the proxy
 * adds its own to (identity, cookies, marks) before the `Request` makes headers of it once.
 * A name the proxy sets replaces the client's.
 * @example const h = forwardHeaders(request, new URL(request.url), { forwardedHost: "www.example.com" });
 */
export function forwardHeaders(request: Request, incoming: URL, policy: ForwardPolicy = {}): HeaderRecord {
  const src = request.headers;
  const listed = new Set((src.get("connection") ?? "").split(",").map((n) => canonicalName(n.trim())));
  const h: HeaderRecord = Object.create(null);
  // Names come lowercase and once each (the runtime joins repeats with ", ").
  for (const [name, value] of src) {
    const c = canonicalName(name);
    if (c !== "host" && !DROPPED.has(c) && !listed.has(c) && !policy.drop?.(c)) h[name] = value;
  }
  if (src.get("upgrade")?.toLowerCase() === "websocket") {
    h.upgrade = "websocket";
    h.connection = "Upgrade";
  }
  h["x-forwarded-host"] = policy.forwardedHost ?? incoming.host;
  h["x-forwarded-proto"] = incoming.protocol.slice(0, -1);
  const ip = src.get("cf-connecting-ip");
  if (ip) h["x-forwarded-for"] = ip;
  return h;
}

/**
 * The origin-bound request: `headers` (from forwardHeaders), the method, the
 * body streamed (never for GET/HEAD), redirects returned, not followed.
 * @example forwardRequest(request, "https://origin.example/a", headers, { signal })
 */
export function forwardRequest(request: Request, target: string, headers: HeaderRecord, init: { signal?: AbortSignal; cache?: "no-store" } = {}): Request {
  const m = request.method;
  return new Request(target, { method: m, headers, body: m === "GET" || m === "HEAD" ? null : request.body, redirect: "manual", ...init });
}
