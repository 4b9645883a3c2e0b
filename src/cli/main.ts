/**
 * Argument parsing and exit codes. Every command module is imported only when it runs, so
 * `herald --version` or `herald config schema` do not pay for SQLite, undici or nodemailer.
 */
import { Command, CommanderError, Option } from 'commander';
import { version } from '../util/version.js';
import { UserError, errorMessage } from '../util/errors.js';
// Types only: erased from the output, so the command modules stay lazily loaded.
import type { CommandOptions } from './context.js';
import type { CheckOptions } from './check.js';
import type { ServeOptions } from './serve.js';
import type { ImagesOptions } from './images.js';
import type { EventsOptions } from './events.js';
import type { NotifyTestOptions } from './notify.js';
import type { HealthOptions } from './health.js';
import type { ValidateOptions } from './config.js';
import type { TagsOptions } from './tags.js';

type Action<T> = (opts: T) => Promise<number>;
type ActionOnRef<T> = (ref: string, opts: T) => Promise<number>;

/**
 * The one place commander's action arguments become typed values: the command's options merged with
 * the globals (each command declares their type), and its <ref> operand when it has one. The command
 * module is loaded only now, and its exit code becomes the process's.
 */
function invoke<T extends CommandOptions>(call: (opts: T, operands: string[]) => Promise<number>): (this: Command) => Promise<void> {
  return async function (this: Command) {
    process.exitCode = await call(this.optsWithGlobals<T>(), this.processedArgs as string[]);
  };
}

function run<T extends CommandOptions>(load: () => Promise<Action<T>>): (this: Command) => Promise<void> {
  return invoke<T>(async (opts) => (await load())(opts));
}

/** For commands with a required <ref> argument: commander refuses the command line without it. */
function runOnRef<T extends CommandOptions>(load: () => Promise<ActionOnRef<T>>): (this: Command) => Promise<void> {
  return invoke<T>(async (opts, [ref]) => (await load())(ref!, opts));
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
      run<ServeOptions>(async () => {
        (await import('../daemon/runtime.js')).tuneHeapForDaemon();
        return (await import('./serve.js')).serve;
      }),
    );

  program
    .command('check')
    .description('check now, deliver what is pending, then exit')
    .addOption(configOption())
    .option('--json', 'print the run report as JSON on stdout')
    .option('--image <ref>', 'check only this image of the config')
    .action(run<CheckOptions>(async () => (await import('./check.js')).check));

  const images = program.command('images').description('read or edit the stored image state');
  images
    .command('list')
    .description('list the stored state of every image')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .action(run<ImagesOptions>(async () => (await import('./images.js')).list));
  images
    .command('inspect')
    .description('show the stored state and recent events of one image')
    .argument('<ref>', 'image reference')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .action(runOnRef<ImagesOptions>(async () => (await import('./images.js')).inspect));
  images
    .command('remove')
    .description('forget the stored state of one image (its next check is a first check)')
    .argument('<ref>', 'image reference')
    .addOption(configOption())
    .action(runOnRef<CommandOptions>(async () => (await import('./images.js')).remove));
  images
    .command('prune')
    .description('forget the state of images no longer in the config')
    .addOption(configOption())
    .action(run<CommandOptions>(async () => (await import('./images.js')).prune));

  program
    .command('events')
    .description('history of detected events, newest first')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .option('--limit <n>', 'how many events', '20')
    .option('--image <ref>', 'only events of this image')
    .action(run<EventsOptions>(async () => (await import('./events.js')).events));

  const notify = program.command('notify').description('work with notifiers');
  notify
    .command('test')
    .description('send a sample event through the configured notifiers now, and report each result')
    .addOption(configOption())
    .option('--notifier <name>', 'only this notifier')
    .option('--json', 'print JSON')
    .action(run<NotifyTestOptions>(async () => (await import('./notify.js')).test));

  const repeat = (value: string, previous: string[] = []) => [...previous, value];
  program
    .command('tags')
    .description("explain an image's tags: each one's version, flavour and pre-release, whether the filters keep it and why, and which are newer")
    .argument('[ref]', 'image reference: lists the registry\'s tags, with the filters of its config entry when it has one')
    .addOption(configOption())
    .option('--current <tag>', 'with --tags-file: the tag the image runs (newer is relative to it)')
    .option('--tags-file <file>', 'read the tags from a file (one a line) instead of a registry')
    .option('--include <regex>', 'includeTags (repeatable)', repeat)
    .option('--exclude <regex>', 'excludeTags (repeatable)', repeat)
    .option('--newer-only', 'newerOnly: keep only tags newer than the current one')
    .option('--same-flavour', 'sameFlavour (the default): newer only within the current tag\'s flavour')
    .option('--no-same-flavour', 'compare versions across flavours')
    .option('--include-prereleases', 'includePrereleases: pre-releases count as newer')
    .addOption(new Option('--sort <order>', 'sortTags').choices(['default', 'reverse', 'lexicographical', 'semver']))
    .option('--max-tags <n>', 'maxTags (0 = all)')
    .option('--json', 'print JSON')
    .action(invoke<TagsOptions>(async (opts, [ref]) => (await import('./tags.js')).tags(ref, opts)));

  program
    .command('health')
    .description('ask the running daemon for GET /healthz (server.listen); exit 0 when healthy (the image\'s HEALTHCHECK)')
    .addOption(configOption())
    .option('--url <url>', 'health URL (default: from server.listen in the config)')
    .action(run<HealthOptions>(async () => (await import('./health.js')).health));

  const config = program.command('config').description('work with the config file');
  config
    .command('validate')
    .description('load and validate the config, print the problems')
    .addOption(configOption())
    .action(run<ValidateOptions>(async () => (await import('./config.js')).validate));
  config
    .command('schema')
    .description('print the JSON Schema of the config file')
    .action(run<CommandOptions>(async () => (await import('./config.js')).schema));

  // A usage error prints the error and the usage line of the command it happened in.
  const withUsage = (cmd: Command, path: string): void => {
    cmd.showHelpAfterError(`Usage: ${path} ${cmd.usage()}`);
    for (const sub of cmd.commands) withUsage(sub, `${path} ${sub.name()}`);
  };
  withUsage(program, 'herald');
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Phases of a run as performance marks (herald:…): a profile or bench/startup-trace.ts shows them.
  performance.mark('herald:main');
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
