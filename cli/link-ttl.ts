/**
 * `--ttl` of the commands that sign links (`site preview`, `rollout override`): a duration within
 * the signed-link cap (shared/signed-link.ts), refused before anything is signed.
 */
import { UNIT_SECONDS } from "../shared/duration.ts";
import { MAX_LINK_SECONDS } from "../shared/signed-link.ts";
import { InputError, UsageError } from "./errors.ts";

/**
 * `--ttl 1h` (s, m, h, d; combined as 1h30m) in seconds, at least 1s and at most MAX_LINK_SECONDS (30d).
 * @example linkTtl("1h30m", 86400) // 5400; linkTtl(undefined, 86400) // 86400; linkTtl("31d", 86400) // throws InputError
 */
export function linkTtl(raw: string | undefined, fallbackSeconds: number): number {
  if (raw === undefined) return fallbackSeconds;
  // Checked whole so that a mistyped value (a secret in the wrong place?) is not echoed back.
  if (!/^(\d{1,9}[smhd])+$/.test(raw)) throw new UsageError("--ttl takes a duration such as 30m, 2h, 1d or 1h30m");
  const seconds = [...raw.matchAll(/(\d+)([smhd])/g)].reduce((n, m) => n + Number(m[1]) * UNIT_SECONDS[m[2]!]!, 0);
  if (seconds < 1) throw new InputError("--ttl must be at least 1s");
  if (seconds > MAX_LINK_SECONDS) {
    throw new InputError(`--ttl must be at most ${MAX_LINK_SECONDS / 86400}d: the Workers refuse longer-lived signed links (docs/security.md)`);
  }
  return seconds;
}
