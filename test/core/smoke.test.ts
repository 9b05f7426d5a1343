import { expect, it } from 'vitest';
import { createSessionSupervisor } from 'session-process';
import { counterMachine } from '../../machines/counter.js';
import { kvMachine } from '../../machines/kv.js';

it('smoke', async () => {
  const s = createSessionSupervisor({ logic: counterMachine, logics: { kv: kvMachine } });
  await s.start('a', { input: { value: 41 } });
  s.cast('a', { type: 'add_one' });
  expect(await s.call('a', { type: 'get_value' })).toBe(42);
  await s.start('k', { logic: 'kv' });
  s.cast('k', { type: 'put', key: 'x', value: 1 });
  expect(await s.call('k', { type: 'get', key: 'x' })).toBe(1);
  expect(await s.call('k', { type: 'ping' })).toBe('pong');
  expect(s.system.get('a')).toBeDefined();
  await s.shutdown();
});
