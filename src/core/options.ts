import type { AnyActorLogic } from 'xstate';
import { boundLogic, type StepLimits } from './boundLogic.js';
import type { ExpiryOptions } from './Expiry.js';
import { RecordCodec, recordKeys } from './persistence/RecordCodec.js';
import type { RegistryOptions } from './SessionRegistry.js';
import type { Durability, SupervisorOptions } from './types.js';
import { versionsOf } from './versions/machineVersions.js';
import type { VersionChain } from './versions/VersionChain.js';

/** @internal The name `logic` is registered under in `logics`. */
export const DEFAULT_LOGIC = 'default';

/** @internal Where an error reported through `onError` came from. */
export type ErrorSource = 'crash' | 'listener' | 'store' | 'refused' | 'migration';

/** @internal `createSessionSupervisor`'s options, checked and with their defaults. */
export interface ResolvedOptions {
  logics: Readonly<Record<string, AnyActorLogic>>;
  /** The logics sessions are created from (bounded copies of state machines). */
  runnable: Readonly<Record<string, AnyActorLogic>>;
  registry: RegistryOptions;
  expiry: ExpiryOptions;
  callTimeoutMs: number;
  shutdownTimeoutMs: number;
  restart: SupervisorOptions['restart'];
  onError: (error: unknown, info: { sessionId?: string; source: ErrorSource }) => void;
  persistence:
    | {
        store: NonNullable<SupervisorOptions['store']>;
        durability: Durability;
        passivateAfterMs: number | undefined;
        migrate: SupervisorOptions['migrate'];
        wakeIntervalMs: number;
        quarantineRetentionMs: number;
        /** The machine config's `version` of a logic, saved with each record. */
        logicVersion: (logic: string) => string | undefined;
        /** The versions of a logic made by `machineVersions`. */
        versionsOf: (logic: string) => VersionChain | undefined;
        codec: RecordCodec;
        maxTimers: number;
        maxStoredSessions: number | undefined;
      }
    | undefined;
}

/**
 * @internal
 * Checks every option once, at creation: a wrong value is a `RangeError` or `TypeError` naming
 * the option, not a misbehaving supervisor later.
 */
export function resolveOptions(options: SupervisorOptions): ResolvedOptions {
  const logics: Record<string, AnyActorLogic> = { ...options.logics };
  if (options.logic) logics[DEFAULT_LOGIC] = options.logic;
  const limits: StepLimits = {
    maxMicrosteps: positive(options.maxMicrosteps ?? 10_000, 'maxMicrosteps'),
    maxStepMs: positive(options.maxStepMs ?? 50, 'maxStepMs'),
    maxTimers: positive(options.maxTimers ?? 1_000, 'maxTimers'),
  };
  const runnable: Record<string, AnyActorLogic> = {};
  for (const [name, logic] of Object.entries(logics)) runnable[name] = boundLogic(logic, limits);
  const store = options.store;
  if (options.passivateAfterMs !== undefined && !store)
    throw new TypeError('passivateAfterMs needs a store (the sessions it passivates live there)');
  if (store && (typeof store.quarantine !== 'function' || typeof store.quarantined !== 'function'))
    throw new TypeError(
      `store '${String(store.name)}' has no quarantine()/quarantined(): every SessionStore keeps a quarantine marker (see docs/persistence.md)`,
    );
  if (options.recordKey !== undefined && !store)
    throw new TypeError('recordKey needs a store (it signs the records kept there)');
  if (options.maxStoredSessions !== undefined && !store)
    throw new TypeError('maxStoredSessions needs a store (it bounds the sessions kept there)');
  if (options.maxStoredSessions !== undefined && store && typeof store.count !== 'function')
    throw new TypeError(`maxStoredSessions needs a store with count(); '${store.name}' has none`);
  const codec = new RecordCodec({
    maxRecordBytes: positive(options.maxRecordBytes ?? 1_048_576, 'maxRecordBytes'),
    keys: recordKeys(options.recordKey),
  });
  if (
    options.durability !== undefined &&
    !['none', 'eventual', 'durable'].includes(options.durability)
  )
    throw new TypeError(
      `durability must be 'none', 'eventual' or 'durable', got ${String(options.durability)}`,
    );
  return {
    logics: Object.freeze(logics),
    runnable,
    registry: {
      maxSessions: positive(options.maxSessions ?? 100_000, 'maxSessions'),
      startRate: options.startRate ?? { limit: 1_000, intervalMs: 1_000 },
      rotatedIdTtlMs: nonNegative(options.rotatedIdTtlMs ?? 30_000, 'rotatedIdTtlMs'),
    },
    expiry: {
      idleTimeoutMs: nonNegative(options.idleTimeoutMs ?? 30 * 60_000, 'idleTimeoutMs'),
      maxLifetimeMs:
        options.maxLifetimeMs === undefined
          ? undefined
          : positive(options.maxLifetimeMs, 'maxLifetimeMs'),
      subscribersKeepAlive: options.subscribersKeepAlive ?? true,
    },
    callTimeoutMs: positive(options.callTimeoutMs ?? 5_000, 'callTimeoutMs'),
    shutdownTimeoutMs: positive(options.shutdownTimeoutMs ?? 10_000, 'shutdownTimeoutMs'),
    restart: options.restart,
    onError:
      options.onError ??
      ((error, info) => {
        console.error(
          `[session-process] ${info.source} in session ${info.sessionId ?? '-'}:`,
          error,
        );
      }),
    persistence: store
      ? {
          store,
          durability: options.durability ?? 'eventual',
          passivateAfterMs:
            options.passivateAfterMs === undefined
              ? undefined
              : positive(options.passivateAfterMs, 'passivateAfterMs'),
          migrate: options.migrate,
          wakeIntervalMs: positive(options.wakeIntervalMs ?? 1_000, 'wakeIntervalMs'),
          quarantineRetentionMs: positive(
            options.quarantineRetentionMs ?? 7 * 24 * 3_600_000,
            'quarantineRetentionMs',
          ),
          logicVersion: (name) => (logics[name] as { version?: string } | undefined)?.version,
          versionsOf: (name) => versionsOf(logics[name]),
          codec,
          maxTimers: limits.maxTimers,
          maxStoredSessions:
            options.maxStoredSessions === undefined
              ? undefined
              : positive(options.maxStoredSessions, 'maxStoredSessions'),
        }
      : undefined,
  };
}

function positive(n: number, name: string): number {
  if (typeof n !== 'number' || !(n > 0))
    throw new RangeError(`${name} must be a positive number, got ${String(n)}`);
  return n;
}

function nonNegative(n: number, name: string): number {
  if (typeof n !== 'number' || !(n >= 0))
    throw new RangeError(`${name} must be a number >= 0, got ${String(n)}`);
  return n;
}
