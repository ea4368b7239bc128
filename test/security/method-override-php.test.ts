// Attack class: a method override in any spelling a server reads. PHP builds
// parameter names its own way (leading spaces dropped, `.` and space as `_`,
// `_method[]` an array under `_method`, names percent-decoded and cut at NUL),
// and Symfony and Laravel then honour `_method` from the query: so
// `POST ?.method=DELETE` is a DELETE to a PHP app. Here a real PHP 8.2
// (`php -S`, a router that overrides like Symfony/Laravel) sits behind the
// gate, and is the judge: no request it acts on as a method outside the
// token's scope may reach it.
// Defence: workers/auth/handler.ts `firstUnscopedMethod` / `overrides` (every
// spelling servers read, every value, `*` for a value that is not a method).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../node/helpers/ports.ts";
import type { DevServer } from "../node/helpers/wrangler-dev.ts";
import { issueToken, raw, rawRequest, startGate, stateDir, type RawReply } from "./helpers.ts";

const PHP = process.env.PHP_BINARY ?? "php";
const hasPhp = spawnSync(PHP, ["-v"], { stdio: "ignore" }).status === 0;
if (!hasPhp && !process.env.CI) console.warn("method-override-php: skipped, no `php` on PATH (install php-cli; in CI this test must run)");

// A stand-in for Symfony/Laravel with http_method_override: a POST acts as `_method` from the
// body, else the query, uppercased; a non-string is ignored (Symfony). `acts` adds what any app
// reading those bags could act on: every value under `_method` (arrays included) and under
// ASP.NET MVC's X-HTTP-Method-Override (case-insensitive key).
const ROUTER = `<?php
$real = $_SERVER['REQUEST_METHOD'];
$m = $_POST['_method'] ?? $_GET['_method'] ?? null;
$effective = ($real === 'POST' && is_string($m)) ? strtoupper($m) : $real;
$acts = [$effective];
$collect = function ($v) use (&$acts, &$collect) {
  if (is_array($v)) { foreach ($v as $x) { $collect($x); } } else { $acts[] = strtoupper((string) $v); }
};
foreach ([$_GET, $_POST] as $bag) {
  foreach ($bag as $k => $v) {
    if ($k === '_method' || in_array(strtolower((string) $k), ['x-http-method-override', 'x-http-method', 'x-method-override'], true)) { $collect($v); }
  }
}
header('Content-Type: application/json');
echo json_encode(['real' => $real, 'effective' => $effective, 'acts' => array_values(array_unique($acts)), 'keys' => array_keys($_GET)], JSON_INVALID_UTF8_SUBSTITUTE);
`;

interface PhpSaw {
  real: string;
  effective: string;
  acts: string[];
  keys: (string | number)[];
}

/** `php -S` on a free loopback port with `router`; stopped in afterAll and on SIGINT/SIGTERM/SIGHUP. */
async function startPhp(dir: string): Promise<{ port: number; url: string; stop(): void }> {
  await writeFile(join(dir, "router.php"), ROUTER);
  const port = await freePort();
  const child: ChildProcess = spawn(PHP, ["-n", "-S", `127.0.0.1:${port}`, join(dir, "router.php")], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const onSignal = (sig: NodeJS.Signals) => {
    stop();
    process.kill(process.pid, sig);
  };
  const stop = () => {
    for (const s of signals) process.off(s, onSignal);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  for (const s of signals) process.once(s, onSignal);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`php -S exited: ${err}`);
    try {
      await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
      break;
    } catch {
      if (i > 100) {
        stop();
        throw new Error(`php -S did not answer: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, url, stop };
}

/** What PHP's own parser (parse_str, as for $_GET) makes of each `name=DELETE`: true when it lands under `_method`. */
function phpReadsAsMethod(names: string[]): boolean[] {
  const code = `$out = []; foreach (json_decode(stream_get_contents(STDIN)) as $n) { $r = []; parse_str($n . '=DELETE', $r); $out[] = array_key_exists('_method', $r); } echo json_encode($out);`;
  return JSON.parse(execFileSync(PHP, ["-n", "-r", code], { input: JSON.stringify(names), encoding: "utf8" })) as boolean[];
}

// Spellings of `_method` (and kin) as a request target can carry them: no literal space or tab.
const SPELLINGS = [
  "_method",
  ".method",
  "%2Emethod",
  "+_method",
  "%20_method",
  "%20%20_method",
  "+.method",
  "%20%2Emethod",
  "_method[]",
  "_method[0]",
  "_method[x]",
  "_method[a][b]",
  "_method[a]junk",
  "_method%5B%5D",
  "_method%5b0%5d",
  "_Method",
  "_METHOD",
  "%5Fmethod",
  "%5f%6d%65%74%68%6f%64",
  "_meth%6Fd",
  "_%4Dethod",
  "_method%00",
  "_method%00junk",
  "_method.",
  "_method+",
  "_method%20",
  "[method",
  "%5Bmethod",
  "%09_method",
  "%0A_method",
  "X-HTTP-Method-Override",
  "x-http-method-override",
  "X-HTTP-Method",
  "X-Method-Override",
];

let php: Awaited<ReturnType<typeof startPhp>>;
let gate: DevServer;
let state: Awaited<ReturnType<typeof stateDir>>;
let postOnly: string;
let postAndPut: string;

/** The reply's body, de-chunked when it came with `Transfer-Encoding: chunked`. */
function bodyOf(r: RawReply): string {
  if (!/^transfer-encoding:\s*chunked/im.test(r.head)) return r.body;
  let out = "";
  let rest = r.body;
  for (;;) {
    const nl = rest.indexOf("\r\n");
    const size = Number.parseInt(rest.slice(0, nl), 16);
    if (!(size > 0)) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 4 + size);
  }
}

async function viaGate(target: string, token: string): Promise<{ status: number; saw: PhpSaw | undefined }> {
  const r = await raw(gate.port, rawRequest(target, { Authorization: `Bearer ${token}`, "Content-Length": "0" }, "POST"));
  return { status: r.status, saw: r.status === 200 ? (JSON.parse(bodyOf(r)) as PhpSaw) : undefined };
}

async function direct(target: string): Promise<PhpSaw> {
  const r = await raw(php.port, rawRequest(target, { "Content-Length": "0" }, "POST"));
  return JSON.parse(bodyOf(r)) as PhpSaw;
}

describe.skipIf(!hasPhp && !process.env.CI)("method overrides against a real PHP behind the gate", () => {
  beforeAll(async () => {
    if (!hasPhp) throw new Error("php is required in CI (php-cli): it is this test's judge");
    state = await stateDir("method-php");
    php = await startPhp(state.dir);
    postOnly = await issueToken(state.dir, ["--user", "poster", "--scope", "POST:/api/*"]);
    postAndPut = await issueToken(state.dir, ["--user", "putter", "--scope", "POST:/api/*", "--scope", "PUT:/api/*"]);
    gate = await startGate(state.dir, php.url);
  }, 180_000);

  afterAll(async () => {
    await gate?.stop();
    php?.stop();
    await state?.remove();
  });

  it("the attack is real: straight to PHP, many spellings act as DELETE", async () => {
    const acting: string[] = [];
    for (const name of SPELLINGS) {
      const saw = await direct(`/api/items/42?${name}=DELETE`);
      if (saw.acts.includes("DELETE")) acting.push(name);
    }
    // The issue's five, at least: `.method`, ` _method`, `%20_method`, `+_method`, `_method[]`.
    expect(acting).toEqual(expect.arrayContaining([".method", "+_method", "%20_method", "_method[]", "%5Fmethod", "_method%00junk"]));
  });

  it("through the gate, a POST-only token never gets PHP to act as anything but POST, in any spelling", async () => {
    for (const name of SPELLINGS) {
      for (const value of ["DELETE", "delete", "%44ELETE", "+DELETE+"]) {
        const { status, saw } = await viaGate(`/api/items/42?${name}=${value}`, postOnly);
        if (saw) expect(saw.acts, `${name}=${value} reached PHP as ${saw.acts}`).toEqual(["POST"]);
        else expect(status, `${name}=${value}`).toBe(403);
      }
    }
  });

  it("duplicates (PHP takes the last), arrays and junk values are refused unless every method is in scope", async () => {
    for (const q of [
      "_method=PUT&.method=DELETE",
      "_method=DELETE&_method=PUT",
      "_method[]=PUT&_method[]=DELETE",
      "_method[0]=PUT&%20_method[1]=DELETE",
      "_method=PUT&_method[]=x",
      "_method=",
      "_method[]=",
      "_method=DEL%00ETE",
      "a=1;_method=DELETE",
    ]) {
      const { status, saw } = await viaGate(`/api/items/42?${q}`, postAndPut);
      expect(status, q).toBe(403);
      expect(saw).toBeUndefined();
    }
    // What the scopes hold passes, and PHP acts on it.
    const ok = await viaGate("/api/items/42?.method=put", postAndPut);
    expect(ok.status).toBe(200);
    expect(ok.saw?.effective).toBe("PUT");
    const plain = await viaGate("/api/items/42?method=DELETE&payment_method=card&__method=DELETE", postOnly);
    expect(plain.status).toBe(200);
    expect(plain.saw?.acts).toEqual(["POST"]);
  });

  it("property: for generated names, whenever PHP itself files the name under `_method`, the gate refuses an out-of-scope value", async () => {
    // A seeded generator (mulberry32): the same names on every run.
    let seed = 20;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const PREFIX = ["", "", "", "+", "%20", "%2E", "[", "%5B", "]", "%09", "%00", "x", "%0B", "%0D", "%A0", "-", "_", "."];
    const CORE = [
      "_method",
      ".method",
      "%5Fmethod",
      "%2emethod",
      "+.method",
      "_Method",
      "_METHOD",
      "_%6Dethod",
      "_m%65thod",
      "_meth%6fd",
      "%5F%4D%45%54%48%4F%44",
      "method",
      "_methods",
      "_metho",
      "_meth.od",
      "[method",
    ];
    const SUFFIX = ["", "", "", "[]", "[0]", "[x]", "[", "]", ".", "%00", "%00x", "%5B%5D", "+", "%20", "_", "[a][b]", "[%00]", "%5D", "x", "[.]"];
    const names = new Set<string>();
    while (names.size < 400) {
      let n = "";
      for (let i = Math.floor(rand() * 3); i > 0; i--) n += pick(PREFIX);
      n += pick(CORE);
      for (let i = Math.floor(rand() * 3); i > 0; i--) n += pick(SUFFIX);
      names.add(n);
    }
    const list = [...names];
    const filed = phpReadsAsMethod(list);
    const mapped = list.filter((_, i) => filed[i]);
    expect(mapped.length, "the generator produces names PHP files under _method").toBeGreaterThan(30);
    const leaked: string[] = [];
    for (const [i, name] of list.entries()) {
      const { status, saw } = await viaGate(`/api/items/42?${name}=DELETE`, postOnly);
      if (filed[i] && status !== 403) leaked.push(`${name} -> ${status}`);
      // End to end, for every name: what PHP acted on is in scope.
      if (saw?.acts.some((m) => m !== "POST")) leaked.push(`${name} -> PHP acted as ${saw.acts}`);
    }
    expect(leaked).toEqual([]);
  }, 120_000);
});
