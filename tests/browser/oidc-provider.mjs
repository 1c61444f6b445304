// A real OpenID Connect provider (the `oidc-provider` package) on loopback, for the single
// sign-on browser test. Any login is accepted at its development sign-in form; the login
// is the account's e-mail address (verified). Prints `ISSUER=…` once it listens.
//
// CLIENT_ID, CLIENT_SECRET, REDIRECT_URI: the one client it knows (Packistry).
import http from 'node:http';
import Provider from 'oidc-provider';
import { need } from './lib.mjs';

const clientId = need('CLIENT_ID');
const clientSecret = need('CLIENT_SECRET');
const redirectUri = need('REDIRECT_URI');

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    pkce: { required: () => true },
    cookies: { keys: ['packistry-browser-test-only'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: `subject-${id}`,
            email: id,
            email_verified: true,
            name: `Account ${id.split('@')[0]}`,
          };
        },
      };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('oidc-provider error', err));
  server.on('request', provider.callback());
  console.log(`ISSUER=${issuer}`);
});
