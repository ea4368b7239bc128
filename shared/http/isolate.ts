/**
 * Per-isolate dependencies of a Worker entry: built once from `env` on the
 * first request and kept in module scope, so isolate caches (KV reads, the
 * limiter's lockouts) survive across requests. Keyed by the env object, which
 * the runtime passes unchanged to every request while the bindings stay the
 * same; a test with another env gets its own deps.
 */

/**
 * Wraps `build` so it runs once per env object; the hot path is one WeakMap get.
 * @example
 * const depsFor = perIsolate((env: Env) => ({ reader: new SiteReader(env.SITE_KV) }));
 * export default { fetch: (request, env) => handle(request, depsFor(env)) };
 */
export function perIsolate<E extends object, D extends object>(build: (env: E) => D): (env: E) => D {
  const byEnv = new WeakMap<E, D>();
  return (env) => {
    let deps = byEnv.get(env);
    // Set only once build returns: a build that throws is tried again on the next request.
    if (!deps) byEnv.set(env, (deps = build(env)));
    return deps;
  };
}
