import { describe, expect, it } from 'vitest';
import { check, parseLog } from './checker.js';

const base = () => ({
  acked: new Map<string, string[]>(),
  final: new Map<string, string[]>(),
  log: [],
  viewRegressions: 0,
});

describe('the Jepsen checker', () => {
  it('passes a history where every acknowledged item is present once', () => {
    const r = check({
      ...base(),
      acked: new Map([['s', ['a', 'b']]]),
      final: new Map([['s', ['a', 'b', 'c']]]),
    });
    expect(r).toMatchObject({ ok: true, lost: [], duplicated: [] });
  });

  it('counts an acknowledged item that is missing as lost', () => {
    const r = check({
      ...base(),
      acked: new Map([['s', ['a', 'b']]]),
      final: new Map([['s', ['a']]]),
    });
    expect(r.lost).toEqual(['s:b']);
    expect(r.ok).toBe(false);
  });

  it('counts an item present twice as duplicated', () => {
    const r = check({ ...base(), final: new Map([['s', ['a', 'a']]]) });
    expect(r.duplicated).toEqual(['s:a']);
  });

  it('finds two activations of a session that interleave in time', () => {
    const log = parseLog(
      's n1.1.1 10 a\ns n2.2.1 20 b\ns n1.1.1 30 c\ns n1.1.1 35 e\nt n1.1.2 40 d\n',
    );
    const r = check({ ...base(), log });
    expect(r.overlaps).toEqual([{ sessionId: 's', activation: 'n1.1.1', after: 'n2.2.1' }]);
  });

  it('counts one fenced step of a paused activation as the residual window, not an overlap', () => {
    const log = parseLog('s n1.1.1 10 a\ns n2.2.1 20 b\ns n1.1.1 30 c\ns n2.2.1 40 d\n');
    const r = check({ ...base(), final: new Map([['s', ['a', 'b', 'd']]]), log });
    expect(r.overlaps).toEqual([]);
    expect(r.residual).toEqual([{ sessionId: 's', activation: 'n1.1.1', item: 'c' }]);
    expect(r.ok).toBe(true);
  });

  it('counts a fenced late step whose call was retried and applied by the new owner as the residual window', () => {
    // A node stopped inside the step of c: after SIGCONT it finishes that step, its write is
    // fenced, and the call is retried where the session went, which applies c once.
    const log = parseLog('s n1.1.1 10 a\ns n2.2.1 20 b\ns n1.1.1 30 c\ns n2.2.1 40 c\n');
    const r = check({ ...base(), final: new Map([['s', ['a', 'b', 'c']]]), log });
    expect(r.overlaps).toEqual([]);
    expect(r.residual).toEqual([{ sessionId: 's', activation: 'n1.1.1', item: 'c' }]);
    expect(r.ok).toBe(true);
  });

  it('counts a late step whose effect landed as an overlap', () => {
    const log = parseLog('s n1.1.1 10 a\ns n2.2.1 20 b\ns n1.1.1 30 c\n');
    const r = check({ ...base(), final: new Map([['s', ['a', 'b', 'c']]]), log });
    expect(r.overlaps).toHaveLength(1);
    expect(r.ok).toBe(false);
  });

  it('accepts activations that follow each other', () => {
    const log = parseLog('s n1.1.1 10 a\ns n1.1.1 15 b\ns n2.2.1 20 c\ns n3.3.1 30 d\n');
    expect(check({ ...base(), log }).overlaps).toEqual([]);
  });

  it('fails on a view that went backwards', () => {
    expect(check({ ...base(), viewRegressions: 1 }).ok).toBe(false);
  });
});
