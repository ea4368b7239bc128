// Temporary: status.ts (being edited in parallel) still imports "./config.ts". Point it at
// ./model.ts and delete this file; the rollout config and its schema live in model.ts.
export { otherColor, type RolloutConfig } from "./model.ts";
