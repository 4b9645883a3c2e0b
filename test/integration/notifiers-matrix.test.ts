// matrix against a homeserver stand-in that validates as the client-server API documents
// (test/fixtures/matrix-sink.ts): the message, the txnId as delivery id (a retry posts once), a
// batch split under the event size limit, M_LIMIT_EXCEEDED waited out within a check drain, and
// M_UNKNOWN_TOKEN / M_FORBIDDEN as permanent one-line errors without the token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeHttpAgent } from '../../src/notify/http.js';
import { MATRIX_CONTENT_MAX } from '../../src/notify/notifiers/matrix.js';
import { startMatrixSink, type MatrixSink } from '../fixtures/matrix-sink.js';
import { batch, drainOnce, failure, makeNotifier, message, updateWithContainers } from './push-helpers.js';
import { sampleEvent } from '../../src/notify/sample.js';

const TOKEN = 'syt_aGVyYWxk_S3cr3tT0kenValue_1a2b3c';
const ROOM = '!ops:example.org';
let sink: MatrixSink;
beforeAll(async () => {
  sink = await startMatrixSink({ [TOKEN]: [ROOM], syt_other_user_token: ['!elsewhere:example.org'] });
});
afterAll(async () => {
  await sink.close();
  await closeHttpAgent();
});

const matrix = (extra: Record<string, unknown> = {}) =>
  makeNotifier({ name: 'room', type: 'matrix', homeserverUrl: sink.url, accessToken: TOKEN, roomId: ROOM, timeout: '2s', ...extra });

describe('matrix', () => {
  it('puts a valid m.text message for the sample, with the delivery id as txnId', async () => {
    const msg = message();
    await matrix().send(msg);
    const req = sink.requests.at(-1)!;
    expect(req.method).toBe('PUT');
    expect(req.path).toBe(`/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/send/m.room.message/${msg.deliveryId}`);
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sink.verdicts.at(-1)).toEqual([]);
    expect(sink.htmlProblems.at(-1)).toEqual([]);
    const { content, txnId } = sink.events.at(-1)!;
    expect(txnId).toBe(msg.deliveryId);
    expect(content).toMatchObject({ msgtype: 'm.text', format: 'org.matrix.custom.html' });
    expect(content.body).toMatch(/^update: docker\.io\/library\/nginx:1\.27\n\nupdate: docker\.io\/library\/nginx:1\.27\ntag:      1\.27\n/);
    expect(content.formatted_body).toContain('<a href="https://hub.docker.com/_/nginx">docker.io/library/nginx:1.27</a></b> — update');
    expect(content.formatted_body).toContain('digest: <code>0a399eb16751</code> → <code>5f0574409b3a</code>');
  });

  it('names the containers of a real update; escapes values in the HTML; templateBody overrides', async () => {
    await matrix().send(message([{ ...updateWithContainers(), tag: '2.4<script>&' }]));
    const { content } = sink.events.at(-1)!;
    expect(content.body).toContain('containers: shop-api-1 (outdated), shop-api-2');
    expect(content.formatted_body).toContain('containers: shop-api-1 <b>(outdated)</b>, shop-api-2');
    expect(content.formatted_body).toContain('tag: <code>2.4&lt;script&gt;&amp;</code>');
    expect(sink.htmlProblems.at(-1)).toEqual([]);
    await matrix({ templateTitle: 'herald', templateBody: '{{ image }}\n{{ tag }} & more' }).send(message([{ ...updateWithContainers(), tag: '<b>' }]));
    expect(sink.events.at(-1)!.content).toMatchObject({
      body: 'herald\n\nghcr.io/acme/shop-api:2.4\n<b> & more',
      formatted_body: '<b>herald</b><br>ghcr.io/acme/shop-api:2.4<br>&lt;b&gt; & more',
    });
  });

  it('a retry of the same delivery posts nothing twice', async () => {
    const before = sink.events.length;
    const msg = message([updateWithContainers()]);
    await matrix().send(msg);
    await matrix().send(msg);
    expect(sink.events.length - before).toBe(1);
    expect(sink.requests.slice(-2).map((r) => r.path.split('/').at(-1))).toEqual([msg.deliveryId, msg.deliveryId]);
  });

  it('splits a batch over the event size limit into valid parts with their own txnIds; a retry after a failure mid-way posts each part once', async () => {
    const events = batch(400);
    const msg = message(events);
    const before = sink.events.length;
    // The third part fails with a 502: the delivery fails, and its retry sends all parts again.
    let seen = 0;
    const requestsBefore = sink.requests.length;
    // A generous timeout: on a loaded 2-core machine a 2 s one can expire and its retry shift which request gets the 502.
    const failing = matrix({ name: 'batch', batch: true, timeout: '10s' });
    const original = sink.requests.push.bind(sink.requests);
    sink.requests.push = (...items) => {
      seen += items.length;
      // Recorded before its reply is chosen: queued on the third request, the 502 is its answer.
      if (seen === 3) sink.enqueue({ status: 502, body: 'bad gateway' });
      return original(...items);
    };
    await failure(failing.send(msg), [TOKEN]);
    sink.requests.push = original;
    const firstTry = sink.events.slice(before);
    expect(firstTry).toHaveLength(2);
    await failing.send(msg);
    const parts = sink.events.slice(before);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.map((p) => p.txnId)).toEqual(parts.map((_, i) => (i === 0 ? msg.deliveryId : `${msg.deliveryId}-${i}`)));
    expect(sink.requests.length - requestsBefore).toBe(parts.length + 3);
    for (const p of parts) expect(Buffer.byteLength(JSON.stringify(p.content))).toBeLessThanOrEqual(MATRIX_CONTENT_MAX);
    expect(sink.verdicts.slice(-parts.length).every((v) => v.length === 0)).toBe(true);
    expect(sink.htmlProblems.slice(-parts.length).every((v) => v.length === 0)).toBe(true);
    const images = parts.flatMap((p) => [...String(p.content.body).matchAll(/^update: (\S+)$/gm)].map((m) => m[1]));
    expect(images).toEqual(events.map((e) => e.image));
    expect(String(parts[0]!.content.body).split('\n', 1)[0]).toMatch(new RegExp(`^\\d+ image changes \\(1/${parts.length}\\)$`));
  });

  it('cuts one event too large for an event on its own, keeping the HTML valid', async () => {
    const huge = { ...sampleEvent(), status: 'error' as const, error: '<&>'.repeat(40_000) };
    await matrix().send(message([huge]));
    expect(sink.verdicts.at(-1)).toEqual([]);
    expect(sink.htmlProblems.at(-1)).toEqual([]);
    expect(Buffer.byteLength(JSON.stringify(sink.events.at(-1)!.content))).toBeLessThanOrEqual(MATRIX_CONTENT_MAX);
  });

  it('honours M_LIMIT_EXCEEDED with retry_after_ms within the drain and posts once', async () => {
    const before = sink.events.length;
    sink.rateLimitOnce(1_200);
    const { result, delivery, ms } = await drainOnce(matrix({ name: 'drained' }), [updateWithContainers()]);
    expect(result).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(delivery).toMatchObject({ status: 'sent', attempts: 2 });
    expect(ms).toBeGreaterThanOrEqual(1_100);
    expect(sink.events.length - before).toBe(1);
    expect(sink.events.at(-1)!.txnId).toBe(delivery.id);
  });

  it('maps M_UNKNOWN_TOKEN and M_FORBIDDEN to permanent one-line errors with the server\'s reason and no token', async () => {
    const unknown = await failure(matrix({ accessToken: 'syt_revoked_token_0000' }).send(message()), [TOKEN, 'syt_revoked_token_0000']);
    expect(unknown).toMatchObject({ permanent: true, message: `matrix room: PUT ${sink.url}/… answered 401: M_UNKNOWN_TOKEN Invalid access token passed.` });
    const forbidden = await failure(matrix({ accessToken: 'syt_other_user_token' }).send(message()), [TOKEN, 'syt_other_user_token']);
    expect(forbidden).toMatchObject({ permanent: true });
    expect(forbidden.message).toMatch(/answered 403: M_FORBIDDEN User @herald:hs not in room !ops:example.org$/);
    sink.enqueue({ status: 429, headers: { 'content-type': 'application/json', 'retry-after': '4' }, body: '{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests"}' });
    expect(await failure(matrix().send(message()), [TOKEN])).toMatchObject({ permanent: false, retryAfterMs: 4_000 });
  });

  it('refuses a room alias in the config', () => {
    expect(() => matrix({ roomId: '#ops:example.org' })).toThrow(/room id/);
  });
});
