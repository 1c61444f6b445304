// A container repository's page shows podman, docker and skopeo commands for this server;
// an image's page lists its tags with digest, size, platform and pull command, and counts
// its pulls; an administrator deletes a tag.
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const artifacts = need('ARTIFACTS_DIR');
const host = new URL(base).host;

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(15000);
  await signIn(page, base, email, password);

  await page.goto(`${base}/repositories/images`);
  const podman = page.getByTestId('podman-commands');
  await podman.waitFor();
  check((await podman.textContent()).includes(`podman login --tls-verify=false ${host}`), 'podman login names this server');
  check((await page.getByTestId('docker-commands').textContent()).includes(`docker pull ${host}/images/`), 'docker pull names the repository');
  check((await page.getByTestId('skopeo-commands').textContent()).includes('skopeo copy'), 'skopeo command shown');

  const row = page.locator('tr[data-package="team/app"]');
  await row.waitFor();
  await page.screenshot({ path: `${artifacts}/container-repository.png`, fullPage: true });
  await row.getByRole('link', { name: 'team/app' }).click();
  await page.waitForURL('**/repositories/images/packages/team/app');
  const tag = page.locator('tr[data-tag="v1"]');
  await tag.waitFor();
  const text = await tag.textContent();
  check(text.includes('linux/amd64'), `the platform is shown: ${text}`);
  check(text.includes(`podman pull ${host}/images/team/app:v1`), 'the pull command is shown');
  check(text.includes('sha256:'), 'the digest is shown');
  const pulls = await page.getByTestId('download-total').textContent();
  check(pulls.includes('1 pull in all'), `the pull is counted: ${pulls}`);
  await page.locator('tr[data-tag="latest"]').waitFor();
  await page.screenshot({ path: `${artifacts}/container-image.png`, fullPage: true });
  await page.locator('tr[data-tag="latest"]').getByRole('button', { name: 'Delete tag' }).click();
  await page.locator('tr[data-tag="latest"]').waitFor({ state: 'detached' });
  console.log('containers: ok');
} finally {
  await browser.close();
}
