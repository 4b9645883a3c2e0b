/**
 * The Kubernetes source: the containers of a cluster's pods.
 */
import { z } from 'zod';
import { duration } from '../util/schema.js';
import { defineSource, SourceError, type ImageSource } from './source.js';

export const kubernetesSchema = z
  .object({
    name: z.string().min(1),
    type: z.literal('kubernetes'),
    kubeconfig: z.string().optional().describe('default: the in-cluster service account, else $KUBECONFIG'),
    context: z.string().min(1).optional().describe('a context of the kubeconfig (default: its current-context)'),
    namespaces: z.array(z.string().min(1)).min(1).optional().describe('default: every namespace the account may list'),
    watchByDefault: z.boolean().default(false).describe('false: only pods annotated herald.enable=true; true: all but herald.enable=false'),
    timeout: duration.prefault('15s'),
  })
  .strict();

export const kubernetesSource = defineSource({
  schema: kubernetesSchema,
  create(config): ImageSource {
    return {
      name: config.name,
      type: 'kubernetes',
      list() {
        return Promise.reject(new SourceError(`source ${config.name}: the kubernetes source is being written`));
      },
      async close() {},
    };
  },
});
