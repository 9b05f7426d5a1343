import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

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

/** The browser of a test file, from {@link useChromium}. */
export interface FileChromium {
  /** Whether Chromium is there (see {@link chromiumAvailable}); skip the browser tests if not. */
  readonly available: boolean;
  /** The file's browser, launched before its first test (throws when Chromium is absent). */
  readonly browser: Browser;
}

/**
 * One Chromium for a test file: checks it is there (skip with a printed reason, fail under
 * `CI=true`), launches it before the file's tests and closes it after them.
 *
 * @example
 * ```ts
 * const chromium = useChromium('the chart');
 * describe.runIf(chromium.available)('the chart (Chromium)', () => {
 *   it('draws', async () => { const page = await chromium.browser.newPage(); ... });
 * });
 * ```
 */
export function useChromium(what = 'browser tests'): FileChromium {
  const available = chromiumAvailable(what);
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (available) browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    available,
    get browser() {
      if (!browser) throw new Error(`Chromium is not running (${what})`);
      return browser;
    },
  };
}
