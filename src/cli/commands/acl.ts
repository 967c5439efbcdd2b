import { InvalidArgumentError, type Command } from 'commander';
import { defineTopic, type Topic } from '../../core/topic.ts';
import { aclSetUserArgs, aclSetUserLine, type AclRequest } from '../../redis/acl-rules.ts';
import { readRegistry, topicOfRecord } from '../../redis/registry.ts';
import { globalOptions, withBackend } from '../context.ts';
import { note, println } from '../output.ts';

interface AclOptions {
  user: string;
  publish: string[];
  consume: string[];
  listen: string[];
  monitor?: boolean;
  apply?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseConsume(value: string): { topic: string; group: string } {
  const at = value.lastIndexOf(':');
  if (at <= 0 || at === value.length - 1)
    throw new InvalidArgumentError(`--consume takes TOPIC:GROUP, got '${value}'`);
  return { topic: value.slice(0, at), group: value.slice(at + 1) };
}

/**
 * Topics by name. With a URL the registry says which are bound to a foreign stream key;
 * without one every topic has the standard key layout.
 */
function topicResolver(records: ReadonlyMap<string, Topic<unknown>>): (name: string) => Topic {
  return (name) => records.get(name) ?? defineTopic({ name });
}

/** Adds `herald acl`. */
export function registerAclCommand(program: Command): void {
  program
    .command('acl')
    .description('print (or apply) the ACL SETUSER line granting a service exactly its rights')
    .requiredOption('--user <name>', 'the Redis ACL user')
    .option('--publish <topic>', 'may publish to this topic (repeatable)', collect, [])
    .option(
      '--consume <topic:group>',
      'may consume this topic as this group: read, acknowledge, retry, dead-letter (repeatable)',
      collect,
      [],
    )
    .option(
      '--listen <pattern>',
      'may listen to notifications on these channels (repeatable)',
      collect,
      [],
    )
    .option(
      '--monitor',
      'may read everything under the prefix: topics, groups, tail, dlq list, doctor, exporter',
    )
    .option('--apply', 'run the line against --url (an administrator URL) instead of printing it')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
The line resets the user's commands, keys and channels, then grants only what the
rights need, each topic in its own ACL selector (Redis 7.0+). It grants no eval,
no function|load and no @dangerous category: Herald's scripts are a functions
library an administrator installs with herald setup. Passwords are left alone:
add one with ACL SETUSER <user> ><password> (see docs/security.md). Redis cannot
limit a user to one consumer group: --consume orders:billing allows every group
of orders. With --url the registry tells which topics use a foreign stream key.

Examples:
  $ herald acl --user orders-api --publish orders
  $ herald acl --user billing --consume orders:billing --publish invoices
  $ herald acl --user ops --monitor
  $ herald acl --user billing --consume orders:billing --apply --url redis://admin:secret@redis:6379`,
    )
    .action(async (opts: AclOptions, cmd: Command) => {
      const consume = opts.consume.map(parseConsume);
      if (
        opts.publish.length + consume.length + opts.listen.length === 0 &&
        opts.monitor !== true
      ) {
        throw new InvalidArgumentError(
          'grant at least one right: --publish, --consume, --listen or --monitor',
        );
      }
      const { url, prefix } = globalOptions(cmd);
      const build = (resolve: (name: string) => Topic): AclRequest => ({
        user: opts.user,
        prefix,
        publish: opts.publish.map(resolve),
        consume: consume.map((c) => ({ topic: resolve(c.topic), group: c.group })),
        listen: opts.listen,
        monitor: opts.monitor === true,
      });
      if (url === undefined && opts.apply !== true) {
        println(aclSetUserLine(build(topicResolver(new Map()))));
        return;
      }
      await withBackend(cmd, async (backend) => {
        const { records } = await readRegistry(backend.conn, prefix);
        const request = build(
          topicResolver(new Map(records.map((r) => [r.name, topicOfRecord(r)]))),
        );
        if (opts.apply !== true) {
          println(aclSetUserLine(request));
          return;
        }
        await backend.conn.send(aclSetUserArgs(request));
        note(`user '${opts.user}' now has exactly these rights (ACL SETUSER applied)`);
        println(aclSetUserLine(request));
      });
    });
}
