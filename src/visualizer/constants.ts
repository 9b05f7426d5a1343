/**
 * Close code of a visualizer feed dropped for not reading what it asked for (above
 * `maxBufferedBytes` queued, or more than `maxUnansweredRequests` left unanswered).
 *
 * @example
 * ```ts
 * socket.addEventListener('close', (e) => {
 *   if (e.code === CLOSE_SLOW_READER) console.warn('the visualizer dropped this page: too slow');
 * });
 * ```
 */
export const CLOSE_SLOW_READER = 4008;
