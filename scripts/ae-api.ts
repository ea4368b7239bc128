/**
 * The Analytics Engine SQL API stand-in (scripts/ae-sql.ts) served over HTTP on loopback,
 * for the control Worker to reach through CLOUDFLARE_API_BASE_URL in end-to-end tests.
 * @example const api = await startAeApi(); vars.CLOUDFLARE_API_BASE_URL = api.url; ...; await api.close();
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AeStandin } from "./ae-sql.ts";

export interface AeApi {
  /** The API base, `http://127.0.0.1:<port>/client/v4`. */
  url: string;
  standin: AeStandin;
  close(): Promise<void>;
}

/** Starts the stand-in on a free loopback port, with a fresh account id and token. */
export async function startAeApi(sampleInterval = 1): Promise<AeApi> {
  const standin = new AeStandin(randomBytes(16).toString("hex"), `ae-standin-${randomBytes(16).toString("hex")}`, sampleInterval);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: req.method === "POST" ? Buffer.concat(chunks) : null });
      try {
        const answer = await standin.fetch(request);
        res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "text/plain" }).end(Buffer.from(await answer.arrayBuffer()));
      } catch (err) {
        // A stand-in bug is a 500 to the caller, never an unhandled rejection that ends the test run.
        res.writeHead(500, { "content-type": "text/plain" }).end(err instanceof Error ? err.message : String(err));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    standin,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
