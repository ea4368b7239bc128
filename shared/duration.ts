/** Seconds per unit of the durations the CLI and the admin API take (`90s`, `30m`, `24h`, `7d`). One table for every parser. */
export const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };
