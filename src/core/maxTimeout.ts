/**
 * @internal
 * The longest delay `setTimeout` honours: 2^31 − 1 ms (24.8 days). A longer one fires after 1 ms
 * (Node warns `TimeoutOverflowWarning`), so a longer delay is armed in steps of at most this,
 * each step checking whether the deadline has come.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
