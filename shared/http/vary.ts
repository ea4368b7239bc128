/**
 * Adds `names` to a response's Vary, keeping what is there, without
 * duplicates (names compare case-insensitively); `Vary: *` stays as it is.
 * A shared cache then never serves one variant to a request that chose another.
 * @example appendVary(res.headers, ["Cookie"]) // "Accept-Encoding" -> "Accept-Encoding, Cookie"
 */
export function appendVary(headers: Headers, names: readonly string[]): void {
  const list = (headers.get("vary") ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean);
  if (list.includes("*")) return;
  const seen = new Set(list.map((n) => n.toLowerCase()));
  for (const n of names) if (!seen.has(n.toLowerCase()) && seen.add(n.toLowerCase())) list.push(n);
  if (list.length) headers.set("vary", list.join(", "));
}
