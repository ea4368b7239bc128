import type { CommandGroup } from "../command.ts";

/** `edgekv site`: commands arrive with the site issue. */
export const siteGroup: CommandGroup = {
  name: "site",
  summary: "publish, list, roll back and clean up sites in SITE_KV",
  commands: [],
};
