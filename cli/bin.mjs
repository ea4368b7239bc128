#!/usr/bin/env node
// Entry point of the `edgekv` command. The CLI is TypeScript run by Node's
// built-in type stripping (Node >= 22.18). `npm install` brings Node 22 as a
// devDependency, so `npx edgekv` and npm scripts get it even on an older system Node.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `edgekv: Node ${process.versions.node} is too old (need >= 22.18). ` +
      "Run it through npm (`npx edgekv ...` or `npm run edgekv -- ...`) after `npm install`, which provides Node 22.",
  );
  process.exit(1);
}
// A checkout runs the TypeScript; an installed package has only what `npm run build` compiled into
// dist/ (Node does not strip types inside node_modules, and the tarball ships no .ts sources).
const { existsSync } = await import("node:fs");
const { main } = await import(existsSync(new URL("./main.ts", import.meta.url)) ? "./main.ts" : "../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
// A failed command ends now, whatever handles a half-started local runtime left open (never a hang).
// stderr is synchronous on pipes and terminals, so the error is already written.
if (process.exitCode !== 0) process.exit(process.exitCode);
// A command that succeeded ends too, once stdout has taken what it printed: a local runtime whose
// stop timed out (LOCAL_DISPOSE_TIMEOUT_MS, wedged on a busy state) must not keep it alive.
process.stdout.write("", () => process.exit(0));
