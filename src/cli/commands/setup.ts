import type { Command } from 'commander';
import { PermissionError } from '../../core/errors.ts';
import {
  heraldLibrariesOn,
  heraldLibrary,
  installLibraryOn,
  primaries,
  type InstallOutcome,
} from '../../redis/functions.ts';
import { withBackend } from '../context.ts';
import { note, printJson, println } from '../output.ts';

interface SetupOptions {
  removeOld?: boolean;
  json?: boolean;
}

interface NodeSetup {
  readonly node: string;
  readonly outcome: InstallOutcome;
  /** Herald libraries of other versions still loaded there. */
  readonly otherVersions: string[];
  readonly removed: string[];
}

const SAY: Record<InstallOutcome, string> = {
  loaded: 'loaded',
  present: 'already loaded',
  denied: 'refused: this user may not load functions (use an administrator URL)',
  unsupported: 'not possible: this Redis has no functions (before 7.0); scripts run with EVAL',
};

/** Adds `herald setup`. */
export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description("install Herald's Redis functions library (an administrator, once per version)")
    .option('--remove-old', 'also delete the libraries of other Herald versions')
    .option('--json', 'print JSON')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Herald's Lua scripts are one Redis Functions library, herald_<version hash>
(Redis 7.0+). Services only call it (FCALL), so they need no 'eval' right.
Run this with an administrator's URL once per Redis (every primary of a
Cluster) and after each Herald upgrade; a client whose user may load functions
loads it by itself when missing. Libraries of several versions coexist, so a
rolling upgrade keeps working; --remove-old deletes the other versions once
every service runs this one.

Examples:
  $ herald setup --url redis://admin:secret@redis:6379
  $ herald setup --url redis+cluster://admin:secret@node1:7000 --remove-old`,
    )
    .action(async (opts: SetupOptions, cmd: Command) => {
      const library = heraldLibrary();
      const results = await withBackend(cmd, async (backend) => {
        const out: NodeSetup[] = [];
        for (const node of await primaries(backend.conn)) {
          const outcome = await installLibraryOn(node, library);
          if (outcome === 'denied') {
            throw new PermissionError(
              `herald setup: ${node.address} refused FUNCTION LOAD for this user: ` +
                'run it with an administrator URL (a user with +function|load)',
              { command: 'FUNCTION LOAD' },
            );
          }
          const others =
            outcome === 'unsupported'
              ? []
              : (await heraldLibrariesOn(node)).filter((n) => n !== library.name);
          const removed: string[] = [];
          if (opts.removeOld === true) {
            for (const name of others) {
              await node.send(['FUNCTION', 'DELETE', name]);
              removed.push(name);
            }
          }
          out.push({ node: node.address, outcome, otherVersions: others, removed });
        }
        return out;
      });
      if (opts.json) {
        printJson({ library: library.name, nodes: results });
        return;
      }
      for (const r of results) {
        println(`${r.node}: library ${library.name} ${SAY[r.outcome]}`);
        if (r.removed.length > 0) println(`  removed other versions: ${r.removed.join(', ')}`);
        else if (r.otherVersions.length > 0) {
          note(
            `  other Herald versions still loaded: ${r.otherVersions.join(', ')} ` +
              '(herald setup --remove-old deletes them once every service is upgraded)',
          );
        }
      }
    });
}
