/**
 * What `herald check` prints without `--json`: the table of this run's checks, the sources that
 * could not be listed, and one summary line (how many images, by status, how long, and the
 * notifications when there were any).
 */
import type { RunReport } from '../watch/report.js';
import { countByStatus } from '../watch/report.js';
import { shortDigest } from '../model/digest.js';
import { counted } from '../util/text.js';
import { print, table } from './context.js';

export interface Deliveries {
  sent: number;
  pending: number;
  failed: number;
}

export function printCheckReport(report: RunReport, deliveries: Deliveries, configFile: string): void {
  if (report.images.length > 0) {
    print(
      table(
        ['IMAGE', 'PLATFORM', 'STATUS', 'DIGEST', 'DETAIL'],
        report.images.map((i) => [
          i.image, i.platform, i.status, shortDigest(i.digest),
          i.status === 'update' ? `was ${shortDigest(i.previousDigest)}` : (i.error ?? ''),
        ]),
      ),
    );
  }
  for (const s of report.sources ?? []) if (s.error !== null) print(`source ${s.name} not listed: ${s.error}`);
  const notifications = notificationCounts(deliveries);
  if (report.images.length === 0) {
    print(`no images to check in ${configFile}`);
    if (notifications !== undefined) print(notifications);
  } else {
    print(`${imageCounts(report)}${notifications === undefined ? '' : `; ${notifications}`}`);
  }
}

/** "checked 300 images in 612 ms: 2 updated, 297 unchanged, 1 failed" */
function imageCounts(report: RunReport): string {
  const c = countByStatus(report.images);
  const statuses = [
    [c.new, 'new'], [c.update, 'updated'], [c.unchanged, 'unchanged'], [c.error, 'failed'], [c.skipped, 'skipped'],
  ] as const;
  const byStatus = statuses.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(', ');
  return `checked ${counted(report.images.length, 'image')} in ${report.durationMs} ms: ${byStatus}`;
}

/** "2 notifications sent, 1 pending", "1 notification pending, 1 failed"; undefined when there were none. */
function notificationCounts(d: Deliveries): string | undefined {
  const parts = ([[d.sent, 'sent'], [d.pending, 'pending'], [d.failed, 'failed']] as const).filter(([n]) => n > 0);
  if (parts.length === 0) return undefined;
  // The noun goes with the first number.
  return parts.map(([n, what], i) => `${i === 0 ? counted(n, 'notification') : n} ${what}`).join(', ');
}
