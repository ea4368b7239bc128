import type { RolloutConfigInput } from "../../workers/splitter/model.ts";

export const BLUE = "https://blue.test";
export const GREEN = "https://green.test";

/** A valid config input; override fields per test. */
export function cfg(over: Partial<RolloutConfigInput> = {}): RolloutConfigInput {
  return { version: 1, live: "blue", origins: { blue: BLUE, green: GREEN }, percent: 10, ...over };
}

export interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * An origin as a function (the splitter's `deps.fetch`): answers with which
 * origin it is, and records what it received. `behave` can fail per origin.
 */
export function origins(behave: (origin: string, req: Request) => Response | Promise<Response | undefined> | undefined = () => undefined) {
  const seen: Seen[] = [];
  const fetch = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    const origin = `${u.protocol}//${u.host}`;
    seen.push({ url: req.url, method: req.method, headers: Object.fromEntries(req.headers), body: req.body ? await req.text() : "" });
    const custom = await behave(origin, req);
    if (custom) return custom;
    return new Response(`hello from ${origin}`, { headers: { "x-origin": origin } });
  };
  return { fetch, seen };
}
