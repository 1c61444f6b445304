// An admin creates a group, adds a member and makes them maintainer, then finds those
// changes in the audit trail.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const member = need('MEMBER');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15000);
  await signIn(page, base, email, password);
  const nav = page.getByRole('navigation', { name: 'Sections' });

  await nav.getByRole('link', { name: 'Groups', exact: true }).click();
  await page.fill('input[name=group-name]', 'backend');
  await page.getByRole('button', { name: 'Create group' }).click();
  const group = page.locator('div[data-group="backend"]');
  await group.waitFor();
  await group.getByLabel('Member e-mail').fill(member);
  await group.getByRole('button', { name: 'Add member' }).click();
  const row = group.locator(`tr[data-member="${member}"]`);
  await row.waitFor();
  await row.getByRole('button', { name: 'Make maintainer' }).click();
  await row.getByRole('button', { name: 'Unmake maintainer' }).waitFor();
  await page.screenshot({ path: `${artifacts}/groups.png`, fullPage: true });

  await nav.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.getByTestId('audit-list').waitFor();
  const text = await page.getByTestId('audit-list').textContent();
  for (const action of ['group.created', 'group.member_set']) {
    check(text.includes(action), `${action} is missing from the audit page`);
  }
  check(text.includes(member), 'the audit details do not name the member');
  await page.screenshot({ path: `${artifacts}/audit.png`, fullPage: true });
  console.log('groups and audit: ok');
} finally {
  await browser.close();
}
