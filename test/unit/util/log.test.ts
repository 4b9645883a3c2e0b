/** The logger as a terminal shows it: one line per entry, secrets still hidden. */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { createLogger } from '../../../src/util/log.js';

function terminal(): { logger: ReturnType<typeof createLogger>; lines: () => Promise<string[]> } {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    logger: createLogger({ level: 'debug', pretty: true, destination }),
    lines: async () => {
      await tick();
      return text.split('\n').filter((l) => l !== '');
    },
  };
}

const ENTRY = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] (DEBUG|INFO|WARN|ERROR): /;

describe('pretty logs (stderr is a terminal)', () => {
  it('print each entry on one line: message, then the fields as one JSON object', async () => {
    const t = terminal();
    t.logger.info({ image: 'docker.io/library/nginx:1.27', nested: { a: [1, 2] } }, 'run finished: 1 image');
    t.logger.warn('a message\nwith a line break\r\n and \x1b[31mescapes');
    expect(await t.lines()).toEqual([
      expect.stringMatching(/INFO: run finished: 1 image \{"image":"docker\.io\/library\/nginx:1\.27","nested":\{"a":\[1,2\]\}\}$/),
      expect.stringMatching(/WARN: a message with a line break and \[31mescapes$/),
    ]);
    for (const line of await t.lines()) expect(line).toMatch(ENTRY);
  });

  it('print an error field as its type, message and first frame, not a stack over many lines', async () => {
    const t = terminal();
    const err = new TypeError('cannot read x\nof undefined');
    t.logger.error({ image: 'a', err }, 'check failed (bug): cannot read x');
    const lines = await t.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ERROR: check failed \(bug\): cannot read x \{"image":"a","err":"TypeError: cannot read x of undefined \(at .*log\.test\.ts:\d+:\d+\)"\}$/);
  });

  it('still redact secrets and mask credentials in URLs', async () => {
    const t = terminal();
    t.logger.info({ password: 'hunter2', url: 'https://bot:s3cret@registry.example.com/v2/' }, 'pull from https://bot:s3cret@registry.example.com');
    const [line] = await t.lines();
    expect(line).not.toMatch(/hunter2|s3cret/);
    expect(line).toContain('"password":"[redacted]"');
    expect(line).toContain('https://***@registry.example.com');
  });
});
