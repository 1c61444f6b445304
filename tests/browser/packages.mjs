// A repository administrator sees the Composer setup snippets, uploads a package zip from
// the browser, opens the package page (versions, requirements, readme, downloads chart) and
// deletes a version.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const zip = need('PACKAGE_ZIP');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(15000);
  await signIn(page, base, email, password);

  await page.goto(`${base}/repositories/libs`);
  const composerJson = page.getByTestId('composer-json');
  await composerJson.waitFor();
  check((await composerJson.textContent()).includes(`${base}/composer/libs`), 'composer.json snippet names this repository');
  const authJson = await page.getByTestId('auth-json').textContent();
  check(authJson.includes(new URL(base).host), 'auth.json snippet is keyed by host:port');
  check((await page.getByTestId('upload-command').textContent()).includes('-F file=@'), 'the curl upload command is shown');

  await page.setInputFiles('input[name=package-file]', zip);
  await page.fill('input[name=package-version]', '1.1.0');
  await page.getByRole('button', { name: 'Upload' }).click();
  const status = page.getByRole('status');
  await status.waitFor();
  check((await status.textContent()).includes('acme/hello 1.1.0'), 'the upload is confirmed');
  const row = page.locator('tr[data-package="acme/hello"]');
  await row.waitFor();
  await page.waitForFunction(() => document.querySelector('tr[data-package="acme/hello"]')?.textContent.includes('1.1.0'));
  await page.screenshot({ path: `${artifacts}/repository-packages.png`, fullPage: true });

  // 121 packages: pages of 50 with their range and total, then a search as one types.
  const total = page.getByTestId('package-total');
  const shows = async (text, what) => {
    await page.waitForFunction(
      (want) => document.querySelector('[data-testid=package-total]')?.textContent === want,
      text,
    ).catch(async () => check(false, `${what}: expected "${text}", saw "${await total.textContent()}"`));
  };
  await shows('1–50 of 121 packages', 'the first page');
  check(await page.locator('tr[data-package]').count() === 50, 'fifty rows on a page');
  check(await page.getByTestId('previous-page').isDisabled(), 'no page before the first');
  await page.getByTestId('next-page').click();
  await shows('51–100 of 121 packages', 'the second page');
  await page.getByTestId('next-page').click();
  await shows('101–121 of 121 packages', 'the last page');
  check(await page.getByTestId('next-page').isDisabled(), 'no page after the last');
  check(await page.locator('tr[data-package]').count() === 21, 'the last page holds the rest');
  await page.getByTestId('previous-page').click();
  await shows('51–100 of 121 packages', 'back to the second page');
  await page.fill('input[name=package-search]', 'pkg11');
  await shows('1–11 of 11 packages', 'the search');
  check(await page.locator('tr[data-package="vendor10/pkg110"]').count() === 1, 'a match is listed');
  await page.fill('input[name=package-search]', 'no-such-package');
  await shows('No packages match.', 'a search without matches');
  await page.fill('input[name=package-search]', '');
  await shows('1–50 of 121 packages', 'the whole list again');

  await row.getByRole('link', { name: 'acme/hello' }).click();
  await page.waitForURL('**/repositories/libs/packages/acme/hello');
  await page.locator('tr[data-version="1.0.0"]').waitFor();
  await page.locator('tr[data-version="1.1.0"]').waitFor();
  const readme = page.getByTestId('readme');
  await readme.waitFor();
  check(await readme.locator('h1').count() === 1, 'the readme is rendered as HTML');
  check((await page.getByTestId('requires').textContent()).includes('php'), 'requirements are listed');
  await page.getByTestId('downloads-chart').waitFor();
  check(await page.locator('[data-testid=downloads-chart] rect').count() === 30, 'thirty days of downloads');
  const today = page.locator('[data-testid=downloads-chart] rect').last();
  check(Number(await today.getAttribute('data-count')) >= 1, "today's download is charted");
  await page.screenshot({ path: `${artifacts}/package.png`, fullPage: true });

  // Signed in, the browser downloads the zip with its session (no token needed).
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download zip' }).click(),
  ]);
  check((await download.failure()) === null, 'the zip downloads with the session');
  check(download.suggestedFilename() === 'acme-hello-1.1.0.zip', `unexpected file name ${download.suggestedFilename()}`);

  await page.locator('tr[data-version="1.0.0"]').getByRole('button', { name: 'Delete' }).click();
  await page.locator('tr[data-version="1.0.0"]').waitFor({ state: 'detached' });
  console.log('packages: ok');
} finally {
  await browser.close();
}
