export { freePort, portIsFree } from "../../../scripts/wrangler-dev.ts";
