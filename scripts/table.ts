/** A Markdown table: the bench's and the soak's reports. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [`| ${headers.join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}
