import { readFileSync } from 'node:fs';
import { SessionError, type SessionErrorCode } from 'session-process';
import { expect, it } from 'vitest';

// The README's error table lists every code of the closed union in src/core/errors.ts, with the
// HTTP status the error carries: a code added to the core and not to the table fails here.
const root = new URL('../../', import.meta.url);
const source = readFileSync(new URL('src/core/errors.ts', root), 'utf8');
const union = /export type SessionErrorCode =([^;]+);/.exec(source)?.[1] ?? '';
const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1] as SessionErrorCode);

it('lists every error code in the README with its HTTP status', () => {
  expect(codes.length).toBeGreaterThanOrEqual(14);
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const rows = new Map(
    [...readme.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]),
  );
  const table = Object.fromEntries(codes.map((code) => [code, rows.get(code)]));
  const expected = Object.fromEntries(
    codes.map((code) => [code, new SessionError(code, code).status]),
  );
  expect(table).toEqual(expected);
});
