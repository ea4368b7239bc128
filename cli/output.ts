/**
 * How the CLI writes for people: sizes, tables, colour, progress, a closed pipe, and the one
 * filter every printed string goes through (`safeText`): what came from an API answer, a
 * file or KV reaches a terminal, a log or `--json` without control characters and without
 * a secret the CLI holds.
 */
import { styleText } from "node:util";

const UNITS = ["KiB", "MiB", "GiB", "TiB"] as const;

/**
 * A byte count people can read: bytes below 1 KiB, else three significant digits.
 * @example formatBytes(1536) // "1.50 KiB"; formatBytes(200) // "200 B"
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let v = n;
  let unit: string = UNITS[0];
  for (const u of UNITS) {
    v /= 1024;
    unit = u;
    if (v < 1024) break;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${unit}`;
}

/** Text shown in place of a secret the CLI holds. */
export const REDACTED = "[redacted]";
/** A shorter value is not treated as a secret: redacting it would garble ordinary text. */
export const MIN_SECRET_CHARS = 8;

/** Secrets this process holds (the Cloudflare API token, signing secrets), in every form they are looked for. */
const secretForms = new Set<string>();

/**
 * Marks `secret` as never to be printed: from then on `safeText` replaces it, verbatim,
 * JSON-escaped or percent-encoded, wherever it appears (an error message, an account
 * name, a KV key or value, `--json` output).
 * @example registerSecret(token); safeText(`bad ${token}`) // "bad [redacted]"
 */
export function registerSecret(secret: string | undefined): void {
  if (secret === undefined || secret.length < MIN_SECRET_CHARS) return;
  for (const form of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), encodeURI(secret)]) {
    secretForms.add(form);
    secretForms.add(form.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
}

/**
 * Characters no terminal should get from data: C0 controls (ESC starts an escape sequence;
 * CR and backspace overwrite what was shown), DEL, C1 (U+009B is a one-byte CSI), Unicode
 * format characters (bidi overrides and isolates such as U+202E and U+2066-2069, zero-width
 * characters, tags), line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
/** The same, except tab, newline and CR before a newline: the layout of multi-line output. */
const UNSAFE_MULTILINE = /(?![\t\n]|\r\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
/**
 * Stands for ESC in the CLI's own colour codes (`markedStyle`) until `safeText` has escaped
 * everything else: random per process, so no value from outside can hold it.
 */
const ESC_MARK = `<esc:${crypto.randomUUID()}>`;

/**
 * A character as a JSON-style escape (`\u001b`, a surrogate pair for astral ones): visible,
 * and, inside a JSON string, decoded back to the same character, so `--json` stays lossless.
 */
function escapeChar(c: string): string {
  let out = "";
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/** `text` with every registered secret replaced, also one hidden by invisible characters in between. */
function redactSecrets(text: string): string {
  if (secretForms.size === 0) return text;
  const cut = (t: string) => {
    let out = t;
    for (const form of secretForms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  };
  const out = cut(text);
  const bare = out.replace(UNSAFE, "");
  return bare !== out && cut(bare) !== bare ? cut(bare) : out;
}

export interface SafeTextOptions {
  /** Keep tab, newline and CRLF (a table, a value); else they are escaped too (a message is one line). */
  multiline?: boolean;
}

/**
 * `text` safe to write to a terminal or a log: every registered secret redacted, every
 * control, format or bidi character escaped as `\uXXXX`. JSON text stays valid JSON with
 * the same data (those characters can only be inside its strings, where the escape decodes
 * back to them); a plain token or id is unchanged.
 * @example safeText("a\u001b]0;pwned\u0007b") // "a\\u001b]0;pwned\\u0007b"
 */
export function safeText(text: string, options: SafeTextOptions = {}): string {
  const out = escapeText(text, options.multiline === true);
  return out.includes(ESC_MARK) ? out.replaceAll(ESC_MARK, "\u001b") : out;
}

/** Redacted and escaped; the CLI's own colour marks are left for the writer (`safeText`) to turn into ESC. */
function escapeText(text: string, multiline: boolean): string {
  return redactSecrets(text).replace(multiline ? UNSAFE_MULTILINE : UNSAFE, escapeChar);
}

/**
 * One value on one line: `safeText` with tab, newline and CR escaped too, for a table cell or
 * a list entry (a key holding a newline cannot forge a second row).
 * @example oneLine("a\nb") // "a\\u000ab"
 */
export function oneLine(text: string): string {
  return escapeText(text, false);
}

/**
 * A count and its noun, the one number style of the CLI: grouped digits, the plural when not 1.
 * @example formatCount(2010, "KV write") // "2,010 KV writes"; formatCount(1, "new blob") // "1 new blob"
 */
export function formatCount(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/**
 * Rows aligned in columns under a header; the last column is not padded.
 * @example table(["ID", "USER"], [["3f9a", "alice"]]) // "ID    USER\n3f9a  alice"
 */
export function table(headers: readonly string[], rawRows: readonly (readonly string[])[], style: Style = plain): string {
  // Cells come from KV and files: one line each, whatever they hold.
  const rows = rawRows.map((r) => r.map(oneLine));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [style("bold", line(headers)), ...rows.map(line)].join("\n");
}

export type StyleFormat = "bold" | "dim" | "red" | "yellow" | "green";
/** Styles text for one stream, or returns it as is. */
export type Style = (format: StyleFormat, text: string) => string;
export const plain: Style = (_format, text) => text;

/**
 * Colour for `stream` as Node decides it: only on a terminal, never with NO_COLOR, always with FORCE_COLOR.
 * @example const style = styleFor(process.stderr); style("red", "error")
 */
export function styleFor(stream: NodeJS.WriteStream): Style {
  return (format, text) => styleText(format, text, { stream, validateStream: true });
}

/**
 * `style` with its escape sequences marked, so that they, and only they, survive `safeText`
 * (an escape sequence in the styled text itself is escaped like any other).
 * @example const style = markedStyle(styleFor(process.stderr)); safeText(style("red", "x")) // "\u001b[31mx\u001b[39m" on a colour terminal
 */
export function markedStyle(style: Style): Style {
  return (format, text) => {
    const [open = "", close = ""] = style(format, "\u0000").split("\u0000");
    return `${open.replaceAll("\u001b", ESC_MARK)}${text}${close.replaceAll("\u001b", ESC_MARK)}`;
  };
}

/** Thrown by a write after the reader of stdout went away (`edgekv kv list | head -1`): ends the command quietly. */
export class OutputClosed extends Error {
  constructor() {
    super("stdout was closed");
    this.name = "OutputClosed";
  }
}

type Guarded = { write(chunk: string | Uint8Array): void; readonly closed: boolean };
const guarded = new WeakMap<NodeJS.WriteStream, Guarded>();

/**
 * Writes to `stream`, turning EPIPE (the reader left) into a quiet end instead of a crash.
 * One guard per stream, however often the CLI runs in one process.
 * @example const out = guardedWriter(process.stdout); out.write("line\n");
 */
export function guardedWriter(stream: NodeJS.WriteStream): Guarded {
  const known = guarded.get(stream);
  if (known) return known;
  let closed = false;
  // Taken now: while a command runs, stray writes to process.stdout are sent to stderr (cli/stdout.ts).
  const write = stream.write.bind(stream);
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") closed = true;
    else throw err;
  });
  const writer: Guarded = {
    write(chunk) {
      if (closed) throw new OutputClosed();
      write(chunk);
    },
    get closed() {
      return closed;
    },
  };
  guarded.set(stream, writer);
  return writer;
}

export interface ProgressOptions {
  /** Redraw a bar in place (a terminal) or print a line now and then (a pipe or a log). */
  tty: boolean;
  write(text: string): void;
  /** Without a terminal, a line at most this often (default 5 s). */
  intervalMs?: number;
  now?: () => number;
  /** What is counted ("files"): lines before the last then show the rate and the time left. */
  unit?: string;
}

/** "45 s", "6 min 52 s": a duration in whole seconds. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
}

/**
 * Progress of long work on stderr: a bar on a terminal, a line every few seconds without one
 * (so a CI log shows a deploy is alive), and a last line when done.
 * @example const p = progress("uploading", { tty: false, write: ctx.err }); p.update(3, 10); p.done();
 */
export function progress(label: string, options: ProgressOptions): { update(done: number, total: number): void; done(): void } {
  const now = options.now ?? Date.now;
  const every = options.tty ? 100 : (options.intervalMs ?? 5_000);
  let last = -Infinity;
  let shown = "";
  let widest = 0;
  const started = now();
  // Once a second of work gives a rate worth showing; not on the last line (the summary has it).
  const rate = (done: number, total: number) => {
    const s = (now() - started) / 1000;
    if (!options.unit || done >= total || done === 0 || s < 1) return "";
    const perSecond = done / s;
    return `, ${Math.round(perSecond).toLocaleString("en-US")} ${options.unit}/s, ${formatDuration((total - done) / perSecond)} left`;
  };
  const render = (done: number, total: number) => {
    if (!options.tty) return `${label}: ${done}/${total}${rate(done, total)}`;
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    const line = `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}${rate(done, total)}`;
    // Padded to the longest line drawn, so a shorter one leaves nothing of it behind.
    widest = Math.max(widest, line.length);
    return `\r${line.padEnd(widest)}`;
  };
  let latest = { done: 0, total: 0 };
  return {
    update(done, total) {
      latest = { done, total };
      const t = now();
      if (t - last < every && done < total) return;
      last = t;
      shown = render(done, total);
      options.write(options.tty ? shown : `${shown}\n`);
    },
    done() {
      const final = render(latest.done, latest.total);
      if (options.tty) options.write(shown ? (final === shown ? "\n" : `${final}\n`) : "");
      else if (final !== shown) options.write(`${final}\n`);
    },
  };
}
