/**
 * Attack class: signed links that live (nearly) forever. A preview link or tester override that
 * leaks is worth as long as it is valid, so both are capped at 30 days (shared/signed-link.ts):
 * the CLI refuses a longer `--ttl` before reading the secret or signing (exit 2, clear message,
 * nothing echoed), and the Workers refuse a validly signed token that lives longer
 * (test/lib/signed-link.test.ts). At the cap, both commands sign a value their Worker accepts.
 */
import { describe, expect, it } from "vitest";
import { MAX_LINK_SECONDS } from "../../shared/signed-link.ts";
import { signPreview, verifyPreview } from "../../workers/site/preview.ts";
import { readOverride } from "../../workers/splitter/override.ts";
import { cli } from "../node/helpers/cli.ts";

const SECRET = "a-signing-secret-of-at-least-32-bytes!";
const VERSION = "20261202T051200Z-1a2b3c4d";
const NOW = Date.UTC(2026, 11, 7, 12);
const NAMES = { cookie: "edgekv_override", header: "x-edgekv-override" };
/** Durations just over 30 days, spelled every way the flag takes them. */
const OVER = ["31d", "30d1s", "721h", "43201m", "2592001s", "29d24h1s", "999999999d", "1d".repeat(31)];

const commands: [string, string[], string][] = [
  ["rollout override", ["rollout", "override", "green"], "OVERRIDE_SECRET"],
  ["site preview", ["site", "preview", VERSION], "PREVIEW_SECRET"],
];

describe("signed links cannot outlive 30 days", () => {
  it("both commands refuse a --ttl over the cap before signing: exit 2, the cap named, no value printed, nothing echoed", async () => {
    for (const [name, args, env] of commands) {
      for (const ttl of OVER) {
        const r = await cli([...args, "--ttl", ttl, "--persist-to", "/nonexistent"], { env: { [env]: SECRET }, now: () => NOW });
        expect(r.code, `${name} --ttl ${ttl}`).toBe(2);
        expect(r.stderr).toContain("--ttl must be at most 30d");
        expect(r.stdout).toBe("");
        expect(r.stderr).not.toContain(SECRET);
      }
    }
  });

  it("at the cap, the override verifies in the splitter until it expires, and not after", async () => {
    const r = await cli(["rollout", "override", "blue", "--ttl", "30d", "--json"], { env: { OVERRIDE_SECRET: SECRET }, now: () => NOW });
    expect(r.code, r.stderr).toBe(0);
    const { value } = JSON.parse(r.stdout) as { value: string };
    const headers = new Headers({ "x-edgekv-override": value });
    expect(await readOverride(headers, NAMES, SECRET, NOW)).toBe("blue");
    expect(await readOverride(headers, NAMES, SECRET, NOW + MAX_LINK_SECONDS * 1000 - 1)).toBe("blue");
    expect(await readOverride(headers, NAMES, SECRET, NOW + MAX_LINK_SECONDS * 1000)).toBeNull();
  });

  it("a preview token at the cap verifies in the site Worker; the same one pushed past the cap does not", async () => {
    // The token `site preview` signs (its KV check and link: test/node/site/previews.test.ts).
    const exp = NOW / 1000 + MAX_LINK_SECONDS;
    expect(await verifyPreview(SECRET, await signPreview(SECRET, VERSION, exp), NOW)).toBe(VERSION);
    expect(await verifyPreview(SECRET, await signPreview(SECRET, VERSION, exp + 3600), NOW)).toBeNull();
  });
});
