// Browser test of the grid over 200k HTTP exchanges: a synthetic capture (e2e/synth.mjs: 1000
// keep-alive sessions of 200 exchanges) imported by the demo; scrolling to the end keeps a few
// hundred DOM rows and reaches the last exchange.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { writeHttpPcap } from './synth.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const demoBin = process.env.DEMO_BIN ?? join(process.env.CARGO_TARGET_DIR ?? '/var/tmp/spider-target', 'debug/examples/demo');
const SESSIONS = 1000;
const PER_SESSION = 200;
const TOTAL = SESSIONS * PER_SESSION;

const work = mkdtempSync(join(tmpdir(), 'spider-big-'));
const capture = join(work, 'big.pcap');
writeHttpPcap(capture, SESSIONS, PER_SESSION);
const child = spawn(demoBin, ['--ui', join(here, '..', 'dist'), capture], { stdio: ['pipe', 'pipe', 'inherit'] });
const demo = await new Promise((resolve, reject) => {
  child.on('exit', (code) => reject(new Error(`demo exited with ${code}`)));
  createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
});
const context = await chromium.launchPersistentContext(join(work, 'profile'), {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 860 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60_000);
  await page.goto(`${demo.url}?token=${demo.token}&w=upload-big`);
  await page.waitForSelector('.grid-row');
  let maxDom = 0;
  let status = '';
  for (let round = 0; round < 1000 && status !== `${TOTAL} rows`; round++) {
    await page.locator('.grid-viewport').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.waitForFunction((previous) => {
      const text = document.querySelector('.grid-status')?.textContent ?? '';
      return text !== previous && !text.includes('loading');
    }, status);
    status = (await page.locator('.grid-status').textContent()) ?? '';
    maxDom = Math.max(maxDom, await page.locator('.grid-row').count());
  }
  assert.equal(status, `${TOTAL} rows`);
  await page.locator('.grid-viewport').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await page.waitForSelector(`.grid-row[data-index="${TOTAL - 1}"]`);
  const domRows = await page.locator('.grid-row').count();
  maxDom = Math.max(maxDom, domRows);
  assert.ok(maxDom < 400, `at most a few hundred DOM rows, saw ${maxDom}`);
  await page.screenshot({ path: join(here, 'screenshots', 'big-grid-end.png') });
  console.log(`ok - a grid over ${TOTAL} exchanges reaches the last one with at most ${maxDom} DOM rows`);
} catch (error) {
  failed = 1;
  console.log(`not ok - big grid\n  ${String(error.stack ?? error).split('\n').slice(0, 6).join('\n  ')}`);
} finally {
  await context.close();
  child.stdin.end();
  rmSync(work, { recursive: true, force: true });
}
console.log(`${1 - failed} passed, ${failed} failed`);
process.exit(failed);
