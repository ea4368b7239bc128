/**
 * Content types decided at deploy time (the Worker carries no MIME database).
 * Text types get `charset=utf-8`. `compressible` says whether br/gzip variants are worth trying.
 */
const TYPES: Record<string, [type: string, compressible: boolean]> = {
  html: ["text/html", true],
  htm: ["text/html", true],
  css: ["text/css", true],
  js: ["text/javascript", true],
  mjs: ["text/javascript", true],
  cjs: ["text/javascript", true],
  json: ["application/json", true],
  map: ["application/json", true],
  webmanifest: ["application/manifest+json", true],
  xml: ["application/xml", true],
  rss: ["application/rss+xml", true],
  atom: ["application/atom+xml", true],
  txt: ["text/plain", true],
  md: ["text/markdown", true],
  csv: ["text/csv", true],
  ics: ["text/calendar", true],
  vtt: ["text/vtt", true],
  svg: ["image/svg+xml", true],
  wasm: ["application/wasm", true],
  ttf: ["font/ttf", true],
  otf: ["font/otf", true],
  eot: ["application/vnd.ms-fontobject", true],
  woff: ["font/woff", false],
  woff2: ["font/woff2", false],
  png: ["image/png", false],
  jpg: ["image/jpeg", false],
  jpeg: ["image/jpeg", false],
  gif: ["image/gif", false],
  webp: ["image/webp", false],
  avif: ["image/avif", false],
  ico: ["image/x-icon", true],
  bmp: ["image/bmp", true],
  mp4: ["video/mp4", false],
  m4v: ["video/mp4", false],
  webm: ["video/webm", false],
  ogv: ["video/ogg", false],
  mov: ["video/quicktime", false],
  mp3: ["audio/mpeg", false],
  m4a: ["audio/mp4", false],
  ogg: ["audio/ogg", false],
  wav: ["audio/wav", true],
  flac: ["audio/flac", false],
  pdf: ["application/pdf", false],
  zip: ["application/zip", false],
  gz: ["application/gzip", false],
  tar: ["application/x-tar", true],
};

const TEXT = /^text\/|^application\/(json|manifest\+json|xml|rss\+xml|atom\+xml)$|^image\/svg\+xml$/;

/**
 * The Content-Type stored for a file, and whether to precompress it.
 * @example contentTypeOf("/css/site.css") // { type: "text/css; charset=utf-8", compressible: true }
 */
export function contentTypeOf(path: string): { type: string; compressible: boolean } {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  const known = TYPES[ext];
  if (!known) return { type: "application/octet-stream", compressible: false };
  const [type, compressible] = known;
  return { type: TEXT.test(type) ? `${type}; charset=utf-8` : type, compressible };
}
