#!/usr/bin/env node
// tests/e2e/run.mjs -- mindquiz.app in a real browser (ctest: e2e.browser).
//
// Debian's chromium (/usr/bin/chromium), driven by playwright-core from npm
// (never a downloaded browser), against the real host serving the build's
// plugins and assets, with mq-pgsim standing in for KakaoPay and NaverPay:
//
//   1. takes the demo quiz, opens the result (Open Graph tags present);
//   2. pays with KakaoPay through the simulator's approval page and sees
//      the premium report unlocked;
//   3. takes the quiz again and pays that result with NaverPay, the same way;
//      then the runbook's test payments: /app/result/demo1 with KakaoPay and
//      again with NaverPay (demo1 keeps its buttons once unlocked);
//   4. with PAYMENTS_ENABLED=0 (a reload, no restart) a new result shows
//      the Korean "payments paused" notice, no pay buttons, and the browser
//      logs no console error;
//   5. an inline script without the nonce is reported (Report-Only) and the
//      report is counted in csp_reports_total; with CSP_MODE=enforce it is
//      also blocked, and counted.
//
// Screenshots go to <build>/e2e-artifacts/. Exit 0 when every step passed,
// 1 on a failure, 77 (ctest SKIP_RETURN_CODE) only when chromium is missing.
// playwright-core is installed into tests/e2e/node_modules from
// package-lock.json (npm ci) when it is not there yet.
//
// Environment: MQ_BUILD_DIR (the CMake build dir; required), CHROMIUM
// (default /usr/bin/chromium), MQ_E2E_KEEP=1 keeps the temp dir.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SKIP = 77;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BUILD = process.env.MQ_BUILD_DIR ? path.resolve(process.env.MQ_BUILD_DIR) : '';
const SCALE = Number(process.env.MQ_TEST_TIMEOUT_SCALE || 1) *
  (fs.existsSync(path.join(BUILD, 'CMakeCache.txt')) &&
   /^MQ_SANITIZE:BOOL=ON$/m.test(fs.readFileSync(path.join(BUILD, 'CMakeCache.txt'), 'utf8')) ? 3 : 1);
const ARTIFACTS = path.join(BUILD || os.tmpdir(), 'e2e-artifacts');

function log(msg) { process.stderr.write(`e2e: ${msg}\n`); }

// ---- preconditions ---------------------------------------------------------------

if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} not found (apt-get install chromium); the browser tests need Debian's chromium`);
  process.exit(SKIP);
}
if (!BUILD || !fs.existsSync(path.join(BUILD, 'mindquiz'))) {
  console.error(`MQ_BUILD_DIR must name a build dir holding the mindquiz binary (got "${BUILD}")`);
  process.exit(1);
}

async function loadPlaywright() {
  const marker = path.join(HERE, 'node_modules', 'playwright-core', 'package.json');
  if (!fs.existsSync(marker)) {
    log('installing playwright-core into tests/e2e/node_modules (npm ci)');
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: HERE, stdio: 'inherit', env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
    });
    if (r.status !== 0) throw new Error('npm ci in tests/e2e failed: see above (needs npm and the npm registry)');
  }
  return (await import('playwright-core')).chromium;
}

// ---- processes ---------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function waitFor(what, fn, seconds = 15) {
  const deadline = Date.now() + seconds * 1000 * SCALE;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

class PgSim {
  constructor(dir) { this.dir = dir; }
  async start() {
    const bin = path.join(BUILD, 'mq-pgsim');
    if (!fs.existsSync(bin)) throw new Error(`${bin} is not built (tests/pgsim): the payment steps need it`);
    this.err = fs.openSync(path.join(this.dir, 'pgsim.stderr'), 'a');
    this.proc = spawn(bin, ['--listen', '127.0.0.1:0', '--quiet'], { stdio: ['ignore', 'pipe', this.err] });
    this.base = await new Promise((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error('mq-pgsim printed no URL')), 10000 * SCALE);
      this.proc.stdout.on('data', (d) => {
        buf += d;
        const m = buf.match(/mq-pgsim listening on (http:\/\/127\.0\.0\.1:\d+)/);
        if (m) { clearTimeout(t); resolve(m[1]); }
      });
      this.proc.on('exit', (c) => reject(new Error(`mq-pgsim exited with ${c}`)));
    });
    return this;
  }
  stop() { if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGTERM'); }
}

class Host {
  constructor(dir, port, extra) {
    this.dir = dir;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.token = 'e2e-metrics-token';
    this.extra = extra;
    this.envPath = path.join(dir, '.env');
    this.stderrPath = path.join(dir, 'host.stderr');
  }
  writeEnv(more = {}) {
    Object.assign(this.extra, more);
    const lines = [`LISTEN=127.0.0.1:${this.port}`, 'RELEASES_DIR=releases', 'DATA_DIR=data',
      `METRICS_TOKEN=${this.token}`, `PUBLIC_BASE_URL=${this.base}`, 'APP_ENV=test'];
    for (const [k, v] of Object.entries(this.extra)) lines.push(`${k}=${v}`);
    fs.writeFileSync(this.envPath + '.tmp', lines.join('\n') + '\n', { mode: 0o600 });
    fs.renameSync(this.envPath + '.tmp', this.envPath);
  }
  cli(...args) {
    const r = spawnSync(path.join(BUILD, 'mindquiz'), [args[0], '--env', this.envPath, ...args.slice(1)],
      { cwd: this.dir, encoding: 'utf8', timeout: 60000 * SCALE, env: { ...process.env, TMPDIR: this.tmp } });
    if (r.status !== 0) throw new Error(`mindquiz ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
    return r;
  }
  async start() {
    this.tmp = path.join(this.dir, 'tmp');
    fs.mkdirSync(this.tmp, { recursive: true });
    this.writeEnv();
    // A release from the build's real plugins and assets (no CMake files).
    const stage = path.join(this.dir, 'stage');
    fs.mkdirSync(path.join(stage, 'plugins'), { recursive: true });
    for (const f of fs.readdirSync(path.join(BUILD, 'plugins'))) {
      if (f.endsWith('.so')) fs.copyFileSync(path.join(BUILD, 'plugins', f), path.join(stage, 'plugins', f));
    }
    fs.cpSync(path.join(BUILD, 'assets'), path.join(stage, 'assets'), {
      recursive: true,
      filter: (src) => !/(CMakeFiles|Makefile|\.cmake)$/.test(src),
    });
    for (const need of ['quiz.so', 'payments.so']) {
      if (!fs.existsSync(path.join(stage, 'plugins', need))) throw new Error(`${BUILD}/plugins/${need} is not built`);
    }
    this.cli('release', '--from', stage, '--id', 'e2e');
    fs.symlinkSync('e2e', path.join(this.dir, 'releases', 'current'));
    this.err = fs.openSync(this.stderrPath, 'a');
    this.proc = spawn(path.join(BUILD, 'mindquiz'), ['serve', '--env', this.envPath],
      { cwd: this.dir, stdio: ['ignore', 'ignore', this.err], env: { ...process.env, TMPDIR: this.tmp } });
    await waitFor('the host to answer /api/health', async () => {
      if (this.proc.exitCode !== null) throw new Error(`host exited with ${this.proc.exitCode}:\n${this.tail()}`);
      return (await fetch(`${this.base}/api/health`)).ok;
    });
    return this;
  }
  async reload(more) {
    this.writeEnv(more);
    this.cli('reload');
  }
  async metric(name) {
    const r = await fetch(`${this.base}/metrics`, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!r.ok) throw new Error(`GET /metrics: ${r.status}`);
    const m = (await r.text()).match(new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  }
  tail(n = 30) {
    try { return fs.readFileSync(this.stderrPath, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; }
  }
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return this.proc ? this.proc.exitCode : 0;
    const exited = new Promise((r) => this.proc.on('exit', (code) => r(code)));
    this.proc.kill('SIGTERM');
    return exited;
  }
}

// ---- the steps ---------------------------------------------------------------------

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    log(`FAIL  ${name}: ${e.stack || e}`);
    throw e;
  }
}

function expect(cond, msg) { if (!cond) throw new Error(msg); }

async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${file}`);
}

// Console errors and uncaught exceptions of pages from our own origin.
function watchConsole(page, origin) {
  const errors = [];
  page.on('console', (m) => {
    const url = (m.location() && m.location().url) || page.url();
    if (m.type() === 'error' && (!url || url.startsWith(origin))) errors.push(`console: ${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => { if (page.url().startsWith(origin)) errors.push(`pageerror: ${e.message}`); });
  return errors;
}

async function takeDemoQuiz(page, host) {
  await page.goto(`${host.base}/app/quiz/demo`);
  const questions = page.locator('fieldset.question');
  const n = await questions.count();
  expect(n >= 2, `the demo quiz shows ${n} questions`);
  for (let i = 0; i < n; i++) {
    const q = questions.nth(i);
    await q.locator('label.option').first().waitFor({ state: 'visible' });
    await q.locator('label.option').first().click();
  }
  await page.locator('button.quiz-submit').waitFor({ state: 'visible' });
  await Promise.all([page.waitForURL(/\/app\/result\/[0-9a-f]{10}$/), page.locator('button.quiz-submit').click()]);
  return page.url().split('/').pop();
}

async function payThroughSimulator(page, host, provider, shotName = provider) {
  const label = provider === 'kakao' ? '카카오페이로 결제' : '네이버페이로 결제';
  const resultUrl = page.url().split('?')[0];
  await Promise.all([
    page.waitForURL((u) => !u.toString().startsWith(host.base), { timeout: 15000 * SCALE }),
    page.getByRole('button', { name: label }).click(),
  ]);
  await page.getByRole('link', { name: /결제 승인/ }).waitFor();
  await shot(page, `${shotName}-approval-page`);
  await Promise.all([
    page.waitForURL((u) => u.toString().startsWith(resultUrl), { timeout: 20000 * SCALE }),
    page.getByRole('link', { name: /결제 승인/ }).click(),
  ]);
  const premium = page.locator('#premium');
  await waitFor('the premium report to unlock', async () => (await premium.getAttribute('data-state')) === 'unlocked', 10);
  expect(await page.locator('#premium .premium-body h3').count() > 0, 'the unlocked report has no sections');
  expect(await page.locator('[data-banner="success"]').count() === 1, 'no payment success notice');
  expect(!(new URL(page.url())).search.includes('paid='), 'the address still carries ?paid=');
  await shot(page, `${shotName}-premium-unlocked`);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mq-e2e-'));
  let host, sim, browser, failed = false;
  try {
    const chromium = await loadPlaywright();
    sim = await new PgSim(dir).start();
    host = await new Host(dir, await freePort(), {
      ORDER_SECRET: 'e2e-order-secret-0123456789abcdef',
      KAKAOPAY_API_BASE: sim.base, KAKAOPAY_SECRET_KEY: 'DEVSIMKAKAOSECRET',
      NAVERPAY_API_BASE: sim.base, NAVERPAY_PAYMENT_PAGE_BASE: `${sim.base}/payments`,
      NAVERPAY_PARTNER_ID: 'np_sim', NAVERPAY_CLIENT_ID: 'SIMNAVERCLIENTID',
      NAVERPAY_CLIENT_SECRET: 'SIMNAVERCLIENTSECRET', NAVERPAY_CHAIN_ID: 'SIMNAVERCHAINID',
    }).start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ locale: 'ko-KR', viewport: { width: 420, height: 900 } });
    const page = await context.newPage();
    const errors = watchConsole(page, host.base);

    let first;
    await step('demo quiz -> result page with Open Graph tags', async () => {
      first = await takeDemoQuiz(page, host);
      const og = await page.locator('meta[property="og:image"]').getAttribute('content');
      expect(og && og.startsWith(`${host.base}/static/og/demo-`), `og:image is ${og}`);
      expect(await page.locator('#premium').getAttribute('data-state') === 'locked', 'premium is not locked');
      expect(await page.getByRole('button', { name: '카카오페이로 결제' }).isVisible(), 'no KakaoPay button');
      expect(await page.getByRole('button', { name: '네이버페이로 결제' }).isVisible(), 'no NaverPay button');
      await shot(page, 'result-locked');
    });
    await step('KakaoPay through the simulator unlocks the premium report', async () => {
      await payThroughSimulator(page, host, 'kakao');
    });
    await step('NaverPay through the simulator unlocks another result', async () => {
      const second = await takeDemoQuiz(page, host);
      expect(second !== first, 'the second quiz got the same result id');
      await payThroughSimulator(page, host, 'naver');
    });
    await step('runbook: /app/result/demo1 takes a KakaoPay and then a NaverPay test payment', async () => {
      await page.goto(`${host.base}/app/result/demo1`);
      await payThroughSimulator(page, host, 'kakao', 'demo1-kakao');
      // demo1 keeps its buttons once unlocked: the runbook pays on it again
      expect(await page.locator('[data-pay="naver"]').count() === 1, 'no NaverPay button on unlocked demo1');
      await payThroughSimulator(page, host, 'naver', 'demo1-naver');
    });
    await step('no console errors while paying', async () => {
      expect(errors.length === 0, `console errors:\n${errors.join('\n')}`);
    });

    await step('PAYMENTS_ENABLED=0: a Korean notice, no buttons, no console error', async () => {
      await host.reload({ PAYMENTS_ENABLED: '0' });
      const p2 = await context.newPage();
      const errs = watchConsole(p2, host.base);
      await takeDemoQuiz(p2, host); // a result nobody has bought
      const notice = p2.locator('[data-notice="payments-paused"]');
      await notice.waitFor({ state: 'visible' });
      expect((await notice.textContent()).includes('지금은 결제를 잠시 쉬고 있어요'), 'the notice text');
      expect(await p2.locator('[data-pay]').count() === 0, 'pay buttons are shown');
      expect(await p2.locator('#premium').getAttribute('data-state') === 'paused', 'premium state');
      await p2.getByRole('button', { name: '링크 복사' }).click(); // sharing still works
      await p2.waitForTimeout(300);
      expect(errs.length === 0, `console errors:\n${errs.join('\n')}`);
      await shot(p2, 'payments-paused');
      await p2.close();
    });

    await step('a CSP violation is reported and counted (report-only, then enforce)', async () => {
      for (const mode of ['report-only', 'enforce']) {
        await host.reload({ CSP_MODE: mode, PAYMENTS_ENABLED: '1' });
        const before = await host.metric('csp_reports_total');
        const p3 = await context.newPage();
        await p3.goto(`${host.base}/app/result/demo1`);
        const ran = await p3.evaluate(() => new Promise((resolve) => {
          window.__mqInline = false;
          const s = document.createElement('script');
          s.textContent = 'window.__mqInline = true;'; // no nonce: a violation
          document.body.appendChild(s);
          setTimeout(() => resolve(window.__mqInline), 100);
        }));
        expect(ran === (mode === 'report-only'), `inline script ran=${ran} in ${mode} mode`);
        await waitFor(`csp_reports_total > ${before} (${mode})`, async () => (await host.metric('csp_reports_total')) > before, 15);
        await p3.close();
      }
    });
  } catch (e) {
    failed = true;
    if (!results.length || results[results.length - 1].ok) {
      results.push({ name: 'setup', ok: false, error: e });
      log(`FAIL  setup: ${e.stack || e}`);
    }
    if (host) log(`host stderr (last lines):\n${host.tail(40)}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (host) {
      const code = await host.stop();
      const text = host.tail(400);
      if (code !== 0 || /AddressSanitizer|LeakSanitizer|runtime error:/.test(text)) {
        failed = true;
        results.push({ name: 'host exits cleanly', ok: false });
        log(`host exited with ${code}:\n${host.tail(60)}`);
      }
    }
    if (sim) sim.stop();
    if (process.env.MQ_E2E_KEEP === '1' || failed) log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  const passed = results.filter((r) => r.ok).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  return failed || passed !== results.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
