// Sources in the SPA: an admin adds a Git source, imports a project into a repository, and
// follows the import on its progress bar until every tag and branch has a result; a rebuild
// then finds every ref unchanged.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const project = need('PROJECT');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20000);
  await signIn(page, base, need('EMAIL'), need('PASSWORD'));
  await page.goto(base + '/sources');

  const form = page.getByTestId('source-form');
  await form.locator('input[name=source-name]').fill('local');
  await form.locator('select[name=source-provider]').selectOption('git');
  await form.getByRole('button', { name: 'Create source' }).click();
  const row = page.locator('tr[data-source=local]');
  await row.waitFor();
  const webhook = (await row.getByTestId('webhook-url').textContent()).trim();
  check(webhook === `${base}/incoming/git/local`, `webhook URL shown: ${webhook}`);

  const imports = page.getByTestId('import-form');
  await imports.locator('input[name=import-repository]').fill('libs');
  await imports.locator('input[name=import-repository]').dispatchEvent('change');
  await imports.locator('input[name=import-source]').fill('local');
  await imports.locator('input[name=import-project]').fill(project);
  await imports.getByRole('button', { name: 'Import' }).click();

  const panel = page.locator(`.import[data-project="${project}"]`);
  await panel.waitFor();
  // The panel is drawn again on every poll: wait on a selector, not on an element.
  await page.waitForSelector(
    `.import[data-project="${project}"] [data-testid=import-status]:text-is("succeeded")`,
    { timeout: 30000 },
  );
  await panel.locator('tr[data-ref="refs/tags/v1.0.0"]').waitFor();
  const progress = await panel.getByTestId('import-progress').getAttribute('value');
  check(progress === '100', `progress: ${progress}`);
  const tagRow = await panel.locator('tr[data-ref="refs/tags/v1.0.0"]').textContent();
  check(/imported/.test(tagRow) && /1\.0\.0/.test(tagRow), `v1.0.0: ${tagRow}`);
  check(/acme\/browser/.test(await panel.locator('h3').textContent()), 'the package name is shown');
  await page.screenshot({ path: `${artifacts}/sources-import.png`, fullPage: true });

  await panel.getByRole('button', { name: 'Rebuild' }).click();
  await page.waitForSelector(
    `.import[data-project="${project}"] tr[data-ref="refs/tags/v1.0.0"]:has-text("unchanged")`,
    { timeout: 30000 },
  );
  console.log('IMPORTED');
} finally {
  await browser.close();
}
