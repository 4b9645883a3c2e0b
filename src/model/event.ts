import { randomUUID } from 'node:crypto';
import type { ContainerReport } from './container.js';

/** What an event reports: a first sighting, a changed digest, or a check that started failing. */
export const EVENT_STATUSES = ['new', 'update', 'error'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/**
 * An event as users see it: the webhook body's items, the template context, `events --json`.
 * Users' webhook receivers and templates read these names: add fields, never rename or drop one.
 */
export interface HeraldEvent {
  id: string;
  status: EventStatus;
  image: string;
  registry: string;
  repository: string;
  tag: string | null;
  digest: string | null;
  previousDigest: string | null;
  platform: string;
  platformDigest: string | null;
  previousPlatformDigest: string | null;
  mediaType: string | null;
  created: string | null;
  labels: Record<string, string>;
  hubLink: string | null;
  metadata: Record<string, string | number | boolean>;
  detectedAt: string;
  error: string | null;
  /** With watchRepo + newerOnly: the tag the image is configured with. */
  currentTag?: string;
  /**
   * Images from engine and cluster sources: the digest a container runs. On an `update`, the one
   * the first container behind the registry runs (the registry's is `digest`).
   */
  runningDigest?: string | null;
  /** Images from engine and cluster sources: the containers that run it, each with `outdated`. */
  containers?: ContainerReport[];
}

export function newEventId(): string {
  return randomUUID();
}
