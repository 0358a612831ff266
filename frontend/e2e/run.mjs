// Browser tests: a backend node and a gateway with a capture imported (the gateway's demo example),
// driven in headless Chromium (Debian's) with playwright-core. Screenshots go to e2e/screenshots/.
//
// Environment: DEMO_BIN (the built demo example), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { harValidator } from './har.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const shots = join(here, 'screenshots');
mkdirSync(shots, { recursive: true });
const demoBin = process.env.DEMO_BIN ?? join(process.env.CARGO_TARGET_DIR ?? '/var/tmp/spider-target', 'debug/examples/demo');
const capture = join(root, 'testdata/http-basic.pcap');
const truth = JSON.parse(readFileSync(join(root, 'testdata/http-basic.truth.json'), 'utf8')).http_exchanges;

function startDemo(files) {
  const child = spawn(demoBin, ['--ui', join(here, '..', 'dist'), ...files], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`demo exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve({ child, ...JSON.parse(line) }));
  });
}

const results = [];
async function step(name, body) {
  try {
    await body();
    results.push([name, true]);
    console.log(`ok - ${name}`);
  } catch (error) {
    results.push([name, false]);
    console.log(`not ok - ${name}\n  ${String(error.stack ?? error).split('\n').slice(0, 6).join('\n  ')}`);
  }
}

const demo = await startDemo(['--usage-fixture', capture]);
const profile = mkdtempSync(join(tmpdir(), 'spider-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1400, height: 860 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(20_000);
const rows = () => page.locator('.grid-row');
const pathsShown = () => page.locator('.grid-row .grid-cell[data-column="path"]').allTextContents();
const downloads = mkdtempSync(join(tmpdir(), 'spider-downloads-'));

try {
  await step('log in with ?token= once: the token leaves the address bar', async () => {
    await page.goto(`${demo.url}?token=${demo.token}`);
    await page.waitForSelector('header .logo');
    assert.ok(!page.url().includes('token='), page.url());
    assert.equal(await page.evaluate(() => sessionStorage.getItem('spider.token')), demo.token);
  });

  await step('select the Whisperer and see the exchanges of the truth file', async () => {
    await page.fill('.whisperers', 'upload-http-basic');
    await page.press('.whisperers', 'Enter');
    await page.locator('.whisperers').dispatchEvent('change');
    await page.waitForFunction((n) => document.querySelectorAll('.grid-row').length >= n, truth.length);
    assert.equal(await rows().count(), truth.length);
    const shown = (await pathsShown()).sort();
    const expected = truth.map((t) => decodeURIComponent(t.uri.split('?')[0])).sort();
    assert.deepEqual(shown, expected);
    assert.ok(page.url().includes('w=upload-http-basic'));
    await page.screenshot({ path: join(shots, 'http-grid.png') });
  });

  await step('search a path', async () => {
    await page.fill('.searchbar input', 'path:/health');
    await page.press('.searchbar input', 'Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('.grid-row .grid-cell[data-column="path"]')].every((c) => c.textContent === '/health') && document.querySelectorAll('.grid-row').length > 0);
    const expected = truth.filter((t) => t.uri.split('?')[0] === '/health').length;
    assert.equal(await rows().count(), expected);
    await page.screenshot({ path: join(shots, 'search.png') });
  });

  await step('the search box completes fields and shows errors in place', async () => {
    await page.fill('.searchbar input', 'sta');
    await page.waitForSelector('.completions li');
    assert.ok((await page.locator('.completions li b').allTextContents()).includes('status:'));
    await page.fill('.searchbar input', 'status: OR');
    await page.waitForSelector('.query-error:not([hidden])');
    assert.match(await page.locator('.query-error').textContent(), /column/);
    await page.screenshot({ path: join(shots, 'search-error.png') });
    await page.fill('.searchbar input', 'path:/health');
  });

  await step("open an exchange's details and download its session as pcapng (tshark reads it)", async () => {
    await page.locator('.grid-row .grid-cell[data-column="time"]').first().click();
    await page.waitForSelector('.details:not([hidden]) h3');
    assert.match(await page.locator('.details h3').textContent(), /GET \/health/);
    assert.ok(page.url().includes('sel='));
    await page.screenshot({ path: join(shots, 'details.png') });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.download-pcapng')]);
    const file = join(downloads, 'session.pcapng');
    await download.saveAs(file);
    const text = execFileSync('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { encoding: 'utf8' });
    assert.ok(text.split('\n').includes('/health'), text);
    const count = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim().split('\n').length;
    await page.click('.show-packets');
    await page.waitForSelector('.packet-list tr');
    assert.equal(await page.locator('.packet-list tr').count(), count, 'the same packets as tshark reads');
    await page.locator('.packet-list tr').first().click();
    await page.waitForSelector('.layers summary');
    assert.deepEqual((await page.locator('.layers summary').allTextContents()).map((t) => t.split(' ')[0]), ['Ethernet', 'IPv4', 'TCP']);
    await page.screenshot({ path: join(shots, 'packets.png') });
  });

  await step('reloading a copied URL shows the same rows and selection', async () => {
    const before = await rows().evaluateAll((list) => list.map((r) => r.dataset.id));
    const url = page.url();
    await page.reload();
    await page.waitForFunction((n) => document.querySelectorAll('.grid-row').length === n, before.length);
    const after = await rows().evaluateAll((list) => list.map((r) => r.dataset.id));
    assert.deepEqual(after, before);
    assert.equal(page.url(), url);
    await page.waitForSelector('.details:not([hidden]) h3');
  });

  await step('Ctrl+click on a cell adds its NOT filter', async () => {
    await page.fill('.searchbar input', '');
    await page.press('.searchbar input', 'Enter');
    await page.waitForFunction((n) => document.querySelectorAll('.grid-row').length === n, truth.length);
    await page.locator('.grid-row .grid-cell[data-column="method"] .fv', { hasText: 'GET' }).first().click({ modifiers: ['Control'] });
    await page.waitForFunction(() => document.querySelector('.searchbar input').value === 'NOT method:GET');
    const expected = truth.filter((t) => t.method !== 'GET').length;
    await page.waitForFunction((n) => document.querySelectorAll('.grid-row').length === n, expected);
    const methods = await page.locator('.grid-row .grid-cell[data-column="method"]').allTextContents();
    assert.ok(methods.every((m) => m !== 'GET'), methods.join());
    assert.ok(decodeURIComponent(page.url().replace(/\+/g, ' ')).includes('q=NOT method:GET'));
  });

  await step('the HAR export validates against HAR 1.2', async () => {
    await page.click('.menu summary');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.export-har')]);
    const file = join(downloads, 'spider.har');
    await download.saveAs(file);
    const har = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(harValidator()(har), []);
    assert.equal(har.log.entries.length, truth.filter((t) => t.method !== 'GET').length);
  });

  await step('TCP sessions view', async () => {
    await page.click('nav.views button[data-view="sessions"]');
    await page.waitForSelector('.grid-row');
    assert.equal(await page.inputValue('.searchbar input'), '', 'HTTP filters stay with the HTTP view');
    await page.screenshot({ path: join(shots, 'sessions.png') });
  });

  await step('IP packets view: layers and bytes', async () => {
    await page.click('nav.views button[data-view="packets"]');
    await page.waitForSelector('.grid-row');
    const frames = Number(execFileSync('capinfos', ['-M', '-c', capture], { encoding: 'utf8' }).match(/Number of packets:\s+(\d+)/)[1]);
    assert.match(await page.locator('.grid-status').textContent(), new RegExp(`^${frames} rows`));
    await page.locator('.grid-row .grid-cell[data-column="time"]').first().click();
    await page.waitForSelector('.details .layers summary');
    await page.screenshot({ path: join(shots, 'packets-grid.png') });
  });

  await step('live: exchanges stored while the grid is open appear without a reload', async () => {
    await page.goto(`${demo.url}`);
    await page.waitForFunction((n) => document.querySelectorAll('.grid-row').length === n, truth.length);
    const response = await page.request.post(`${demo.url}api/v1/import?name=live`, {
      data: readFileSync(capture),
      headers: { authorization: `Bearer ${demo.token}`, 'content-type': 'application/octet-stream' },
    });
    assert.equal(response.status(), 201);
    // The grid holds them all (its DOM only the rows in view).
    await page.waitForFunction((n) => document.querySelector('.grid-status').textContent === `${n} rows`, 2 * truth.length);
  });

  await step('import a capture file in the UI: it becomes a Whisperer of its own', async () => {
    const file = join(root, 'testdata/http-pipelining.pcap');
    const expected = JSON.parse(readFileSync(join(root, 'testdata/http-pipelining.truth.json'), 'utf8')).http_exchanges.length;
    await page.setInputFiles('input.import', file);
    await page.waitForFunction(() => document.querySelector('.whisperers').value === 'upload-http-pipelining');
    await page.waitForFunction((n) => document.querySelectorAll('.grid-row').length === n, expected);
  });

  await step('network map', async () => {
    await page.click('nav.views button[data-view="map"]');
    await page.waitForSelector('.graph canvas');
    await page.screenshot({ path: join(shots, 'network-map.png') });
  });

  await step('agents and usage views, dark mode', async () => {
    await page.click('nav.views button[data-view="agents"]');
    await page.waitForSelector('table.agents, .agents-list');
    await page.screenshot({ path: join(shots, 'agents.png') });
    await page.click('nav.views button[data-view="usage"]');
    await page.waitForSelector('.usage-bar');
    const ids = () => page.evaluate(() => document.querySelector('.graph').__cy?.nodes().map((n) => n.id()) ?? []);
    await page.waitForFunction(() => document.querySelector('.graph')?.__cy);
    let nodes = await ids();
    assert.ok(nodes.includes('ns:shop#all'), `12 workloads of an unselected namespace collapse: ${nodes}`);
    assert.ok(nodes.includes('cloud') && nodes.includes('internal'), nodes.join());
    await page.screenshot({ path: join(shots, 'usage.png') });
    await page.uncheck('.t-external');
    await page.waitForFunction(() => document.querySelector('.graph')?.__cy && !document.querySelector('.graph').__cy.getElementById('cloud').length);
    await page.check('input[name="mode"][value="nps"]');
    await page.waitForFunction(() => document.querySelector('.graph')?.__cy?.getElementById('node:node-a').length > 0);
    await page.screenshot({ path: join(shots, 'usage-nps.png') });
    await page.click('nav.views button[data-view="http"]');
    await page.click('button.theme');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await page.waitForSelector('.grid-row');
    await page.screenshot({ path: join(shots, 'dark.png') });
  });
  await step('log out, then log in with a user name and password', async () => {
    await page.click('button.logout');
    await page.waitForSelector('form.login');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('spider.token')), null);
    await page.fill('form.login input[name="name"]', demo.user.name);
    await page.fill('form.login input[name="password"]', 'not the password');
    await page.click('form.login button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('form.login .error')?.textContent.includes('Wrong'));
    await page.screenshot({ path: join(shots, 'login.png') });
    await page.fill('form.login input[name="name"]', demo.user.name);
    await page.fill('form.login input[name="password"]', demo.user.password);
    await page.click('form.login button[type="submit"]');
    await page.waitForSelector('.grid-row');
    const stored = await page.evaluate(() => [sessionStorage.getItem('spider.token'), sessionStorage.getItem('spider.refresh')]);
    assert.ok(stored[0]?.startsWith('spider_access_') && stored[1]?.startsWith('spider_refresh_'), stored.join());
    await page.waitForFunction(() => document.documentElement.dataset.readonly === 'false');
  });

  await step('a viewer logs in and gets no control that changes configuration', async () => {
    await page.click('button.logout');
    await page.waitForSelector('form.login');
    await page.fill('form.login input[name="name"]', demo.viewer.name);
    await page.fill('form.login input[name="password"]', demo.viewer.password);
    await page.click('form.login button[type="submit"]');
    await page.waitForFunction(() => document.documentElement.dataset.readonly === 'true');
    await page.click('details.menu summary');
    assert.equal(await page.isVisible('input.import'), false, 'no import for a viewer');
    assert.equal(await page.isVisible('button.export-json'), true);
  });

  await step('attach a Whisperer to a workload on the cluster map: every replica, a new one after a scale-up, its log, its data, detach', async () => {
    const cluster = await startDemo(['--cluster', join(root, 'testdata/k8s/cluster'), capture]);
    const ephemeral = (pod) => execFileSync('kubectl', ['--kubeconfig', cluster.kubeconfig, 'get', 'pod', '-n', 'shop', pod, '-o', 'jsonpath={.spec.ephemeralContainers[*].name}'], { encoding: 'utf8' });
    try {
      await page.goto(`${cluster.url}?token=${cluster.token}&view=usage`);
      await page.waitForSelector('.attach-controller');
      await page.waitForFunction(() => document.querySelector('.graph')?.__cy?.getElementById('wl:shop/web').length > 0);
      const ids = await page.evaluate(() => document.querySelector('.graph').__cy.nodes().map((n) => n.id()));
      assert.ok(ids.includes('wl:shop/db') && ids.includes('cloud'), `usage enriched by the Controller: ${ids}`);
      await page.evaluate(() => document.querySelector('.graph').__cy.getElementById('wl:shop/web').emit('tap'));
      await page.waitForSelector('.attach-target');
      assert.equal(await page.textContent('.attach-target'), 'Deployment shop/web');
      await page.fill('.attach-ttl', '20');
      await page.click('.attach-go');
      await page.waitForFunction(() => document.querySelectorAll('table.attachments td.pod').length >= 2);
      for (const pod of ['web-6b7f9c7d5-k2x8p', 'web-6b7f9c7d5-q9z4m']) assert.match(ephemeral(pod), /spider-whisperer-/, pod);
      assert.equal(ephemeral('db-0'), '', 'other workloads are untouched');
      cluster.child.stdin.write(`load ${join(root, 'testdata/k8s/scale')}\n`);
      await page.waitForFunction(() => [...document.querySelectorAll('table.attachments td.pod')].some((td) => td.textContent.includes('web-6b7f9c7d5-r7t2w')), null, { timeout: 30_000 });
      assert.match(ephemeral('web-6b7f9c7d5-r7t2w'), /spider-whisperer-/);
      await page.locator('table.attachments button.logs').first().click();
      await page.waitForFunction(() => /spider whisperer \S+: started/.test(document.querySelector('.attach-log')?.textContent ?? ''));
      await page.screenshot({ path: join(shots, 'attach.png') });
      // The attached Whisperers' data, under their pods' names, in the capture views.
      await page.goto(`${cluster.url}?view=http&w=web-6b7f9c7d5-k2x8p`);
      await page.waitForFunction((n) => document.querySelectorAll('.grid-row').length >= n, truth.length, { timeout: 30_000 });
      assert.deepEqual((await pathsShown()).sort(), truth.map((t) => decodeURIComponent(t.uri.split('?')[0])).sort());
      await page.goto(`${cluster.url}?view=usage`);
      await page.waitForSelector('table.attachments button.detach');
      await page.click('table.attachments button.detach');
      await page.waitForFunction(() => !document.querySelector('table.attachments tr.attachment'));
    } finally {
      cluster.child.stdin.end();
    }
  });
  await step('the usage map with a real Gocipher\'s data (host mode: host → process)', async () => {
    const host = await startDemo(['--gocipher', capture]);
    try {
      await page.goto(`${host.url}?token=${host.token}&view=usage`);
      // The page's own requests to the gateway are counted by the Gocipher (1-second buckets).
      const processes = async () =>
        page.evaluate(() => document.querySelector('.graph')?.__cy?.nodes().map((n) => n.id()).filter((id) => id.startsWith('proc:')) ?? []);
      const started = Date.now();
      let found = [];
      // Processes are named by the sending thread's name: the browser's, and the demo's own
      // (its gateway and node threads are named spider-…).
      const seen = (ids) => ids.some((id) => /^proc:[^/]+\/spider-/.test(id)) && ids.some((id) => /^proc:[^/]+\/(Chrome|ThreadPool)/.test(id));
      while (!seen(found)) {
        assert.ok(Date.now() - started < 60_000, `no usage of the browser and the demo: ${found}`);
        await page.waitForTimeout(1000);
        await page.click('nav.views button[data-view="usage"]');
        await page.waitForSelector('.usage-bar');
        found = await processes();
      }
      // The host is the box around its processes.
      const parents = await page.evaluate(() => document.querySelector('.graph').__cy.nodes().filter((n) => n.id().startsWith('proc:')).map((n) => n.parent().id()));
      assert.ok(parents.length && parents.every((p) => p.startsWith('node:')), parents.join());
      await page.screenshot({ path: join(shots, 'usage-host.png') });
      await page.check('input[name="mode"][value="nls"]');
    } finally {
      host.child.stdin.end();
    }
  });
} finally {
  await context.close();
  demo.child.stdin.end();
  rmSync(profile, { recursive: true, force: true });
  rmSync(downloads, { recursive: true, force: true });
}

const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
