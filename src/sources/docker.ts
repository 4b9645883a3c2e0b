/**
 * The Docker source: the containers of a Docker Engine API (Docker, or Podman's compatible service).
 */
import { z } from 'zod';
import { duration } from '../util/schema.js';
import { defineSource, SourceError, type ImageSource } from './source.js';

export const dockerSchema = z
  .object({
    name: z.string().min(1),
    type: z.literal('docker'),
    endpoint: z
      .string()
      .regex(/^(unix:\/\/\/|tcp:\/\/|https?:\/\/)/, 'endpoint must be unix:///path/to/docker.sock or tcp://host:port')
      .optional()
      .describe('default: $DOCKER_HOST, else unix:///var/run/docker.sock'),
    tls: z
      .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() })
      .strict()
      .optional()
      .describe('TLS client certificate and CA for tcp:// endpoints'),
    watchByDefault: z.boolean().default(false).describe('false: only containers labelled herald.enable=true; true: all but herald.enable=false'),
    watchStopped: z.boolean().default(false).describe('also containers that exist but do not run'),
    timeout: duration.prefault('15s'),
  })
  .strict();

export const dockerSource = defineSource({
  schema: dockerSchema,
  create(config): ImageSource {
    return {
      name: config.name,
      type: 'docker',
      list() {
        return Promise.reject(new SourceError(`source ${config.name}: the docker source is being written`));
      },
      async close() {},
    };
  },
});
