// An admin creates a user in the SPA, changes their global role and deactivates them.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15000);
  await signIn(page, base, email, password);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Users', exact: true }).click();

  await page.fill('input[name=new-user-email]', 'newcomer@example.com');
  await page.fill('input[name=new-user-name]', 'Newcomer');
  await page.selectOption('select[name=new-user-role]', 'developer');
  await page.fill('input[name=new-user-password]', 'newcomer-password');
  await page.getByRole('button', { name: 'Create user' }).click();
  const row = page.locator('tr[data-user="newcomer@example.com"]');
  await row.waitFor();
  check((await row.getByLabel('Global role').inputValue()) === 'developer', 'the new user is not a developer');

  await row.getByLabel('Global role').selectOption('user');
  await row.getByRole('button', { name: 'Deactivate' }).click();
  await row.getByText('deactivated').waitFor();
  check((await row.getByLabel('Global role').inputValue()) === 'user', 'the role change did not hold');
  await page.screenshot({ path: `${artifacts}/users.png`, fullPage: true });
  console.log('users: ok');
} finally {
  await browser.close();
}
