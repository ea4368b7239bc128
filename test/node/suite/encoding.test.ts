// Issue 22 point 5: each proxy answers in an encoding the client asked for. The gate
// (in front of the splitter, as in `npm start`) and the splitter alone, each under its
// own `wrangler dev`, in front of a recording origin that compresses according to the
// Accept-Encoding it receives. A client with no Accept-Encoding (plain curl), with
// `identity`, `gzip` or `br` gets a body it can read, the same way through both.
import { request as httpRequest } from "node:http";
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, startGate, startOrigin, startSplitter, stateDir, type Origin } from "../../security/helpers.ts";
import type { DevServer } from "../helpers/wrangler-dev.ts";

const BODY = `${"compressible text, ".repeat(200)}end`;

let state: Awaited<ReturnType<typeof stateDir>>;
let origin: Origin;
let splitter: DevServer;
let gate: DevServer;
let token: string;

beforeAll(async () => {
  state = await stateDir("encoding");
  // Compresses as a typical origin does: br, else gzip, else plain.
  origin = await startOrigin("compressing", {
    reply: (req, _body, res) => {
      const ae = String(req.headers["accept-encoding"] ?? "");
      res.setHeader("content-type", "text/plain; charset=utf-8");
      res.setHeader("vary", "accept-encoding");
      res.setHeader("x-seen-accept-encoding", ae || "(none)");
      if (/\bbr\b/.test(ae)) {
        res.setHeader("content-encoding", "br");
        res.end(brotliCompressSync(BODY));
      } else if (/\bgzip\b/.test(ae)) {
        res.setHeader("content-encoding", "gzip");
        res.end(gzipSync(BODY));
      } else res.end(BODY);
    },
  });
  // Green is the same origin by another name (the config needs two).
  splitter = await startSplitter(state.dir, origin.url, origin.url.replace("127.0.0.1", "localhost"));
  gate = await startGate(state.dir, splitter.url);
  token = await issueToken(state.dir, ["--user", "alice"]);
});
afterAll(async () => {
  await gate?.stop();
  await splitter?.stop();
  await origin?.close();
  await state?.remove();
});

/** A GET with exactly these headers (node:http adds no Accept-Encoding and decodes nothing). */
function get(url: string, headers: Record<string, string>): Promise<{ encoding: string | undefined; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/page`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ encoding: res.headers["content-encoding"], raw: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const decode = (encoding: string | undefined, raw: Buffer) =>
  (encoding === "br" ? brotliDecompressSync(raw) : encoding === "gzip" ? gunzipSync(raw) : raw).toString();

/** What the client may receive for its Accept-Encoding. */
const ALLOWED: Record<string, (string | undefined)[]> = {
  "(none)": [undefined],
  identity: [undefined],
  gzip: [undefined, "gzip"],
  br: [undefined, "br"],
  "gzip, br": [undefined, "gzip", "br"],
  "br;q=0, gzip": [undefined, "gzip"],
};

describe("the gate and the splitter answer in an encoding the client accepts", () => {
  for (const [ae, allowed] of Object.entries(ALLOWED)) {
    it(`Accept-Encoding: ${ae}`, async () => {
      const headers: Record<string, string> = ae === "(none)" ? {} : { "accept-encoding": ae };
      const direct = await get(splitter.url, headers);
      const gated = await get(gate.url, { ...headers, authorization: `Bearer ${token}` });
      for (const [via, r] of [
        ["splitter", direct],
        ["gate", gated],
      ] as const) {
        expect(allowed, `${via}: Content-Encoding ${r.encoding}`).toContain(r.encoding);
        expect(decode(r.encoding, r.raw), via).toBe(BODY);
      }
      // Both proxies behave the same.
      expect(gated.encoding).toBe(direct.encoding);
    });
  }
});
