/**
 * Content types decided at deploy time from the `mime` package's database (the
 * Worker carries none: it serves the type stored in the manifest). Text types get
 * `charset=utf-8`. Whether br/gzip variants are worth trying follows from the type,
 * not from a list of extensions; a variant is kept only when it is smaller anyway.
 */
import { Mime } from "mime";
import otherTypes from "mime/types/other.js";
import standardTypes from "mime/types/standard.js";

// `.cjs` is JavaScript for the browser too (the database says application/node).
const mime = new Mime(standardTypes, otherTypes).define({ "text/javascript": ["cjs"] }, true);

/** Types served as UTF-8 text: text/*, JSON and XML (any +json/+xml), JavaScript, SVG. */
const TEXT = /^(text\/.+|application\/(json|xml|javascript|ecmascript)|[a-z]+\/[\w.+-]+\+(json|xml))$/;

/**
 * Types that compress well: the text ones, plus uncompressed binary formats
 * (WebAssembly, TrueType/OpenType and EOT fonts, icons, BMP, WAV, tar, PostScript).
 * Already-compressed media (PNG, JPEG, MP4, WOFF2, zip...) are left as they are.
 */
const COMPRESSIBLE =
  /^(application\/(wasm|x-tar|postscript|vnd\.ms-fontobject|x-font-ttf|rtf)|font\/(ttf|otf|collection)|image\/(bmp|x-icon|vnd\.microsoft\.icon|x-ms-bmp)|audio\/(wav|x-wav|wave))$/;

/**
 * The Content-Type stored for a file, and whether to precompress it.
 * @example contentTypeOf("/css/site.css") // { type: "text/css; charset=utf-8", compressible: true }
 * @example contentTypeOf("/clip.opus") // { type: "audio/ogg", compressible: false }
 */
export function contentTypeOf(path: string): { type: string; compressible: boolean } {
  const name = path.slice(path.lastIndexOf("/") + 1);
  // A dotfile's name is no extension (".env" is not type "env").
  const type = name.lastIndexOf(".") > 0 ? mime.getType(name) : null;
  if (!type) return { type: "application/octet-stream", compressible: false };
  const text = TEXT.test(type);
  return { type: text ? `${type}; charset=utf-8` : type, compressible: text || COMPRESSIBLE.test(type) };
}
