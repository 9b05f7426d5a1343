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
    const log = parseLog('s n1.1.1 10 a\ns n2.2.1 20 b\ns n1.1.1 30 c\nt n1.1.2 40 d\n');
    const r = check({ ...base(), log });
    expect(r.overlaps).toEqual([{ sessionId: 's', activation: 'n1.1.1', after: 'n2.2.1' }]);
  });

  it('accepts activations that follow each other', () => {
    const log = parseLog('s n1.1.1 10 a\ns n1.1.1 15 b\ns n2.2.1 20 c\ns n3.3.1 30 d\n');
    expect(check({ ...base(), log }).overlaps).toEqual([]);
  });

  it('fails on a view that went backwards', () => {
    expect(check({ ...base(), viewRegressions: 1 }).ok).toBe(false);
  });
});
