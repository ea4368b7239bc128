// The real Worker's bundle, loaded next to entry.ts as the module "./worker.js".
declare const worker: {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Response | Promise<Response>;
};
export default worker;
