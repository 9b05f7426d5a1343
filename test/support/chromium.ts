import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Where the system's Chromium lives (Debian's `chromium` package). */
export const CHROMIUM = '/usr/bin/chromium';

/** The flags every browser test launches Chromium with. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

/**
 * Whether browser tests can run. Without Chromium they are skipped with a printed reason; under
 * CI (`CI=true`) a missing browser is a failure instead, so a broken image cannot turn the browser
 * suites into silent passes.
 *
 * @example
 * ```ts
 * describe.runIf(chromiumAvailable('live views in a page'))('in Chromium', () => { ... });
 * ```
 */
export function chromiumAvailable(what = 'browser tests'): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} is missing: ${what} cannot run in CI`);
  console.warn(`skipping ${what}: ${CHROMIUM} not found (install Debian's chromium)`);
  return false;
}

/**
 * Launches the system Chromium through playwright-core (no downloaded browser).
 *
 * @example
 * ```ts
 * const browser = await launchChromium();
 * onTestFinished(() => browser.close());
 * ```
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
