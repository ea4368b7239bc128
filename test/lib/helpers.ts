import type { KvBinding } from "../../shared/kv/index.ts";

/**
 * Wraps a real KV binding for fault injection and call counting. Every call
 * goes to the real binding unless a fault says otherwise.
 */
export interface Faulty {
  kv: KvBinding;
  calls: { get: number; getWithMetadata: number; put: number; delete: number; list: number };
  /** Fail the next N puts with KV's 429 message. */
  failPuts(n: number, message?: string): void;
  /** Make every call throw (KV down) until `heal()`. */
  breakAll(message?: string): void;
  heal(): void;
  /** Serve one empty, not-complete page before the real first page. */
  injectEmptyPage(): void;
}

export function faulty(real: KVNamespace): Faulty {
  let failPuts = 0;
  let putMessage = "KV PUT failed: 429 Too Many Requests";
  let broken: string | null = null;
  let emptyPage = false;
  const calls = { get: 0, getWithMetadata: 0, put: 0, delete: 0, list: 0 };
  const check = () => {
    if (broken !== null) throw new Error(broken);
  };
  const kv = {
    get(key: string | string[], options: { type: "text" }) {
      calls.get++;
      check();
      return real.get(key as string[], options);
    },
    getWithMetadata(key: string, options: { type: "text" }) {
      calls.getWithMetadata++;
      check();
      return real.getWithMetadata(key, options);
    },
    put(key: string, value: string, options?: KVNamespacePutOptions) {
      calls.put++;
      check();
      if (failPuts > 0) {
        failPuts--;
        return Promise.reject(new Error(putMessage));
      }
      return real.put(key, value, options);
    },
    delete(key: string) {
      calls.delete++;
      check();
      return real.delete(key);
    },
    list(options?: KVNamespaceListOptions) {
      calls.list++;
      check();
      if (emptyPage) {
        emptyPage = false;
        return Promise.resolve({ list_complete: false, keys: [], cursor: options?.cursor ?? "", cacheStatus: null });
      }
      return real.list(options);
    },
  } as unknown as KvBinding;
  return {
    kv,
    calls,
    failPuts(n, message) {
      failPuts = n;
      if (message) putMessage = message;
    },
    breakAll(message = "KV GET failed: 500 Internal Server Error") {
      broken = message;
    },
    heal() {
      broken = null;
    },
    injectEmptyPage() {
      emptyPage = true;
    },
  };
}

/** Reads a stream fully into a string. */
export async function readText(stream: ReadableStream): Promise<string> {
  return new Response(stream).text();
}
