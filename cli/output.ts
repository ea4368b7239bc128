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
  const render = (done: number, total: number) => {
    if (!options.tty) return `${label}: ${done}/${total}`;
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    return `\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total}`;
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
