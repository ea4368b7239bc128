// An origin that trusts nothing but the gate's identity assertion: it checks
// EVERY request with `jose` against the gate's JWKS (or the HS256 secret), as
// docs/auth.md tells operators to, and records what it decided. A thin layer
// over the shared origin (scripts/origin.ts) with its own reply.
import { writeFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { startOrigin } from "../../../scripts/origin.ts";

export const ASSERTION_HEADER = "x-edgekv-jwt-assertion";

export interface Verdict {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  /** The subject when the assertion verified; undefined when the request was rejected or public. */
  sub: string | undefined;
  ok: boolean;
  /** Why it was rejected (jose's error code or our own check). */
  reason: string;
  claims: JWTPayload | undefined;
  body: string;
}

export interface VerifyOptions {
  name: string;
  /** The gate's origin: expected `iss`, and where the JWKS is fetched from. */
  issuer: string;
  /** Expected `aud`, and the base `htu` is rebuilt on (the gate's ORIGIN_URL origin). */
  audience: string;
  /** HS256 shared secret instead of the JWKS. */
  secret?: string;
  /** Paths this origin serves to anyone (the gate's PUBLIC_PATHS): no assertion needed there. */
  publicPrefixes?: string[];
  port?: number;
  /** The jti replay cache (jti -> exp); pass one Map to several origins for a cache they share. */
  usedJti?: Map<string, number>;
}

export interface VerifyingOrigin {
  name: string;
  url: string;
  seen: Verdict[];
  accepted(): Verdict[];
  rejected(): Verdict[];
  close(): Promise<void>;
}

/**
 * Starts the origin on loopback. It answers 200 JSON `{origin, sub}` when the
 * assertion verifies (or the path is public) and 401 `{error}` otherwise.
 * jti values are single use (kept until their exp), so even an exact replay fails.
 * @example const o = await startVerifyingOrigin({ name: "app", issuer: gate.url, audience: `http://127.0.0.1:${port}`, port });
 */
export async function startVerifyingOrigin(options: VerifyOptions): Promise<VerifyingOrigin> {
  const seen: Verdict[] = [];
  const key = options.secret ? new TextEncoder().encode(options.secret) : createRemoteJWKSet(new URL("/.well-known/jwks.json", options.issuer));
  const usedJti = options.usedJti ?? new Map<string, number>();

  async function verify(req: IncomingMessage): Promise<{ ok: boolean; reason: string; claims?: JWTPayload }> {
    const raw = req.headers[ASSERTION_HEADER];
    if (typeof raw !== "string") return { ok: false, reason: raw === undefined ? "no assertion" : "several assertions" };
    try {
      const { payload } = await jwtVerify(raw, key as Parameters<typeof jwtVerify>[1], {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: options.secret ? ["HS256"] : ["EdDSA", "ES256"],
        typ: "JWT",
        requiredClaims: ["sub", "iat", "exp", "jti", "htm", "htu"],
        maxTokenAge: "90s",
      });
      // The assertion is for THIS request: same method, same URL (query included).
      if (payload.htm !== req.method) return { ok: false, reason: "htm mismatch", claims: payload };
      if (payload.htu !== new URL(options.audience + req.url).href) return { ok: false, reason: "htu mismatch", claims: payload };
      const now = Date.now() / 1000;
      for (const [j, exp] of usedJti) if (exp < now) usedJti.delete(j);
      if (usedJti.has(String(payload.jti))) return { ok: false, reason: "jti replayed", claims: payload };
      usedJti.set(String(payload.jti), payload.exp!);
      return { ok: true, reason: "verified", claims: payload };
    } catch (err) {
      return { ok: false, reason: (err as { code?: string }).code ?? String(err) };
    }
  }

  // The shared origin reads the body; this layer only decides and records.
  const origin = await startOrigin(options.name, {
    reply: async (req, raw, res) => {
      const body = raw.toString();
      const path = new URL(req.url!, "http://x").pathname;
      const isPublic = (options.publicPrefixes ?? []).some((p) => path === p || path.startsWith(p.endsWith("/") ? p : `${p}/`));
      const v = isPublic && req.headers[ASSERTION_HEADER] === undefined ? { ok: true, reason: "public" } : await verify(req);
      const sub = v.ok && v.claims ? String(v.claims.sub) : undefined;
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, sub, ok: v.ok, reason: v.reason, claims: v.claims, body });
      if (!v.ok) {
        res.writeHead(401, { "content-type": "application/json", "x-origin": options.name }).end(JSON.stringify({ error: v.reason }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "x-origin": options.name }).end(JSON.stringify({ origin: options.name, sub: sub ?? null }));
    },
    record: false,
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  return {
    name: options.name,
    url: origin.url,
    seen,
    accepted: () => seen.filter((s) => s.ok),
    rejected: () => seen.filter((s) => !s.ok),
    close: () => origin.close(),
  };
}

/**
 * A wrangler env file (mode 0600) holding the gate's private key, so it is never on a command line.
 * @example const envFile = await identityEnvFile(dir, jwk);
 */
export async function identityEnvFile(dir: string, jwk: Record<string, string>): Promise<string> {
  const file = join(dir, "identity.env");
  await writeFile(file, `IDENTITY_PRIVATE_JWK='${JSON.stringify(jwk)}'\n`, { mode: 0o600 });
  return file;
}
