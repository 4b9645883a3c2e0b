/**
 * deploy/kubernetes/ holds what `kubectl apply -k deploy/kubernetes` applies. What matters of it is
 * checked here: herald may only read pods, runs as a non-root user on a read-only root filesystem
 * with its state on a volume, takes nothing from the environment by accident, and its config loads
 * with herald's own loader.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';

const DIR = join(import.meta.dirname, '..', '..', '..', 'deploy', 'kubernetes');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const manifests = new Map<string, Manifest>();
for (const file of files.filter((f) => f !== 'kustomization.yaml')) {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  for (const doc of docs) if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
  expect(docs, file).toHaveLength(1);
  manifests.set(file, docs[0]!.toJS() as Manifest);
}
const get = (file: string): Manifest => manifests.get(file) ?? expect.fail(`${file} is missing`);

// Plain shapes of what is read below; the manifests are data, not typed objects.
const deployment = get('deployment.yaml') as any;
const pod = deployment.spec.template.spec;
const container = pod.containers[0];

describe('deploy/kubernetes', () => {
  it('kustomization.yaml lists every manifest, each once, all in the herald namespace', () => {
    const kustomization = readFileSync(join(DIR, 'kustomization.yaml'), 'utf8');
    const listed = (parseAllDocuments(kustomization)[0]!.toJS() as { resources: string[] }).resources;
    expect([...listed].sort()).toEqual([...manifests.keys()].sort());
    for (const [file, m] of manifests) {
      expect(m.metadata.name, file).toMatch(/^herald(-[a-z]+)?$/);
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(m.kind)) expect(m.metadata.namespace, file).toBe('herald');
    }
  });

  it('the ClusterRole grants exactly get and list on pods, bound to herald\'s service account', () => {
    const role = get('clusterrole.yaml') as any;
    expect(role.kind).toBe('ClusterRole');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]);
    const binding = get('clusterrolebinding.yaml') as any;
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    const account = get('serviceaccount.yaml');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
    expect(pod.serviceAccountName).toBe(account.metadata.name);
  });

  it('the Deployment runs one replica as uid 1000, non-root, read-only root filesystem, no privilege escalation, no capabilities', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.image).toBe('herald:latest');
  });

  it('mounts /data from the claim, the config at /etc/herald, the secret read-only, and probes /healthz', () => {
    const volumes = Object.fromEntries(pod.volumes.map((v: any) => [v.name, v]));
    const mounts = Object.fromEntries(container.volumeMounts.map((m: any) => [m.mountPath, m]));
    expect(volumes[mounts['/data'].name].persistentVolumeClaim.claimName).toBe(get('pvc.yaml').metadata.name);
    expect(mounts['/data'].readOnly).toBeUndefined();
    expect(volumes[mounts['/etc/herald'].name].configMap.name).toBe(get('configmap.yaml').metadata.name);
    expect(mounts['/etc/herald'].readOnly).toBe(true);
    expect(volumes[mounts['/run/secrets/herald'].name].secret.secretName).toBe(get('secret.yaml').metadata.name);
    expect(mounts['/run/secrets/herald'].readOnly).toBe(true);
    expect(volumes[mounts['/tmp'].name].emptyDir).toBeDefined();
    for (const probe of [container.readinessProbe, container.livenessProbe]) expect(probe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
  });

  it('sets no HERALD_* variable herald would take as a config override, and no service links', () => {
    expect(pod.enableServiceLinks).toBe(false);
    const names = [...(container.env ?? []).map((e: any) => e.name as string), ...(container.envFrom ?? []).map(() => 'envFrom')];
    expect(names.filter((n) => n.startsWith('HERALD_') || n === 'envFrom')).toEqual([]);
  });

  it("the ConfigMap's herald.yml loads with herald's loader, with a kubernetes source, the webhook URL from the secret file", async () => {
    const yml = (get('configmap.yaml') as any).data['herald.yml'] as string;
    const secret = (get('secret.yaml') as any).stringData as Record<string, string>;
    const dir = mkdtempSync(join(tmpdir(), 'herald-k8s-manifests-'));
    try {
      // The secret as the pod sees it: each key a file in the mounted folder.
      mkdirSync(join(dir, 'secrets'));
      for (const [key, value] of Object.entries(secret)) writeFileSync(join(dir, 'secrets', key), value);
      const mountPath = container.volumeMounts.find((m: any) => m.name === 'secrets').mountPath as string;
      expect(yml).toContain(`${mountPath}/`);
      const file = join(dir, 'herald.yml');
      writeFileSync(file, yml.replaceAll(`${mountPath}/`, `${join(dir, 'secrets')}/`));
      const { config } = await loadConfig(file, {});
      expect(config.db.path).toBe('/data/herald.db');
      expect(config.server.listen).toBe('0.0.0.0:8080');
      expect(config.watch.schedule).toBeDefined();
      expect(config.sources).toEqual([expect.objectContaining({ type: 'kubernetes', watchByDefault: false })]);
      expect((config.sources[0] as { kubeconfig?: string }).kubeconfig).toBeUndefined(); // in-cluster service account
      expect(config.notifiers).toEqual([expect.objectContaining({ type: 'webhook', url: secret['webhook-url'] })]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
