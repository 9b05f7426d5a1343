/**
 * session-process/testing: model-based tests generated from session machines' graphs
 * (`xstate/graph`), run against real session processes.
 *
 * @packageDocumentation
 */
export { createSessionTestModel, type SessionTestModel } from './createSessionTestModel.js';
export { createSeededRandom } from './random.js';
export { type FieldClasses, stateKey } from './stateKey.js';
export { createSupervisorDriver } from './supervisorDriver.js';
export {
  type ConformanceVitestApi,
  type StoreConformanceOptions,
  storeConformance,
} from './storeConformance.js';
export { TestClock } from './TestClock.js';
export {
  type MigrationCoverage,
  type MigrationFailure,
  type MigrationReport,
  type VerifyMigrationsOptions,
  verifyMigrations,
} from './versions/verifyMigrations.js';
export type {
  Coverage,
  CoverageFigure,
  DriveContext,
  MinCoverage,
  ModelEvent,
  ModelState,
  PathStrategy,
  ReplyCheck,
  RunOptions,
  SentEvent,
  SessionDriver,
  SessionTestModelOptions,
  TestFailure,
  TestPath,
  TestReport,
  VitestApi,
} from './types.js';
