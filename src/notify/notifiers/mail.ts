/**
 * Mail over SMTP with nodemailer: subject from templateTitle, plain text from templateBody, and an
 * HTML part made from that text (escaped, links made clickable) so both parts always say the same.
 * nodemailer is imported on the first send: commands that never mail do not load it.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import type { Transporter } from 'nodemailer';
import { z } from 'zod';
import { duration } from '../../util/schema.js';
import { NotifyError, defineNotifier, notifierCommon, safeMessage, type ConfigProblem, type Notifier } from '../notifier.js';
import { DEFAULT_BODY, DEFAULT_MAIL_TITLE, compileTemplate, renderTemplate, templateProblems } from '../template.js';

export const mailSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('mail'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(587),
    secure: z.boolean().default(false),
    username: z.string().optional(),
    usernameFile: z.string().optional(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
    tls: z.object({ rejectUnauthorized: z.boolean().default(true), caFile: z.string().optional() }).strict().optional(),
    timeout: duration.prefault('10s'),
  })
  .strict();

export const mailModule = defineNotifier({
  schema: mailSchema,
  secretKeys: ['password'],
  // A username may come from a usernameFile like the password, but it is no secret to hide in logs.
  fileTwinKeys: ['username'],
  pathKeys: ['tls.caFile'],

  validate(config): ConfigProblem[] {
    const problems = templateProblems([
      ['templateTitle', config.templateTitle, 'text'],
      ['templateBody', config.templateBody, 'text'],
    ]);
    const caFile = config.tls?.caFile;
    if (caFile !== undefined) {
      try {
        accessSync(caFile, constants.R_OK);
      } catch {
        problems.push({ key: 'tls.caFile', message: `cannot read ${caFile}` });
      }
    }
    return problems;
  },

  create(config, ctx): Notifier {
    const label = `mail ${config.name}`;
    const title = compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_MAIL_TITLE);
    const body = compileTemplate('templateBody', config.templateBody ?? DEFAULT_BODY);
    const secrets = [config.password];
    let transport: Promise<Transporter> | undefined;

    async function buildTransport(): Promise<Transporter> {
      let ca: Buffer | undefined;
      try {
        if (config.tls?.caFile !== undefined) ca = readFileSync(config.tls.caFile);
      } catch {
        throw new NotifyError(`${label}: cannot read tls.caFile ${config.tls?.caFile}`, { permanent: true });
      }
      const nodemailer = await import('nodemailer');
      return nodemailer.createTransport({
        host: config.host,
        port: config.port,
        secure: config.secure,
        ...(config.username !== undefined ? { auth: { user: config.username, pass: config.password ?? '' } } : {}),
        tls: { rejectUnauthorized: config.tls?.rejectUnauthorized ?? true, ...(ca !== undefined ? { ca } : {}) },
        connectionTimeout: config.timeout,
        greetingTimeout: config.timeout,
        socketTimeout: config.timeout,
        dnsTimeout: config.timeout,
      });
    }

    return {
      name: config.name,
      type: 'mail',
      async send(msg) {
        const subject = renderTemplate(title, msg.events).replace(/\s+/g, ' ').trim();
        const text = renderTemplate(body, msg.events);
        transport ??= buildTransport();
        let transporter: Transporter;
        try {
          transporter = await transport;
        } catch (err) {
          transport = undefined;
          throw err;
        }
        try {
          const info = await transporter.sendMail({
            from: config.from,
            to: config.to,
            subject,
            text,
            html: htmlFromText(text),
            messageId: `<${msg.deliveryId}@herald>`,
            headers: { 'X-Herald-Delivery': msg.deliveryId },
          });
          // Some recipients took it: a retry would mail them again, so the rest is only logged.
          const rejected: unknown[] = info.rejected ?? [];
          if (rejected.length > 0) ctx.logger.warn({ notifier: config.name, rejected: rejected.map((r) => (typeof r === 'string' ? r : String((r as { address?: unknown }).address))) }, 'some mail recipients were rejected');
        } catch (err) {
          throw mailError(label, err, secrets);
        }
      },
      async close() {
        const current = transport;
        transport = undefined;
        if (current !== undefined) (await current.catch(() => undefined))?.close();
      },
    };
  },
});

/** SMTP 5xx and refused authentication are permanent; 4xx, network errors and timeouts are not. */
function mailError(label: string, err: unknown, secrets: Array<string | undefined>): NotifyError {
  const { code, responseCode } = err as { code?: unknown; responseCode?: unknown };
  const text = err instanceof Error ? err.message : String(err);
  const permanent =
    typeof responseCode === 'number' ? responseCode >= 500 : code === 'EAUTH' || code === 'EENVELOPE' || code === 'EMESSAGE';
  const base64 = secrets.flatMap((s) => (s === undefined ? [] : [Buffer.from(s).toString('base64')]));
  return new NotifyError(safeMessage(`${label}: ${text}`, [...secrets, ...base64]), { permanent });
}

export function htmlFromText(text: string): string {
  const escaped = text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const linked = escaped.replace(/https?:\/\/[^\s<>]+?(?=[.,;:!?)]*(?:\s|$))/g, (url) => `<a href="${url}">${url}</a>`);
  return `<!doctype html><html><head><meta charset="utf-8"></head><body><pre style="font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap">${linked}</pre></body></html>`;
}
