import type { ArgValues, CommandGroup } from "../command.ts";
import { flagArg, listArg, numberArg, stringArg } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { readStdinSecret, TOKEN_ON_ARGV_MESSAGE } from "../secret-input.ts";
import {
  DEFAULT_TTL_SECONDS,
  MAX_GRACE_SECONDS,
  MAX_TTL_SECONDS,
  MIN_TTL_SECONDS,
  parseGrace,
  TokenStateError,
  TokenStore,
  type TokenRecord,
} from "../token/store.ts";
import { hashToken, isWellFormedToken, TOKEN_ID_CHARS } from "../../workers/auth/token.ts";
import { generatePrivateJwk, type AsymmetricAlg } from "../../workers/auth/assertion.ts";
import { table, formatCount } from "../output.ts";
import { checkTokenFields } from "../validate.ts";

const KEYGEN_ALGS: readonly AsymmetricAlg[] = ["EdDSA", "ES256"];

const iso = (ms: number) => new Date(ms).toISOString();

/** What list and issue show about a token: never the secret, never the full hash. */
function publicView(r: TokenRecord) {
  return {
    id: r.id,
    user: r.user,
    label: r.label,
    scopes: r.scopes,
    issuedAt: iso(r.issuedAt),
    expiresAt: iso(r.expiresAt),
    rotatedFrom: r.rotatedFrom ?? null,
    rotatedTo: r.rotatedTo ?? null,
  };
}

/** The rotation chain in one column: `<- from`, `-> to`, both, or empty. */
const chain = (r: { rotatedFrom: string | null; rotatedTo: string | null }) =>
  [r.rotatedFrom ? `<- ${r.rotatedFrom}` : "", r.rotatedTo ? `-> ${r.rotatedTo}` : ""].filter(Boolean).join(" ");

const ID_PATTERN = new RegExp(`^[0-9a-f]{${TOKEN_ID_CHARS}}$`);

const ONE_OF = "give exactly one of --id ID, --user ID or --stdin (the token piped in)";

/** --user, checked with the gate's record schema before KV is opened. */
function userArg(values: ArgValues, required: boolean): string | undefined {
  const user = stringArg(values, "user");
  if (required && user === undefined) throw new UsageError("--user is required");
  if (user !== undefined) checkTokenFields({ user });
  return user;
}

/**
 * `edgekv token`: issue, list and revoke the gate's tokens in TOKENS_KV, with
 * the same format, schema and KV layout the Worker uses (workers/auth/).
 */
export const tokenGroup: CommandGroup = {
  name: "token",
  summary: "issue, list, rotate and revoke edge auth tokens in TOKENS_KV",
  details:
    "Tokens look like ekv_<24 random base62><6 base62 CRC32>. KV stores only their SHA-256;\n" +
    "the secret is printed once by `token issue` and cannot be shown again.",
  commands: [
    {
      name: "keygen",
      summary: "print a new private JWK for the gate's identity assertion (IDENTITY_PRIVATE_JWK)",
      usage: "token keygen [--alg EdDSA|ES256]",
      details:
        "Prints one private JWK (with its RFC 7638 thumbprint as kid) to stdout; nothing is stored.\n" +
        "Pipe it straight into the secret, so it is never on a command line or in a file:\n" +
        "  npx edgekv token keygen | npx wrangler secret put IDENTITY_PRIVATE_JWK --env auth\n" +
        "The gate then publishes the public part at /.well-known/jwks.json (docs/auth.md).",
      options: {
        alg: { type: "string", description: "ALG: EdDSA (Ed25519, default) or ES256 (P-256)" },
      },
      async run(ctx, { values }) {
        const alg = stringArg(values, "alg", "EdDSA");
        if (!(KEYGEN_ALGS as readonly string[]).includes(alg)) throw new UsageError(`--alg takes ${KEYGEN_ALGS.join(" or ")}, got "${alg}"`);
        const jwk = await generatePrivateJwk(alg as AsymmetricAlg);
        ctx.out(JSON.stringify(jwk));
        if (ctx.isTTY) ctx.err("this is a private key: pipe it into `npx wrangler secret put IDENTITY_PRIVATE_JWK --env auth` instead");
        else ctx.err(`new ${alg} key, kid ${jwk.kid}`);
      },
    },
    {
      name: "issue",
      summary: "create a token and print it once",
      usage: "token issue --user ID [--ttl SECONDS] [--scope METHOD:/GLOB]... [--name LABEL] [--json]",
      details:
        "A token without --scope may do everything the gate protects. A scope is a method (or *)\n" +
        "and a path glob, e.g. GET:/api/* or *:/admin/*. The token goes to stdout, details to stderr.",
      options: {
        user: { type: "string", description: "ID: who the token belongs to (A-Z a-z 0-9 . _ @ + : = -)" },
        ttl: { type: "number", description: `SECONDS: lifetime (default ${DEFAULT_TTL_SECONDS}, ${MIN_TTL_SECONDS}..${MAX_TTL_SECONDS})` },
        scope: { type: "string", multiple: true, description: "SCOPE: METHOD:/GLOB, repeatable (default: everything)" },
        name: { type: "string", description: "LABEL: a label shown by `token list`" },
      },
      async run(ctx, { values }) {
        const user = userArg(values, true)!;
        const ttlSeconds = numberArg(values, "ttl", { min: MIN_TTL_SECONDS, max: MAX_TTL_SECONDS, integer: true }) ?? DEFAULT_TTL_SECONDS;
        const scopes = listArg(values, "scope");
        const label = stringArg(values, "name", "");
        checkTokenFields({ user, scopes, label });
        await ctx.withKv("auth", async (kv, where) => {
          const { token, record } = await new TokenStore(kv, { now: ctx.now }).issue({ user, scopes, ttlSeconds, label });
          if (ctx.global.json) {
            ctx.out(JSON.stringify({ token, ...publicView(record) }, null, 2));
            return;
          }
          ctx.out(token);
          ctx.err(`issued ${record.id} for ${user} (${scopes.length ? scopes.join(" ") : "all scopes"}), expires ${iso(record.expiresAt)}, ${where}`);
          ctx.err("store it now: the token is not shown again");
        });
      },
    },
    {
      name: "list",
      summary: "list live tokens (ids, labels, scopes, expiry; never secrets)",
      usage: "token list [--user ID] [--json]",
      options: { user: { type: "string", description: "ID: only this user's tokens" } },
      async run(ctx, { values }) {
        const user = userArg(values, false);
        await ctx.withKv("auth", async (kv) => {
          const rows: ReturnType<typeof publicView>[] = [];
          for await (const { record } of new TokenStore(kv, { now: ctx.now }).list(user)) rows.push(publicView(record));
          ctx.emit(rows, () =>
            rows.length === 0
              ? "no tokens"
              : table(
                  ["ID", "USER", "EXPIRES", "SCOPES", "LABEL", "ROTATION"],
                  rows.map((r) => [r.id, r.user, r.expiresAt, r.scopes.join(" ") || "*", r.label, chain(r)]),
                  ctx.style,
                ),
          );
        });
      },
    },
    {
      name: "rotate",
      summary: "replace a token with a new one; the old one stays valid for a grace period",
      usage: "token rotate --id ID [--grace DURATION] [--json]",
      details:
        "The new token copies the old one's user, scopes and label, with a fresh expiry of the same\n" +
        "lifetime; it goes to stdout, once. The old token is refused from now + grace (0, 90s, 30m,\n" +
        `24h, 7d; default 0, at most ${MAX_GRACE_SECONDS / 86400}d), never later than it would have expired. An expired,\n` +
        "revoked or already rotated token cannot be rotated. `token list` shows the chain.",
      options: {
        id: { type: "string", description: `ID: the token's id (${TOKEN_ID_CHARS} hex), shown by \`token list\`` },
        grace: { type: "string", description: "DURATION: how long the old token keeps working (default 0: now)" },
      },
      async run(ctx, { values }) {
        const id = stringArg(values, "id");
        if (id === undefined || !ID_PATTERN.test(id)) throw new UsageError(`--id takes the ${TOKEN_ID_CHARS} hex characters shown by \`token list\``);
        const grace = parseGrace(stringArg(values, "grace", "0"));
        await ctx.withKv("auth", async (kv, where) => {
          const store = new TokenStore(kv, { now: ctx.now });
          let hash: string | undefined;
          for await (const row of store.list()) if (row.record.id === id) hash = row.hash;
          if (hash === undefined) throw new CliError(`no live token with id ${id} (revoked or expired tokens cannot be rotated)`);
          let rotated: Awaited<ReturnType<TokenStore["rotate"]>>;
          try {
            rotated = await store.rotate(hash, grace);
          } catch (err) {
            if (err instanceof TokenStateError) throw new CliError(err.message);
            throw err;
          }
          const { token, record, old } = rotated;
          if (ctx.global.json) {
            ctx.out(JSON.stringify({ token, ...publicView(record), old: publicView(old) }, null, 2));
            return;
          }
          ctx.out(token);
          ctx.err(`rotated ${old.id} -> ${record.id} for ${record.user}, new token expires ${iso(record.expiresAt)}, ${where}`);
          ctx.err(`${old.id} is refused from ${iso(old.expiresAt)}; store the new token now: it is not shown again`);
        });
      },
    },
    {
      name: "revoke",
      summary: "revoke a token by id, every token of a user, or the token piped to stdin",
      usage: "token revoke (--id ID | --user ID [--yes] | --stdin)",
      details:
        "The token itself is never an argument: `ps` and shell history would keep it. Pipe it in:\n" +
        "  edgekv token revoke --stdin < token.txt       (or: printf '%s' \"$TOKEN\" | edgekv token revoke --stdin)\n" +
        "With none of --id, --user or --stdin, a piped stdin (not a terminal) is read the same way.\n" +
        "--user revokes every token of the user, so it asks first (--yes without a terminal).\n" +
        "Takes effect at the gate within the revocation bound (see docs/auth.md).",
      options: {
        id: { type: "string", description: `ID: the token's id (${TOKEN_ID_CHARS} hex), shown by \`token list\` and \`token issue\`` },
        user: { type: "string", description: "ID: revoke all of this user's tokens (asks first)" },
        stdin: { type: "boolean", description: "read the token from stdin (trailing newline ignored)" },
      },
      // Counted here, not by the parser, so a token given as an argument gets the message that says why.
      positionals: { min: 0, max: Infinity },
      async run(ctx, { positionals, values }) {
        // Whatever it is (a token with a typo, a stray word), it is never repeated back.
        if (positionals.length > 0) throw new UsageError(TOKEN_ON_ARGV_MESSAGE);
        const user = userArg(values, false);
        const id = stringArg(values, "id");
        const fromStdin = flagArg(values, "stdin");
        const chosen = [user, id, fromStdin || undefined].filter((x) => x !== undefined).length;
        if (chosen > 1 || (chosen === 0 && ctx.stdin.isTTY)) throw new UsageError(ONE_OF);
        if (id !== undefined && !ID_PATTERN.test(id)) {
          throw new UsageError(`--id takes the ${TOKEN_ID_CHARS} hex characters shown by \`token list\``);
        }
        let token: string | undefined;
        // --stdin, or (like `wrangler secret put`) a pipe when nothing else was asked for.
        if (fromStdin || chosen === 0) {
          token = (await readStdinSecret(ctx.stdin, "token", "edgekv token revoke --stdin < token.txt")).trim();
          if (!isWellFormedToken(token)) throw new UsageError("stdin does not hold an edgekv token (wrong prefix, length or checksum)");
        }
        if (user !== undefined) await ctx.confirm(`revoke every token of user "${user}"`);
        await ctx.withKv("auth", async (kv) => {
          const store = new TokenStore(kv, { now: ctx.now });
          if (user !== undefined) {
            const revoked = await store.revokeUser(user);
            ctx.emit({ user, revoked }, () => `revoked ${formatCount(revoked, "token")} of ${user}`);
            return;
          }
          let hash: string | undefined;
          if (token !== undefined) hash = (await hashToken(token)).hash;
          else {
            for await (const row of store.list()) if (row.record.id === id) hash = row.hash;
          }
          const record = hash === undefined ? null : await store.revokeHash(hash);
          if (!record) throw new CliError(`no live token ${token === undefined ? `with id ${id}` : "matches"} (already revoked or expired?)`);
          ctx.emit({ id: record.id, user: record.user, revoked: 1 }, () => `revoked ${record.id} of ${record.user}`);
        });
      },
    },
  ],
};
