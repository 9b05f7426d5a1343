import { describe, expect, it } from 'vitest';
import {
  CallTimeoutError,
  generateSessionId,
  isSessionError,
  isValidSessionId,
  SessionError,
  SessionNotFoundError,
} from 'session-process';

describe('isSessionError', () => {
  it('matches by class and by code', () => {
    const err = new SessionNotFoundError('s1');
    expect(isSessionError(err)).toBe(true);
    expect(isSessionError(err, 'SESSION_NOT_FOUND')).toBe(true);
    expect(isSessionError(err, 'CALL_TIMEOUT')).toBe(false);
    expect(isSessionError(new Error('x'))).toBe(false);
    expect(isSessionError(null)).toBe(false);
  });

  it('matches an error from another realm by its name and code', () => {
    const foreign = Object.assign(new Error('gone'), {
      name: 'SessionNotFoundError',
      code: 'SESSION_NOT_FOUND',
    });
    expect(isSessionError(foreign, 'SESSION_NOT_FOUND')).toBe(true);
  });

  it('carries code, sessionId, HTTP status and expose', () => {
    const err = new CallTimeoutError('s1', 'cart.total', 100);
    expect(err).toBeInstanceOf(SessionError);
    expect(err).toMatchObject({
      name: 'CallTimeoutError',
      code: 'CALL_TIMEOUT',
      sessionId: 's1',
      status: 504,
      expose: true,
    });
  });
});

describe('session IDs', () => {
  it('are generated with 192 bits as 32 base64url characters, all distinct', () => {
    const ids = new Set(Array.from({ length: 1_000 }, generateSessionId));
    expect(ids.size).toBe(1_000);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(isValidSessionId(id)).toBe(true);
    }
  });
});
