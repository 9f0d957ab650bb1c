import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** The system Chromium (Debian's `chromium` package); never a downloaded browser. */
export const CHROMIUM_PATH = process.env['TOUCHLINE_CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * Why browser tests cannot run here, or undefined. With TOUCHLINE_REQUIRE_SERVICES=1 a missing
 * Chromium fails the suite instead of skipping it.
 */
function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium (or set TOUCHLINE_CHROMIUM_PATH)`;
  if (process.env['TOUCHLINE_REQUIRE_SERVICES'] === '1') {
    throw new Error(`${reason} (TOUCHLINE_REQUIRE_SERVICES=1)`);
  }
  process.stderr.write(`\nBrowser tests skipped: ${reason}\n`);
  return reason;
}

/** `describe` when Chromium is installed, `describe.skip` otherwise (the reason is printed). */
export const describeWithChromium: jest.Describe =
  chromiumSkipReason() === undefined ? describe : describe.skip;

/**
 * Headless Chromium. Playwright gives every launch a fresh temporary profile (user data dir)
 * and removes it on close; each test then takes its own context, with empty cookies and storage.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
