import { memoryStore } from 'session-process';
import { storeConformance } from 'session-process/testing';
import { describe, expect, it } from 'vitest';

// No `vitest` option: the suite finds vitest's API on its own.
storeConformance('memoryStore', () => memoryStore());

describe('memoryStore', () => {
  it('counts its records in size', async () => {
    const store = memoryStore();
    await store.save([{ id: 'a', version: 1, expectedVersion: 0, data: '{}', dueAt: null }]);
    expect(store.size).toBe(1);
    await store.delete('a');
    expect(store.size).toBe(0);
  });
});
