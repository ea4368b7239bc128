// The floors of issue 26 (bench/lib/floors.ts) do the site's job on the same KV state: for the
// requests the bench sends, each answers what the site Worker answers (status, ETag,
// Cache-Control, type, body), so a ratio to it compares the same work.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FLOORS } from "../../../bench/lib/floors.ts";
import { edgekvOk } from "../../../scripts/edgekv-in-process.ts";
import { bundleWorker, startWorker, type RunningWorker } from "../../../scripts/runtime.ts";

let work: string;
const workers: RunningWorker[] = [];
let site: RunningWorker;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "edgekv-floors-"));
  const dir = join(work, "site");
  await mkdir(dir);
  await writeFile(join(dir, "index.html"), `<!doctype html><p>${"floor ".repeat(800)}</p>\n`);
  await edgekvOk(["site", "deploy", dir, "--precompress", "--json"], join(work, "state"));
  site = await startWorker({
    name: "site",
    env: "site",
    modules: [{ path: "index.js", contents: await bundleWorker("site", true) }],
    persistTo: join(work, "state"),
  });
  workers.push(site);
  for (const name of ["site-floor", "site-floor-headers"]) {
    const f = FLOORS[name]!;
    workers.push(await startWorker({ name, env: f.env, modules: [{ path: "floor.js", contents: f.source }], persistTo: join(work, "state") }));
  }
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

const answer = async (w: RunningWorker, headers: Record<string, string> = {}) => {
  // Identity, as the bench's load generator asks (it sends no Accept-Encoding).
  const res = await fetch(`${w.url}/`, { headers: { "accept-encoding": "identity", ...headers } });
  const body = await res.text();
  const h = (k: string) => res.headers.get(k);
  return {
    status: res.status,
    etag: h("etag")?.replace(/-(?:br|gz)"$/, '"'),
    cache: h("cache-control"),
    type: res.status === 200 ? h("content-type") : null,
    body,
  };
};

describe("site floors (issue 26)", () => {
  it("answer the hot page's 200 and its 304 as the site does", async () => {
    const want = await answer(site);
    expect(want.status).toBe(200);
    for (const floor of workers.slice(1)) {
      expect(await answer(floor), floor.name).toEqual(want);
      const cond = { "if-none-match": want.etag! };
      expect(await answer(floor, cond), floor.name).toEqual(await answer(site, cond));
      expect((await answer(floor, cond)).status).toBe(304);
    }
  });

  it("the floor with headers sends the headers the site sends on a hot 200", async () => {
    const names = async (w: RunningWorker) => {
      const res = await fetch(`${w.url}/`);
      await res.arrayBuffer();
      return [...res.headers.keys()].filter((k) => !["content-length", "date", "content-encoding"].includes(k)).sort();
    };
    expect(await names(workers[2]!)).toEqual(await names(site));
  });
});
