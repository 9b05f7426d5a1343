import { afterEach, describe, expect, it } from 'vitest';
import { decodeSession, startApp, type TestApp } from './helpers.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('rotate', () => {
  it('changes the ID, keeps the state, and the old cookie reaches nothing', async () => {
    t = await startApp();
    const browser = t.client();
    await browser.json('POST', '/inc');
    const { id: oldId } = await browser.json('POST', '/inc');
    const planted = browser.clone(); // what a session-fixation attacker holds

    const rotated = await browser.json('POST', '/rotate');
    expect(rotated.before).toBe(oldId);
    expect(rotated.id).not.toBe(oldId);
    expect(rotated.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(rotated.count).toBe(2);
    expect(decodeSession(browser)?.sessionId).toBe(rotated.id);

    // The browser keeps its state under the new ID.
    expect(await browser.json('POST', '/inc')).toEqual({ id: rotated.id, count: 3 });
    expect(t.sessions.started(oldId)).toBe(false);
    expect(t.sessions.count).toBe(1);

    // The old cookie gets a fresh, empty session: neither the old ID nor the rotated state.
    const replay = await planted.json('GET', '/count');
    expect(replay.id).not.toBe(oldId);
    expect(replay.id).not.toBe(rotated.id);
    expect(replay.count).toBe(0);
    expect(t.sessions.started(oldId)).toBe(false);
    expect((await browser.json('GET', '/count')).count).toBe(3);
  });

  it('tells subscribers of the old ID that it is gone', async () => {
    t = await startApp();
    const browser = t.client();
    const { id } = await browser.json('POST', '/inc');
    const messages: string[] = [];
    t.sessions.subscribe(id, (msg) => messages.push(msg.type));
    await browser.json('POST', '/rotate');
    expect(messages).toEqual(['ended']);
  });

  it('starts a process under a fresh ID in lazy mode when none runs yet', async () => {
    t = await startApp({}, { lazy: true });
    const browser = t.client();
    const rotated = await browser.json('POST', '/rotate');
    expect(rotated.count).toBe(0);
    expect(t.sessions.started(rotated.id)).toBe(true);
    expect(decodeSession(browser)?.sessionId).toBe(rotated.id);
    expect((await browser.json('POST', '/inc')).id).toBe(rotated.id);
  });
});
