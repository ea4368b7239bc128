/**
 * Request headers a client may not send through the gate, because origins
 * (or the frameworks and proxies in front of them) trust them:
 *  - identity: our own `x-edgekv-*`, and the names other auth proxies set
 *    (oauth2-proxy, Cloudflare Access, Kong, AWS ALB, Google IAP, Azure App
 *    Service, Apache/nginx `Remote-User`). oauth2-proxy's CVE-2026-40575 is
 *    this class: a client-sent copy reaching an origin that trusts it;
 *  - method overrides (`X-HTTP-Method-Override` and kin): Express, Laravel and
 *    Rails honour them, so a token scoped to GET would become a DELETE;
 *  - path overrides (`X-Original-URL`, `X-Rewrite-URL`, `X-Forwarded-Uri`...):
 *    IIS, Symfony and Laravel route by them, so the origin would act on a
 *    path the gate never decided on;
 *  - forwarding claims the gate sets itself (`X-Forwarded-Host`,
 *    `X-Forwarded-Proto`, `X-Forwarded-For`, `Forwarded`), other client-address
 *    headers (`X-Real-IP`, `True-Client-IP`...; origins allowlist by them), and
 *    `Proxy-Authorization`.
 * Operators add more names with IDENTITY_HEADERS.
 */

/** Exact names (lowercase). */
export const STRIPPED_HEADERS: ReadonlySet<string> = new Set([
  // identity set by other proxies
  "x-forwarded-user",
  "x-forwarded-email",
  "x-forwarded-preferred-username",
  "x-forwarded-groups",
  "x-forwarded-access-token",
  "remote-user",
  "remote-email",
  "remote-groups",
  "x-user",
  "x-email",
  "x-user-id",
  "x-userid",
  "x-username",
  "x-auth-user",
  "x-webauth-user",
  "x-jwt-assertion",
  "x-userinfo",
  "x-credential-identifier",
  "x-anonymous-consumer",
  // method overrides
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  // path overrides
  "x-original-url",
  "x-original-uri",
  "x-rewrite-url",
  "x-forwarded-uri",
  "x-forwarded-path",
  "x-forwarded-prefix",
  "x-envoy-original-path",
  // client addresses: origins allowlist or log by them; the gate sets X-Forwarded-For itself
  "x-real-ip",
  "true-client-ip",
  "x-client-ip",
  "client-ip",
  "x-cluster-client-ip",
  "x-originating-ip",
  "x-forwarded-for",
  // set by the gate from the real request
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "forwarded",
  "proxy-authorization",
]);

/** Name prefixes (lowercase): every header starting with one is stripped. */
export const STRIPPED_PREFIXES: readonly string[] = [
  "x-edgekv-",
  "x-auth-request-",
  "cf-access-",
  "x-remote-",
  "x-amzn-oidc-",
  "x-goog-authenticated-user-",
  "x-goog-iap-",
  "x-ms-client-principal",
  "x-consumer-",
  "x-authenticated-",
];

// Every prefix in one regex, compiled once per isolate: one test per header instead of a loop.
const PREFIX_RE = new RegExp(`^(?:${STRIPPED_PREFIXES.join("|")})`);

/**
 * True when a client may not send header `name` (lowercase) through the gate.
 * `_` counts as `-`: CGI, PHP and many WSGI servers read `X_Forwarded_User`
 * as `HTTP_X_FORWARDED_USER`, the same variable as `X-Forwarded-User`.
 */
export function isStripped(name: string, extra: ReadonlySet<string>): boolean {
  const n = name.includes("_") ? name.replace(/_/g, "-") : name;
  return STRIPPED_HEADERS.has(n) || extra.has(n) || extra.has(name) || PREFIX_RE.test(n);
}
