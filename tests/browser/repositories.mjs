// A developer creates a repository in the SPA, grants a role on it, sees the grant, and
// revokes it.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const grantee = need('GRANTEE');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15000);
  await signIn(page, base, email, password);

  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Repositories', exact: true }).click();
  await page.fill('input[name=repository-name]', 'Bad Name');
  await page.getByRole('button', { name: 'Create repository' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  check((await alert.textContent()).includes('lowercase'), 'an invalid name is not explained');

  await page.fill('input[name=repository-name]', 'web-app');
  await page.selectOption('select[name=repository-format]', 'maven');
  await page.getByRole('button', { name: 'Create repository' }).click();
  const row = page.locator('tr[data-repository="web-app"]');
  await row.waitFor();
  check((await row.textContent()).includes('administrator'), 'the creator is not its administrator');
  await page.screenshot({ path: `${artifacts}/repositories.png`, fullPage: true });

  await row.getByRole('link', { name: 'web-app' }).click();
  await page.waitForURL('**/repositories/web-app');
  await page.fill('input[name=grantee]', grantee);
  await page.selectOption('select[name=grant-role]', 'uploader');
  await page.getByRole('button', { name: 'Grant' }).click();
  const grant = page.locator(`tr[data-grantee="${grantee}"]`);
  await grant.waitFor();
  check((await grant.textContent()).includes('uploader'), 'the grant does not show its role');
  await page.screenshot({ path: `${artifacts}/repository-grants.png`, fullPage: true });
  await grant.getByRole('button', { name: 'Revoke' }).click();
  await grant.waitFor({ state: 'detached' });

  // Deploy tokens of this repository: created with the secret shown once, then revoked.
  await page.fill('input[name=deploy-token-name]', 'ci');
  await page.selectOption('select[name=deploy-token-role]', 'uploader');
  await page.getByRole('button', { name: 'Create deploy token' }).click();
  const secret = await page.getByTestId('new-deploy-secret').inputValue();
  check(secret.startsWith('pkdt-'), `unexpected deploy secret: ${secret}`);
  console.log(`DEPLOY_SECRET=${secret}`);
  const deploy = page.locator('tr[data-deploy-token="ci"]');
  await deploy.waitFor();
  check((await deploy.textContent()).includes('uploader'), 'the deploy token does not show its role');
  await page.screenshot({ path: `${artifacts}/deploy-tokens.png`, fullPage: true });
  console.log('repositories: ok');
} finally {
  await browser.close();
}
