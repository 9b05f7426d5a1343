import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { machineVersions } from 'session-process';
import { compareVersions } from '../../../src/core/versions/compareVersions.js';

const m = (version: string, states: string[]) =>
  createMachine({
    id: 'm',
    version,
    initial: states[0]!,
    states: Object.fromEntries(states.map((s) => [s, {}])),
  });

describe('compareVersions', () => {
  it.each([
    ['2', '10', -1],
    ['10', '2', 1],
    ['1.4.0', '1.10.0', -1],
    ['2', '1.9.9', 1],
    ['v2.0.0', '2.0.0', 0],
    ['2.0.0-beta.1', '2.0.0', -1],
    ['2.0.0-beta.2', '2.0.0-beta.10', -1],
    ['2.0.0-alpha', '2.0.0-beta', -1],
  ])('orders %s against %s', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b)!)).toBe(sign);
  });

  it('cannot order a name', () => {
    expect(compareVersions('blue', '2')).toBeUndefined();
    expect(compareVersions('2.x', '2')).toBeUndefined();
  });
});

describe('machineVersions', () => {
  it('refuses machines without a version, twice the same version, or different ids', () => {
    expect(() => machineVersions([createMachine({ id: 'm' })])).toThrow(/has no `version`/);
    expect(() => machineVersions([m('1', ['a']), m('1', ['b'])])).toThrow(/'1' appears twice/);
    expect(() =>
      machineVersions([m('1', ['a']), createMachine({ id: 'other', version: '2' })]),
    ).toThrow(/share one id/);
  });

  it("migrates a version it no longer holds through its own entry or '*', to the next retained one", () => {
    const versions = machineVersions([m('3', ['c']), m('5', ['e'])], {
      migrations: {
        '2': (s) => ({ ...s, value: 'c' }),
        '*': (s) => ({ ...s, value: s.value === 'c' ? 'e' : 'c' }),
      },
    }).versions;
    const from = (version: string, value: string) =>
      versions.migrate({ value, context: {} }, [], version).snapshot.value;
    expect(versions.place('2')).toEqual({ kind: 'older', version: '2' });
    expect(from('2', 'b')).toBe('e'); // '2' → 3, then '*' → 5
    expect(from('1', 'a')).toBe('e'); // '*' → 3 ('c'), '*' → 5
    // Between the retained ones: '*' takes it to 5, and its result is checked there.
    expect(() => from('4', 'd')).toThrow(/names states version '5' does not have: m\.c/);
    expect(versions.place('6')).toEqual({ kind: 'ahead', version: '6' });
    expect(versions.place('5')).toEqual({ kind: 'newest' });
  });

  it('passes a snapshot unchanged through a retained version without a migration', () => {
    const versions = machineVersions([m('1', ['a', 'b']), m('2', ['a', 'b', 'c'])]).versions;
    expect(versions.migrate({ value: 'b', context: { n: 1 } }, [], '1').snapshot).toEqual({
      value: 'b',
      context: { n: 1 },
    });
  });

  it('leaves the newest machine as the logic, the given machines untouched', () => {
    const v2 = m('2', ['x']);
    const logic = machineVersions([m('1', ['a']), v2]);
    expect(logic.version).toBe('2');
    expect(logic).not.toBe(v2);
    expect((v2 as { versions?: unknown }).versions).toBeUndefined();
    expect(logic.versions.list).toEqual(['1', '2']);
  });
});
