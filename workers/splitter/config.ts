/** The splitter's vars, parsed (env.ts types them); index.ts reads them once per isolate. */

/** Isolate TTL of the config when CONFIG_TTL_MS is unset. */
export const DEFAULT_CONFIG_TTL_MS = 5_000;
export const MAX_CONFIG_TTL_MS = 60_000;

/**
 * Parses CONFIG_TTL_MS (a wrangler var), falling back to the default when unset or invalid.
 * @example configTtlMs("2000") // 2000
 */
export function configTtlMs(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && raw.trim() !== "" && Number.isInteger(n) && n >= 0 && n <= MAX_CONFIG_TTL_MS ? n : DEFAULT_CONFIG_TTL_MS;
}
