import { describe, expect, it } from 'vitest';
import { maskUrl } from '../../../src/notify/http.js';
import { htmlFromText } from '../../../src/notify/notifiers/mail.js';
import { notifierCatalog, type NotifierConfig } from '../../../src/notify/notifiers/index.js';
import { sampleEvent } from '../../../src/notify/sample.js';
import { slackPayload, truncateMrkdwn } from '../../../src/notify/notifiers/slack.js';
import {
  DEFAULT_BODY, DEFAULT_MAIL_TITLE, DEFAULT_TITLE, compileTemplate, eventLink, renderTemplate, templateContext,
} from '../../../src/notify/template.js';
import { shortDigest } from '../../../src/model/digest.js';
import type { HeraldEvent } from '../../../src/model/event.js';
import { validateSlackPayload } from '../../fixtures/slack-sink.js';

const D1 = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';
const D2 = 'sha256:abcdefabcdef2222222222222222222222222222222222222222222222222222';

function event(extra: Partial<HeraldEvent> = {}): HeraldEvent {
  return { ...sampleEvent(), digest: D2, previousDigest: D1, ...extra };
}

const variants: Record<string, HeraldEvent[]> = {
  full: [event()],
  newImage: [event({ status: 'new', previousDigest: null, previousPlatformDigest: null })],
  bare: [event({ created: null, labels: {}, hubLink: null, metadata: {}, mediaType: null })],
  noTag: [event({ tag: null, image: 'docker.io/library/nginx@' + D2 })],
  error: [
    event({
      status: 'error', digest: null, previousDigest: null, platformDigest: null, previousPlatformDigest: null,
      created: null, labels: {}, hubLink: null, error: 'manifest unknown: 404 from registry',
    }),
  ],
  batch: [
    event(),
    event({ image: 'ghcr.io/acme/api:1.4.2', registry: 'ghcr.io', repository: 'acme/api', tag: '1.4.2', status: 'new', previousDigest: null, hubLink: null, labels: {}, created: null }),
    event({ image: 'quay.io/x/y:2', tag: '2', status: 'error', digest: null, previousDigest: null, hubLink: null, labels: {}, created: null, error: 'timeout' }),
  ],
};

const emptyLine = /^(tag|digest|platform|created|link|error):\s*$/m;

describe('default templates', () => {
  const mailTitle = compileTemplate('templateTitle', DEFAULT_MAIL_TITLE);
  const title = compileTemplate('templateTitle', DEFAULT_TITLE);
  const body = compileTemplate('templateBody', DEFAULT_BODY);

  for (const [name, events] of Object.entries(variants)) {
    it(`render cleanly for ${name}`, () => {
      const outputs = [renderTemplate(mailTitle, events), renderTemplate(title, events), renderTemplate(body, events)];
      const text = outputs[2]!;
      outputs.push(htmlFromText(text));
      const slack = slackPayload(events, { title });
      outputs.push(JSON.stringify(slack));
      for (const out of outputs) {
        expect(out).not.toMatch(/undefined|null|\[object Object\]/);
        expect(out).not.toMatch(emptyLine);
        expect(out).not.toMatch(/<\|/); // a slack link without a URL
      }
      expect(validateSlackPayload(slack)).toEqual([]);
      expect(slack.text.length).toBeGreaterThan(0);
      for (const e of events) {
        expect(text).toContain(e.image);
        expect(text).toContain(`platform: ${e.platform}`);
        if (e.error !== null) expect(text).toContain(`error:    ${e.error}`);
      }
    });
  }

  it('name image, tag, status, old → new digest, platform, created and link', () => {
    const events = variants.full!;
    expect(renderTemplate(mailTitle, events)).toBe('[herald] update: docker.io/library/nginx:1.27');
    expect(renderTemplate(body, events)).toBe(
      [
        'update: docker.io/library/nginx:1.27',
        'tag:      1.27',
        'digest:   111111111111 → abcdefabcdef',
        'platform: linux/amd64',
        'created:  2026-11-20T10:00:00Z',
        'link:     https://hub.docker.com/_/nginx',
        '',
      ].join('\n'),
    );
  });

  it('summarize a batch in the title and separate events in the body', () => {
    const events = variants.batch!;
    expect(renderTemplate(mailTitle, events)).toBe('[herald] 3 image changes');
    const text = renderTemplate(body, events);
    expect(text.split('\n\n')).toHaveLength(3);
    expect(text).toContain('new: ghcr.io/acme/api:1.4.2\ntag:      1.4.2\ndigest:   abcdefabcdef\nplatform: linux/amd64\n');
    expect(text).toContain('error: quay.io/x/y:2\n');
    expect(text).toContain('error:    timeout\n');
  });
});

describe('template context and helpers', () => {
  it('exposes the single event at the top level, and events/count always', () => {
    const one = templateContext(variants.full!);
    expect(one).toMatchObject({ count: 1, image: 'docker.io/library/nginx:1.27', link: 'https://hub.docker.com/_/nginx' });
    const three = templateContext(variants.batch!);
    expect(three.count).toBe(3);
    expect(three.image).toBeUndefined();
    const tpl = compileTemplate('templateBody', '{{ count }}:{% for e in events %} {{ e.tag }}@{{ e.digest | short }}{% endfor %}');
    expect(renderTemplate(tpl, variants.batch!)).toBe('3: 1.27@abcdefabcdef 1.4.2@abcdefabcdef 2@');
  });

  it('short cuts a digest to 12 hex characters', () => {
    expect(shortDigest(D2)).toBe('abcdefabcdef');
    const tpl = compileTemplate('templateTitle', '{{ digest | short }}|{{ previousDigest | short }}|{{ nothing | short }}');
    expect(renderTemplate(tpl, [event({ previousDigest: null })])).toBe('abcdefabcdef||');
  });

  it('formats dates with the date filter, in UTC, and tolerates a missing one', () => {
    const tpl = compileTemplate('templateBody', '[{{ created | date: "%Y-%m-%d %H:%M" }}]');
    expect(renderTemplate(tpl, variants.full!)).toBe('[2026-11-20 10:00]');
    expect(renderTemplate(tpl, variants.bare!)).toBe('[]');
  });

  it('picks hubLink, else the source label, else the url label, only web links', () => {
    const labels = { 'org.opencontainers.image.source': 'git@github.com:a/b.git', 'org.opencontainers.image.url': 'https://example.com/b' };
    expect(eventLink(event())).toBe('https://hub.docker.com/_/nginx');
    expect(eventLink(event({ hubLink: null }))).toBe('https://github.com/nginx/docker-nginx');
    expect(eventLink(event({ hubLink: null, labels }))).toBe('https://example.com/b');
    expect(eventLink(event({ hubLink: null, labels: { 'org.opencontainers.image.source': 'javascript:alert(1)' } }))).toBeNull();
  });
});

describe('template checks at config load', () => {
  const mail = (extra: Record<string, unknown>): NotifierConfig =>
    ({ name: 'm', type: 'mail', batch: false, host: 'h', port: 25, secure: false, from: 'a@b.c', to: ['d@e.f'], timeout: 1000, ...extra }) as NotifierConfig;

  it('reports unknown filters, file tags and syntax errors with their key', () => {
    expect(notifierCatalog.validate(mail({ templateTitle: '{{ image | shout }}' }))).toEqual([
      { key: 'templateTitle', message: expect.stringMatching(/undefined filter: shout/) as unknown as string },
    ]);
    expect(notifierCatalog.validate(mail({ templateBody: "{% include 'herald.yml' %}" }))[0]?.key).toBe('templateBody');
    expect(notifierCatalog.validate(mail({ templateBody: '{% render "x" %}' }))).toHaveLength(1);
    expect(notifierCatalog.validate(mail({ templateBody: '{% if status %}open' }))[0]?.message).toMatch(/^invalid template: .*line:1/);
    expect(notifierCatalog.validate(mail({ templateTitle: '{{ image | upcase }}', templateBody: '{{ created | date: "%Y" }}' }))).toEqual([]);
    expect(notifierCatalog.validate(mail({ tls: { rejectUnauthorized: true, caFile: '/nonexistent/ca.pem' } }))).toEqual([
      { key: 'tls.caFile', message: 'cannot read /nonexistent/ca.pem' },
    ]);
  });

  it('checks slack templates and refuses templates on webhooks', () => {
    const slack = { name: 's', type: 'slack', batch: false, timeout: 1000, webhookUrl: 'https://hooks.slack.com/services/T/B/x' } as NotifierConfig;
    expect(notifierCatalog.validate({ ...slack, templateBody: '{{ image | nope }}' } as NotifierConfig)[0]?.key).toBe('templateBody');
    expect(notifierCatalog.validate({ ...slack, templateBody: '*{{ image }}*' } as NotifierConfig)).toEqual([]);
    const hook = { name: 'w', type: 'webhook', batch: false, method: 'POST', headers: {}, timeout: 1000, url: 'http://x/', templateBody: 'x' } as NotifierConfig;
    expect(notifierCatalog.validate(hook).map((p) => p.key)).toEqual(['templateBody']);
  });

  it('runs no code and sees only own properties', () => {
    const tpl = compileTemplate('templateBody', '[{{ image.constructor }}{{ labels.__proto__ }}{{ events.constructor.name }}]');
    expect(renderTemplate(tpl, [event()])).toBe('[]');
  });
});

describe('slack formatting', () => {
  const title = compileTemplate('templateTitle', DEFAULT_TITLE);

  it('escapes mrkdwn in values, also inside a custom templateBody', () => {
    const evil = event({ image: 'r.io/a<b>&c:1', error: '<!channel> & friends' });
    const body = compileTemplate('templateBody', '*{{ image }}* {{ error }} {{ image | raw }}', 'mrkdwn');
    const payload = slackPayload([evil], { title, body });
    expect(payload.blocks[1]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*r.io/a&lt;b&gt;&amp;c:1* &lt;!channel&gt; &amp; friends r.io/a<b>&c:1' } });
    expect(payload.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'update: r.io/a<b>&c:1' } });
    expect(payload.text).toBe('update: r.io/a&lt;b&gt;&amp;c:1');
  });

  it('truncates without cutting a link or an entity', () => {
    const link = '<https://example.com/x|label>';
    const cut = truncateMrkdwn(`${'a'.repeat(20)}${link}tail`, 30);
    expect(cut).toBe(`${'a'.repeat(20)}…`);
    expect(truncateMrkdwn('abc &amp; def', 7)).toBe('abc …');
    expect(truncateMrkdwn('abc &amp; def', 11)).toBe('abc &amp; …');
    expect(truncateMrkdwn('short', 10)).toBe('short');
    for (let max = 5; max < 60; max++) {
      const out = truncateMrkdwn(`x &lt;y&gt; ${link} &amp; ${link}`, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).not.toMatch(/&[a-z]*…|<[^>]*…/);
    }
  });

  it('keeps a batch of 100 within 50 blocks and says how many are left out', () => {
    const events = Array.from({ length: 100 }, (_, i) => event({ image: `docker.io/library/app${i}:1` }));
    const payload = slackPayload(events, { title });
    expect(payload.blocks.length).toBeLessThanOrEqual(50);
    expect(validateSlackPayload(payload)).toEqual([]);
    const last = payload.blocks.at(-1);
    expect(last?.type === 'section' && last.text.text).toMatch(/^…and 76 more: docker\.io\/library\/app24:1 \(update\)/);
  });
});

describe('HTTP and HTML helpers', () => {
  it('masks URLs to their origin', () => {
    expect(maskUrl(new URL('https://hooks.slack.com/services/T0/B0/secret'))).toBe('https://hooks.slack.com/…');
    expect(maskUrl(new URL('https://user:pw@example.com/'))).toBe('https://example.com');
  });

  it('escapes HTML and links URLs', () => {
    const html = htmlFromText('error: <script>alert("x")</script> & more\nlink: https://example.com/a?b=1&c=2.\n');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; more');
    expect(html).toContain('<a href="https://example.com/a?b=1&#38;c=2">https://example.com/a?b=1&#38;c=2</a>.');
  });
});
