#!/usr/bin/env node
// Launcher: let Node load the TypeScript sources through tsx, then run the CLI.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
await runCli(process.argv);
