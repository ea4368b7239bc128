import { hostname, userInfo } from "node:os";
import type { KvBinding } from "../../shared/kv/index.ts";
import {
  historyEntry,
  listHistory,
  readRollout,
  RolloutInvalidError,
  RolloutOverwrittenError,
  writeRollout,
  type Current,
} from "../../shared/rollout/write.ts";
import type { HistoryEntry, RolloutConfig } from "../../workers/splitter/model.ts";
import { CliError } from "../errors.ts";

/** Who is writing: EDGEKV_USER, else user@host. */
export function whoAmI(): string {
  if (process.env.EDGEKV_USER) return process.env.EDGEKV_USER;
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

export type { Current };

/**
 * The rollout config in one KV namespace for the CLI: the one writer
 * (shared/rollout/write.ts) with its errors as one-line CLI errors.
 * @example const r = new RolloutStore(kv); const cur = await r.current(); await r.write(cur, next, "set 20%");
 */
export class RolloutStore {
  readonly #kv: KvBinding;
  readonly #now: () => number;

  constructor(kv: KvBinding, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /** The stored config, read once; pass it to `require` and `write`. */
  current(): Promise<Current> {
    return readRollout(this.#kv);
  }

  /** The valid config of `cur` (read now when not given), or a one-line error saying what to do. */
  async require(cur?: Current): Promise<RolloutConfig> {
    const c = cur ?? (await this.current());
    if (c.config) return c.config;
    if (c.raw === null) throw new CliError("no rollout config yet; run `edgekv rollout init --blue URL --green URL`");
    throw new CliError(
      `the stored rollout config is invalid (${c.issues.join("; ")}); replace it with \`edgekv rollout config put FILE\` or \`edgekv rollout rollback --to VERSION\``,
    );
  }

  /**
   * Writes `next` as version `base.version + 1` (shared/rollout/write.ts). Null when nothing would
   * change; a one-line error for an invalid config, or when another writer's config stands instead.
   */
  async write(base: Current, next: object, action: string, by = whoAmI()): Promise<{ config: RolloutConfig; changes: string[] } | null> {
    try {
      return await writeRollout(this.#kv, base, next, { action, by, now: this.#now() });
    } catch (err) {
      if (err instanceof RolloutInvalidError || err instanceof RolloutOverwrittenError) throw new CliError(err.message);
      throw err;
    }
  }

  /** History entries, newest first. */
  history(): Promise<HistoryEntry[]> {
    return listHistory(this.#kv);
  }

  entry(version: number): Promise<HistoryEntry | null> {
    return historyEntry(this.#kv, version);
  }
}
