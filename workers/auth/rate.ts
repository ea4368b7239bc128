/**
 * Failed attempts per client IP, counted by the Workers Rate Limiting binding.
 * Once an IP is over the limit, this isolate also remembers it until the
 * window ends, so its further attempts cost no KV read and no limiter call.
 */
import { RATE_LIMIT_PERIOD_SECONDS } from "./config.ts";

/** Bound on remembered IPs; the oldest are forgotten first. */
export const MAX_BLOCKED_IPS = 1_000;

export class FailureLimiter {
  readonly #binding: RateLimit;
  readonly #now: () => number;
  readonly #blocked = new Map<string, number>();

  constructor(binding: RateLimit, now: () => number) {
    this.#binding = binding;
    this.#now = now;
  }

  /** Seconds until `ip` may try again, or 0. */
  retryAfter(ip: string): number {
    const until = this.#blocked.get(ip);
    if (until === undefined) return 0;
    const left = Math.ceil((until - this.#now()) / 1000);
    if (left > 0) return left;
    this.#blocked.delete(ip);
    return 0;
  }

  /**
   * Counts one failure; returns seconds to wait when `ip` is now over the limit, else 0.
   * A limiter that fails is ignored: the request is refused anyway.
   */
  async fail(ip: string): Promise<number> {
    let over = false;
    try {
      over = !(await this.#binding.limit({ key: ip })).success;
    } catch {
      return 0;
    }
    if (!over) return 0;
    this.#blocked.delete(ip);
    this.#blocked.set(ip, this.#now() + RATE_LIMIT_PERIOD_SECONDS * 1000);
    if (this.#blocked.size > MAX_BLOCKED_IPS) this.#blocked.delete(this.#blocked.keys().next().value as string);
    return RATE_LIMIT_PERIOD_SECONDS;
  }
}
