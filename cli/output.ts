/** How the CLI writes for people: sizes, tables, colour, progress, and a closed pipe. */
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

/**
 * Rows aligned in columns under a header; the last column is not padded.
 * @example table(["ID", "USER"], [["3f9a", "alice"]]) // "ID    USER\n3f9a  alice"
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], style: Style = plain): string {
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
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") closed = true;
    else throw err;
  });
  const writer: Guarded = {
    write(chunk) {
      if (closed) throw new OutputClosed();
      stream.write(chunk);
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
