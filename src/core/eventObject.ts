import type { EventObject } from 'xstate';
import { EventNotAcceptedError } from './errors.js';

/** @internal Whether a cast or call was given an event: an object with a string `type`. */
export function isEventObject(event: unknown): event is EventObject {
  return (
    typeof event === 'object' && event !== null && typeof (event as EventObject).type === 'string'
  );
}

/** @internal The error for a cast or call given something other than an event. */
export function notAnEvent(id: string): EventNotAcceptedError {
  return new EventNotAcceptedError(
    id,
    undefined,
    'An event must be an object with a string `type`',
  );
}
