// Drives Debian's chromium through the dashboard on a 375x812 phone screen:
// log in, open the urgent task, play its recording, open a refill task and approve it.
// Prints one JSON line with what it measured; exits non-zero on any failed check.
// Env: BASE (https://127.0.0.1:PORT), USERNAME, PASSWORD, REFILL_ID, URGENT_ID, SHOTS (dir);
// SIPP_ID (optional): a call made through SIPp that must be in the queue.
'use strict';
const path = require('path');
const { chromium } = require(path.join(process.cwd(), 'node_modules', 'playwright-core'));

const env = (name) => { const v = process.env[name]; if (!v) throw new Error(`${name} not set`); return v; };
const BASE = env('BASE');
const SHOTS = env('SHOTS');
const check = (ok, message) => { if (!ok) throw new Error(`check failed: ${message}`); };

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  const result = { taps: 0, server_ms: [], media: [], pages: {} };
  try {
    const context = await browser.newContext({ viewport: { width: 375, height: 812 }, ignoreHTTPSErrors: true, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('response', (r) => {
      const timing = r.headers()['server-timing'];
      const m = timing && /dur=([0-9.]+)/.exec(timing);
      if (m) result.server_ms.push({ url: new URL(r.url()).pathname, ms: parseFloat(m[1]), status: r.status() });
      if (r.url().endsWith('/recording')) result.media.push({ status: r.status(), type: r.headers()['content-type'] });
    });
    const layout = async (name) => {
      const m = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, bytes: document.documentElement.outerHTML.length }));
      check(m.scrollWidth <= 375, `${name}: horizontal scroll (scrollWidth ${m.scrollWidth})`);
      check(m.bytes < 100000, `${name}: page is ${m.bytes} bytes`);
      result.pages[name] = m;
      await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
    };

    // Log in.
    await page.goto(`${BASE}/`);
    check(page.url().endsWith('/login'), `not sent to login: ${page.url()}`);
    await layout('login');
    await page.fill('#u', env('USERNAME'));
    await page.fill('#p', env('PASSWORD'));
    await page.tap('button[type=submit]');
    await page.waitForURL(`${BASE}/`);
    await layout('queue');

    // The real SIPp call is in the queue too (when the test made one).
    if (process.env.SIPP_ID) {
      check((await page.locator(`a[href="/tasks/${env('SIPP_ID')}"]`).count()) === 1, 'the SIPp call is not in the queue');
    }

    // The urgent task is on top; open it and play the recording.
    const first = page.locator('a.task').first();
    check((await first.getAttribute('href')) === `/tasks/${env('URGENT_ID')}`, 'urgent task is not first in the queue');
    check((await first.getAttribute('class')).includes('urgent'), 'first task not marked urgent');
    await first.tap();
    await page.waitForURL(`**/tasks/${env('URGENT_ID')}`);
    await layout('urgent');
    await page.locator('#recording').evaluate((a) => a.play());
    await page.waitForFunction(() => document.querySelector('#recording').currentTime > 0.3, null, { timeout: 10000 });
    result.played_s = await page.locator('#recording').evaluate((a) => a.currentTime);
    check(result.media.some((m) => (m.status === 206 || m.status === 200) && m.type === 'audio/wav'), `recording not served as audio/wav: ${JSON.stringify(result.media)}`);

    // The refill flow, counted from tapping the task link in the queue to the stored approval.
    await page.goto(`${BASE}/`);
    const started = Date.now();
    await page.tap(`a[href="/tasks/${env('REFILL_ID')}"]`); result.taps++;
    await page.waitForURL(`**/tasks/${env('REFILL_ID')}`);
    const approve = page.locator('button[value=approve]').first();
    const box = await approve.boundingBox();
    check(box && box.x >= 0 && box.x + box.width <= 375 && box.y + box.height <= 812, `approve button outside the first screen: ${JSON.stringify(box)}`);
    await layout('refill');
    // The chart's medications, last fill and allergies are on the same screen as the buttons.
    check((await page.locator('#med').count()) === 0, 'refill form asks for a medication although the chart has them');
    check((await page.textContent('main')).includes('Last filled'), 'last fill not shown');
    check((await page.textContent('main')).includes('Allergies'), 'allergies not shown');
    await approve.tap(); result.taps++;
    await page.waitForSelector('#notice');
    result.notice = (await page.textContent('#notice')).trim();
    result.elapsed_ms = Date.now() - started;
    await layout('approved');
    check(result.notice.startsWith('Refill approved'), `notice: ${result.notice}`);

    // The practice view: three server-drawn plots, no horizontal scroll either.
    await page.goto(`${BASE}/practice`);
    check((await page.locator('svg').count()) === 3, 'three plots on the practice view');
    await layout('practice');
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
