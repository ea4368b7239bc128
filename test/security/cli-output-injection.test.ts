/**
 * Attack class: what the CLI prints is chosen by someone else. An API answer (or anything at
 * CLOUDFLARE_API_BASE_URL), a KV key or value, a site file's name or a rule file's content
 * carries terminal escape sequences (OSC title, clear screen, the one-byte C1 CSI U+009B),
 * bidi overrides, zero-width characters or newlines that forge log lines, and echoes the API
 * token so it lands in a CI log. The real `edgekv` binary runs against the Cloudflare API
 * stand-in (scripts/cf-api.ts) filled with hostile data, and a plain server that answers
 * hostile errors; the test reads the bytes of stdout and stderr, plain and `--json`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SITE_PREFIX, indexKey } from "../../workers/site/model.ts";
import { runCli, type CliResult } from "../node/helpers/cli.ts";
import { NAMESPACE_IDS, remoteProject, type RemoteProject } from "../node/helpers/remote.ts";
import { siteDir } from "../node/helpers/site.ts";

/** Holds characters that change under JSON and percent-encoding, so each form is tried. */
const TOKEN = "cfTok_0123456789+abcdef/ABCDEF=ghij_SECRET";
const TOKEN_FORMS = [TOKEN, encodeURIComponent(TOKEN), encodeURIComponent(TOKEN).toLowerCase(), "SECRET"];

/** Payloads a hostile value carries; each must reach no terminal as is. */
const PAYLOADS = [
  "\u001b]0;pwned\u0007", // OSC: sets the terminal's title
  "\u001b[2J\u001b[H", // clears the screen
  "\u009b31m", // C1 CSI, one byte in Latin-1 terminals
  "\u202eevil\u202c", // right-to-left override
  "\u2066iso\u2069", // bidi isolate
  "zero\u200bwidth\u200d", // zero-width characters
  "\r\u0008\u007f", // CR, backspace, DEL
  "\nedgekv: deployed ok\n", // a forged log line
];

/** Control (C0 but tab and newline, DEL, C1) and format (bidi, zero-width) characters. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/u;

/** The output is safe to print: no unsafe character, no form of the token, not even split by invisible ones. */
function expectSafe(r: CliResult, what: string): void {
  for (const [name, text] of [
    ["stdout", r.stdout],
    ["stderr", r.stderr],
  ] as const) {
    expect(text, `${what} ${name}`).not.toMatch(UNSAFE);
    for (const form of TOKEN_FORMS) expect(text, `${what} ${name}`).not.toContain(form);
  }
  expect(r.stdoutBytes!.includes(0x1b), what).toBe(false);
}

let evil: Server | undefined;
let p: RemoteProject;
let accountsProject: RemoteProject;
const grant = { [TOKEN]: { accounts: "*" as const, permissions: ["kv:read" as const, "kv:write" as const] } };

/** Keys stored in the site namespace: each payload, and one holding the token. */
const KEYS = [...PAYLOADS.map((x, i) => `key-${i}-${x}`), `key-token-${TOKEN}`];

beforeAll(async () => {
  p = await remoteProject({ tokens: grant });
  const site = p.api.namespace(NAMESPACE_IDS.site);
  const value = new TextEncoder().encode(`value ${PAYLOADS.join(" ")} ${TOKEN}`);
  for (const k of KEYS) site.set(k, { value, metadata: { note: `meta ${PAYLOADS.join(" ")}` } });
  // Versions whose ids (from key names) carry the payloads, as `site versions` lists them.
  for (const [i, x] of PAYLOADS.entries())
    site.set(`${SITE_PREFIX}${indexKey(`v${i}${x}`)}`, { value: new Uint8Array(), metadata: { at: i, files: 1, bytes: 1 } });
  accountsProject = await remoteProject({
    tokens: grant,
    accounts: [
      { id: `${PAYLOADS[0]}acct`, name: TOKEN },
      { id: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", name: `echo ${encodeURIComponent(TOKEN)}${PAYLOADS[1]}` },
      { id: `b${PAYLOADS[7]}`, name: TOKEN.split("").join("\u200b") },
      { id: `c${PAYLOADS[2]}`, name: `${PAYLOADS[3]}${PAYLOADS[4]}${PAYLOADS[5]}${PAYLOADS[6]}` },
    ],
  });
}, 60_000);

afterAll(async () => {
  await p?.close();
  await accountsProject?.close();
  await new Promise<void>((resolve) => (evil ? evil.close(() => resolve()) : resolve()));
});

const run = (project: RemoteProject, args: string[], env: Record<string, string> = {}) =>
  runCli([...args, "--remote", "--config", project.config], { env: { ...project.env, CLOUDFLARE_API_TOKEN: TOKEN, ...env } });

describe("an API answer cannot write to the terminal or leak the token", () => {
  it("several accounts: the error lists them on one line, escaped, without the token (plain and --json)", async () => {
    const plain = await run(accountsProject, ["kv", "get", "k", "--env", "site"], { CLOUDFLARE_ACCOUNT_ID: "" });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/the API token sees 4 accounts/);
    expect(plain.stderr).toContain("[redacted]");
    expect(plain.stderr.trimEnd().split("\n")).toHaveLength(1);
    expectSafe(plain, "accounts");
    const json = await run(accountsProject, ["kv", "get", "k", "--env", "site", "--json"], { CLOUDFLARE_ACCOUNT_ID: "" });
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; error: { message: string } };
    expect(parsed.error.message).toMatch(/sees 4 accounts/);
    expectSafe(json, "accounts --json");
    expect(parsed.error.message).not.toMatch(UNSAFE);
  });

  it("an error message from the API, with payloads and the token in every form, is one safe line", async () => {
    evil = createServer((req, res) => {
      req.resume();
      const message = `${PAYLOADS.join("|")} auth=${req.headers.authorization} pct=${encodeURIComponent(TOKEN)} zw=${TOKEN.split("").join("\u2060")}`;
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ success: false, errors: [{ code: 1000, message }], messages: [], result: null }));
    });
    await new Promise<void>((resolve) => evil!.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/client/v4`;
    for (const json of [false, true]) {
      const r = await run(p, ["kv", "put", "k", "v", "--env", "site", ...(json ? ["--json"] : [])], { CLOUDFLARE_API_BASE_URL: url });
      expect(r.code).toBe(1);
      expectSafe(r, `api error json=${json}`);
      if (json) expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toContain("auth=Bearer [redacted]");
      else {
        expect(r.stderr).toContain("auth=Bearer [redacted]");
        expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      }
    }
  });
});

describe("what KV holds cannot write to the terminal or leak the token", () => {
  it("kv list: one escaped key a line; --json keeps every key exactly (JSON escapes), the token redacted", async () => {
    const plain = await run(p, ["kv", "list", "--env", "site", "--prefix", "key-"]);
    expect(plain.code, plain.stderr).toBe(0);
    expectSafe(plain, "kv list");
    expect(plain.stdout.trimEnd().split("\n")).toHaveLength(KEYS.length);
    expect(plain.stdout).not.toMatch(/^edgekv: deployed ok$/m);
    const json = await run(p, ["kv", "list", "--env", "site", "--prefix", "key-", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expectSafe(json, "kv list --json");
    const names = (JSON.parse(json.stdout) as { name: string; metadata: { note: string } }[]).map((k) => k.name);
    const expected = KEYS.map((k) => k.replace(TOKEN, "[redacted]")).sort();
    expect([...names].sort()).toEqual(expected);
  });

  it("kv get --json: value and metadata intact after JSON.parse, nothing raw on stdout; to a pipe the value is the exact bytes", async () => {
    const key = KEYS[0]!;
    const json = await run(p, ["kv", "get", key, "--env", "site", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expectSafe(json, "kv get --json");
    const got = JSON.parse(json.stdout) as { value: string; metadata: { note: string } };
    expect(got.value).toBe(`value ${PAYLOADS.join(" ")} [redacted]`);
    expect(got.metadata.note).toBe(`meta ${PAYLOADS.join(" ")}`);
    // Plain data: the bytes as stored (a file or a pipe into another program), as `kv get > file` promises.
    const raw = await run(p, ["kv", "get", key, "--env", "site"]);
    expect(raw.stdoutBytes!.toString()).toBe(`value ${PAYLOADS.join(" ")} ${TOKEN}`);
    expect(raw.stderr).toBe("");
  });

  it("site versions: version ids from key names are escaped, plain and --json", async () => {
    for (const json of [false, true]) {
      const r = await run(p, ["site", "versions", ...(json ? ["--json"] : [])]);
      expect(r.code, r.stderr).toBe(0);
      expectSafe(r, `site versions json=${json}`);
      if (json) {
        const ids = (JSON.parse(r.stdout) as { versions: { id: string }[] }).versions.map((v) => v.id).sort();
        expect(ids).toEqual(PAYLOADS.map((x, i) => `v${i}${x}`).sort());
      } else expect(r.stdout).not.toMatch(/^edgekv: deployed ok$/m);
    }
  });

  it("token issue still prints exactly the token; token list shows a hostile label escaped, and intact under --json", async () => {
    // The label schema refuses C0 and DEL, not C1, bidi or zero-width characters.
    const label = `lbl${PAYLOADS[2]}${PAYLOADS[3]}${PAYLOADS[4]}${PAYLOADS[5]}`;
    const r = await run(p, ["token", "issue", "--user", "alice", "--name", label]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ekv_[0-9A-Za-z]+\n$/);
    const plain = await run(p, ["token", "list"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain("lbl\\u009b31m\\u202eevil");
    expectSafe(plain, "token list");
    const json = await run(p, ["token", "list", "--json"]);
    expectSafe(json, "token list --json");
    expect((JSON.parse(json.stdout) as { label: string }[]).map((t) => t.label)).toContain(label);
  });
});

describe("what a site folder holds cannot write to the terminal or leak the token", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "edgekv-sec-output-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("file names in warnings and errors, and rule-file lines echoed in errors, are escaped and redacted", async () => {
    const names = await siteDir(dir, { "index.html": "x", [`page${PAYLOADS[0]}${PAYLOADS[7]}.html`]: "y" });
    await symlink("/etc/hostname", join(names, `out${PAYLOADS[1]}${PAYLOADS[3]}.txt`));
    const r1 = await run(p, ["site", "deploy", names]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/warning: skipping \/out.*: symlink points outside the site folder/);
    expect(r1.stderr).toMatch(/cannot publish/);
    expectSafe(r1, "file names");
    expect(r1.stderr).not.toMatch(/^edgekv: deployed ok$/m);

    for (const [file, body] of [
      ["_redirects", `/a ${PAYLOADS[0]}${PAYLOADS[2]}${PAYLOADS[3]}${TOKEN}\n`],
      ["_headers", `/*\n  ${PAYLOADS[0]}${TOKEN}\n`],
    ] as const) {
      const rules = await siteDir(dir, { "index.html": "x", [file]: body });
      for (const json of [false, true]) {
        const r = await run(p, ["site", "deploy", rules, ...(json ? ["--json"] : [])]);
        expect(r.code).toBe(2);
        expectSafe(r, `${file} json=${json}`);
        expect(r.stdout + r.stderr).toContain("[redacted]");
      }
    }
  });
});
