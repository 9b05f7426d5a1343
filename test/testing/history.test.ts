import { createSessionTestModel } from 'session-process/testing';
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';

const quiet = { print: false } as const;

/**
 * An editor whose help page returns to exactly where the user was (deep history) and whose
 * settings page returns to the tab only (shallow history: the tab's initial state).
 */
function editorMachine(helpReturnsTo: 'editing.deep' | 'editing.shallow') {
  return createMachine({
    id: 'editor',
    initial: 'editing',
    states: {
      editing: {
        initial: 'text',
        states: {
          text: {
            initial: 'plain',
            states: { plain: { on: { bold: 'bold' } }, bold: { on: { plain: 'plain' } } },
            on: { image: 'image' },
          },
          image: { on: { text: 'text' } },
          deep: { type: 'history', history: 'deep' },
          shallow: { type: 'history', history: 'shallow' },
        },
        on: { help: 'help', settings: 'settings' },
      },
      help: { on: { back: helpReturnsTo } },
      settings: { on: { back: 'editing.shallow' } },
    },
  });
}

const events = ['bold', 'plain', 'image', 'text', 'help', 'settings', 'back'].map((type) => ({
  type,
}));

describe('history states', () => {
  it('reaches every state of a machine with deep and shallow history, history nodes not counted', async () => {
    const report = await createSessionTestModel(editorMachine('editing.deep'), { events }).run(
      quiet,
    );
    expect(report.failures).toEqual([]);
    // editor, editing, text, plain, bold, image, help, settings: the two history nodes are ways
    // into `editing`, never active themselves.
    expect(report.coverage.states).toEqual({ reached: 8, total: 8, missing: [] });
    expect(report.coverage.transitions.missing).toEqual([]);
  });

  it('keys states on the history memory, so restoring through it is tested for each memory', () => {
    const model = createSessionTestModel(editorMachine('editing.deep'), { events });
    const paths = model.getPaths().map((p) => p.events.map((e) => e.type).join(' '));
    // `help` is a state per memory: back restores plain text, bold text or the image.
    expect(paths.some((p) => p.startsWith('bold help back'))).toBe(true);
    expect(paths.some((p) => p.startsWith('image help back'))).toBe(true);
    expect(paths.some((p) => p.startsWith('bold settings back'))).toBe(true);
  });

  it('catches a deep history written as shallow', async () => {
    const model = createSessionTestModel(editorMachine('editing.deep'), { events });
    const report = await model.run({ ...quiet, implementation: editorMachine('editing.shallow') });
    const failure = report.failures.find(
      (f) => f.path.map((e) => e.type).join(' ') === 'bold help back',
    );
    expect(failure?.step).toBe(3);
    expect(failure?.expected).toBe('{"value":{"editing":{"text":"bold"}}}');
    expect(failure?.actual).toBe('{"value":{"editing":{"text":"plain"}}}');
  });
});
