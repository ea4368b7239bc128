// The site Worker's tests use only SITE_KV (declared in test/env.d.ts).
export {};
