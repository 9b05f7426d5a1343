/**
 * The visualizer feed's wire types: JSON messages over the `${path}/feed` WebSocket. Shared by
 * the server (src/visualizer) and the page (visualizer/), so this file imports nothing.
 */

/** A state node of a machine definition, as the page draws it. */
export interface StateNodeDef {
  /** The state node's id (`cart.shopping.active`, or a custom `id`). */
  id: string;
  /** The key under its parent (`active`); the machine's id for the root. */
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** For history states. */
  history?: 'shallow' | 'deep';
  /** Ids of the initial child state(s) of a compound state. */
  initial?: string[];
  /** Child state nodes in document order. */
  states: StateNodeDef[];
  transitions: TransitionDef[];
  /** Invoked actors (`src` names) while this state is active. */
  invokes: InvokeDef[];
  entry: string[];
  exit: string[];
  tags: string[];
  description?: string;
}

/** A transition of a state node. */
export interface TransitionDef {
  /** The event type (`cart.add`, `xstate.after.900000.cart.shopping.active`, `*`); `''` for `always`. */
  event: string;
  /** What the page prints for the event: `after 15 min`, `done: payment`, `always`. */
  label: string;
  kind: 'event' | 'after' | 'always' | 'done' | 'error';
  /** The guard's name (`isLoggedIn`, `!isEmpty`, `a && b`), when guarded. */
  guard?: string;
  /** Target state node ids; empty for a targetless transition (actions only). */
  targets: string[];
  /** Delay of an `after` transition: milliseconds or a named delay. */
  delay?: number | string;
  reenter: boolean;
  actions: string[];
}

/** An invoked actor. */
export interface InvokeDef {
  id: string;
  src: string;
}

/** A machine definition, serialized from `machine.root`. */
export interface MachineDef {
  id: string;
  root: StateNodeDef;
}

/** One row of the sessions list. */
export interface SessionRow {
  id: string;
  logic: string;
  startedAt: number;
  lastActiveAt: number;
  value: unknown;
  status: string;
  version: number;
}

/** An entry of a session's event log. */
export interface EventEntry {
  /** Sequence number within the selection, from 1. */
  seq: number;
  /** Epoch milliseconds. */
  at: number;
  /** The event, through `sanitize`. */
  event: { type: string; [key: string]: unknown };
  /** Where it came from: another session, a child actor, or `undefined` (from outside). */
  source?: string;
}

/** Messages the page sends. */
export type ClientMessage =
  | { type: 'list'; offset: number; limit: number }
  | { type: 'select'; id: string | null }
  | { type: 'send'; id: string; event: { type: string; [key: string]: unknown } };

/** Messages the server sends. */
export type ServerMessage =
  | { type: 'hello'; allowSend: boolean; throttleMs: number }
  | { type: 'list'; offset: number; limit: number; total: number; rows: SessionRow[] }
  | { type: 'machine'; id: string; logic: string; machine: MachineDef | null }
  | {
      type: 'snapshot';
      id: string;
      value: unknown;
      context: unknown;
      status: string;
      version: number;
    }
  | { type: 'events'; id: string; entries: EventEntry[] }
  | { type: 'ended'; id: string; reason: string }
  /** The selected session's ID was rotated (`sessions.rename`): the page follows it. */
  | { type: 'renamed'; id: string; to: string }
  | { type: 'sent'; id: string; eventType: string }
  | { type: 'error'; code: string; message: string; id?: string };

/** Error codes of the feed's `error` message. */
export type FeedErrorCode =
  | 'SEND_NOT_ALLOWED'
  | 'SESSION_NOT_FOUND'
  | 'BAD_MESSAGE'
  | 'SEND_FAILED';
