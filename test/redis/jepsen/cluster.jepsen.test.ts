import { afterAll, describe, expect, it } from 'vitest';
import { removeBundles } from '../../support/bundleChild.js';
import { redisAvailable } from '../clusterHelpers.js';
import { runWorkload } from './Workload.js';

const available = await redisAvailable('the Jepsen-style cluster test');

describe.skipIf(!available)('the cluster under kills and pauses (Jepsen-style)', () => {
  afterAll(removeBundles);

  it('loses and duplicates no acknowledged item, never runs a session twice at once, and no view goes backwards', async () => {
    const report = await runWorkload({ fencing: true });
    console.log(
      'fencing on:',
      JSON.stringify({
        ...report,
        lost: report.lost.length,
        duplicated: report.duplicated.length,
        overlaps: report.overlaps.length,
      }),
    );
    expect(report.acked).toBeGreaterThan(50);
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.overlaps).toEqual([]);
    expect(report.viewRegressions).toBe(0);
  }, 60_000);

  it('catches the fork when fencing is switched off', async () => {
    const report = await runWorkload({ fencing: false });
    console.log(
      'fencing off:',
      JSON.stringify({
        ...report,
        lost: report.lost.length,
        duplicated: report.duplicated.length,
        overlaps: report.overlaps.length,
      }),
    );
    expect(report.ok).toBe(false);
    expect(report.overlaps.length + report.lost.length).toBeGreaterThan(0);
  }, 60_000);
});
