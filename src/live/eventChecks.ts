import type { LiveEvent } from './protocol.js';

/**
 * A Standard Schema (v1, https://standardschema.dev): what zod 4, valibot and arktype schemas
 * carry under `~standard`. Only `validate` is used, and it must answer synchronously (a schema
 * with async refinements is a server error: events of one view keep their order).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * const addItem: StandardSchemaLike = z.object({ type: z.literal('cart.add'), sku: z.string() });
 * ```
 */
export interface StandardSchemaLike {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaResult | Promise<StandardSchemaResult>;
  };
}

/**
 * What a Standard Schema's `validate` returns: the (possibly transformed) value, or issues.
 *
 * @example
 * ```ts
 * const result = schema['~standard'].validate(event) as StandardSchemaResult;
 * if (result.issues) console.log(result.issues[0]?.message);
 * ```
 */
export type StandardSchemaResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
      }>;
    };

/**
 * How the bridge checks one allowed event type's payload (the whole event, `type` included):
 * - a Standard Schema (zod 4's `z.object({...})`, say): its output, with `type` kept as sent, is
 *   what the session receives, so keys the schema strips never reach the machine;
 * - a function: `true` accepts the event as it came, `false` or a string (the reason, sent to the
 *   page) refuses it;
 * - `true`: any payload (as a list entry in `events` does).
 * A refused event is answered with the error `INVALID_EVENT` and never reaches the session.
 *
 * @example
 * ```ts
 * const events: LiveEvents = {
 *   'cart.add': z.object({ sku: z.string().max(32), qty: z.number().int().min(1).max(99).optional() }),
 *   'cart.remove': (e) => typeof e.sku === 'string' || 'sku must be a string',
 *   'cart.get': true,
 * };
 * ```
 */
export type LiveEventCheck = StandardSchemaLike | ((event: LiveEvent) => boolean | string) | true;

/**
 * The `events` option of the bridge: the event types pages may send, as a list (any payload) or
 * as an object whose keys are the types and whose values check each one's payload.
 *
 * @example
 * ```ts
 * const events: LiveEvents = ['cart.get']; // or { 'cart.get': true }
 * ```
 */
export type LiveEvents = readonly string[] | Readonly<Record<string, LiveEventCheck>>;

/** The outcome of one check. @internal */
export type EventCheckResult = { ok: true; event: LiveEvent } | { ok: false; message: string };

/** One allowed type's check; throws when the check itself fails (a bug, not a bad payload). @internal */
export type EventCheck = (event: LiveEvent) => EventCheckResult;

/** Longest refusal message sent to a page. */
const MAX_MESSAGE = 200;

const accept: EventCheck = (event) => ({ ok: true, event });

/** The bridge's `events` as a check per allowed type. @internal */
export function compileEventChecks(events: LiveEvents | undefined): Map<string, EventCheck> {
  const checks = new Map<string, EventCheck>();
  if (events === undefined) return checks;
  if (Array.isArray(events)) {
    for (const type of events) checks.set(type, accept);
    return checks;
  }
  for (const [type, check] of Object.entries(events as Record<string, LiveEventCheck>)) {
    checks.set(type, compile(type, check));
  }
  return checks;
}

function compile(type: string, check: LiveEventCheck): EventCheck {
  if (check === true) return accept;
  if (typeof check === 'function') {
    return (event) => {
      const verdict: unknown = check(event);
      if (verdict === true) return { ok: true, event };
      if (verdict === false) return { ok: false, message: `Invalid ${type} event` };
      if (typeof verdict === 'string') return { ok: false, message: clip(verdict) };
      throw new TypeError(`The check of live event ${type} must return true, false or a string`);
    };
  }
  const validate = (check as StandardSchemaLike | undefined)?.['~standard']?.validate;
  if (typeof validate !== 'function') {
    throw new TypeError(
      `attachLiveBridge: events['${type}'] must be a Standard Schema (zod, valibot, ...), a function or true`,
    );
  }
  return (event) => {
    const result = validate(event);
    if (result instanceof Promise) {
      result.catch(() => {});
      throw new TypeError(`The schema of live event ${type} validates asynchronously`);
    }
    if (result.issues !== undefined) {
      const issue = result.issues[0];
      const path = (issue?.path ?? [])
        .map((p) => String(typeof p === 'object' && p !== null ? p.key : p))
        .join('.');
      const why = issue?.message ?? 'invalid';
      return { ok: false, message: clip(path === '' ? why : `${path}: ${why}`) };
    }
    const value = result.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError(`The schema of live event ${type} must output an object`);
    }
    return { ok: true, event: { ...(value as Record<string, unknown>), type: event.type } };
  };
}

function clip(message: string): string {
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}
