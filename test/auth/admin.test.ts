import { env } from "cloudflare:workers";
import { safeParse } from "valibot";
import { describe, expect, it } from "vitest";
import { TokenRecordSchema } from "../../workers/auth/store.ts";
import { bearer, makeGate, uniqueUser } from "./helpers.ts";

const SECRET = "admin-secret-for-tests";
const admin = (extra: Record<string, string> = {}) => ({ Authorization: `Bearer ${SECRET}`, ...extra });

describe("admin API (/__edgekv/tokens)", () => {
  it("is 404 when ADMIN_SECRET is not set, whatever the credentials", async () => {
    const g = makeGate();
    const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: admin(), body: "{}" });
    expect(res.status).toBe(404);
    expect(g.received).toEqual([]);
  });

  it("refuses wrong secrets of any length, and a missing one", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    for (const wrong of ["", "a", SECRET.slice(0, -1), `${SECRET}x`, SECRET.toUpperCase(), "x".repeat(5000)]) {
      const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: { Authorization: `Bearer ${wrong}` }, body: '{"user":"x"}' });
      expect(res.status).toBe(401);
    }
    expect((await g.fetch("/__edgekv/tokens", { method: "POST", body: '{"user":"x"}' })).status).toBe(401);
    expect(g.received).toEqual([]);
  });

  it("POST issues a token the gate accepts; DELETE by hash revokes it at once", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("adm");
    const res = await g.fetch("/__edgekv/tokens", {
      method: "POST",
      headers: admin({ "Content-Type": "application/json" }),
      body: JSON.stringify({ user, scopes: ["GET:/app/*"], ttl: 600, label: "login" }),
    });
    expect(res.status).toBe(201);
    const issued = (await res.json()) as { token: string; hash: string; user: string; scopes: string[]; expiresAt: number };
    expect(issued).toMatchObject({ user, scopes: ["GET:/app/*"] });
    expect(issued.expiresAt - g.clock.t).toBe(600_000);
    expect((await g.fetch("/app/home", bearer(issued.token))).status).toBe(200);
    expect(g.received[0]!.headers["x-edgekv-user"]).toBe(user);
    const del = await g.fetch(`/__edgekv/tokens/${issued.hash}`, { method: "DELETE", headers: admin() });
    expect(await del.json()).toEqual({ revoked: 1 });
    expect((await g.fetch("/app/home", bearer(issued.token))).status).toBe(401);
  });

  it("DELETE /users/:user revokes all of a user's tokens", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("many");
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await g.issue({ user })).token);
    const other = (await g.issue()).token;
    for (const t of tokens) expect((await g.fetch("/x", bearer(t))).status).toBe(200);
    const del = await g.fetch(`/__edgekv/tokens/users/${user}`, { method: "DELETE", headers: admin() });
    expect(await del.json()).toEqual({ revoked: 3 });
    for (const t of tokens) expect((await g.fetch("/x", bearer(t))).status).toBe(401);
    expect((await g.fetch("/x", bearer(other))).status).toBe(200);
  });

  it("bad input is a 400 with a useful message, and writes nothing", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const cases: [string, string][] = [
      ["not json", "body must be JSON"],
      ["[1]", "user"],
      ['{"user":"a b"}', "user must be"],
      ['{"user":"ok","ttl":10}', "ttl must be"],
      ['{"user":"ok","scopes":["GET /x"]}', "a scope is METHOD:/glob"],
      ['{"user":"ok","scopes":"GET:/x"}', "scopes"],
    ];
    for (const [body, message] of cases) {
      const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: admin(), body });
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain(message);
    }
    expect((await g.fetch("/__edgekv/tokens/not-a-hash", { method: "DELETE", headers: admin() })).status).toBe(400);
    expect((await g.fetch("/__edgekv/nothing", { headers: admin() })).status).toBe(404);
  });

  it("routes exactly as before: trailing slashes, other methods and paths are 404", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("rt");
    const post = await g.fetch("/__edgekv/tokens/", { method: "POST", headers: admin(), body: JSON.stringify({ user }) });
    expect(post.status).toBe(201);
    const { hash, token } = (await post.json()) as { hash: string; token: string };
    for (const [method, path] of [
      ["GET", "/__edgekv/tokens"],
      ["PUT", "/__edgekv/tokens"],
      ["POST", `/__edgekv/tokens/${hash}`],
      ["POST", `/__edgekv/tokens/users/${user}`],
      ["DELETE", "/__edgekv/tokens"],
      ["DELETE", `/__edgekv/tokens/${hash}/extra`],
      ["DELETE", "/__edgekv/other"],
    ] as const) {
      const res = await g.fetch(path, { method, headers: admin() });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe("not_found");
    }
    expect((await g.fetch("/__edgekv/tokens/users", { method: "DELETE", headers: admin() })).status).toBe(400);
    expect((await g.fetch("/x", bearer(token))).status).toBe(200);
    const del = await g.fetch(`/__edgekv/tokens/users/${user}/`, { method: "DELETE", headers: admin() });
    expect(await del.json()).toEqual({ revoked: 1 });
    expect((await g.fetch("/x", bearer(token))).status).toBe(401);
  });

  it("writes records the CLI's valibot schema accepts, and refuses what it refuses", async () => {
    const g = makeGate({ ADMIN_SECRET: SECRET });
    const user = uniqueUser("v");
    const res = await g.fetch("/__edgekv/tokens", { method: "POST", headers: admin(), body: JSON.stringify({ user, scopes: ["GET:/a/*", "*:/b"], label: "l" }) });
    const { hash } = (await res.json()) as { hash: string };
    const stored = await env.TOKENS_KV.get(`tok/${hash}`, "json");
    expect(safeParse(TokenRecordSchema, stored).success).toBe(true);
    for (const body of [{ user, label: "x".repeat(101) }, { user, scopes: Array.from({ length: 33 }, () => "GET:/x") }, { user, label: 1 }]) {
      const r = await g.fetch("/__edgekv/tokens", { method: "POST", headers: admin(), body: JSON.stringify(body) });
      expect(r.status, JSON.stringify(body).slice(0, 60)).toBe(400);
    }
  });
});

