/**
 * Where a proxying Worker (the splitter, the gate) sends a request: always the
 * configured origin, plus the normalised path (shared/http/path.ts) and the
 * query. Nothing in the request chooses the scheme, host or port: not a path
 * starting with `//` or `/\`, not an encoded slash, not an absolute-form
 * request target (`GET http://other/ HTTP/1.1`), whose host we never read.
 */
import { HttpError } from "./errors.ts";

/** A configured origin, parsed once: `https://host[:port]` and an optional path prefix without a trailing slash. */
export interface OriginBase {
  /** Scheme, host and port, e.g. "https://green.example.com". */
  origin: string;
  /** Path prefix, "" or e.g. "/app". */
  prefix: string;
}

/**
 * Parses a configured origin URL (http or https; no credentials, query or fragment).
 * @example parseOriginBase("https://green.example.com/app/") // { origin: "https://green.example.com", prefix: "/app" }
 */
export function parseOriginBase(raw: string): OriginBase {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new RangeError(`"${raw}" is not an absolute URL`);
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.username || u.password || u.search || u.hash) {
    throw new RangeError(`"${raw}" must be http(s) without credentials, query or fragment`);
  }
  return { origin: u.origin, prefix: u.pathname.replace(/\/+$/, "") };
}

/**
 * The URL to send: `base` + `encodedPath` (the `encoded` of a normalised path,
 * so it starts with one "/" and holds no "\") + `search`. Refuses (502, and
 * nothing is sent) anything whose origin is not the configured one.
 * @example originTarget({ origin: "https://o.example", prefix: "" }, "/a/b", "?q=1") // "https://o.example/a/b?q=1"
 */
export function originTarget(base: OriginBase, encodedPath: string, search: string): string {
  const target = base.origin + base.prefix + encodedPath + search;
  // Belt and braces: the parts cannot change the origin, and this proves it for every request.
  let origin: string | undefined;
  try {
    origin = new URL(target).origin;
  } catch {
    /* refused below */
  }
  if (origin !== base.origin || encodedPath[0] !== "/" || encodedPath[1] === "/" || encodedPath.includes("\\")) {
    throw new HttpError(
      502,
      "bad_target",
      "the request cannot be forwarded",
      {},
      { cause: new Error(`refused target ${target} (configured origin ${base.origin})`) },
    );
  }
  return target;
}

/**
 * `search` ("" or "?...") without the pairs whose name, read as `URLSearchParams` reads it, `drop`
 * matches; every other pair goes on exactly as sent. Re-serialising the query instead would turn
 * `%20` into `+`, `%7E` into `~` and `a` into `a=`: the origin would not see the query the
 * request was decided on (or signed with).
 * @example withoutParams("?q=%7E%20&access_token=t&b", (n) => n === "access_token") // "?q=%7E%20&b"
 */
export function withoutParams(search: string, drop: (name: string) => boolean): string {
  // A leading "&" keeps URLSearchParams from taking a pair's own "?" as the query's start.
  const kept = search
    .slice(1)
    .split("&")
    .filter((pair) => ![...new URLSearchParams(`&${pair}`).keys()].some(drop));
  const q = kept.join("&");
  return q ? `?${q}` : "";
}
