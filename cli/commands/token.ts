import type { CommandGroup } from "../command.ts";

/** `edgekv token`: commands arrive with the token issue. */
export const tokenGroup: CommandGroup = {
  name: "token",
  summary: "issue, list and revoke edge auth tokens in TOKENS_KV",
  commands: [],
};
