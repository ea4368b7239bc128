/**
 * A real multi-file site deployed with `--remote` to the API stand-in, copied from the
 * stand-in into local state, served by the site Worker in workerd: every byte must
 * match. Plus the request counts of a deploy, an unchanged redeploy (0 writes), a one-file
 * change (4 keys in 2 requests), and an interrupted deploy that a re-run completes, uploading
 * only what is missing.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, startWorker, type RunningWorker } from "../../../scripts/runtime.ts";
import { POINTER_KEY, SITE_PREFIX } from "../../../workers/site/model.ts";
import { runCli } from "../helpers/cli.ts";
import { NAMESPACE_IDS, remoteProject, type RemoteProject } from "../helpers/remote.ts";

const FIXTURE = new URL("../../fixtures/site/", import.meta.url).pathname;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}

const deploy = (p: RemoteProject, dir: string) => runCli(["site", "deploy", dir, "--remote", "--config", p.config, "--json"], { env: p.env });

let p: RemoteProject;
let worker: RunningWorker | undefined;
let state: string;
beforeAll(async () => {
  p = await remoteProject();
  state = await mkdtemp(join(tmpdir(), "edgekv-remote-state-"));
});
afterAll(async () => {
  await worker?.stop();
  await p?.close();
  await rm(state, { recursive: true, force: true });
});

describe("site deploy --remote", () => {
  it("deploys the fixture site; copied into local state, the site Worker serves every file byte for byte", async () => {
    const r = await deploy(p, FIXTURE);
    expect(r.code, r.stderr).toBe(0);
    const { version } = JSON.parse(r.stdout) as { version: string };
    const site = p.api.namespace(NAMESPACE_IDS.site);
    expect(site.has(SITE_PREFIX + POINTER_KEY)).toBe(true);

    // Copy what the API holds into the local state the Worker reads.
    worker = await startWorker({ name: "site", env: "site", modules: [{ path: "index.js", contents: await bundleWorker("site", false) }], persistTo: state });
    const local = await worker.mf.getKVNamespace("SITE_KV");
    for (const [key, e] of site) {
      await local.put(key, e.value, { ...(e.metadata !== undefined ? { metadata: e.metadata } : {}), ...(e.expiration ? { expiration: e.expiration } : {}) });
    }

    const served: string[] = [];
    const mismatched: string[] = [];
    for (const file of await walk(FIXTURE)) {
      const path = `/${relative(FIXTURE, file).split("/").map(encodeURIComponent).join("/")}`;
      const res = await fetch(worker.url + path, { headers: { "accept-encoding": "identity" }, redirect: "manual" });
      if (res.status !== 200) {
        await res.body?.cancel();
        continue;
      }
      expect(res.headers.get("x-edgekv-site-version")).toBe(version);
      (Buffer.from(await res.arrayBuffer()).equals(await readFile(file)) ? served : mismatched).push(path);
    }
    expect(mismatched).toEqual([]);
    for (const must of [
      "/img/logo.png",
      "/img/photo.jpg",
      "/fonts/LiberationMono-Regular.ttf",
      "/media/clip.webm",
      "/css/site.css",
      "/assets/app.3f2a1c9e.js",
    ]) {
      expect(served).toContain(must);
    }
  });

  it("an unchanged redeploy writes nothing", async () => {
    p.api.resetCounts();
    const r = await deploy(p, FIXTURE);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { unchanged: boolean }).unchanged).toBe(true);
    expect(p.api.writeRequests()).toBe(0);
    console.log(`unchanged redeploy of the fixture: ${JSON.stringify(p.api.counts())}`);
  });

  it("an interrupted deploy leaves the live site untouched; the re-run uploads only what is missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "edgekv-remote-site-"));
    const files = 40;
    for (let i = 0; i < files; i++) {
      await mkdir(join(dir, "img"), { recursive: true });
      // PNG: stored as one key each (not compressible), so every blob is one key.
      await writeFile(join(dir, "img", `f${i}.png`), `file ${i} ${"z".repeat(i)}`);
    }
    await writeFile(join(dir, "index.html"), "<h1>hi</h1>");
    const clean = await remoteProject();
    const broken = await remoteProject();
    const bulkKeys = (p: RemoteProject) => p.api.log.filter((l) => l.route === "PUT bulk" && l.status === 200).reduce((n, l) => n + (l.keys ?? 0), 0);
    try {
      const baseline = await deploy(clean, dir);
      expect(baseline.code, baseline.stderr).toBe(0);
      const blobs = (m: Map<string, unknown>) => [...m.keys()].filter((k) => k.startsWith(`${SITE_PREFIX}b:`)).sort();
      const all = blobs(clean.api.namespace(NAMESPACE_IDS.site));
      expect(all).toHaveLength(files + 1);

      // The cut: every bulk write leaves its first 15 pairs unwritten, so resends never finish and the deploy fails.
      const lost = 15;
      broken.api.inject({ route: "PUT bulk", unsuccessful: lost, times: 1_000_000 });
      const cut = await deploy(broken, dir);
      expect(cut.code).toBe(1);
      const site = broken.api.namespace(NAMESPACE_IDS.site);
      expect(site.has(SITE_PREFIX + POINTER_KEY)).toBe(false);
      expect(blobs(site)).toHaveLength(all.length - lost);

      broken.api.clearFaults();
      broken.api.resetCounts();
      broken.api.log.length = 0;
      const resumed = await deploy(broken, dir);
      expect(resumed.code, resumed.stderr).toBe(0);
      // Only the missing blobs and the index (the shard the cut deploy stored has the same content, so
      // the same key: not written again); then the pointer on its own.
      expect(bulkKeys(broken)).toBe(lost + 1);
      expect(broken.api.writeRequests()).toBe(2);
      expect(site.has(SITE_PREFIX + POINTER_KEY)).toBe(true);
      expect(blobs(site)).toEqual(all);
    } finally {
      await clean.close();
      await broken.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("counts the requests of a first deploy of N small files, per 10,000 keys written", async () => {
    const n = 1000;
    const dir = await mkdtemp(join(tmpdir(), "edgekv-remote-count-"));
    const q = await remoteProject();
    try {
      await mkdir(join(dir, "d"), { recursive: true });
      for (let i = 0; i < n; i++) await writeFile(join(dir, "d", `${i}.png`), `small file ${i}`);
      const r = await deploy(q, dir);
      expect(r.code, r.stderr).toBe(0);
      const keys = q.api.namespace(NAMESPACE_IDS.site).size;
      const writes = q.api.writeRequests();
      const perTenThousand = Math.round((writes / keys) * 10_000);
      console.log(
        `first remote deploy of ${n} small files: ${keys} keys, ${writes} write requests (${perTenThousand} per 10,000 keys); ${JSON.stringify(q.api.counts())}`,
      );
      // Issue 13's bound: at most 2 write requests per started 10,000 keys. Here: one bulk write for the
      // blobs, shard and index, then the pointer on its own.
      expect(writes).toBeLessThanOrEqual(2 * Math.ceil(keys / 10_000));
      expect(q.api.counts()["PUT bulk"]).toBe(1);
      q.api.resetCounts();
      expect((await deploy(q, dir)).code).toBe(0);
      expect(q.api.writeRequests()).toBe(0);
      // Issue 23: one file changed in a 4-shard site is 4 keys (blob, its shard, index, pointer) in 2 write requests.
      await writeFile(join(dir, "d", "500.png"), "changed");
      q.api.resetCounts();
      q.api.log.length = 0;
      const changed = await deploy(q, dir);
      expect(changed.code, changed.stderr).toBe(0);
      expect((JSON.parse(changed.stdout) as { writes: { total: number } }).writes).toEqual({ blobs: 1, shards: 1, index: 1, pointer: 1, total: 4 });
      const bulk = q.api.log.filter((l) => l.route === "PUT bulk").map((l) => l.keys);
      expect(bulk).toEqual([3]);
      expect(q.api.writeRequests()).toBe(2);
    } finally {
      await q.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
