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
//   SR_WORLD          JSON: {inv, so, aud: {name, pass} (and inv's token),
//                     person: {ssn, family, dob}, case (assigned to inv,
//                     holding person and decoy), other_case (not inv's),
//                     decoy_ssn (a decoy's SSN), approval (inv's request
//                     waiting for a second person)}
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

async function signInAs(page, name, pass, firstView) {
  await page.goto(`${URL_}/`);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Passphrase', { exact: true }).fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: firstView }).waitFor();
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

    step = 'sign in with the keyboard alone';
    // The skip link comes first, then the form: Tab to each field, type,
    // and Enter submits.
    await page.goto(`${URL_}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const focused = () => page.evaluate(() => {
      const e = document.activeElement;
      return e.name || e.id || e.textContent;
    });
    // The view took focus (main); before it comes only the skip link.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Skip to the content');
    await page.keyboard.press('Tab'); // how to sign in: a radio group
    assert.equal(await focused(), 'how');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'name');
    await page.keyboard.type(W.inv.name);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.name), 'passphrase');
    await page.keyboard.type(W.inv.pass);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Search' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main', 'focus moves to the new view');
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

    step = 'caseload';
    await page.getByRole('button', { name: 'My caseload' }).click();
    await page.getByRole('heading', { name: 'My caseload' }).waitFor();
    await page.getByRole('cell', { name: W.case, exact: true }).waitFor();
    await axe(page, 'my caseload');
    await shot(page, 'caseload');
    log('my caseload lists the case assigned');

    step = 'sign out';
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal((await page.request.get(`${URL_}/v1/whoami`, {
      headers: { Cookie: `sr_session=${sid}` },
    })).status(), 401, 'the session outlived sign-out');
    assert.ok(!(await ctx.cookies()).some((c) => c.name === 'sr_session' && c.value), 'the cookie outlived sign-out');
    log('signed out: the session is gone');

    await ctx.close();

    step = 'a decoy touched';
    // The investigator searches for someone who turns out to be a decoy
    // (as an intruder walking SSNs would): the match is shown, and the
    // investigator is frozen; the console's next request ends the session.
    const victim = await browser.newContext();
    const vpage = await victim.newPage();
    await signInAs(vpage, W.inv.name, W.inv.pass, 'Search');
    await vpage.getByLabel('Purpose').selectOption('initial-investigation');
    await vpage.getByLabel('Case').fill(W.case);
    await vpage.getByLabel('Social Security number').fill(W.decoy_ssn);
    await vpage.locator('main').getByRole('button', { name: 'Search', exact: true }).click();
    await vpage.getByRole('heading', { name: '1 match' }).waitFor();
    await vpage.getByRole('button', { name: 'Open' }).click();
    await vpage.getByRole('button', { name: 'Reveal name' }).click();
    await vpage.getByRole('alert').filter({ hasText: 'session has ended' }).waitFor();
    const gone = await vpage.request.get(`${URL_}/v1/whoami`, { headers: { Authorization: `Bearer ${W.inv.token}` } });
    assert.equal(gone.status(), 401, 'the frozen investigator\'s token still works');
    await victim.close();
    log('a search that finds a decoy freezes the investigator: the session ends, the token fails');

    step = 'the officer sees it';
    const octx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const opage = await octx.newPage();
    opage.on('pageerror', (e) => errors.push(String(e)));
    await signInAs(opage, W.so.name, W.so.pass, 'Search');
    await opage.getByRole('button', { name: 'Security' }).click();
    await opage.getByRole('heading', { name: 'Security', exact: true }).waitFor();
    const alerts = opage.locator('#alerts');
    await alerts.getByRole('cell', { name: 'principal.frozen' }).first().waitFor();
    assert.ok((await alerts.textContent()).includes(W.inv.name));
    const hits = opage.locator('#decoy-hits');
    await hits.getByRole('cell', { name: W.inv.name, exact: true }).waitFor();
    await opage.locator('#frozen').getByText(W.inv.name).first().waitFor();
    await opage.locator('#budgets').getByRole('cell', { name: W.inv.name, exact: true }).waitFor();
    await axe(opage, 'the security page');
    await shot(opage, 'security');
    log("the decoy hit and the freeze are on the officer's page");

    step = 'approve';
    const queue = opage.locator('#approvals');
    await queue.getByRole('cell', { name: W.inv.name, exact: true }).waitFor();
    await queue.getByRole('button', { name: `Approve ${W.approval}` }).click();
    await queue.getByText('Nothing waits for an approval.').waitFor();
    log("the officer approves the investigator's request from the queue");

    step = 'unfreeze';
    await opage.getByLabel(`Reason to unfreeze ${W.inv.name}`).fill('ticket-4711');
    await opage.getByRole('button', { name: `Unfreeze ${W.inv.name}` }).click();
    await opage.getByRole('button', { name: `Unfreeze ${W.inv.name}` }).waitFor({ state: 'detached' });
    const back = await opage.request.get(`${URL_}/v1/whoami`, { headers: { Authorization: `Bearer ${W.inv.token}` } });
    assert.equal(back.status(), 200, 'the investigator is unfrozen');
    log('unfrozen with a reason; the investigator works again');

    step = 'breach report';
    await opage.getByRole('button', { name: 'Breach report' }).click();
    await opage.getByLabel('Principal').fill(W.inv.name);
    await opage.getByRole('button', { name: 'Make the report' }).click();
    await opage.locator('#report h2').first().waitFor();
    assert.match(await opage.locator('#report h2').first().textContent(), /^(1 person|[1-9]\d* people) revealed/);
    await opage.locator('#report svg rect').first().waitFor();
    await axe(opage, 'the breach report');
    await shot(opage, 'breach-report');
    log("the breach report names the investigator's reads, with its chart");
    await octx.close();

    step = 'the auditor verifies an entry';
    const actx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const apage = await actx.newPage();
    apage.on('pageerror', (e) => errors.push(String(e)));
    await signInAs(apage, W.aud.name, W.aud.pass, 'Audit log');
    await apage.locator('#checkpoint-ok').waitFor();
    assert.match(await apage.locator('#checkpoint-ok').textContent(), /signature by .* verified in this browser/);
    await apage.getByLabel('Principal').fill(W.inv.name);
    await apage.getByRole('button', { name: 'Show', exact: true }).click();
    await apage.locator('#entries table').waitFor();
    const verify = apage.getByRole('button', { name: /^Verify entry \d+$/ }).first();
    await verify.click();
    const ok = apage.locator('.verified');
    await ok.waitFor();
    assert.match(await ok.textContent(), /verified in this browser/);
    assert.ok((await ok.textContent()).includes(W.inv.name), 'the verified entry names its principal');
    await axe(apage, 'the audit log with an entry verified');
    await shot(apage, 'audit');
    log('the auditor verified an entry in the browser (SHA-256, Ed25519)');
    await actx.close();

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
