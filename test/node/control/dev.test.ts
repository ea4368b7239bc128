// The control Worker as `npm start` and `npm run dev:control` run it: `wrangler dev --env control
// --test-scheduled` on local state the CLI wrote. One cron tick triggered over HTTP (the curl the
// banner prints) signs and sends a webhook; the status page answers with STATUS_SECRET only; the
// splitter beside it has no endpoint of its own.
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControl, startOrigin, startSplitter, stateDir, type Origin } from "../../security/helpers.ts";
import type { DevServer } from "../helpers/wrangler-dev.ts";

const WEBHOOK_SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const STATUS_SECRET = "control-dev-status-secret-0123456789abcdef";

let blue: Origin;
let green: Origin;
let hooks: Origin;
let splitter: DevServer;
let control: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
const events: { headers: Record<string, string>; body: string }[] = [];

beforeAll(async () => {
  blue = await startOrigin("blue");
  green = await startOrigin("green");
  hooks = await startOrigin("hooks", {
    reply: (req, body, res) => {
      events.push({ headers: req.headers as Record<string, string>, body: body.toString("utf8") });
      res.writeHead(204).end();
    },
  });
  state = await stateDir("control-dev");
  // One after the other: two runtimes starting on one local state can collide (SQLITE_BUSY).
  splitter = await startSplitter(state.dir, blue.url, green.url, 10);
  control = await startControl(state.dir, { STATUS_SECRET, WEBHOOK_SECRET, WEBHOOK_URLS: `${hooks.url}/edgekv` });
}, 240_000);

afterAll(async () => {
  await Promise.all([splitter?.stop(), control?.stop()]);
  await Promise.all([blue?.close(), green?.close(), hooks?.close()]);
  await state?.remove();
});

describe("edgekv-control under wrangler dev --test-scheduled", () => {
  it("a tick triggered over HTTP sends one signed webhook for the rollout; the next sends none", async () => {
    expect((await fetch(`${control.url}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    const payload = new Webhook(WEBHOOK_SECRET).verify(e.body, {
      "webhook-id": e.headers["webhook-id"]!,
      "webhook-timestamp": e.headers["webhook-timestamp"]!,
      "webhook-signature": e.headers["webhook-signature"]!,
    }) as { type: string; data: { version: number; percent: number } };
    expect(payload).toMatchObject({ type: "rollout.updated", data: { version: 2, percent: 10 } });
    expect((await fetch(`${control.url}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);
    expect(events).toHaveLength(1);
  });

  it("the status page answers with the secret only, from the state the CLI wrote", async () => {
    expect((await fetch(`${control.url}/__edgekv/status.json`)).status).toBe(401);
    const res = await fetch(`${control.url}/__edgekv/status.json`, { headers: { authorization: `Bearer ${STATUS_SECRET}` } });
    expect(res.status).toBe(200);
    const st = (await res.json()) as { version: number; percentNow: number; history: { version: number; action: string }[] };
    expect(st).toMatchObject({ version: 2, percentNow: 10 });
    expect(st.history.map((h) => h.version)).toEqual([2, 1]);
    // The splitter has no status page: the same path goes to an origin.
    const viaSplitter = await fetch(`${splitter.url}/__edgekv/status.json`, { headers: { authorization: `Bearer ${STATUS_SECRET}` } });
    expect(viaSplitter.headers.get("x-edgekv-color")).toMatch(/^(blue|green)$/);
  });
});
