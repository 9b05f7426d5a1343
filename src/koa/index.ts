/**
 * `session-process/koa`: Koa middleware (after koa-session 7) giving every HTTP session its own
 * long-lived session process, reached from handlers as `ctx.sessionProcess`.
 */
export { SigningKeyError, type SigningKeyErrorCode } from './SigningKeyError.js';
export { sessionProcess } from './sessionProcess.js';
export { type KoaRefusal, koaRefusedChannel } from './telemetry.js';
export type { SessionProcessContext, SessionProcessOptions } from './types.js';
export {
  type ClientAddressOptions,
  type ClientAddressSource,
  clientAddress,
} from './clientAddress.js';
export { type AllowedHosts, hostnameOf, isHostAllowed } from './allowedHosts.js';
export { isLoopback } from './isLoopback.js';
