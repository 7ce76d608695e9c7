// SPDX-License-Identifier: Apache-2.0
// The web console in a real browser (docs/console.md): Playwright drives
// Debian's chromium, headless, against a server tests/cli_console.py has
// started and filled. Each step asserts what a user would see, and axe-core
// checks every page state for accessibility faults. Exits non-zero, naming
// the step, on the first failure.
//
// Environment (from tests/cli_console.py):
//   SR_URL            the server, e.g. http://127.0.0.1:PORT
//   SR_CHROMIUM       the browser (default /usr/bin/chromium)
//   SR_WORLD          JSON: {inv: {name, pass}, person: {ssn, family, dob},
//                     case (assigned to inv, holding person), other_case
//                     (not inv's)}
//   SR_SCREENSHOTS    a directory to save a screenshot of each page in
//                     (docs/screenshots/ via scripts/screenshots), or unset
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const URL_ = process.env.SR_URL;
const W = JSON.parse(process.env.SR_WORLD);
const SHOTS = process.env.SR_SCREENSHOTS || '';

let step = 'start';
const log = (s) => process.stdout.write(`ok - ${s}\n`);

async function axe(page, what) {
  // axe-core runs in the page; the CSP allows no inline script, so it
  // is evaluated through the DevTools protocol, not a <script> tag.
  await page.evaluate(AXE);
  const r = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} node(s): ${v.help}`);
  assert.deepEqual(bad, [], `axe on ${what}`);
  log(`axe: no violations on ${what}`);
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// Nothing the user typed or read may reach the address, the title or the
// history.
async function noLeak(page, secrets, what) {
  const url = page.url();
  const title = await page.title();
  const hist = await page.evaluate(() => history.length);
  for (const s of secrets) {
    assert.ok(!url.includes(s), `${what}: the address holds an identifier`);
    assert.ok(!title.includes(s), `${what}: the title holds an identifier`);
  }
  assert.equal(title, 'Strongroom', `${what}: the title changed`);
  assert.ok(hist <= 2, `${what}: ${hist} history entries`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.SR_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const errors = [];
  try {
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) errors.push(m.text());
    });
    const secrets = [W.person.ssn, W.person.ssn.replace(/-/g, ''), W.person.family, W.person.dob];

    step = 'sign-in page';
    await page.goto(`${URL_}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await axe(page, 'the sign-in page');
    await shot(page, 'sign-in');

    step = 'a wrong passphrase';
    await page.getByLabel('Name', { exact: true }).fill(W.inv.name);
    await page.getByLabel('Passphrase', { exact: true }).fill('not the passphrase');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
    log('a wrong passphrase is refused');

    step = 'sign in';
    await page.getByLabel('Name', { exact: true }).fill(W.inv.name);
    await page.getByLabel('Passphrase', { exact: true }).fill(W.inv.pass);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    assert.match(await page.locator('#who').textContent(), new RegExp(`${W.inv.name} \\(investigator\\)`));
    const cookies = await ctx.cookies();
    const sess = cookies.find((c) => c.name === 'sr_session');
    assert.ok(sess && sess.httpOnly && sess.sameSite === 'Strict', 'the session cookie');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the script sees no cookie');
    log('signed in; the cookie is HttpOnly and SameSite=Strict');

    step = 'purpose before anything';
    await page.getByLabel('Social Security number').fill(W.person.ssn);
    await page.locator('main').getByRole('button', { name: 'Search', exact: true }).click();
    assert.equal(await page.locator('#results').textContent(), '', 'searched without a purpose');
    log('no search without a purpose');

    step = 'search';
    await page.getByLabel('Purpose').selectOption('initial-investigation');
    await page.getByLabel('Case').fill(W.case);
    await page.getByLabel('Social Security number').fill(W.person.ssn);
    await page.locator('main').getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('heading', { name: '1 match' }).waitFor();
    const receipt = page.locator('.receipt');
    assert.match(await receipt.textContent(), /recorded in the audit log as entry \d+/);
    assert.equal(await page.getByLabel('Social Security number').inputValue(), '', 'the SSN stays in the form');
    await noLeak(page, secrets, 'after the search');
    await axe(page, 'the search results');
    await shot(page, 'search');

    step = 'person view';
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('button', { name: 'Reveal identity' }).waitFor();
    const before = await page.locator('main').textContent();
    assert.ok(!before.includes(W.person.ssn.slice(-4)), 'an identity field shown before it was revealed');
    await axe(page, 'the person view, nothing revealed');

    step = 'reveal identity';
    await page.getByRole('button', { name: 'Reveal identity' }).click();
    const masked = page.locator('.masked');
    await masked.waitFor();
    assert.equal(await masked.textContent(), `***-**-${W.person.ssn.slice(-4)}`);
    assert.ok(!(await page.locator('main').textContent()).includes(W.person.ssn), 'the SSN shown unmasked');
    const idReceipt = page.locator('section[aria-label="Identity"] .receipt');
    assert.match(await idReceipt.textContent(), /entry \d+/);
    await page.getByRole('button', { name: 'Show SSN' }).click();
    assert.equal(await masked.textContent(), W.person.ssn);
    await page.getByRole('button', { name: 'Hide SSN' }).click();
    assert.equal(await masked.textContent(), `***-**-${W.person.ssn.slice(-4)}`);
    log('the SSN is masked until shown; the reveal has its receipt');

    step = 'reveal name';
    await page.getByRole('button', { name: 'Reveal name' }).click();
    await page.locator('section[aria-label="Name"] .receipt').waitFor();
    assert.ok((await page.locator('section[aria-label="Name"]').textContent()).includes(W.person.family));
    await noLeak(page, secrets, 'after the reveals');
    await axe(page, 'the person view, two classes revealed');
    await shot(page, 'person');

    step = 'a denial';
    await page.getByRole('button', { name: 'Back to search' }).click();
    await page.getByLabel('Case').fill(W.other_case);
    await page.getByLabel('Social Security number').fill(W.person.ssn);
    await page.locator('main').getByRole('button', { name: 'Search', exact: true }).click();
    const denied = page.getByRole('alert').filter({ hasText: 'case.unassigned' });
    await denied.waitFor();
    await axe(page, 'a denial');
    await shot(page, 'denied');
    log('a denial is shown with its rule');

    step = 'csrf';
    const good = await page.request.get(`${URL_}/v1/whoami`, {
      headers: { Cookie: `sr_session=${(await ctx.cookies()).find((c) => c.name === 'sr_session').value}` },
    });
    assert.equal(good.status(), 200, 'the session cookie given by hand');
    // The session cookie is Secure: Playwright's own requests over http
    // leave it out (the browser sends it to 127.0.0.1), so it is given.
    const sid = (await ctx.cookies()).find((c) => c.name === 'sr_session').value;
    const res = await page.request.post(`${URL_}/v1/persons/search`, {
      headers: { 'X-CSRF-Token': 'not-the-token', Cookie: `sr_session=${sid}` },
      data: { purpose: 'initial-investigation', case: W.case, ssn: W.person.ssn },
    });
    assert.equal(res.status(), 403, 'a change without the CSRF token');
    assert.equal((await res.json()).type, 'urn:strongroom:problem:csrf');
    log('a request without the session\'s CSRF token is refused');

    step = 'sign out';
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal((await page.request.get(`${URL_}/v1/whoami`, {
      headers: { Cookie: `sr_session=${sid}` },
    })).status(), 401, 'the session outlived sign-out');
    assert.ok(!(await ctx.cookies()).some((c) => c.name === 'sr_session' && c.value), 'the cookie outlived sign-out');
    log('signed out: the session is gone');

    assert.deepEqual(errors, [], 'script errors in the page');
  } finally {
    await browser.close();
  }
}

main().then(() => {
  log('done');
}, (e) => {
  process.stdout.write(`not ok - ${step}: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
