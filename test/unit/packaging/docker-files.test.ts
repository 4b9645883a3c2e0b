/**
 * The container files and the README's "Run with Docker" section say the same thing, and the configs
 * they ship load. (ci/image-check.sh builds and runs the image itself.)
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const readme = read('README.md');
const section = readme.slice(readme.indexOf('## Run with Docker'), readme.indexOf('\n## ', readme.indexOf('## Run with Docker') + 1));
const dockerfile = read('Dockerfile');
const compose = read('docker-compose.yml');

/** Dockerfile instructions with their continuation lines joined. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('README "Run with Docker"', () => {
  it('quotes docker-compose.yml verbatim', () => {
    const block = /<!-- docker-compose\.yml, verbatim[^>]*-->\n```yaml\n([\s\S]*?)\n```/.exec(section);
    expect(block, 'the verbatim compose block').not.toBeNull();
    expect(block![1]).toBe(compose.trimEnd());
  });

  it('states the Dockerfile as it is', () => {
    const lines = instructions(dockerfile);
    const runtime = lines.slice(lines.lastIndexOf(lines.filter((l) => l.startsWith('FROM ')).at(-1)!));
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual([expect.stringMatching(/^FROM node:\d+-bookworm-slim AS build$/), froms[0]!.replace(' AS build', '')]);
    const base = froms[1]!.slice('FROM '.length);
    expect(section).toContain(`\`${base}\``);
    expect(dockerfile).toContain(`org.opencontainers.image.base.name="docker.io/library/${base}"`);
    const healthcheck = runtime.find((l) => l.startsWith('HEALTHCHECK'))!;
    expect(section).toContain(`\`${healthcheck}\``);
    expect(runtime).toContain('USER node');
    expect(section).toContain('`node` (uid 1000, gid 1000)');
    for (const wanted of ['VOLUME /data', 'EXPOSE 8080', 'ENTRYPOINT ["node", "/app/bin/herald"]', 'CMD ["serve"]']) {
      expect(runtime, wanted).toContain(wanted);
      expect(section, wanted).toContain(`\`${wanted}\``);
    }
    const env = runtime.find((l) => l.startsWith('ENV '))!;
    expect(env).toContain('HERALD_CONFIG=/etc/herald/herald.yml');
    expect(env).toContain('HERALD_DB_PATH=/data/herald.db');
    expect(section).toContain('`/etc/herald/herald.yml` (`HERALD_CONFIG`)');
    expect(section).toContain('`/data/herald.db` (`HERALD_DB_PATH`');
    for (const label of ['title', 'description', 'version', 'licenses', 'base.name']) {
      expect(dockerfile).toContain(`org.opencontainers.image.${label}=`);
    }
    // The build stage compiles; the runtime stage has no toolchain and no dev dependencies.
    expect(runtime.join('\n')).not.toMatch(/apt-get|g\+\+|npm ci/);
    expect(lines.join('\n')).toMatch(/npm prune --omit=dev/);
    // Node 24, and nothing compiled in either stage: better-sqlite3 13 ships prebuilt Node-API binaries,
    // and 12 (for Node 20 only, where 13 does not run) is not shipped (src/store/driver.ts).
    expect(froms[1]).toBe('FROM node:24-bookworm-slim');
    expect(lines.join('\n')).not.toMatch(/apt-get|g\+\+|npm rebuild/);
    expect(lines.join('\n')).toMatch(/npm uninstall better-sqlite3 /);
  });

  it('matches docker-compose.yml: port on 127.0.0.1, the compose config, the volume, the grace period', () => {
    expect(compose).toContain("- '127.0.0.1:8080:8080'");
    expect(compose).toContain('- ./config/herald.compose.yml:/etc/herald/herald.yml:ro');
    expect(compose).toContain('- herald-data:/data');
    expect(compose).toContain('stop_grace_period: 15s');
    expect(section).toContain('`stop_grace_period: 15s`');
    expect(compose).not.toMatch(/HERALD_\w*(PASSWORD|TOKEN|SECRET|URL)\b/); // secrets are files, not env strings
  });

  it('lists in .dockerignore every path the Dockerfile copies from the context', () => {
    const ignore = read('.dockerignore');
    const copied = instructions(dockerfile)
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const path of copied) expect(ignore, path).toContain(`!${path.replace(/^\.\//, '')}`);
  });
});

describe('configs shipped for containers', () => {
  it('the image default config loads and serves on 0.0.0.0:8080', async () => {
    const loaded = await loadConfig(join(ROOT, 'config/herald.container.yml'), {});
    expect(loaded.config.server.listen).toBe('0.0.0.0:8080');
    expect(loaded.config.watch.schedule).toBeDefined();
  });

  it('the compose config loads, with every commented example uncommented, secrets from files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-compose-'));
    try {
      const secrets = ['herald_api_token', 'corp_registry_password', 'smtp_password', 'webhook_hmac_secret'];
      for (const s of secrets) writeFileSync(join(dir, s), `value-of-${s}\n`);
      writeFileSync(join(dir, 'webhook_url'), 'https://hooks.example.com/herald\n');
      writeFileSync(join(dir, 'slack_webhook_url'), 'https://hooks.slack.com/services/T0/B0/x\n');
      const text = read('config/herald.compose.yml');
      const lines = text.split('\n');
      // Uncomment the registries and notifiers examples, as a user would.
      let inExample = false;
      const uncommented = lines.map((line) => {
        if (line === '# registries:' || line === 'notifiers:') inExample = true;
        else if (!line.startsWith('#')) inExample = false;
        if (!inExample || !line.startsWith('#')) return line;
        return line === '#' ? '' : line.slice(2);
      });
      const file = join(dir, 'herald.yml');
      writeFileSync(file, uncommented.join('\n').replaceAll('/run/secrets/', `${dir}/`));
      const loaded = await loadConfig(file, {});
      expect(loaded.config.notifiers.map((n) => n.type)).toEqual(['mail', 'webhook', 'slack']);
      expect(loaded.config.registries.map((r) => r.password)).toEqual(['value-of-corp_registry_password']);
      expect(loaded.config.server).toMatchObject({ listen: '0.0.0.0:8080', token: 'value-of-herald_api_token' });
      expect(loaded.config.db.path).toBe('/data/herald.db');
      // Each secret the config reads is one compose mounts (commented in docker-compose.yml with it).
      for (const name of [...text.matchAll(/\/run\/secrets\/(\w+)/g)].map((m) => m[1]!)) {
        expect(compose, name).toMatch(new RegExp(`^ {2}#? ?${name}:\\n {2}#? ? {2}file: \\./secrets/${name}$`, 'm'));
        expect(compose, name).toMatch(new RegExp(`^ {6}(# )?- ${name}$`, 'm'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
