// Single sign-on through a real OpenID Connect provider, in a real browser. One step per
// run (STEP), each in a fresh browser, so the provider asks who is signing in every time:
//   create   — an admin creates the source on the Authentication sources page and copies
//              its callback URL
//   first    — the sign-in page's button, the provider's sign-in and consent, back signed in
//   again    — the same account again (the server reuses the user)
//   tampered — the state the provider sends back is altered on the way: refused
//   domain   — an account outside the allowed domains: refused with a message
//   inactive — the source was turned off: no button, and its start URL is refused
import { launch, need, check, signIn } from './lib.mjs';

const base = need('BASE_URL');
const step = need('STEP');
const login = need('LOGIN');
const label = need('LABEL');
const artifacts = need('ARTIFACTS_DIR');

async function throughProvider(page) {
  // The provider's development sign-in form, then its consent form (skipped when remembered).
  await page.waitForURL((url) => !url.href.startsWith(base));
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any-password');
  await page.click('button[type=submit]');
  while (!page.url().startsWith(base)) {
    const consent = page.locator('button[type=submit]');
    if (await consent.isVisible().catch(() => false)) {
      await consent.click();
    }
    await page.waitForTimeout(200);
  }
}

async function expectRefusal(page, pattern) {
  await page.waitForURL('**/login?sso_error=*');
  const alert = page.getByTestId('sign-in-error');
  await alert.waitFor();
  const message = await alert.textContent();
  check(pattern.test(message), `unexpected message: ${message}`);
  return message;
}

const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15000);
  await page.goto(base + '/login');

  if (step === 'create') {
    await signIn(page, base, need('EMAIL'), need('PASSWORD'));
    await page.goto(base + '/auth-sources');
    const form = page.getByTestId('auth-source-form');
    await form.waitFor();
    await form.locator('input[name=source-name]').fill('corp');
    await form.locator('input[name=source-display-name]').fill(label);
    await form.locator('select[name=source-provider]').selectOption('oidc');
    await form.locator('input[name=source-client-id]').fill(need('CLIENT_ID'));
    await form.locator('input[name=source-client-secret]').fill(need('CLIENT_SECRET'));
    await form.locator('input[name=source-issuer-url]').fill(need('ISSUER'));
    await form.locator('select[name=source-default-role]').selectOption('developer');
    await form.locator('input[name=source-grants]').fill('acme-libs:reader');
    await form.locator('input[name=source-domains]').fill('example.com');
    await form.getByRole('button', { name: 'Create source' }).click();
    const row = page.locator('tr[data-source=corp]');
    await row.waitFor();
    const callback = (await row.getByTestId('callback-url').textContent()).trim();
    check(callback === `${base}/auth/sso/corp/callback`, `callback URL shown: ${callback}`);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await row.getByRole('button', { name: 'Copy' }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied === callback, `copied: ${copied}`);
    check(!(await page.content()).includes(need('CLIENT_SECRET')), 'the page shows the client secret');
    await page.screenshot({ path: `${artifacts}/sso-admin.png`, fullPage: true });
    console.log(`CALLBACK=${callback}`);
  } else if (step === 'inactive') {
    // The form is there, the button is not.
    await page.locator('input[name=email]').waitFor();
    await page.waitForTimeout(500);
    check(await page.getByRole('link', { name: `Sign in with ${label}` }).count() === 0,
      'an inactive source still has a button');
    await page.goto(base + '/auth/sso/corp/start');
    const message = await expectRefusal(page, /turned off/i);
    await page.screenshot({ path: `${artifacts}/sso-inactive.png` });
    console.log(`MESSAGE=${message}`);
  } else {
    const button = page.getByRole('link', { name: `Sign in with ${label}` });
    await button.waitFor();
    if (step === 'first') {
      await page.screenshot({ path: `${artifacts}/sso-sign-in-page.png` });
    }
    if (step === 'tampered') {
      // The state Packistry sends to the provider is altered on the way out; the provider
      // then sends the altered one back to the callback. (Playwright routes the request a
      // click makes, not the redirects that follow it.)
      await page.route((url) => url.href.startsWith(base) && url.pathname.endsWith('/start'), async (route) => {
        const response = await route.fetch({ maxRedirects: 0 });
        const location = new URL(response.headers()['location']);
        location.searchParams.set('state', location.searchParams.get('state') + 'x');
        await route.fulfill({ response, headers: { ...response.headers(), location: location.href } });
      });
    }
    await button.click();
    await throughProvider(page);
    if (step === 'tampered') {
      const message = await expectRefusal(page, /not valid or was already used/i);
      console.log(`MESSAGE=${message}`);
    } else if (step === 'domain') {
      const message = await expectRefusal(page, /e-mail domain may not sign in/i);
      await page.screenshot({ path: `${artifacts}/sso-domain-refused.png` });
      console.log(`MESSAGE=${message}`);
    } else {
      const who = page.getByTestId('signed-in-as');
      await who.waitFor();
      const text = await who.textContent();
      check(text.includes(login), `signed in as ${text}, not ${login}`);
      if (step === 'first') {
        await page.screenshot({ path: `${artifacts}/sso-signed-in.png` });
      }
      console.log(`SIGNED_IN=${login}`);
    }
  }
} finally {
  await browser.close();
}
