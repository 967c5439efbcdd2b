#!/usr/bin/env node
// Launcher. An installed package runs the compiled JavaScript in dist/. A clone of the repository
// (src/ present) runs the TypeScript sources through tsx, a dev dependency, so no build is needed
// while developing.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let runCli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runCli } = await import(source.href));
} else {
  ({ runCli } = await import('../dist/cli/main.js'));
}
await runCli(process.argv);
