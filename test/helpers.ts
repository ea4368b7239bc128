/**
 * Helpers for every test folder (workerd and Node alike); each folder has its own `helpers.ts`
 * (`test/node/helpers/` a folder of them) for what only it needs.
 *
 * The local rate limiter's windows are aligned to the wall clock (Miniflare:
 * `floor(now / period)`), so a test counting LIMIT failures and then a 429 must
 * not straddle a window boundary (a slow, loaded machine makes that likely):
 * wait until at least `needMs` are left in the current window. Runs in workerd
 * and in Node alike.
 * @example beforeEach(() => limiterWindowHeadroom(), 70_000);
 */
export async function limiterWindowHeadroom(periodSeconds = 60, needMs = 20_000): Promise<void> {
  const period = periodSeconds * 1000;
  const left = period - (Date.now() % period);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
