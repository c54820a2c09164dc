/**
 * Headless Debian Chromium for the browser benchmark and the end-to-end tests: one path and one
 * set of flags. Chromium must never be downloaded (`npx playwright install` fails here); the
 * background-networking flags stop it from calling out to a closed network at every start.
 */
import type { Browser } from 'playwright-core';

/** Debian's chromium package installs here (apt-get install chromium). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a quiet, sandbox-free, GPU-free headless run (as root in CI). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Launch Debian's Chromium with CHROMIUM_ARGS. playwright-core (a dev dependency) is imported
 * here, on first use, so that importing this module costs nothing in a production install.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
}
