/**
 * Issue 24, "exactly 2 KV writes" for a rotation: a token is one key,
 * `tok/<hash>`, and its user is that key's list metadata (TokenMetaSchema), so
 * issue is 1 write, rotate 2, revoke 1. In workerd on the real local TOKENS_KV.
 *
 * The attacker's angle on a per-user index found by listing: users whose ids
 * are prefixes of each other (`a`, `a.b`, `ab`), must never be revoked or
 * listed for one another; and a token indexed the old way (`user/<user>/<hash>`
 * beside a record without metadata) must not escape `revoke --user`.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TokenMetaSchema, TokenWriter, userIndexName } from "../../shared/tokens/write.ts";
import { TokenStore } from "../../cli/token/store.ts";
import { countingKv } from "../auth/helpers.ts";
import { uniqueUser } from "./helpers.ts";

const writesOf = (calls: string[]) => calls.filter((c) => c === "put" || c === "delete");

describe("one key per token", () => {
  it("issue is 1 write, rotate 2, revokeHash 1; each record carries {user} as list metadata", async () => {
    const { kv, calls } = countingKv();
    const tokens = new TokenWriter(kv);
    const user = uniqueUser("one");
    let mark = calls.length;
    const a = await tokens.issue({ user, ttlSeconds: 3600 });
    expect(writesOf(calls.slice(mark))).toEqual(["put"]);
    mark = calls.length;
    const b = await tokens.rotate(a.hash, 60);
    expect(writesOf(calls.slice(mark))).toEqual(["put", "put"]);
    mark = calls.length;
    await tokens.revokeHash(b.hash);
    expect(writesOf(calls.slice(mark))).toEqual(["delete"]);
    const listed = await env.TOKENS_KV.list({ prefix: `tok/${a.hash}` });
    expect(listed.keys.map((k) => k.metadata)).toEqual([{ user }]);
  });

  it("the metadata schema refuses what a user id may not be", () => {
    for (const bad of [{ user: "a/b" }, { user: "" }, { user: "x y" }, { user: 1 }, {}, { user: "é" }]) {
      expect(TokenMetaSchema["~standard"].validate(bad)).toHaveProperty("issues");
    }
  });
});

describe("revoke --user and list --user by metadata", () => {
  it("users whose ids are prefixes of each other are never revoked or listed for one another", async () => {
    const base = uniqueUser("p");
    const users = [base, `${base}.b`, `${base}b`, `${base}:`];
    const store = new TokenStore(env.TOKENS_KV);
    // Each user: one token, and one rotated with a grace (old and new both live): 3 live.
    for (const u of users) {
      await store.issue({ user: u, ttlSeconds: 3600 });
      await store.rotate((await store.issue({ user: u, ttlSeconds: 3600 })).hash, 600);
    }
    for (const u of users) {
      const listed = [];
      for await (const t of store.list(u)) listed.push(t.record.user);
      expect(listed.length).toBe(3);
      expect(new Set(listed)).toEqual(new Set([u]));
    }
    expect(await store.revokeUser(base)).toBe(3);
    for await (const t of store.list(base)) throw new Error(`left: ${t.record.id}`);
    for (const u of users.slice(1)) {
      let n = 0;
      for await (const _ of store.list(u)) n++;
      expect(n).toBe(3);
    }
  });

  it("a token indexed the old way (user/<user>/<hash>, record without metadata) is listed and revoked with its index entry", async () => {
    const user = uniqueUser("legacy");
    const store = new TokenStore(env.TOKENS_KV);
    const fresh = await store.issue({ user, ttlSeconds: 3600 });
    const old = await store.issue({ user, ttlSeconds: 3600 });
    // Rewrite it as a pre-issue-24 writer left it: no metadata, plus the index key.
    const raw = await env.TOKENS_KV.get(`tok/${old.hash}`);
    await env.TOKENS_KV.put(`tok/${old.hash}`, raw!, { expirationTtl: 3600 });
    await env.TOKENS_KV.put(`user/${userIndexName(user, old.hash)}`, "1", { expirationTtl: 3600 });
    const ids = [];
    for await (const t of store.list(user)) ids.push(t.record.id);
    expect(ids.sort()).toEqual([fresh.record.id, old.record.id].sort());
    expect(await store.revokeUser(user)).toBe(2);
    expect(await env.TOKENS_KV.get(`tok/${old.hash}`)).toBeNull();
    expect(await env.TOKENS_KV.get(`tok/${fresh.hash}`)).toBeNull();
    expect((await env.TOKENS_KV.list({ prefix: `user/${user}/` })).keys).toEqual([]);
  });
});
