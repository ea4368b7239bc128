/**
 * The account `--remote` acts in: `CLOUDFLARE_ACCOUNT_ID`, else `account_id` in the
 * wrangler config, else the only account the token can see (`GET /accounts`, as
 * wrangler does); several accounts, or none, are an error that lists what there is.
 */
import { CliError } from "../errors.ts";
import type { CfApiClient } from "./client.ts";

/** Accounts read per page of `GET /accounts`, and the most pages read. */
const ACCOUNTS_PER_PAGE = 50;
const MAX_ACCOUNT_PAGES = 20;

export interface AccountChoice {
  id: string;
  source: "CLOUDFLARE_ACCOUNT_ID" | "config" | "the token's only account";
}

export async function resolveAccount(
  env: Readonly<Record<string, string | undefined>>,
  configAccountId: string | undefined,
  client: CfApiClient,
): Promise<AccountChoice> {
  const fromEnv = env.CLOUDFLARE_ACCOUNT_ID?.trim();
  if (fromEnv) return { id: fromEnv, source: "CLOUDFLARE_ACCOUNT_ID" };
  if (configAccountId) return { id: configAccountId, source: "config" };
  const accounts: { id: string; name: string }[] = [];
  for (let page = 1; page <= MAX_ACCOUNT_PAGES; page++) {
    const env4 = await client.json<{ id: string; name: string }[]>("GET", "/accounts", {
      query: { page, per_page: ACCOUNTS_PER_PAGE },
      permission: "accounts",
    });
    const got = Array.isArray(env4.result) ? env4.result : [];
    accounts.push(...got.map((a) => ({ id: String(a.id), name: String(a.name ?? "") })));
    const info = env4.result_info;
    if (got.length < ACCOUNTS_PER_PAGE || (info?.total_count !== undefined && accounts.length >= info.total_count)) break;
  }
  if (accounts.length === 1) return { id: accounts[0]!.id, source: "the token's only account" };
  if (accounts.length === 0) {
    throw new CliError("the API token sees no account; set CLOUDFLARE_ACCOUNT_ID, or account_id in the wrangler config");
  }
  const listed = accounts
    .slice(0, 10)
    // Each entry as the API sent it is data: one line, bounded, the token and control characters out.
    .map((a) => client.redact(`${a.id} (${a.name})`))
    .join(", ");
  throw new CliError(
    `the API token sees ${accounts.length} accounts; pick one with CLOUDFLARE_ACCOUNT_ID or account_id in the wrangler config: ${listed}${accounts.length > 10 ? ", ..." : ""}`,
  );
}
