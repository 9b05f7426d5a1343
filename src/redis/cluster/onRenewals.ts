import type { NodeLease } from './NodeLease.js';
import type { Ownership } from './Ownership.js';
import type { RemoteViews } from './RemoteViews.js';
import type { Router } from './Router.js';
import type { ClusterTelemetry } from './telemetry.js';

/**
 * @internal
 * What a node does at each renewal of its lease: re-watch views whose owner may have gone; every
 * 100 renewals, give up the sessions that stayed out of memory (see `Ownership.sweep`).
 */
export function onRenewals(
  telemetry: ClusterTelemetry,
  o: {
    lease: NodeLease;
    views: RemoteViews;
    ownership: Ownership;
    router: Router;
    running(id: string): boolean;
    report(err: unknown): void;
  },
): void {
  let renewals = 0;
  telemetry.on('lease', (e) => {
    if (e.type !== 'renew') return;
    const live = new Set(o.lease.liveNodes);
    o.views.rewatch((id) => {
      if (o.ownership.owns(id)) return true;
      const hint = o.router.ownerHint(id);
      return hint !== undefined && live.has(hint);
    });
    if (++renewals % 100 === 0) o.ownership.sweep(o.running).catch(o.report);
  });
}
