/**
 * Matrix (https://spec.matrix.org/latest/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid):
 * `PUT {homeserverUrl}/_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}` with
 * `Authorization: Bearer <accessToken>` and an `m.text` message: plain `body` and HTML
 * `formatted_body` (`format: org.matrix.custom.html`).
 *
 * The txnId is the delivery id (a split batch's later parts: `<delivery id>-<part>`). A homeserver
 * treats a repeated txnId from the same device as the same event, so a retry after a lost answer,
 * or of a batch that failed mid-way, never posts a part twice.
 *
 * An event must stay under 65,536 bytes including the server's envelope: herald keeps a
 * message's content to 60,000 bytes of JSON and splits a larger batch.
 * Answers: `M_LIMIT_EXCEEDED` (429) waits `retry_after_ms` (or Retry-After); 401/403
 * (`M_UNKNOWN_TOKEN`, `M_FORBIDDEN`: not in the room) and other 4xx are permanent; 5xx retried.
 */
import { z } from 'zod';
import { oneLine } from '../../util/text.js';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { httpSend, statusError } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, type Notifier } from '../notifier.js';
import { DEFAULT_TITLE, compileTemplate, renderTemplate, type CompiledTemplate } from '../template.js';
import { DEFAULT_PUSH_BODY, textTemplateProblems } from '../facts.js';
import { joinUrl, jsonBody, numberField, packRendered, partSuffix, stringField, truncate, utf8Bytes } from '../limits.js';

export const matrixSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('matrix'),
    homeserverUrl: httpUrl,
    accessToken: z.string().min(1).optional(),
    accessTokenFile: z.string().optional(),
    // A room id (!opaque:server, or !opaque in room version 12), not an alias (#room:server).
    roomId: z.string().regex(/^![^\s/]+$/, 'must be a room id such as !abcdef:example.org (not an #alias)'),
    timeout: duration.prefault('10s'),
  })
  .strict();

/** The content's JSON in bytes; the homeserver's limit for the whole event is 65,536. */
export const MATRIX_CONTENT_MAX = 60_000;

export interface MatrixContent {
  msgtype: 'm.text';
  body: string;
  format: 'org.matrix.custom.html';
  formatted_body: string;
}

/**
 * The default HTML: the title in bold, then per event the image (linked), its status and the same
 * lines as the text body. Every {{ value }} is escaped (the 'mrkdwn' engine escapes & < >).
 */
const DEFAULT_HTML = [
  '{% for e in events %}<p><b>{% if e.link %}<a href="{{ e.link }}">{{ e.image }}</a>{% else %}{{ e.image }}{% endif %}</b> — {{ e.status }}<br>',
  '{% if e.tag %}tag: <code>{{ e.tag }}</code><br>{% endif %}',
  '{% if e.previousDigest and e.digest %}digest: <code>{{ e.previousDigest | short }}</code> → <code>{{ e.digest | short }}</code><br>',
  '{% elsif e.digest %}digest: <code>{{ e.digest | short }}</code><br>{% endif %}',
  'platform: {{ e.platform }}',
  '{% if e.containers.size > 0 %}<br>containers: {% for c in e.containers %}{{ c.name }}{% if c.outdated %} <b>(outdated)</b>{% endif %}',
  '{% unless forloop.last %}, {% endunless %}{% endfor %}{% endif %}',
  '{% if e.error %}<br>error: {{ e.error }}{% endif %}</p>{% endfor %}',
].join('');

export interface MatrixTemplates {
  title: CompiledTemplate;
  text: CompiledTemplate;
  html: CompiledTemplate;
}

export const matrixModule = defineNotifier({
  schema: matrixSchema,
  secretKeys: ['accessToken'],

  entryProblems: (config) => (config.accessToken === undefined && config.accessTokenFile === undefined ? ['a matrix notifier needs accessToken or accessTokenFile'] : []),

  validate: textTemplateProblems,

  create(config): Notifier {
    const label = `matrix ${config.name}`;
    const templates = matrixTemplates(config.templateTitle, config.templateBody);
    return {
      name: config.name,
      type: 'matrix',
      async send(msg) {
        if (config.accessToken === undefined) throw new NotifyError(`${label}: no accessToken configured`, { permanent: true });
        const parts = matrixContents(msg.events, templates);
        for (const [i, content] of parts.entries()) {
          const txnId = i === 0 ? msg.deliveryId : `${msg.deliveryId}-${i}`;
          const path = `_matrix/client/v3/rooms/${encodeURIComponent(config.roomId)}/send/m.room.message/${encodeURIComponent(txnId)}`;
          const req = {
            label, url: joinUrl(config.homeserverUrl, path), method: 'PUT' as const, timeoutMs: config.timeout, secrets: [config.accessToken],
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${config.accessToken}` },
            body: JSON.stringify(content),
          };
          const answer = await httpSend(req);
          const json = jsonBody(answer.body);
          const errcode = stringField(json, 'errcode');
          const reason = [errcode, stringField(json, 'error')].filter((s) => s !== undefined).join(' ') || answer.body.slice(0, 100);
          // M_LIMIT_EXCEEDED is retryable whatever the status; its retry_after_ms wins over Retry-After.
          const verdict = errcode === 'M_LIMIT_EXCEEDED' ? { retryable: true, ...optionalWait(numberField(json, 'retry_after_ms')) } : {};
          const error = statusError(req, answer, oneLine(reason, 200), verdict);
          if (error !== undefined) throw error;
        }
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});

function optionalWait(ms: number | undefined): { retryAfterMs?: number } {
  return ms === undefined ? {} : { retryAfterMs: Math.ceil(ms) };
}

/** templateBody, when given, is rendered twice: as is for `body`, escaped with line breaks for `formatted_body`. */
export function matrixTemplates(title: string | undefined, body: string | undefined): MatrixTemplates {
  return {
    title: compileTemplate('templateTitle', title ?? DEFAULT_TITLE),
    text: compileTemplate('templateBody', body ?? DEFAULT_PUSH_BODY),
    html: compileTemplate('templateBody', body ?? DEFAULT_HTML, 'mrkdwn'),
  };
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const contentBytes = (c: MatrixContent): number => utf8Bytes(JSON.stringify(c));

/** The messages for a delivery: one, or several when the batch's content exceeds MATRIX_CONTENT_MAX. */
export function matrixContents(events: readonly HeraldEvent[], templates: MatrixTemplates): MatrixContent[] {
  const render = (group: readonly HeraldEvent[]) => {
    const title = oneLine(renderTemplate(templates.title, group)) || `${group.length} image changes`;
    const text = renderTemplate(templates.text, group).trim();
    let html = renderTemplate(templates.html, group).trim();
    // A custom template is text: its line breaks become <br>.
    if (!html.startsWith('<p>')) html = html.replace(/\n/g, '<br>');
    return { title, text, html };
  };
  const toContent = (p: { title: string; text: string; html: string }, suffix = ''): MatrixContent => ({
    msgtype: 'm.text',
    body: `${p.title}${suffix}\n\n${p.text}`,
    format: 'org.matrix.custom.html',
    formatted_body: `<b>${escapeHtml(p.title)}${suffix}</b>${p.html.startsWith('<p>') ? '' : '<br>'}${p.html}`,
  });
  const parts = packRendered(events, render, (p) => contentBytes(toContent(p, ' (999/999)')) <= MATRIX_CONTENT_MAX);
  return parts.map((part, i) => {
    const content = toContent(part, partSuffix(i, parts.length));
    if (contentBytes(content) <= MATRIX_CONTENT_MAX) return content;
    // One event too large alone (a huge error text): plain text only, cut to fit. Both fields get
    // half the budget in escaped JSON bytes; the HTML is the escaped text, so it stays valid.
    const half = Math.floor(MATRIX_CONTENT_MAX / 2) - 200;
    const jsonBytes = (s: string) => utf8Bytes(JSON.stringify(s));
    const body = truncate(content.body, half, jsonBytes);
    const asHtml = (s: string) => escapeHtml(s).replace(/\n/g, '<br>');
    const text = truncate(content.body, half, (s) => jsonBytes(asHtml(s)));
    return { ...content, body, formatted_body: asHtml(text) };
  });
}
