// The web UI in a real browser (Debian's Chromium through playwright-core), against the
// `weft serve` that tests/ui.rs starts and describes in the environment:
// WEFT_URL, WEFT_ALPHA_TOKEN, WEFT_BETA_TOKEN, WEFT_RUN (a finished run of alpha's),
// WEFT_SPIN_RUN (a run of alpha's that goes on until these tests cancel it), WEFT_BIG_RUN
// (a finished run of 1,000 steps), WEFT_BC_WORKFLOW and WEFT_BC_INPUT (the breast-cancer
// example and the digest of its data, uploaded), WEFT_BC_OTHER (a finished run of it with
// seed 8),
// WEFT_CHROMIUM (the browser) and WEFT_SCREENSHOTS (where pages are saved as PNG).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run these tests through tests/ui.rs`);
  return value;
};
const base = env('WEFT_URL');
const run = env('WEFT_RUN');
const shots = env('WEFT_SCREENSHOTS');

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: env('WEFT_CHROMIUM'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => { await browser?.close(); });

/// A fresh browser context (its own cookies) signed in with `token`.
async function signedIn(token, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(`${base}/ui/`);
  assert.equal(new URL(page.url()).pathname, '/ui/login', 'signed out, the UI asks for a token');
  await page.getByLabel('Tenant API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/ui/`);
  return { context, page, problems };
}

test('a tenant signs in, finds its run and opens it', async () => {
  const { context, page, problems } = await signedIn(env('WEFT_ALPHA_TOKEN'));
  const link = page.getByRole('link', { name: run });
  await link.waitFor();
  const row = page.locator('tr', { has: link });
  assert.match(await row.innerText(), /succeeded/);
  await page.screenshot({ path: `${shots}/runs.png`, fullPage: true });
  await link.click();
  await page.waitForURL(`${base}/ui/runs/${run}`);
  assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), `Run ${run}`);
  assert.match(await page.locator('#step-only').innerText(), /succeeded/);
  // The graph: both steps, coloured by status; selecting one shows it beside the graph.
  await page.locator('#dag svg').waitFor();
  assert.equal(await page.locator('#dag .node').count(), 2);
  assert.equal(await page.locator('#dag [data-step="work"]').getAttribute('data-status'), 'succeeded');
  await page.locator('#dag [data-step="work"]').click();
  await page.locator('#panel #metrics').waitFor();
  assert.match(await page.locator('#panel h2').first().innerText(), /Step work/);
  assert.equal(new URL(page.url()).pathname, `/ui/runs/${run}`, 'the panel opened in place');
  // A step's page: its metric and its output.
  await page.getByRole('link', { name: 'work', exact: true }).click();
  await page.waitForURL(`${base}/ui/runs/${run}/steps/work`);
  assert.match(await page.locator('#metrics').innerText(), /value/);
  assert.match(await page.locator('#outputs').innerText(), /text\/plain/);
  await page.screenshot({ path: `${shots}/step.png`, fullPage: true });
  assert.deepEqual(problems, [], 'no script error, nothing the page policy refused');
  await context.close();
});

test('another tenant can reach neither the run nor its row', async () => {
  const { context, page } = await signedIn(env('WEFT_BETA_TOKEN'));
  assert.equal(await page.getByRole('link', { name: run }).count(), 0);
  const response = await page.goto(`${base}/ui/runs/${run}`);
  assert.equal(response.status(), 404);
  assert.match(await page.locator('main').innerText(), /This tenant has no run/);
  await context.close();
});

test('the runs page works on a narrow window and by keyboard', async () => {
  const { context, page } = await signedIn(env('WEFT_ALPHA_TOKEN'), { width: 420, height: 800 });
  const link = page.getByRole('link', { name: run });
  await link.waitFor();
  assert.ok(await link.isVisible(), 'the run link fits a narrow window');
  // Tab from the top reaches the run's link; Enter opens it.
  for (let i = 0; i < 20 && !(await link.evaluate((a) => a === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  assert.ok(await link.evaluate((a) => a === document.activeElement), 'the link takes the focus');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${base}/ui/runs/${run}`);
  await context.close();
});

test("a running run's page follows it to its end without a reload", async () => {
  const spin = env('WEFT_SPIN_RUN');
  const token = env('WEFT_ALPHA_TOKEN');
  const { context, page, problems } = await signedIn(token);
  await page.goto(`${base}/ui/runs/${spin}`);
  await page.locator('dl.run .status.running').waitFor();
  let loads = 0;
  page.on('load', () => { loads += 1; });
  // Cancelled elsewhere (through the API): the page sees it at its next look.
  const cancelled = await fetch(`${base}/api/v1/runs/${spin}/cancel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(cancelled.status, 202);
  await page.locator('dl.run .status.cancelled').waitFor({ timeout: 30_000 });
  await page.locator('#dag [data-step="spin"][data-status="cancelled"]').waitFor();
  assert.match(await page.locator('#step-spin').innerText(), /cancelled/);
  assert.equal(loads, 0, 'the page was not loaded again');
  assert.ok(await page.getByRole('button', { name: 'Resume' }).isVisible());
  assert.deepEqual(problems, [], 'no script error, nothing the page policy refused');
  await context.close();
});

test('an invalid workflow shows its problem at its line; a valid one runs', async () => {
  const { context, page, problems } = await signedIn(env('WEFT_ALPHA_TOKEN'));
  await page.getByRole('link', { name: 'Submit' }).click();
  await page.waitForURL(`${base}/ui/submit`);
  // Loaded from a file, which the browser reads into the text.
  const bad = 'name: bad\nsteps:\n  a: {uses: test-noop, bogus: 1}\n';
  await page.getByLabel('Load a workflow file').setInputFiles({ name: 'bad.yaml', mimeType: 'text/yaml', buffer: Buffer.from(bad) });
  await page.waitForFunction((text) => document.getElementById('workflow').value === text, bad);
  await page.getByRole('button', { name: 'Run' }).click();
  const line = page.locator('#line-3');
  await line.waitFor();
  assert.match(await line.locator('.problem').innerText(), /^line 3, column \d+: /);
  assert.equal(await page.locator('#line-2 .problem').count(), 0);
  await page.screenshot({ path: `${shots}/submit.png`, fullPage: true });
  // The text is kept: fixed in place, it runs.
  const text = await page.getByLabel('Workflow (YAML)').inputValue();
  await page.getByLabel('Workflow (YAML)').fill(text.replace(', bogus: 1', ''));
  await page.getByRole('button', { name: 'Run' }).click();
  await page.waitForURL(/\/ui\/runs\//);
  await page.locator('dl.run .status.succeeded').waitFor({ timeout: 30_000 });
  // The refused submission's page came with its status, 422, which the console notes.
  const unexpected = problems.filter((p) => !p.includes('status of 422'));
  assert.deepEqual(unexpected, [], 'no script error, nothing the page policy refused');
  await context.close();
});

test("a 1,000-step run's pages load whole (times printed for the note)", async () => {
  const big = env('WEFT_BIG_RUN');
  const { context, page, problems } = await signedIn(env('WEFT_ALPHA_TOKEN'));
  const timed = async (path) => {
    await page.goto(`${base}${path}`);
    return page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      return { load: nav.loadEventEnd - nav.startTime, bytes: nav.transferSize };
    });
  };
  const list = await timed('/ui/');
  const run = await timed(`/ui/runs/${big}`);
  assert.equal(await page.locator('table.steps tbody tr').count(), 1000);
  // The fan-out is one node until expanded; expanded, it is 1,000.
  const group = page.locator('#dag .node.group');
  await group.waitFor();
  assert.match(await group.textContent(), /fan ×1000/);
  assert.match(await group.textContent(), /1000 succeeded/);
  const started = Date.now();
  await page.getByRole('button', { name: 'Expand fan (1000)' }).click();
  await page.locator('#dag a.node').nth(999).waitFor();
  const expanded = Date.now() - started;
  assert.equal(await page.locator('#dag a.node[data-status="succeeded"]').count(), 1000);
  // The last instance's page, through its link (its id holds brackets, encoded in the URL).
  const last = page.locator('table.steps tbody tr').last().getByRole('link');
  const id = await last.innerText();
  const step = await timed(new URL(await last.getAttribute('href'), base).pathname);
  assert.equal(await page.locator('h1').innerText(), `Step ${id}`);
  for (const [name, t] of [['runs list', list], ['run page, 1,000 steps', run], ['step page', step]]) {
    console.log(`page load: ${name}: ${t.load.toFixed(0)} ms, ${(t.bytes / 1024).toFixed(0)} KiB`);
  }
  console.log(`page load: expanding the graph's 1,000 instances: ${expanded} ms`);
  assert.deepEqual(problems, [], 'no script error, nothing the page policy refused');
  await context.close();
});

test('the breast-cancer pipeline: watched live, its graph, model card and sweep compared', async () => {
  const token = env('WEFT_ALPHA_TOKEN');
  const other = env('WEFT_BC_OTHER');
  const { context, page, problems } = await signedIn(token);
  let loads = 0;
  page.on('load', () => { loads += 1; });
  // Submitted elsewhere (the API) while the runs page is open: it appears there by itself.
  const submitted = await fetch(`${base}/api/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      workflow: readFileSync(env('WEFT_BC_WORKFLOW'), 'utf8'),
      inputs: { data: env('WEFT_BC_INPUT') },
      file: 'breast-cancer.yaml',
    }),
  });
  assert.equal(submitted.status, 201);
  const id = (await submitted.json()).run_id;
  const link = page.getByRole('link', { name: id });
  await link.waitFor({ timeout: 15_000 });
  assert.equal(loads, 0, 'the runs page showed the new run without a reload');
  await link.click();
  await page.waitForURL(`${base}/ui/runs/${id}`);
  loads = 0;
  // It finishes live: the status, then every node of the graph.
  await page.locator('dl.run .status.succeeded').waitFor({ timeout: 300_000 });
  assert.equal(loads, 0, 'the run page followed the run without a reload');
  const nodes = page.locator('#dag .node');
  // 11 steps and the two fan-outs (train and evaluate, 3 instances each) as one node each.
  assert.equal(await nodes.count(), 13);
  // Loading and checking the data were done by the other run (cached); the rest ran.
  assert.equal(await page.locator('#dag .node[data-status="cached"]').count(), 2);
  assert.equal(await page.locator('#dag .node[data-status="succeeded"]').count(), 11);
  for (const group of ['train', 'evaluate']) {
    assert.match(await page.locator(`#dag [data-group="${group}"]`).textContent(), /3 succeeded/);
  }
  assert.equal(await page.locator('table.steps tbody tr[data-status="succeeded"]').count(), 17);
  // A step's metrics and log, in the panel.
  await page.getByRole('button', { name: 'Expand evaluate (3)' }).click();
  await page.locator('#dag a.node[data-step^="evaluate["]').first().click();
  await page.locator('#panel #metrics').waitFor();
  assert.match(await page.locator('#panel #metrics').innerText(), /accuracy/);
  assert.match(await page.locator('#panel').innerText(), /Log\s+(No log lines\.|\S)/);
  await page.screenshot({ path: `${shots}/run.png`, fullPage: true });
  await page.locator('#dag [data-step="package"]').click();
  await page.locator('#panel #outputs').waitFor();
  await page.screenshot({ path: `${shots}/step.png` });
  // The model card, rendered from its Markdown.
  await page.locator('#panel #outputs tr', { hasText: 'card_md' }).getByRole('link').click();
  await page.waitForURL(/\/ui\/artifacts\/sha256:/);
  assert.equal(await page.locator('#media-type').innerText(), 'text/markdown');
  await page.locator('#preview .markdown h1').waitFor();
  assert.match(await page.locator('#preview .markdown').innerText(), /breast-cancer-logreg/);
  await page.locator('#lineage svg').waitFor();
  assert.ok(await page.locator('#lineage-list li', { hasText: 'inputs.data' }).count() >= 1, 'traced back to the CSV');
  await page.screenshot({ path: `${shots}/artifact.png` });
  // The sweep: accuracy for each L2 value, in the table and the plot.
  await page.goto(`${base}/ui/runs/${id}`);
  await page.getByRole('link', { name: 'Compare its sweeps' }).click();
  const sweep = page.locator('#sweep-evaluate');
  await sweep.waitFor();
  const rows = sweep.locator('tbody tr');
  assert.equal(await rows.count(), 3);
  const l2 = [];
  for (let i = 0; i < 3; i++) {
    const cells = await rows.nth(i).locator('td').allInnerTexts();
    const header = await sweep.locator('thead th').allInnerTexts();
    const at = (name) => cells[header.indexOf(name) - 1];
    l2.push(Number(at('l2')));
    const accuracy = Number(at('accuracy'));
    assert.ok(accuracy > 0.5 && accuracy <= 1, `accuracy ${accuracy}`);
  }
  assert.deepEqual(l2.sort(), [0, 0.01, 0.1]);
  await sweep.locator('figure.plot[data-drawn="accuracy against l2"] canvas').first().waitFor();
  await page.screenshot({ path: `${shots}/compare.png`, fullPage: true });
  // Two runs of it, ticked on the runs page and compared: the seeds differ.
  await page.goto(`${base}/ui/?workflow=breast-cancer`);
  await page.getByLabel(`Compare run ${id}`).check();
  await page.getByLabel(`Compare run ${other}`).check();
  await page.getByRole('button', { name: 'Compare selected' }).click();
  await page.waitForURL(/\/ui\/compare\?/);
  const seed = page.locator('#compare-table tr', { has: page.locator('th', { hasText: /^seed$/ }) });
  assert.match(await seed.getAttribute('class'), /differs/);
  await page.locator('figure.plot canvas').first().waitFor();
  assert.deepEqual(problems, [], 'no script error, nothing the page policy refused');
  await context.close();
});

test("the registry: a step's contract, versions and who may use it", async () => {
  const { context, page, problems } = await signedIn(env('WEFT_ALPHA_TOKEN'));
  await page.getByRole('link', { name: 'Steps', exact: true }).click();
  await page.waitForURL(`${base}/ui/steps`);
  await page.getByRole('link', { name: 'train-logreg', exact: true }).click();
  await page.waitForURL(`${base}/ui/steps/train-logreg`);
  assert.match(await page.locator('#params').innerText(), /l2\s+float/);
  assert.match(await page.locator('#versions').innerText(), /every tenant/);
  await page.screenshot({ path: `${shots}/steps.png`, fullPage: true });
  assert.deepEqual(problems, [], 'no script error, nothing the page policy refused');
  await context.close();
});
