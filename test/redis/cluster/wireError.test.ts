import { describe, expect, it } from 'vitest';
import { isSessionError, RecordTooLargeError, TooManyTimersError } from 'session-process';
import { fromWire, toWire } from '../../../src/redis/cluster/wireError.js';

describe('an error crossing the wire', () => {
  it('comes back as TOO_MANY_TIMERS with its limit', () => {
    const back = fromWire(JSON.parse(JSON.stringify(toWire(new TooManyTimersError('s1', 1_000)))));
    expect(back).toBeInstanceOf(TooManyTimersError);
    expect(isSessionError(back, 'TOO_MANY_TIMERS')).toBe(true);
    expect(back).toMatchObject({ sessionId: 's1', limit: 1_000, status: 429 });
  });

  it('comes back as RECORD_TOO_LARGE with its size and limit', () => {
    const err = new RecordTooLargeError('s2', 2_000_000, 1_048_576);
    const back = fromWire(JSON.parse(JSON.stringify(toWire(err))));
    expect(back).toBeInstanceOf(RecordTooLargeError);
    expect(back).toMatchObject({ sessionId: 's2', bytes: 2_000_000, limit: 1_048_576 });
    expect(back.message).toBe(err.message);
  });
});
