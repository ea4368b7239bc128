// Nothing beyond the shared typings: the splitter's secrets are passed to
// `handle()` directly in these tests (see worker.test.ts).
export {};
