/**
 * Argument parsing and exit codes. Every command module is imported only when it runs, so
 * `herald --version` or `herald config schema` do not pay for SQLite, undici or nodemailer.
 */
import { Command, CommanderError, Option } from 'commander';
import { version } from '../util/version.js';
import { UserError, errorMessage } from '../util/errors.js';

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

type Action = (...args: unknown[]) => Promise<number>;

function run(load: () => Promise<Action>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const action = await load();
    process.exitCode = await action(...args);
  };
}

function configOption(): Option {
  return new Option('-c, --config <file>', 'config file (default: $HERALD_CONFIG, ./herald.yml, ./config/herald.yml, /etc/herald/herald.yml)');
}

export function buildProgram(): Command {
  const program = new Command('herald')
    .description('Watches container images in registries and tells people when they change.')
    .version(version(), '-V, --version')
    .addOption(new Option('--log-level <level>', 'log level (default: $HERALD_LOG_LEVEL or info)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('serve')
    .description('run as a daemon: check on watch.schedule, deliver notifications, serve HTTP when server.listen is set')
    .addOption(configOption())
    .action(
      run(async () => {
        (await import('../daemon/runtime.js')).tuneHeapForDaemon();
        return (await import('./serve.js')).serve as Action;
      }),
    );

  program
    .command('check')
    .description('check now, deliver what is pending, then exit')
    .addOption(configOption())
    .option('--json', 'print the run report as JSON on stdout')
    .option('--image <ref>', 'check only this image of the config')
    .action(run(async () => (await import('./check.js')).check as Action));

  const images = program.command('images').description('read or edit the stored image state');
  images
    .command('list')
    .description('list the stored state of every image')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .action(run(async () => (await import('./images.js')).list as Action));
  images
    .command('inspect')
    .description('show the stored state and recent events of one image')
    .argument('<ref>', 'image reference')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .action(run(async () => (await import('./images.js')).inspect as Action));
  images
    .command('remove')
    .description('forget the stored state of one image (its next check is a first check)')
    .argument('<ref>', 'image reference')
    .addOption(configOption())
    .action(run(async () => (await import('./images.js')).remove as Action));
  images
    .command('prune')
    .description('forget the state of images no longer in the config')
    .addOption(configOption())
    .action(run(async () => (await import('./images.js')).prune as Action));

  program
    .command('events')
    .description('history of detected events, newest first')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .option('--limit <n>', 'how many events', '20')
    .option('--image <ref>', 'only events of this image')
    .action(run(async () => (await import('./events.js')).events as Action));

  const notify = program.command('notify').description('work with notifiers');
  notify
    .command('test')
    .description('send a sample event through the configured notifiers now, and report each result')
    .addOption(configOption())
    .option('--notifier <name>', 'only this notifier')
    .option('--json', 'print JSON')
    .action(run(async () => (await import('./notify.js')).test as Action));

  program
    .command('health')
    .description('ask the running daemon for GET /healthz (server.listen); exit 0 when healthy (the image\'s HEALTHCHECK)')
    .addOption(configOption())
    .option('--url <url>', 'health URL (default: from server.listen in the config)')
    .action(run(async () => (await import('./health.js')).health as Action));

  const config = program.command('config').description('work with the config file');
  config
    .command('validate')
    .description('load and validate the config, print the problems')
    .addOption(configOption())
    .action(run(async () => (await import('./config.js')).validate as Action));
  config
    .command('schema')
    .description('print the JSON Schema of the config file')
    .action(run(async () => (await import('./config.js')).schema as Action));

  // A usage error prints the error and the usage line of the command it happened in.
  const withUsage = (cmd: Command, path: string): void => {
    cmd.showHelpAfterError(`Usage: ${path} ${cmd.usage()}`);
    for (const sub of cmd.commands) withUsage(sub, `${path} ${sub.name()}`);
  };
  withUsage(program, 'herald');
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; everything else commander reports is a usage error: 2.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else if (err instanceof UserError) {
      process.stderr.write(`herald: ${errorMessage(err)}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`herald: internal error (a bug; please report it):\n${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 70;
    }
  }
  // Every command closes what it opened. If a handle still keeps the loop alive, do not hang:
  // this unref'd timer only fires in that case.
  setTimeout(() => process.exit(), 3000).unref();
}
