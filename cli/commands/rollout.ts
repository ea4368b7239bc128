import type { CommandGroup } from "../command.ts";

/** `edgekv rollout`: commands arrive with the rollout issue. */
export const rolloutGroup: CommandGroup = {
  name: "rollout",
  summary: "shift blue-green traffic by editing the rollout config in ROLLOUT_KV",
  commands: [],
};
