// Signs in through the SPA: a wrong password shows an error; the right one shows the shell
// with every section, on a laptop and a phone-width window; sign-out returns to sign-in.
import { launch, need, check } from './lib.mjs';

const base = need('BASE_URL');
const email = need('EMAIL');
const password = need('PASSWORD');
const artifacts = need('ARTIFACTS_DIR');
const sections = ['Repositories', 'Packages', 'Users', 'Groups', 'Tokens', 'Sources',
  'Authentication sources', 'Audit'];

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15000);

  await page.goto(base + '/');
  await page.waitForURL('**/login');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', 'not-the-password');
  await page.click('button[type=submit]');
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const message = await alert.textContent();
  check(/wrong e-mail or password/i.test(message), `unexpected error message: ${message}`);
  await page.screenshot({ path: `${artifacts}/signin-wrong-password.png` });

  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  const who = page.getByTestId('signed-in-as');
  await who.waitFor();
  check((await who.textContent()).includes(email), 'the shell does not show who is signed in');
  const nav = page.getByRole('navigation', { name: 'Sections' });
  for (const name of sections) {
    await nav.getByRole('link', { name, exact: true }).waitFor();
  }
  await page.screenshot({ path: `${artifacts}/shell-laptop.png`, fullPage: true });

  // A reload keeps the session (the cookie, not page state, signs the browser in).
  await page.reload();
  await who.waitFor();

  // Phone width: the navigation folds behind a menu button and still works.
  await page.setViewportSize({ width: 390, height: 780 });
  await page.screenshot({ path: `${artifacts}/shell-phone.png`, fullPage: true });
  await page.getByRole('button', { name: 'Menu' }).click();
  await nav.getByRole('link', { name: 'Tokens', exact: true }).click();
  await page.waitForURL('**/tokens');
  await page.getByRole('heading', { name: 'Tokens', exact: true }).waitFor();
  await page.screenshot({ path: `${artifacts}/shell-phone-tokens.png`, fullPage: true });

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/login');
  await page.reload();
  await page.waitForURL('**/login');

  // A user who is not an admin is not offered the admin sections the server would refuse.
  const userEmail = process.env.USER_EMAIL;
  if (userEmail) {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.fill('input[name=email]', userEmail);
    await page.fill('input[name=password]', need('USER_PASSWORD'));
    await page.click('button[type=submit]');
    await who.waitFor();
    for (const name of ['Repositories', 'Packages', 'Groups', 'Tokens']) {
      await nav.getByRole('link', { name, exact: true }).waitFor();
    }
    for (const name of ['Users', 'Sources', 'Authentication sources', 'Audit']) {
      const count = await nav.getByRole('link', { name, exact: true }).count();
      check(count === 0, `a user who is not an admin is offered ${name}`);
    }
    await page.screenshot({ path: `${artifacts}/shell-user.png`, fullPage: true });
  }
  console.log('signin: ok');
} finally {
  await browser.close();
}
