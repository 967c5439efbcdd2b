// Compiles the library (src/, without the CLI and tests) to JavaScript with type declarations,
// and copies the assets (Lua scripts, static files: everything but TypeScript) next to the modules
// that load them.
//   node scripts/build.mjs [--out DIR]     (default: dist)
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--out');
const out = path.resolve(root, i > 0 ? (process.argv[i + 1] ?? 'dist') : 'dist');

rmSync(out, { recursive: true, force: true });
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
execFileSync(
  process.execPath,
  [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out],
  {
    stdio: 'inherit',
  },
);

let copied = 0;
function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== 'fixtures') copyAssets(full);
    } else if (!name.endsWith('.ts')) {
      cpSync(full, path.join(out, path.relative(path.join(root, 'src'), full)));
      copied++;
    }
  }
}
copyAssets(path.join(root, 'src'));
console.log(`build: ${path.relative(root, out) || out} (${copied} assets)`);
