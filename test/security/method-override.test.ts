// Attack class: a request the gate allows as one method is acted on by the
// origin as another. Express (method-override), Laravel and Rails honour
// X-HTTP-Method-Override and kin, and `_method` in the query or a form body,
// so a token scoped to GET (or POST) must not become a DELETE.
// Defence: workers/auth/strip.ts (override headers never reach the origin)
// and handler.ts `firstUnscopedMethod` (a `?_method=X`, in any spelling a server
// reads, must be in scope too; against a real PHP: method-override-php.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, rawRequest, startGate, startOrigin, stateDir, type Origin } from "./helpers.ts";

let app: Origin;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let getOnly: string;
let postOnly: string;
let postAndDelete: string;

const OVERRIDE_HEADERS = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "x-http-method-override", "X-Http-Method-Override"];

beforeAll(async () => {
  app = await startOrigin("app");
  state = await stateDir("method");
  getOnly = await issueToken(state.dir, ["--user", "reader", "--scope", "GET:/api/*"]);
  postOnly = await issueToken(state.dir, ["--user", "poster", "--scope", "POST:/api/*"]);
  postAndDelete = await issueToken(state.dir, ["--user", "admin", "--scope", "POST:/api/*", "--scope", "DELETE:/api/*"]);
  gate = await startGate(state.dir, app.url);
}, 180_000);

afterAll(async () => {
  await gate?.stop();
  await app?.close();
  await state?.remove();
});

describe("method overrides never change the method the gate authorised", () => {
  it("override headers (any case, any value) never reach the origin", async () => {
    for (const name of OVERRIDE_HEADERS) {
      for (const value of ["DELETE", "delete", "PUT", "PATCH, DELETE"]) {
        const before = app.seen.length;
        const r = await raw(gate.port, rawRequest("/api/items/1", { Authorization: `Bearer ${getOnly}`, [name]: value }));
        expect(r.status, `${name}: ${value}`).toBe(200);
        const rec = app.seen.slice(before)[0]!;
        expect(rec.method).toBe("GET");
        for (const h of Object.keys(rec.headers)) expect(h, `${name} reached the origin`).not.toMatch(/method/i);
      }
    }
  });

  it("a POST-only token cannot ask the origin for a DELETE with ?_method=, in any spelling", async () => {
    for (const q of [
      "_method=DELETE",
      "_method=delete",
      "%5Fmethod=DELETE",
      "%5f%6Dethod=DELETE",
      "a=1&_method=DELETE",
      "_method=PUT&_method=DELETE",
      "_method=%20DELETE",
    ]) {
      const before = app.seen.length;
      const r = await raw(gate.port, rawRequest(`/api/items/1?${q}`, { Authorization: `Bearer ${postOnly}`, "Content-Length": "0" }, "POST"));
      expect(r.status, q).toBe(403);
      expect(app.seen.length, `${q} reached the origin`).toBe(before);
    }
  });

  it("a token that holds the overridden method too passes, with the query intact", async () => {
    const before = app.seen.length;
    const r = await raw(gate.port, rawRequest("/api/items/1?_method=DELETE", { Authorization: `Bearer ${postAndDelete}`, "Content-Length": "0" }, "POST"));
    expect(r.status).toBe(200);
    expect(app.seen.slice(before).map((s) => `${s.method} ${s.url}`)).toEqual(["POST /api/items/1?_method=DELETE"]);
  });
});
