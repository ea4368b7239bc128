// Type tests (run by `vitest --typecheck` in the node project and by `npm run typecheck`).
import * as v from "valibot";
import { describe, expectTypeOf, it } from "vitest";
import { KvStore, bytes, json, stream, text, type KvBinding, type ListedKey, type ReadResult } from "../../shared/kv/index.ts";

declare const kv: KvBinding;
const User = v.object({ name: v.string(), age: v.number() });
const Meta = v.object({ by: v.string() });

describe("KvStore types", () => {
  it("infers the value type from the schema", () => {
    const store = new KvStore(kv, { codec: json(User), metadata: Meta });
    expectTypeOf(store.get("k")).resolves.toEqualTypeOf<{ name: string; age: number } | null>();
    expectTypeOf(store.getWithMetadata("k")).resolves.toEqualTypeOf<ReadResult<{ name: string; age: number }, { by: string }>>();
    expectTypeOf(store.getMany(["a"])).resolves.toEqualTypeOf<Map<string, { name: string; age: number } | null>>();
    expectTypeOf(store.keys()).toEqualTypeOf<AsyncGenerator<ListedKey<{ by: string }>, void, undefined>>();
  });

  it("refuses a value or metadata of the wrong shape at compile time", () => {
    const store = new KvStore(kv, { codec: json(User), metadata: Meta });
    // @ts-expect-error age must be a number
    void store.put("k", { name: "a", age: "1" });
    // @ts-expect-error metadata must match its schema
    void store.put("k", { name: "a", age: 1 }, { metadata: { by: 1 } });
  });

  it("gives each codec its own value type", () => {
    expectTypeOf(new KvStore(kv, { codec: text() }).get("k")).resolves.toEqualTypeOf<string | null>();
    expectTypeOf(new KvStore(kv, { codec: bytes() }).get("k")).resolves.toEqualTypeOf<Uint8Array | null>();
    expectTypeOf(new KvStore(kv, { codec: stream() }).get("k")).resolves.toEqualTypeOf<ReadableStream | null>();
  });

  it("offers getMany only on json and text stores", () => {
    const blobs = new KvStore(kv, { codec: stream() });
    // @ts-expect-error KV's bulk get returns text or json only
    void blobs.getMany(["a"]);
  });
});
