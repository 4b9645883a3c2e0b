import { UsageError, errorMessage } from '../util/errors.js';
import { closeHttpAgent } from '../notify/http.js';
import { createNotifier } from '../notify/notifiers/index.js';
import { sampleEvent } from '../notify/sample.js';
import { NotifyError } from '../notify/notifier.js';
import { newEventId } from '../model/event.js';
import { loadFromOptions, loggerFor, print, printJson, type CommandOptions } from './context.js';

export interface NotifyTestOptions extends CommandOptions {
  notifier?: string;
  json?: boolean;
}

/**
 * `herald notify test`: a sample event through each notifier, now, outside the outbox (nothing is
 * stored or retried). Exit 0 when every notifier took it, 1 otherwise.
 */
export async function test(opts: NotifyTestOptions): Promise<number> {
  const logger = loggerFor(opts);
  const loaded = await loadFromOptions(opts);
  let configs = loaded.config.notifiers;
  if (opts.notifier !== undefined) {
    configs = configs.filter((n) => n.name === opts.notifier);
    if (configs.length === 0) {
      const names = loaded.config.notifiers.map((n) => n.name).join(', ') || 'none configured';
      throw new UsageError(`no notifier named "${opts.notifier}" in ${loaded.file} (have: ${names})`);
    }
  }
  if (configs.length === 0) throw new UsageError(`no notifiers configured in ${loaded.file}`);

  const results: Array<{ notifier: string; type: string; ok: boolean; error: string | null; permanent?: boolean; ms: number }> = [];
  for (const config of configs) {
    const notifier = createNotifier(config, { logger });
    const started = performance.now();
    try {
      await notifier.send({ deliveryId: `test-${newEventId()}`, events: [sampleEvent()] });
      results.push({ notifier: config.name, type: config.type, ok: true, error: null, ms: Math.round(performance.now() - started) });
    } catch (err) {
      results.push({
        notifier: config.name, type: config.type, ok: false, error: errorMessage(err),
        permanent: err instanceof NotifyError ? err.permanent : undefined, ms: Math.round(performance.now() - started),
      });
    } finally {
      await notifier.close();
    }
  }
  await closeHttpAgent();
  if (opts.json) printJson(results);
  else for (const r of results) print(`${r.notifier} (${r.type}): ${r.ok ? `delivered in ${r.ms} ms` : `failed: ${r.error}`}`);
  return results.every((r) => r.ok) ? 0 : 1;
}
