// Attack class: reaching the splitter directly (its own URL) and posing as a
// user with the headers the gate would have added. The documented topology is
// gate -> splitter (a service binding in production, the splitter not publicly
// routed); here, as in `npm start`, each runs under its own `wrangler dev`.
// Blue and green verify every request's assertion with `jose` (audience = the
// splitter's origin, the gate's ORIGIN_URL). Requests through the gate are
// accepted; anything sent straight to the splitter with forged x-edgekv-*
// headers, forged JWTs or replayed genuine ones is told apart and rejected.
// Defence: workers/auth/assertion.ts + the origin's check (docs/auth.md).
import fc from "fast-check";
import { SignJWT, base64url, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../workers/auth/assertion.ts";
import { cli } from "../node/helpers/cli.ts";
import { freePort } from "../node/helpers/ports.ts";
import { ASSERTION_HEADER, identityEnvFile, startVerifyingOrigin, type Verdict, type VerifyingOrigin } from "../node/helpers/verifying-origin.ts";
import { startWranglerDev, type DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, stateDir } from "./helpers.ts";

let state: Awaited<ReturnType<typeof stateDir>>;
let splitter: DevServer;
let gate: DevServer;
let blue: VerifyingOrigin;
let green: VerifyingOrigin;
let token: string;

const all = (): Verdict[] => [...blue.seen, ...green.seen];
const clear = () => {
  blue.seen.length = 0;
  green.seen.length = 0;
};

beforeAll(async () => {
  state = await stateDir("splitter-spoof");
  const [splitterPort, gatePort, bluePort, greenPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const common = { issuer: `http://127.0.0.1:${gatePort}`, audience: `http://127.0.0.1:${splitterPort}` };
  blue = await startVerifyingOrigin({ name: "blue", port: bluePort, ...common });
  green = await startVerifyingOrigin({ name: "green", port: greenPort, ...common });
  const init = await cli([
    "rollout",
    "init",
    "--blue",
    blue.url,
    "--green",
    green.url,
    "--live",
    "blue",
    "--percent",
    "50",
    "--force",
    "--yes",
    "--persist-to",
    state.dir,
  ]);
  if (init.code !== 0) throw new Error(`rollout init failed: ${init.stderr}`);
  token = await issueToken(state.dir, ["--user", "alice"]);
  // One after the other: two workerd creating the same local state at once can hit SQLITE_BUSY.
  splitter = await startWranglerDev({ env: "splitter", persistTo: state.dir, port: splitterPort, vars: { CONFIG_TTL_MS: "0" } });
  gate = await startWranglerDev({
    env: "auth",
    persistTo: state.dir,
    port: gatePort,
    vars: { ORIGIN_URL: splitter.url },
    envFile: await identityEnvFile(state.dir, await generatePrivateJwk("ES256")),
  });
  clear();
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await splitter?.stop();
  await Promise.all([blue?.close(), green?.close()]);
  await state?.remove();
});

/** Fresh visitors (no sticky cookie) land on both colours at 50%. */
async function sendUntilBothColours(send: (i: number) => Promise<Response>): Promise<Response[]> {
  const out: Response[] = [];
  for (let i = 0; i < 40 && (blue.seen.length === 0 || green.seen.length === 0 || i < 8); i++) {
    const res = await send(i);
    await res.clone().arrayBuffer();
    out.push(res);
  }
  return out;
}

describe("gate -> splitter -> blue/green: the origins tell the gate's requests from direct ones", () => {
  it("through the gate: both colours accept the assertion (aud = the splitter, htu = the splitter URL with the query)", async () => {
    const replies = await sendUntilBothColours((i) => fetch(`${gate.url}/api/hello?i=${i}`, { headers: { Authorization: `Bearer ${token}` } }));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(blue.seen.length).toBeGreaterThan(0);
    expect(green.seen.length).toBeGreaterThan(0);
    for (const v of all()) {
      expect(v.ok, `${v.url}: ${v.reason}`).toBe(true);
      expect(v.sub).toBe("alice");
      expect(v.claims!.htu).toBe(`${splitter.url}${v.url}`);
    }
    clear();
  });

  it("straight to the splitter with the gate's plain identity headers (any user, any spelling): rejected by both colours", async () => {
    const user = fc.stringMatching(/^[A-Za-z0-9._@+:=-]{1,16}$/);
    const names = fc.constantFrom("x-edgekv-user", "X-Edgekv-User", "X-EDGEKV-USER");
    const samples = fc.sample(fc.tuple(user, names), 24);
    const replies = await sendUntilBothColours((i) => {
      const [u, name] = samples[i % samples.length]!;
      return fetch(`${splitter.url}/api/hello`, {
        headers: { [name]: u, "x-edgekv-scopes": "*", "x-edgekv-token-id": "0123456789ab", "x-edgekv-token-expires": "9999999999" },
      });
    });
    expect(replies.every((r) => r.status === 401)).toBe(true);
    expect(blue.seen.length).toBeGreaterThan(0);
    expect(green.seen.length).toBeGreaterThan(0);
    expect(all().every((v) => !v.ok && v.reason === "no assertion")).toBe(true);
    clear();
  });

  it("straight to the splitter with forged JWTs (alg none, attacker's key with the gate's kid, HS256 with the public key): rejected", async () => {
    const gateKid = ((await (await fetch(`${gate.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys[0]!.kid;
    const { privateKey } = await generateKeyPair("ES256");
    const claims = (path: string) => {
      const iat = Math.floor(Date.now() / 1000);
      return {
        iss: gate.url,
        sub: "admin",
        aud: splitter.url,
        iat,
        exp: iat + 60,
        jti: `j${Math.random()}`,
        scope: "*",
        htm: "GET",
        htu: `${splitter.url}${path}`,
      };
    };
    const forge = [
      async (p: string) => `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify(claims(p)))}.`,
      async (p: string) => new SignJWT(claims(p)).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: gateKid }).sign(privateKey),
      async (p: string) => new SignJWT(claims(p)).setProtectedHeader({ alg: "HS256", typ: "JWT", kid: gateKid }).sign(new TextEncoder().encode(gateKid)),
    ];
    await sendUntilBothColours(async (i) =>
      fetch(`${splitter.url}/api/hello?i=${i}`, {
        headers: { [ASSERTION_HEADER]: await forge[i % forge.length]!(`/api/hello?i=${i}`), "x-edgekv-user": "admin" },
      }),
    );
    expect(all().length).toBeGreaterThan(0);
    expect(all().filter((v) => v.ok)).toEqual([]);
    clear();
  });

  it("straight to the splitter with a genuine assertion captured from an origin: rejected for another request and for the same one again", async () => {
    await sendUntilBothColours((i) => fetch(`${gate.url}/api/me?i=${i}`, { headers: { Authorization: `Bearer ${token}` } }));
    const genuine = all().filter((v) => v.ok);
    expect(genuine.length).toBeGreaterThan(1);
    clear();
    for (const v of genuine) {
      const jwt = String(v.headers[ASSERTION_HEADER]);
      const ids = { "x-edgekv-user": "alice", [ASSERTION_HEADER]: jwt };
      // Same colour for the replay as for the original, via the sticky cookie the origin saw.
      const cookie = String(v.headers.cookie ?? "");
      for (const [method, path] of [
        ["GET", "/api/admin"],
        ["DELETE", v.url],
        ["GET", `${v.url}&role=admin`],
        ["GET", v.url],
      ] as const) {
        const res = await fetch(`${splitter.url}${path}`, { method, headers: { ...ids, cookie } });
        expect(res.status, `${method} ${path}`).toBe(401);
        await res.arrayBuffer();
      }
    }
    const reasons = new Set(all().map((v) => v.reason));
    expect(all().filter((v) => v.ok)).toEqual([]);
    expect(reasons).toContain("htu mismatch");
    expect(reasons).toContain("htm mismatch");
    expect(reasons).toContain("jti replayed");
  });
});
