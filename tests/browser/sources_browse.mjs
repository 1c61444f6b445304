// Browsing a host's projects in the SPA: test connection, search, select, add; the added
// project gets its webhook and its import runs to the end.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20000);
  await signIn(page, base, need('EMAIL'), need('PASSWORD'));
  await page.goto(base + '/sources');

  const form = page.getByTestId('source-form');
  await form.locator('input[name=source-name]').fill('hub');
  await form.locator('select[name=source-provider]').selectOption('github');
  await form.locator('input[name=source-base-url]').fill(need('HOST_URL'));
  await form.locator('input[name=source-token]').fill(need('HOST_TOKEN'));
  await form.getByRole('button', { name: 'Create source' }).click();
  const row = page.locator('tr[data-source=hub]');
  await row.waitFor();
  check(!(await page.content()).includes(need('HOST_TOKEN')), 'the page shows the token');

  await row.getByRole('button', { name: 'Test connection' }).click();
  const connection = row.getByTestId('connection');
  await connection.waitFor();
  const said = await connection.textContent();
  check(/connected as acme-bot/.test(said), `test connection: ${said}`);

  await page.getByTestId('import-form').locator('input[name=import-repository]').fill('libs');
  await page.getByTestId('import-form').locator('input[name=import-repository]').dispatchEvent('change');

  await row.getByRole('button', { name: 'Browse projects' }).click();
  const projects = page.getByTestId('projects');
  await projects.locator('li[data-project="acme/lib-000"]').waitFor();
  await projects.getByRole('button', { name: 'More' }).click();
  await projects.locator('li[data-project="acme/lib-149"]').waitFor();
  await projects.getByLabel('Search projects').fill('lib-007');
  await projects.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=projects] li').length === 1);
  await projects.locator('li[data-project="acme/lib-007"] input[type=checkbox]').check();
  await page.screenshot({ path: `${artifacts}/sources-browse.png`, fullPage: true });
  await projects.getByRole('button', { name: 'Add 1 selected to the repository' }).click();
  const note = page.getByTestId('webhook-note');
  await note.waitFor();
  const noted = await note.textContent();
  check(/acme\/lib-007: webhook created/.test(noted), `webhook note: ${noted}`);

  await page.waitForSelector(
    '.import[data-project="acme/lib-007"] [data-testid=import-status]:text-is("succeeded")',
    { timeout: 30000 },
  );
  console.log('BROWSED');
} finally {
  await browser.close();
}
