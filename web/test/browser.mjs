// Launches Debian's Chromium headless through playwright-core (never a downloaded browser).
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic',
  // Real host candidates instead of mDNS names: the native peer cannot resolve those.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export async function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}
