/** What the Kubernetes source's tests share: making sources, writing kubeconfigs, catching the one-line error. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { createKubernetesSource, kubernetesSchema } from '../../src/sources/kubernetes.js';
import type { KubernetesEnvironment } from '../../src/sources/kubernetes-access.js';
import { SourceError, type ImageSource, type ListContext } from '../../src/sources/source.js';
import { silentLogger } from '../../src/util/log.js';

export const LIST: ListContext = { defaults: { platform: 'linux/amd64' }, notifierNames: ['ops'] };

/**
 * Sources named `prod` whose config file is in `dir`. The environment is empty unless a test gives
 * one: no KUBERNETES_SERVICE_HOST, no $KUBECONFIG, a home and a service account folder that do not
 * exist, so nothing of the machine running the tests leaks in.
 */
export function sourceFactory(dir: string): { source: (entry: Record<string, unknown>, environment?: Partial<KubernetesEnvironment>) => ImageSource; closeAll: () => Promise<void> } {
  const made: ImageSource[] = [];
  return {
    source(entry, environment = {}) {
      const config = kubernetesSchema.parse({ name: 'prod', type: 'kubernetes', ...entry });
      const source = createKubernetesSource(config, { logger: silentLogger, dir }, { env: {}, serviceAccountDir: join(dir, 'no-service-account'), homeDir: join(dir, 'no-home'), ...environment });
      made.push(source);
      return source;
    },
    async closeAll() {
      await Promise.all(made.splice(0).map((s) => s.close()));
    },
  };
}

export interface KubeconfigSpec {
  server: string;
  /** certificate-authority or certificate-authority-data (or nothing). */
  ca: Record<string, unknown>;
  /** The user of the current context, `main`. */
  user: Record<string, unknown>;
  /** A second context and user on the same cluster. */
  more?: { name: string; user: Record<string, unknown> };
}

/** Writes a kubeconfig with one cluster and a context `main` (the current-context), as kubectl writes them. */
export function kubeconfig(file: string, spec: KubeconfigSpec): void {
  const extra = spec.more === undefined ? [] : [spec.more];
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'main', cluster: { server: spec.server, ...spec.ca } }],
    users: [{ name: 'main', user: spec.user }, ...extra.map((m) => ({ name: m.name, user: m.user }))],
    contexts: [{ name: 'main', context: { cluster: 'main', user: 'main', namespace: 'ignored' } }, ...extra.map((m) => ({ name: m.name, context: { cluster: 'main', user: m.name } }))],
    'current-context': 'main',
    preferences: {},
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, stringify(doc));
}

/** The SourceError a listing throws; fails the test when it lists instead. */
export async function listError(source: ImageSource, ctx: ListContext = LIST): Promise<SourceError> {
  const outcome = await source.list(ctx).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome).toBeInstanceOf(SourceError);
  const err = outcome as SourceError;
  expect(err.message).not.toContain('\n');
  return err;
}
