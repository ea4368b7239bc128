import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { gateConfig } from "../../workers/auth/config.ts";
import { buildOriginRequest } from "../../workers/auth/identity.ts";

const config = gateConfig({ TOKENS_KV: env.TOKENS_KV, ORIGIN_URL: "https://origin.test" });
const identity = { user: "alice", scopes: "*", expires: Math.floor(Date.now() / 1000) + 3600, tokenId: "0123456789ab" };

describe("forwarded requests and Cloudflare's cache", () => {
  it("an authenticated request is never stored in or served from the subrequest cache (it is one user's answer)", async () => {
    const req = new Request("https://gate.test/private/report.pdf");
    const out = await buildOriginRequest(req, new URL(req.url), "/private/report.pdf", identity, config, Date.now());
    expect(out.cache).toBe("no-store");
  });

  it("a public-path request may be cached as the origin says", async () => {
    const req = new Request("https://gate.test/public/app.css");
    const out = await buildOriginRequest(req, new URL(req.url), "/public/app.css", undefined, config, Date.now());
    expect(out.cache).not.toBe("no-store");
  });
});
