/**
 * Which file a request path names, and its canonical URL under a trailing-slash
 * policy. Pure: the manifest is reached through `exists`, so property tests
 * can drive it with any set of files.
 */
import type { TrailingSlash } from "./model.ts";

export type Exists = (path: string) => Promise<boolean>;

export type Resolution = { kind: "file"; file: string } | { kind: "redirect"; location: string } | { kind: "none" };

/**
 * The file `path` maps to without redirects: `/dir/` -> dir/index.html (then dir.html),
 * `/about` -> about, about.html, about/index.html.
 * @example await findFile("/about", has) // "/about.html"
 */
export async function findFile(path: string, exists: Exists): Promise<string | undefined> {
  const candidates = path.endsWith("/")
    ? [`${path}index.html`, ...(path === "/" ? [] : [`${path.slice(0, -1)}.html`])]
    : [path, `${path}.html`, `${path}/index.html`];
  for (const c of candidates) if (await exists(c)) return c;
  return undefined;
}

/**
 * The URL a file should be reached by under `policy`.
 * @example canonicalUrl("/blog/index.html", "auto") // "/blog/"
 */
export function canonicalUrl(file: string, policy: TrailingSlash): string {
  if (file.endsWith("/index.html")) {
    const dir = file.slice(0, -10);
    return policy === "drop" && dir !== "/" ? dir.slice(0, -1) : dir;
  }
  if (file.endsWith(".html")) {
    const base = file.slice(0, -5);
    return policy === "force" ? `${base}/` : base;
  }
  return file;
}

/**
 * Resolves a decoded, normalised path to a file or a canonical redirect. A redirect
 * is only issued when its target serves the same file, so there are never chains.
 * @example await resolvePath("/about.html", "auto", has) // { kind: "redirect", location: "/about" }
 */
export async function resolvePath(path: string, policy: TrailingSlash, exists: Exists): Promise<Resolution> {
  const file = await findFile(path, exists);
  if (file === undefined) return { kind: "none" };
  if (policy === "none") return { kind: "file", file };
  const canonical = canonicalUrl(file, policy);
  if (canonical === path || (await findFile(canonical, exists)) !== file) return { kind: "file", file };
  return { kind: "redirect", location: canonical };
}

/**
 * Percent-encodes a decoded path for a `Location` header.
 * @example encodePath("/a b/ü") // "/a%20b/%C3%BC"
 */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}
