/**
 * Attack class: leak reports (issue 24). The control Worker under `wrangler dev`
 * (the real runtime) takes GitHub secret-scanning reports against a local
 * stand-in of GitHub's key endpoint; the signer is node:crypto (DER output, as
 * GitHub signs), independent of the Worker's DER -> P1363 conversion. A forged
 * report changes nothing; a real one revokes the token at the gate beside it;
 * a replay sends no second webhook.
 */
import { createHash, createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, startControl, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const KEY_ID = `node-${randomBytes(8).toString("hex")}`;
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const forger = generateKeyPairSync("ec", { namedCurve: "P-256" });

let keys: Origin;
let hooks: Origin;
let app: Origin;
let control: DevServer;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let keyFetches = 0;
const events: { headers: Record<string, string>; body: string }[] = [];

const sign = (body: string, key = privateKey) => createSign("SHA256").update(body).sign(key).toString("base64");
const report = (body: string, headers: Record<string, string>) =>
  fetch(`${control.url}/__edgekv/leaks`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
const signed = (body: string, key = privateKey) => ({ "GITHUB-PUBLIC-KEY-IDENTIFIER": KEY_ID, "GITHUB-PUBLIC-KEY-SIGNATURE": sign(body, key) });
const callGate = (token: string) => fetch(`${gate.url}/app`, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  const doc = JSON.stringify({ public_keys: [{ key_identifier: KEY_ID, key: publicKey.export({ type: "spki", format: "pem" }), is_current: true }] });
  keys = await startOrigin("github-keys", {
    reply: (_req, _body, res) => {
      keyFetches++;
      res.writeHead(200, { "content-type": "application/json" }).end(doc);
    },
  });
  hooks = await startOrigin("hooks", {
    reply: (req, body, res) => {
      events.push({ headers: req.headers as Record<string, string>, body: body.toString("utf8") });
      res.writeHead(204).end();
    },
  });
  app = await startOrigin("app");
  state = await stateDir("leak-report");
  control = await startControl(state.dir, {
    LEAK_KEYS_URL: `${keys.url}/meta/public_keys/secret_scanning`,
    WEBHOOK_SECRET,
    WEBHOOK_URLS: `${hooks.url}/edgekv`,
  });
  gate = await startGate(state.dir, app.url, { ALLOW_CACHE_SECONDS: "0" });
}, 240_000);

afterAll(async () => {
  await Promise.all([control?.stop(), gate?.stop()]);
  await Promise.all([keys?.close(), hooks?.close(), app?.close()]);
  await state?.remove();
});

describe("POST /__edgekv/leaks under wrangler dev", () => {
  it("forged, unsigned and malformed reports are 4xx and the token keeps working", async () => {
    const token = await issueToken(state.dir, ["--user", "leaky", "--name", "laptop"]);
    expect((await callGate(token)).status).toBe(200);
    const body = JSON.stringify([{ token, type: "edgekv_token", url: "https://github.com/o/r/blob/x/.env", source: "content" }]);
    const cases: [string, string, Record<string, string>, number][] = [
      ["forged key", body, signed(body, forger.privateKey), 401],
      ["no signature", body, {}, 401],
      ["unknown key id", body, { ...signed(body), "GITHUB-PUBLIC-KEY-IDENTIFIER": "other" }, 401],
      ["tampered body", body.replace("laptop", "x").replace(".env", ".env2"), signed(body), 401],
      ["not an array", "{}", signed("{}"), 400],
      ["huge", `[${" ".repeat(300 * 1024)}]`, signed("[]"), 413],
    ];
    for (const [name, b, headers, status] of cases) expect((await report(b, headers)).status, name).toBe(status);
    expect((await callGate(token)).status).toBe(200);
    expect(events).toEqual([]);
  });

  it("a signed report revokes the token at the gate, answers GitHub's format, sends one token.leaked; a replay sends none", async () => {
    const token = await issueToken(state.dir, ["--user", "leaky2", "--name", "ci"]);
    const look = `ekv_${randomBytes(15).toString("hex").slice(0, 30)}`;
    const body = JSON.stringify([
      { token, type: "edgekv_token", url: "https://github.com/o/r/blob/x/.env", source: "content" },
      { token: look, type: "edgekv_token", url: "https://github.com/o/r/blob/x/b", source: "content" },
    ]);
    const res = await report(body, signed(body));
    expect(res.status).toBe(200);
    const hash = createHash("sha256").update(token).digest("hex");
    expect(await res.json()).toEqual([
      { token_hash: hash, token_type: "edgekv_token", label: "true_positive" },
      { token_hash: createHash("sha256").update(look).digest("hex"), token_type: "edgekv_token", label: "false_positive" },
    ]);
    expect((await callGate(token)).status).toBe(401);
    await expect.poll(() => events.length, { timeout: 10_000 }).toBe(1);
    const e = events[0]!;
    expect(e.body).not.toContain(token);
    const payload = new Webhook(WEBHOOK_SECRET).verify(e.body, {
      "webhook-id": e.headers["webhook-id"]!,
      "webhook-timestamp": e.headers["webhook-timestamp"]!,
      "webhook-signature": e.headers["webhook-signature"]!,
    }) as { type: string; data: Record<string, string> };
    expect(payload).toMatchObject({ type: "token.leaked", data: { user: "leaky2", id: hash.slice(0, 12), url: "https://github.com/o/r/blob/x/.env" } });
    const again = await report(body, signed(body));
    expect(((await again.json()) as { label: string }[]).map((a) => a.label)).toEqual(["false_positive", "false_positive"]);
    // Give a second webhook the time it would take, then check there was none.
    await new Promise((r) => setTimeout(r, 500));
    expect(events).toHaveLength(1);
    expect(keyFetches).toBe(1);
  });
});
