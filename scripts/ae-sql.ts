/**
 * A local stand-in for Workers Analytics Engine's SQL API, for tests (runtime-neutral: the
 * Node server in scripts/ae-api.ts and workerd tests use the same code). Built from the
 * reference, not from what the control Worker sends:
 *   https://developers.cloudflare.com/analytics/analytics-engine/sql-api/        (POST .../accounts/<id>/analytics_engine/sql,
 *     body = the SQL text, `Authorization: Bearer <token>` with Account Analytics Read)
 *   https://developers.cloudflare.com/analytics/analytics-engine/sql-reference/  (columns index1, blob1..20, double1..20,
 *     timestamp, _sample_interval; SUM, if, IN, quantileExactWeighted, NOW() - INTERVAL 'n' MINUTE; FORMAT JSON)
 *   ClickHouse's JSON format: { meta: [{ name, type }], data: [rows], rows, rows_before_limit_at_least }.
 * What it implements: one SELECT of columns and aggregates (count(), SUM of a product or of
 * `if(<col> IN (...), <expr>, 0)`, quantileExactWeighted(q)(<col>, <UInt weight>)) FROM one dataset,
 * WHERE `<col> = '<text>'` and `timestamp > NOW() - INTERVAL '<n>' MINUTE` joined by AND, GROUP BY
 * one alias or column, FORMAT JSON. Anything else is a 400 naming what is unsupported (never a
 * guess). Sampling: a dataset may keep one point in `sampleInterval`, stored with that
 * `_sample_interval`, as Analytics Engine does under load.
 */

/** One stored point, as Analytics Engine keeps it. */
export interface StoredPoint {
  /** Epoch ms when it was written. */
  timestamp: number;
  index1: string;
  blobs: string[];
  doubles: number[];
  _sample_interval: number;
}

/** What `writeDataPoint` is given (the Workers runtime's AnalyticsEngineDataPoint, strings only). */
export interface DataPointInput {
  indexes?: (string | null)[];
  blobs?: (string | null)[];
  doubles?: number[];
}

export class AeStandin {
  readonly datasets = new Map<string, StoredPoint[]>();
  /** Every SQL text received, in order. */
  readonly queries: string[] = [];
  private seen = 0;
  readonly accountId: string;
  readonly token: string;
  /** Keep one point in this many, stored with this `_sample_interval` (1: keep all). */
  sampleInterval: number;
  readonly now: () => number;
  constructor(accountId: string, token: string, sampleInterval = 1, now: () => number = Date.now) {
    this.accountId = accountId;
    this.token = token;
    this.sampleInterval = sampleInterval;
    this.now = now;
  }

  /** Stores a point as the binding would (subject to this dataset's sampling). */
  write(dataset: string, p: DataPointInput): void {
    if (this.seen++ % this.sampleInterval !== 0) return;
    const list = this.datasets.get(dataset) ?? [];
    this.datasets.set(dataset, list);
    list.push({
      timestamp: this.now(),
      index1: String(p.indexes?.[0] ?? ""),
      blobs: (p.blobs ?? []).map((b) => String(b ?? "")),
      doubles: [...(p.doubles ?? [])],
      _sample_interval: this.sampleInterval,
    });
  }

  /**
   * Answers one HTTP request as the API does.
   * @example const res = await standin.fetch(new Request(`${base}/accounts/${id}/analytics_engine/sql`, { method: "POST", body: sql }))
   */
  async fetch(request: Request): Promise<Response> {
    const m = /\/client\/v4\/accounts\/([^/]+)\/analytics_engine\/sql$/.exec(new URL(request.url).pathname);
    if (!m || request.method !== "POST") return Response.json({ success: false, errors: [{ code: 7000, message: "No route for that URI" }] }, { status: 404 });
    if (request.headers.get("authorization") !== `Bearer ${this.token}` || m[1] !== this.accountId) {
      return Response.json({ success: false, errors: [{ code: 10000, message: "Authentication error" }] }, { status: 401 });
    }
    const sql = await request.text();
    this.queries.push(sql);
    try {
      return Response.json(this.run(sql));
    } catch (err) {
      return new Response(`unsupported by the stand-in: ${(err as Error).message}`, { status: 400 });
    }
  }

  /** Runs one query; throws on anything outside the subset above. */
  run(sql: string) {
    const q = /^\s*SELECT\s+(.+?)\s+FROM\s+([A-Za-z_]\w*)\s+WHERE\s+(.+?)\s+GROUP BY\s+(\w+)\s+FORMAT\s+JSON\s*$/is.exec(sql);
    if (!q) throw new Error("expected SELECT ... FROM <dataset> WHERE ... GROUP BY ... FORMAT JSON");
    const [, select, dataset, where, groupBy] = q as unknown as [string, string, string, string, string];
    const items = splitTop(select, ",").map((item) => {
      const a = /^(.+?)\s+AS\s+(\w+)$/is.exec(item.trim());
      return a ? { expr: a[1]!.trim(), name: a[2]! } : { expr: item.trim(), name: item.trim() };
    });
    const conds = where.split(/\s+AND\s+/i).map((c) => condition(c.trim(), this.now()));
    const rows = (this.datasets.get(dataset) ?? []).filter((p) => conds.every((c) => c(p)));
    const key = items.find((i) => i.name === groupBy)?.expr ?? groupBy;
    const groups = new Map<string, StoredPoint[]>();
    for (const p of rows) {
      const k = String(value(key, p));
      groups.set(k, [...(groups.get(k) ?? []), p]);
    }
    const data = [...groups.values()].map((ps) => Object.fromEntries(items.map((i) => [i.name, aggregate(i.expr, ps)])));
    const meta = items.map((i) => ({ name: i.name, type: typeof data[0]?.[i.name] === "string" ? "String" : "Float64" }));
    return { meta, data, rows: data.length, rows_before_limit_at_least: data.length };
  }
}

/** Splits at `sep` outside parentheses and quotes. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === "(") depth++;
    else if (!quoted && c === ")") depth--;
    else if (!quoted && depth === 0 && c === sep) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

const COLUMN = /^(index1|blob([1-9]|1\d|20)|double([1-9]|1\d|20)|_sample_interval|timestamp)$/;

/** A column's value in a point. */
function column(name: string, p: StoredPoint): string | number {
  if (!COLUMN.test(name)) throw new Error(`unknown column ${name}`);
  if (name === "index1") return p.index1;
  if (name === "_sample_interval") return p._sample_interval;
  if (name === "timestamp") return p.timestamp;
  const n = Number(name.replace(/\D/g, "")) - 1;
  return name.startsWith("blob") ? (p.blobs[n] ?? "") : (p.doubles[n] ?? 0);
}

/** A row expression: a literal, a column, a product, `x IN ('a', ...)` or `if(c, a, b)`. */
function value(expr: string, p: StoredPoint): string | number | boolean {
  const e = expr.trim();
  const fn = /^if\((.*)\)$/is.exec(e);
  if (fn) {
    const [c, a, b] = splitTop(fn[1]!, ",");
    if (b === undefined) throw new Error("if() takes three arguments");
    return value(c!, p) ? value(a!, p) : value(b, p);
  }
  const isIn = /^(\w+)\s+IN\s+\((.*)\)$/is.exec(e);
  if (isIn)
    return splitTop(isIn[2]!, ",")
      .map((s) => literal(s.trim()))
      .includes(column(isIn[1]!, p));
  const product = splitTop(e, "*");
  if (product.length > 1) return product.reduce((acc, f) => acc * Number(value(f, p)), 1);
  if (/^\d+(\.\d+)?$/.test(e) || /^'/.test(e)) return literal(e);
  return column(e, p);
}

function literal(s: string): string | number {
  if (/^'[^']*'$/.test(s)) return s.slice(1, -1);
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  throw new Error(`unsupported literal ${s}`);
}

/** One WHERE condition: `<col> = '<text>'` or `timestamp > NOW() - INTERVAL '<n>' MINUTE`. */
function condition(c: string, now: number): (p: StoredPoint) => boolean {
  const eq = /^(\w+)\s*=\s*('[^']*')$/.exec(c);
  if (eq) return (p) => column(eq[1]!, p) === literal(eq[2]!);
  const since = /^timestamp\s*>\s*NOW\(\)\s*-\s*INTERVAL\s*'(\d+)'\s*MINUTE$/i.exec(c);
  if (since) return (p) => p.timestamp > now - Number(since[1]) * 60_000;
  throw new Error(`unsupported condition ${c}`);
}

/** A select item over a group: count(), SUM(expr), quantileExactWeighted(q)(col, weight), or a column (the group key). */
function aggregate(expr: string, ps: StoredPoint[]): string | number {
  if (/^count\(\)$/i.test(expr)) return ps.length;
  const sum = /^SUM\((.*)\)$/is.exec(expr);
  if (sum) return ps.reduce((acc, p) => acc + Number(value(sum[1]!, p)), 0);
  const qw = /^quantileExactWeighted\(([\d.]+)\)\((\w+),\s*(.+)\)$/is.exec(expr);
  if (qw) {
    const pairs = ps.map((p) => ({ v: Number(column(qw[2]!, p)), w: Number(value(qw[3]!, p)) })).sort((a, b) => a.v - b.v);
    if (pairs.some((x) => !Number.isInteger(x.w) || x.w < 0)) throw new Error("quantileExactWeighted: the weight must be an unsigned integer");
    const total = pairs.reduce((a, x) => a + x.w, 0);
    let acc = 0;
    for (const x of pairs) if ((acc += x.w) >= Number(qw[1]) * total) return x.v;
    return 0;
  }
  return ps.length ? (column(expr, ps[0]!) as string | number) : "";
}
