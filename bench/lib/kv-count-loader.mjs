// Module resolve hook (see kv-count-register.mjs).
export async function resolve(specifier, context, next) {
  if (specifier === "wrangler" && context.parentURL?.endsWith("/cli/targets.ts")) {
    return { url: new URL("./kv-count-wrangler.mjs", import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
