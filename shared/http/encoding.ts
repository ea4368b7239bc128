/**
 * The proxies' answer in an encoding the client asked for. A Worker sees
 * `Accept-Encoding: br, gzip` whatever the client sent (the original is in
 * `request.cf.clientAcceptEncoding`), so it forwards that to the origin, gets the decoded
 * body from fetch() and workerd encodes it again by the response's Content-Encoding.
 * Passed through as is, a client that sent no Accept-Encoding (plain curl) got brotli
 * under wrangler dev. So a coding the client did not accept is dropped from the headers:
 * the body then goes out as it is read, decoded. A coding workerd does not decode is left alone.
 */

/**
 * `res`, or a copy without Content-Encoding (and its now wrong Content-Length) when the
 * client's Accept-Encoding does not accept its gzip or br, by name or `*`, with q > 0.
 * An absent Accept-Encoding here means identity only, as curl without --compressed expects.
 * @example return forClient(request, await handle(request, deps));
 */
export function forClient(request: Request, res: Response): Response {
  const coding = res.headers.get("content-encoding");
  if (coding !== "gzip" && coding !== "br") return res;
  let ok: boolean | undefined;
  let star = false;
  // What the client sent: Cloudflare (and Miniflare) set the Worker's Accept-Encoding to "br, gzip" and keep the original here.
  const sent = (request as { cf?: { clientAcceptEncoding?: string } }).cf?.clientAcceptEncoding ?? request.headers.get("accept-encoding");
  for (const part of (sent ?? "").toLowerCase().split(",")) {
    const [name, q = "1"] = part.split(/;\s*q=/).map((s) => s.trim());
    if (name === coding) ok = +q > 0;
    else if (name === "*") star = +q > 0;
  }
  if (ok ?? star) return res;
  const out = new Response(res.body, res);
  out.headers.delete("content-encoding");
  out.headers.delete("content-length");
  return out;
}
