// Creates a personal token in the SPA, sees its secret once, and revokes it. Prints the
// secret (as `SECRET=…`) so the Rust test can prove it worked and then stopped working.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);

  await signIn(page, base, email, password);

  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Tokens', exact: true }).click();
  await page.waitForURL('**/tokens');
  await page.fill('input[name=token-name]', 'laptop');
  await page.check('input[name=role-uploader]');
  await page.getByRole('button', { name: 'Create token' }).click();

  const secretInput = page.getByTestId('new-token-secret');
  await secretInput.waitFor();
  const secret = await secretInput.inputValue();
  check(secret.startsWith('pkpat-'), `unexpected secret: ${secret}`);
  check((await page.getByRole('status').textContent()).includes('only this once'), 'no shown-once warning');
  await page.screenshot({ path: `${artifacts}/token-created.png`, fullPage: true });
  console.log(`SECRET=${secret}`);

  const row = page.locator('tr[data-token="laptop"]');
  await row.waitFor();
  check((await row.textContent()).includes('uploader'), 'the list does not show the roles');

  // Once dismissed (or after a reload) the secret is gone for good.
  await page.getByRole('button', { name: 'Done' }).click();
  await page.reload();
  await row.waitFor();
  check(!(await page.content()).includes(secret), 'the secret is shown again');

  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByText('revoked').waitFor();
  await page.screenshot({ path: `${artifacts}/token-revoked.png`, fullPage: true });
  console.log('tokens: ok');
} finally {
  await browser.close();
}
