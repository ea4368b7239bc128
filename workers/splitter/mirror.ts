import { canonicalName } from "../../shared/http/forward.ts";
import { withoutParams } from "../../shared/http/target.ts";
import { MIRROR_HEADER, originBases, originRequest, type OriginFetch, type Target } from "./origin.ts";
import { otherColor, type Color, type RolloutConfig } from "./model.ts";

/** What a handler needs to run work after the response (ExecutionContext's waitUntil). */
export interface Background {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A user's credentials and identity (canonical names): never on a copy unless
 * `mirror.forwardCredentials`. The other colour would otherwise receive a
 * replayable Authorization, session cookie or identity assertion of every
 * mirrored user. Cookies go entirely; the sticky id is added back (origin.ts).
 */
const CREDENTIAL =
  /^(?:(?:authorization|cookie|x-api-key|x-auth-token|x-access-token|x-csrf-token|x-xsrf-token|remote-user|x-forwarded-(?:user|email|groups|access-token|preferred-username))$|x-edgekv-|cf-access-|x-amzn-oidc-|x-goog-iap-|x-ms-client-principal)/;

/**
 * Copies `config.mirror.percent` of GET/HEAD requests to the colour that is
 * not serving this one, marked `x-edgekv-mirror: 1`, in `waitUntil`: the
 * user's response never waits for it or sees its outcome. Never a body
 * (the copy is built from the method and headers only), never credentials
 * (above, and a query `access_token`) nor `mirror.stripHeaders`; its response
 * body is discarded unread.
 * Call it only once the user's own request has its response headers: the
 * copy then never reaches an origin first (a shared replay cache would
 * otherwise refuse the user's request as the replay of its copy).
 * @example mirror(request, to, cfg, "blue", fetch, ctx)
 */
export function mirror(request: Request, to: Target, config: RolloutConfig, served: Color, fetchFn: OriginFetch, bg: Background): void {
  const m = config.mirror;
  if (!m || !(m.percent > 0) || (request.method !== "GET" && request.method !== "HEAD") || request.headers.has("upgrade")) return;
  if (Math.random() * 100 >= m.percent) return;
  const strip = new Set((m.stripHeaders ?? []).map(canonicalName));
  const override = canonicalName(config.overrides.header);
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    const c = canonicalName(name);
    if (c !== "content-length" && !strip.has(c) && (m.forwardCredentials || (c !== override && !CREDENTIAL.test(c)))) headers.append(name, value);
  }
  // RFC 6750's query token is a credential too (the gate removes it from what it forwards; a direct caller may not).
  let search = to.search;
  if (!m.forwardCredentials && search) search = withoutParams(search, (k) => k.toLowerCase() === "access_token");
  // The copy's whole life (its body is cancelled unread) is bounded by timeoutMs.
  const copy = originRequest(
    new Request(request.url, { method: request.method, headers }),
    { ...to, search },
    originBases(config)[otherColor(served)],
    AbortSignal.timeout(config.timeoutMs),
  );
  // Set after the policy, which drops any client-sent x-edgekv-mirror: only copies carry it.
  copy.headers.set(MIRROR_HEADER, "1");
  bg.waitUntil(
    fetchFn(copy)
      .then((r) => r.body?.cancel())
      .catch(() => {}),
  );
}
