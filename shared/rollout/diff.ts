/** Flattens JSON into `path -> JSON text` pairs, e.g. `rules.0.to -> "green"`. */
function flatten(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === "object" && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined && prefix !== "") out.set(prefix, JSON.stringify(value));
  return out;
}

/** Fields every write changes; not worth a line in a diff. */
const BOOKKEEPING = new Set(["version", "updatedAt", "updatedBy", "writeId"]);

/**
 * One line per changed field: `~ percent: 10 -> 20`, `+ rules.0.to: "green"`, `- schedule.0.at: ...`.
 * @example configDiff({ percent: 10 }, { percent: 20 }) // ["~ percent: 10 -> 20"]
 */
export function configDiff(before: unknown, after: unknown): string[] {
  const a = flatten(before ?? {}, "", new Map());
  const b = flatten(after ?? {}, "", new Map());
  const lines: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (BOOKKEEPING.has(key)) continue;
    const x = a.get(key);
    const y = b.get(key);
    if (x === y) continue;
    if (x === undefined) lines.push(`+ ${key}: ${y}`);
    else if (y === undefined) lines.push(`- ${key}: ${x}`);
    else lines.push(`~ ${key}: ${x} -> ${y}`);
  }
  return lines;
}
