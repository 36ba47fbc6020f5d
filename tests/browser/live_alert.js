// A nurse keeps the dashboard open in Debian's chromium while an emergency call comes in: the
// banner must appear without a reload, the page must try to play the alert sound, and
// Acknowledge must land on the call's timeline. The browser runs with chromium's default autoplay
// policy: the nurse taps "Enable alert sound" once, as a person would.
// Prints "READY" once the page listens, then one JSON line with what it measured.
// Env: BASE, USERNAME, PASSWORD, SHOTS (dir), CALL_ENDED (a file the test creates once the call
// is stored: the acknowledgement then opens the finished call's page).
'use strict';
const fs = require('fs');
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
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const result = {};
  try {
    const context = await browser.newContext({ viewport: { width: 375, height: 812 }, ignoreHTTPSErrors: true, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    await page.goto(`${BASE}/`);
    await page.fill('#u', env('USERNAME'));
    await page.fill('#p', env('PASSWORD'));
    await page.tap('button[type=submit]');
    await page.waitForURL(`${BASE}/`);
    await page.waitForSelector('#live-alerts[data-connected=yes]', { state: 'attached' });
    check((await page.locator('.alert-banner').count()) === 0, 'a banner before any call');
    await page.tap('#enable-sound');
    // The moment a banner is put on the page, by the page's own clock (the same machine's).
    await page.evaluate(() => {
      new MutationObserver(() => {
        if (!window.bannerAt && document.querySelector('.alert-banner')) window.bannerAt = Date.now();
      }).observe(document.getElementById('live-alerts'), { childList: true });
    });
    const loads = [];
    page.on('load', () => loads.push(page.url()));
    console.log('READY');

    const banner = page.locator('.alert-banner').first();
    await banner.waitFor({ timeout: 90000 });
    result.banner_at_ms = await page.evaluate(() => window.bannerAt);
    result.call_id = await banner.getAttribute('data-call');
    result.banner_text = await banner.innerText();
    result.link = await banner.locator('a').getAttribute('href');
    result.reloads = loads.length;
    await page.waitForFunction(() => document.body.hasAttribute('data-sound'), null, { timeout: 5000 });
    result.sound_attempts = Number(await page.evaluate(() => document.body.getAttribute('data-sound-attempts')));
    result.sound = await page.evaluate(() => document.body.getAttribute('data-sound'));
    await page.screenshot({ path: path.join(SHOTS, 'banner.png') });

    // A page opened later still shows the unacknowledged alert (replayed on connect).
    const late = await context.newPage();
    await late.goto(`${BASE}/`);
    await late.locator(`.alert-banner[data-call="${result.call_id}"]`).waitFor({ timeout: 10000 });
    result.late_page_replayed = true;

    const deadline = Date.now() + 90000;
    while (!fs.existsSync(env('CALL_ENDED'))) {
      check(Date.now() < deadline, 'the call did not end');
      await page.waitForTimeout(200);
    }
    await banner.locator('button', { hasText: 'Acknowledge' }).tap();
    await page.waitForURL(new RegExp(`/tasks/${result.call_id}\\?ok=`));
    result.notice = await page.locator('#notice').innerText();
    const timeline = await page.locator('h2:has-text("Call timeline") + .card').innerText();
    result.timeline_has_push = timeline.includes('Dashboard alert');
    result.timeline_has_ack = timeline.includes('Dashboard acknowledged');
    // The other page drops the banner when someone acknowledges.
    await late.locator('.alert-banner').waitFor({ state: 'detached', timeout: 10000 });
    result.other_page_cleared = true;
    await page.screenshot({ path: path.join(SHOTS, 'acknowledged.png') });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})().catch((e) => { console.error(e); process.exit(1); });
