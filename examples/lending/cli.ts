/**
 * A small CLI for the lending service: request and return books, and look at
 * the library's state. It only writes the book's streams (as redis-cli would)
 * and reads its keys; the service does the work.
 *
 *   node --import tsx examples/lending/cli.ts request Salvatore ofmiceandmen,dune --wait
 *   node --import tsx examples/lending/cli.ts return Salvatore ofmiceandmen --wait
 *   node --import tsx examples/lending/cli.ts status [user]
 *
 * Options: --redis-url (default REDIS_URL), --prefix (default LENDING_PREFIX or '').
 */
import { Command } from 'commander';
import { errorMessage, RedisBackend, toRecord, type Topic } from '../../src/index.ts';
import { waitFor } from '../../src/testing/index.ts';
import { lendingKeys, lendingTopics, outcomeOf, type LendingEntry } from './service.ts';

interface GlobalOptions {
  redisUrl: string;
  prefix: string;
}

async function withBackend<T>(
  opts: GlobalOptions,
  fn: (backend: RedisBackend) => Promise<T>,
): Promise<T> {
  const backend = await RedisBackend.connect({ url: opts.redisUrl, source: 'lending-cli' });
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

async function send(
  opts: GlobalOptions,
  pick: (topics: ReturnType<typeof lendingTopics>) => Topic<LendingEntry>,
  user: string,
  books: string,
  wait: boolean,
): Promise<void> {
  await withBackend(opts, async (backend) => {
    const topic = pick(lendingTopics(opts.prefix));
    const receipt = await backend.publish(topic, { data: { user_id: user, book_ids: books } });
    console.log(`sent ${receipt.position} to ${topic.streamKey}`);
    if (!wait) return;
    const outcome = await waitFor(
      () => outcomeOf(backend.conn, opts.prefix, topic, receipt.position),
      {
        timeoutMs: 30_000,
        intervalMs: 50,
        message: 'no answer from the lending service (is it running?)',
      },
    );
    console.log(outcome);
  });
}

async function status(opts: GlobalOptions, user: string | undefined): Promise<void> {
  await withBackend(opts, async (backend) => {
    const keys = lendingKeys(opts.prefix);
    const [storage, lent] = await backend.conn.pipeline([
      ['SMEMBERS', keys.storage],
      ['HGETALL', keys.lent],
    ]);
    const lentBooks = Object.entries(toRecord(lent)).filter(
      ([, u]) => user === undefined || u === user,
    );
    console.log(
      `automated storage (${(storage as string[]).length}): ${(storage as string[]).sort().join(', ')}`,
    );
    console.log(`lent books (${lentBooks.length}):`);
    for (const [book, holder] of lentBooks.sort()) console.log(`  ${book} -> ${holder}`);
    if (user !== undefined) {
      const count = await backend.conn.send<string | null>(['GET', keys.userCount(user)]);
      console.log(`${user} holds ${count ?? 0} book(s)`);
    }
  });
}

function buildCli(): Command {
  const program = new Command('lending')
    .description('Request and return books from the lending service')
    .option('--redis-url <url>', 'Redis URL', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    .option('--prefix <prefix>', 'prefix of the lending keys', process.env.LENDING_PREFIX ?? '');
  const globals = () => program.opts<GlobalOptions>();
  program
    .command('request <user> <books>')
    .description('ask for books (comma separated)')
    .option('--wait', 'wait for the decision and print it')
    .action((user: string, books: string, o: { wait?: boolean }) =>
      send(globals(), (t) => t.requests, user, books, o.wait === true),
    );
  program
    .command('return <user> <books>')
    .description('bring books back (comma separated)')
    .option('--wait', 'wait until the return is processed')
    .action((user: string, books: string, o: { wait?: boolean }) =>
      send(globals(), (t) => t.returns, user, books, o.wait === true),
    );
  program
    .command('status [user]')
    .description("show automated storage, lent books, and a user's count")
    .action((user: string | undefined) => status(globals(), user));
  return program;
}

await buildCli()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    console.error(errorMessage(e));
    process.exitCode = 1;
  });
