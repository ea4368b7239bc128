/**
 * Issue 24, leaked tokens revoked on report (GitHub's secret-scanning partner
 * format), in workerd on the real local TOKENS_KV: a stand-in of GitHub's key
 * endpoint and a signer with fresh P-256 keys (test/node/helpers/github-keys.ts),
 * forged, replayed, malformed and oversized reports, the key cache's bounds, the
 * `token.leaked` webhook, and the bound: refused within ALLOW_CACHE_SECONDS.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { TokenWriter } from "../../shared/tokens/write.ts";
import { generateToken, hashToken } from "../../workers/auth/token.ts";
import { handle, type Deps } from "../../workers/control/handler.ts";
import {
  LEAK_KEYS_REFETCH_MS,
  LEAK_KEYS_TTL_MS,
  MAX_LEAK_BODY_BYTES,
  MAX_LEAK_ITEMS,
  MAX_LEAK_KEYS_BYTES,
  derToP1363,
  resetLeakKeys,
} from "../../workers/control/leak.ts";
import { signWebhook, webhookKey } from "../../workers/control/webhook.ts";
import { countingKv, makeGate } from "../auth/helpers.ts";
import { githubSigner, keysDocument, p1363ToDer, signedHeaders, type GithubSigner } from "../node/helpers/github-keys.ts";
import { bearer, makeControl, uniqueUser } from "./helpers.ts";

const KEYS_URL = "https://keys.test/meta/public_keys/secret_scanning";
const HOOK = "https://hooks.test/edgekv";
const WEBHOOK_SECRET = `whsec_${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i * 11 + 3)))}`;

beforeEach(() => resetLeakKeys());

/** The control Worker with a key endpoint stand-in and a webhook receiver behind its fetch; KV calls counted on the real binding. */
async function world(vars: Record<string, string> = {}) {
  const signer = await githubSigner();
  const state = { doc: keysDocument([signer]), keyFetches: 0, keyStatus: 200 };
  const hooks: { headers: Record<string, string>; body: string }[] = [];
  const g = makeControl({ LEAK_KEYS_URL: KEYS_URL, WEBHOOK_SECRET, WEBHOOK_URLS: HOOK, ...vars });
  const counted = countingKv();
  const pending: Promise<unknown>[] = [];
  const deps: Deps = {
    ...g.control,
    tokens: new TokenWriter(counted.kv, { now: () => g.clock.t }),
    fetch: async (req) => {
      if (req.url === KEYS_URL) {
        state.keyFetches++;
        return new Response(state.doc, { status: state.keyStatus });
      }
      if (req.url === HOOK) {
        hooks.push({ headers: Object.fromEntries(req.headers), body: await req.text() });
        return new Response(null, { status: 204 });
      }
      return new Response("no", { status: 404 });
    },
    waitUntil: (p) => pending.push(p),
  };
  const post = async (body: BodyInit, headers: Record<string, string>) => {
    const res = await handle(new Request("https://control.test/__edgekv/leaks", { method: "POST", headers, body }), deps);
    await Promise.all(pending.splice(0));
    return res;
  };
  const report = async (items: unknown, by: GithubSigner = signer) => {
    const body = JSON.stringify(items);
    return post(body, await signedHeaders(by, body));
  };
  const issue = () => g.issue({ user: uniqueUser("leak"), label: "ci" });
  const writes = () => counted.calls.filter((c) => c === "put" || c === "delete").length;
  return { g, signer, state, hooks, counted, writes, post, report, issue };
}

type Answer = { token_hash: string; token_type: string; label: string }[];

describe("POST /__edgekv/leaks: a verified report revokes real tokens", () => {
  it("revokes each live token with one write, labels true/false positives, sends one token.leaked webhook without the token", async () => {
    const w = await world();
    const live = await w.issue();
    const unknown = generateToken(); // well-formed, never issued
    const fake = `ekv_${"A".repeat(30)}`; // the shape, a wrong checksum
    expect((await w.g.fetch("/x", bearer(live.token))).status).toBe(200);
    const res = await w.report([
      { token: live.token, type: "edgekv_token", url: "https://github.com/o/r/blob/abc/.env", source: "content" },
      { token: unknown, type: "edgekv_token", url: "https://github.com/o/r/blob/abc/a", source: "content" },
      { token: fake, type: "edgekv_token", url: "https://github.com/o/r/blob/abc/b", source: "commit" },
      { token: live.token, type: "edgekv_token", url: "https://github.com/o/r/issues/1", source: "issue" },
    ]);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Answer;
    expect(answer).toEqual([
      { token_hash: live.hash, token_type: "edgekv_token", label: "true_positive" },
      { token_hash: (await hashToken(unknown)).hash, token_type: "edgekv_token", label: "false_positive" },
      { token_hash: (await hashToken(fake)).hash, token_type: "edgekv_token", label: "false_positive" },
      { token_hash: live.hash, token_type: "edgekv_token", label: "true_positive" },
    ]);
    // One write for the whole report (the live record's delete); the look-alike was never looked up.
    expect(w.counted.calls.filter((c) => c === "delete")).toEqual(["delete"]);
    expect(w.writes()).toBe(1);
    expect(w.counted.calls.filter((c) => c !== "delete")).toEqual(["getWithMetadata", "getWithMetadata"]);
    expect((await w.g.fetch("/x", bearer(live.token))).status).toBe(401);
    expect(w.hooks).toHaveLength(1);
    const hook = w.hooks[0]!;
    expect(hook.body).not.toContain(live.token);
    expect(hook.body).not.toContain(live.hash);
    const event = JSON.parse(hook.body) as { type: string; data: Record<string, string> };
    expect(event.type).toBe("token.leaked");
    expect(event.data).toMatchObject({ user: live.record.user, id: live.record.id, url: "https://github.com/o/r/blob/abc/.env", source: "content" });
    const key = webhookKey(WEBHOOK_SECRET)!;
    const ts = Number(hook.headers["webhook-timestamp"]);
    expect(hook.headers["webhook-signature"]).toBe(await signWebhook(key, hook.headers["webhook-id"]!, ts, hook.body));
  });

  it("a replayed report changes nothing new: no write, no second webhook, every token now a false positive", async () => {
    const w = await world();
    const live = await w.issue();
    const body = JSON.stringify([{ token: live.token, type: "t", url: "https://github.com/o/r", source: "content" }]);
    const headers = await signedHeaders(w.signer, body);
    expect(((await (await w.post(body, headers)).json()) as Answer)[0]!.label).toBe("true_positive");
    const writes = w.writes();
    for (let i = 0; i < 3; i++) {
      const again = await w.post(body, headers);
      expect(again.status).toBe(200);
      expect(((await again.json()) as Answer)[0]!.label).toBe("false_positive");
    }
    expect(w.writes()).toBe(writes);
    expect(w.hooks).toHaveLength(1);
  });

  it("without a webhook secret the token is still revoked, and nothing is sent", async () => {
    const w = await world({ WEBHOOK_SECRET: "" });
    const live = await w.issue();
    expect(((await (await w.report([{ token: live.token, type: "t", url: "u", source: "s" }])).json()) as Answer)[0]!.label).toBe("true_positive");
    expect(w.hooks).toEqual([]);
    expect((await w.g.fetch("/x", bearer(live.token))).status).toBe(401);
  });
});

describe("POST /__edgekv/leaks: bad input is a 4xx and changes nothing", () => {
  it("forged, missing, mangled and mismatched signatures are 401, before any KV call", async () => {
    const w = await world();
    const live = await w.issue();
    const body = JSON.stringify([{ token: live.token, type: "t", url: "u", source: "s" }]);
    const good = await signedHeaders(w.signer, body);
    const other = await githubSigner(w.signer.keyId); // same id, another key: a forger's
    const sigOf = async (b: string) => (await signedHeaders(w.signer, b))["GITHUB-PUBLIC-KEY-SIGNATURE"]!;
    const der = Uint8Array.from(atob(good["GITHUB-PUBLIC-KEY-SIGNATURE"]!), (c) => c.charCodeAt(0));
    const flipped = der.slice();
    flipped[flipped.length - 1]! ^= 1;
    const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
    const cases: [string, string, Record<string, string>][] = [
      ["forged by another key", body, await signedHeaders(other, body)],
      ["no headers", body, {}],
      ["no signature", body, { "GITHUB-PUBLIC-KEY-IDENTIFIER": w.signer.keyId }],
      ["no key id", body, { "GITHUB-PUBLIC-KEY-SIGNATURE": good["GITHUB-PUBLIC-KEY-SIGNATURE"]! }],
      ["unknown key id", body, { ...good, "GITHUB-PUBLIC-KEY-IDENTIFIER": "nope" }],
      ["signature over another body", body, { ...good, "GITHUB-PUBLIC-KEY-SIGNATURE": await sigOf(`${body} `) }],
      ["body changed after signing", body.replace('"s"', '"x"'), good],
      ["one bit flipped", body, { ...good, "GITHUB-PUBLIC-KEY-SIGNATURE": b64(flipped) }],
      ["not base64", body, { ...good, "GITHUB-PUBLIC-KEY-SIGNATURE": "%%%not-base64%%%" }],
      ["raw r||s instead of DER", body, { ...good, "GITHUB-PUBLIC-KEY-SIGNATURE": b64(derToP1363(der)!) }],
      ["truncated DER", body, { ...good, "GITHUB-PUBLIC-KEY-SIGNATURE": b64(der.subarray(0, der.length - 3)) }],
      ["all zero r and s", body, { ...good, "GITHUB-PUBLIC-KEY-SIGNATURE": b64(p1363ToDer(new Uint8Array(64))) }],
    ];
    for (const [name, b, headers] of cases) {
      const res = await w.post(b, headers);
      expect(res.status, name).toBe(401);
      expect(((await res.json()) as { error: string }).error, name).toBe("bad_signature");
    }
    expect(w.counted.calls).toEqual([]);
    expect(w.hooks).toEqual([]);
    expect((await w.g.fetch("/x", bearer(live.token))).status).toBe(200);
  });

  it("malformed bodies, even correctly signed, are 400 (413 for too many items) and revoke nothing", async () => {
    const w = await world();
    const live = await w.issue();
    const item = { token: live.token, type: "t", url: "u", source: "s" };
    const cases: [string, number][] = [
      ["not json", 400],
      ["{}", 400],
      ["[]", 400],
      ["null", 400],
      [JSON.stringify(item), 400],
      [JSON.stringify([item, { token: 5, type: "t", url: "u", source: "s" }]), 400],
      [JSON.stringify([item, { type: "t", url: "u", source: "s" }]), 400],
      [JSON.stringify([item, { token: "", type: "t" }]), 400],
      [JSON.stringify([item, { ...item, url: "u".repeat(5000) }]), 400],
      [JSON.stringify([item, { ...item, type: ["x"] }]), 400],
      [JSON.stringify([item, null]), 400],
      [JSON.stringify([item, "ekv_x"]), 400],
      [JSON.stringify(Array(MAX_LEAK_ITEMS + 1).fill({ token: "x", type: "t", url: "u", source: "s" })), 413],
    ];
    for (const [body, status] of cases) {
      const res = await w.post(body, await signedHeaders(w.signer, body));
      expect(res.status, body.slice(0, 50)).toBe(status);
    }
    // Invalid UTF-8, correctly signed.
    const bytes = new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x5d]); // ["\xff"]
    const headers = { "GITHUB-PUBLIC-KEY-IDENTIFIER": w.signer.keyId, "GITHUB-PUBLIC-KEY-SIGNATURE": await w.signer.sign(bytes) };
    expect((await w.post(bytes as unknown as string, headers)).status).toBe(400);
    expect(w.writes()).toBe(0);
    expect(w.hooks).toEqual([]);
    expect((await w.g.fetch("/x", bearer(live.token))).status).toBe(200);
  });

  it("a huge body is 413: by Content-Length before reading, and while reading when the length is absent or lies", async () => {
    const w = await world();
    const big = `[${" ".repeat(MAX_LEAK_BODY_BYTES)}]`;
    const headers = await signedHeaders(w.signer, big);
    const byLength = await w.post(big, headers);
    expect(byLength.status).toBe(413);
    // A stream without Content-Length, over the bound.
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent > MAX_LEAK_BODY_BYTES * 4) return c.close();
        sent += chunk.length;
        c.enqueue(chunk);
      },
    });
    const res = await handle(new Request("https://control.test/__edgekv/leaks", { method: "POST", headers, body: stream, duplex: "half" } as RequestInit), {
      ...w.g.control,
      fetch: async () => new Response(w.state.doc),
    });
    expect(res.status).toBe(413);
    // It stopped reading soon after the bound, not at the end of the stream.
    expect(sent).toBeLessThan(MAX_LEAK_BODY_BYTES * 2);
    expect(w.writes()).toBe(0);
  });

  it("other methods are 405; LEAK_KEYS_URL = off turns the endpoint off", async () => {
    const w = await world();
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await handle(new Request("https://control.test/__edgekv/leaks", { method }), {
        ...w.g.control,
        fetch: async () => new Response(w.state.doc),
      });
      expect(res.status, method).toBe(405);
    }
    const off = await world({ LEAK_KEYS_URL: "off" });
    const live = await off.issue();
    expect((await off.report([{ token: live.token, type: "t", url: "u", source: "s" }])).status).toBe(404);
    expect(off.state.keyFetches).toBe(0);
  });
});

describe("the key list: fetched, cached and refetched within bounds", () => {
  it("is fetched once and cached; an unknown key id refetches at most once per interval; a new key is picked up after it", async () => {
    const w = await world();
    const live = await w.issue();
    const item = [{ token: generateToken(), type: "t", url: "u", source: "s" }];
    for (let i = 0; i < 3; i++) expect((await w.report(item)).status).toBe(200);
    expect(w.state.keyFetches).toBe(1);
    // GitHub rotates its key: reports signed with the new one fail until a refetch is allowed.
    const next = await githubSigner();
    w.state.doc = keysDocument([next, w.signer]);
    for (let i = 0; i < 5; i++) expect((await w.report(item, next)).status).toBe(401);
    expect(w.state.keyFetches).toBe(1); // the first fetch just happened: no refetch within the interval
    w.g.clock.t += LEAK_KEYS_REFETCH_MS;
    expect((await w.report([{ token: live.token, type: "t", url: "u", source: "s" }], next)).status).toBe(200);
    expect(w.state.keyFetches).toBe(2);
    for (let i = 0; i < 5; i++) expect((await w.report(item, await githubSigner())).status).toBe(401);
    expect(w.state.keyFetches).toBe(2);
    // After the TTL the list is read again even for a known key.
    w.g.clock.t += LEAK_KEYS_TTL_MS;
    expect((await w.report(item)).status).toBe(200);
    expect(w.state.keyFetches).toBe(3);
  });

  it("concurrent reports on a cold isolate share one fetch of the list, and all verify", async () => {
    const w = await world();
    const tokens = await Promise.all([w.issue(), w.issue(), w.issue()]);
    const answers = await Promise.all(tokens.map((t) => w.report([{ token: t.token, type: "t", url: "u", source: "s" }])));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(w.state.keyFetches).toBe(1);
  });

  it("an oversized, malformed or failing key list loads no key: every report is 401", async () => {
    for (const [doc, status] of [
      [JSON.stringify({ public_keys: [], pad: "x".repeat(MAX_LEAK_KEYS_BYTES) }), 200],
      ["not json", 200],
      [JSON.stringify({ public_keys: [{ key_identifier: "k", key: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }] }), 200],
      [JSON.stringify({ public_keys: "nope" }), 200],
      ["{}", 500],
    ] as const) {
      resetLeakKeys();
      const w = await world();
      w.state.doc = doc.includes("pad")
        ? doc.replace('"public_keys":[]', `"public_keys":${JSON.stringify(JSON.parse(keysDocument([w.signer])).public_keys)}`)
        : doc;
      w.state.keyStatus = status;
      const live = await w.issue();
      const res = await w.report([{ token: live.token, type: "t", url: "u", source: "s" }]);
      expect(res.status, doc.slice(0, 40)).toBe(401);
      expect((await w.g.fetch("/x", bearer(live.token))).status).toBe(200);
    }
  });
});

describe("the bound: a leaked token is refused within ALLOW_CACHE_SECONDS of the report, locally", () => {
  it("a gate that cached it allows it until the cache ends and refuses it after; one that had not is refused at once", async () => {
    const CACHE = 5;
    const w = await world();
    const gate = makeGate({ ALLOW_CACHE_SECONDS: String(CACHE) });
    gate.clock.t = w.g.clock.t;
    const cached = await w.issue();
    const other = await w.issue();
    expect((await gate.fetch("/p", bearer(cached.token))).status).toBe(200);
    const t0 = gate.clock.t;
    const body = [cached, other].map((t) => ({ token: t.token, type: "t", url: "u", source: "s" }));
    expect((await w.report(body)).status).toBe(200);
    expect((await gate.fetch("/p", bearer(other.token))).status).toBe(401);
    gate.clock.t = t0 + CACHE * 1000;
    expect((await gate.fetch("/p", bearer(cached.token))).status).toBe(401);
    expect(await env.TOKENS_KV.get(`tok/${cached.hash}`)).toBeNull();
  });
});

describe("derToP1363: DER ECDSA signatures parsed strictly", () => {
  it("round-trips high-bit, short and zero-padded integers", () => {
    const cases = [
      Uint8Array.from({ length: 64 }, (_, i) => (i === 0 || i === 32 ? 0x80 : i)), // both need a leading 0x00 in DER
      Uint8Array.from({ length: 64 }, (_, i) => (i < 3 || (i >= 32 && i < 40) ? 0 : 0x7f)), // short integers
      Uint8Array.from({ length: 64 }, (_, i) => (i === 31 || i === 63 ? 1 : 0)), // r = s = 1
      Uint8Array.from({ length: 64 }, () => 0xff),
    ];
    for (const sig of cases) expect(derToP1363(p1363ToDer(sig))).toEqual(sig);
  });

  it("refuses anything else", () => {
    const good = p1363ToDer(Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? 0x80 : i + 1)));
    const edit = (f: (b: number[]) => void) => {
      const b = [...good];
      f(b);
      return Uint8Array.from(b);
    };
    const bad = [
      new Uint8Array(0),
      good.subarray(0, good.length - 1),
      Uint8Array.from([...good, 0]), // trailing byte
      edit((b) => (b[0] = 0x31)), // not a SEQUENCE
      edit((b) => (b[1] = b[1]! + 1)), // wrong outer length
      edit((b) => (b[2] = 0x03)), // not an INTEGER
      edit((b) => (b[3] = 34)), // integer too long
      edit((b) => (b[4] = 1)), // 33 bytes without the leading zero
      Uint8Array.from([0x30, 0x06, 0x02, 0x00, 0x02, 0x02, 0x01, 0x01]), // empty integer
      Uint8Array.from({ length: 80 }, () => 0x30),
    ];
    for (const der of bad) expect(derToP1363(der), [...der.subarray(0, 6)].join(",")).toBeNull();
  });
});
