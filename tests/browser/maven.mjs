// A Maven repository's page shows settings.xml, <repository> and <distributionManagement>
// for this server; an administrator sets SNAPSHOT retention; the package page lists files.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const artifacts = need('ARTIFACTS_DIR');

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(15000);
  await signIn(page, base, email, password);

  await page.goto(`${base}/repositories/java`);
  const settings = page.getByTestId('maven-settings');
  await settings.waitFor();
  check((await settings.textContent()).includes('<id>packistry-java</id>'), 'settings.xml names the server id');
  check((await page.getByTestId('maven-repository').textContent()).includes(`${base}/maven/java`), '<repository> points here');
  check((await page.getByTestId('maven-distribution').textContent()).includes('<snapshotRepository>'), 'distributionManagement has snapshots');

  await page.fill('input[name=snapshot-retention]', '3');
  await page.getByRole('button', { name: 'Save' }).click();
  const status = page.getByRole('status');
  await status.waitFor();
  check((await status.textContent()).includes('last 3 builds'), 'retention saved');

  const row = page.locator('tr[data-package="org.example:lib"]');
  await row.waitFor();
  await page.screenshot({ path: `${artifacts}/maven-repository.png`, fullPage: true });
  await row.getByRole('link', { name: 'org.example:lib' }).click();
  await page.waitForURL('**/repositories/java/packages/org.example:lib');
  await page.locator('tr[data-file="lib-1.0.jar"]').waitFor();
  await page.locator('tr[data-file="lib-1.0.pom"]').waitFor();
  await page.screenshot({ path: `${artifacts}/maven-package.png`, fullPage: true });
  console.log('maven: ok');
} finally {
  await browser.close();
}
