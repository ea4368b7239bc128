// The same launcher `npm start` uses, so the tests start Workers the way users do.
export { startWranglerDev, type DevServer, type DevOptions } from "../../../scripts/wrangler-dev.ts";
