// A real OpenID provider for the OIDC login's tests: the certified `oidc-provider` package
// (npm) on Node, over TLS on a loopback port, with one static confidential client and the
// test users of tests/helpers/oidc_server.py.  Started by that module:
//
//     node oidc_provider.mjs SETTINGS.json
//
// SETTINGS: {port, cert, key, client_id, client_secret, redirect_uris,
// post_logout_redirect_uris, users: {NAME: {groups: [...], email}}}.  Prints "listening"
// once it answers.  Its login page (the package's development interactions) takes any
// password for a known user name.
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const settings = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const issuer = `https://127.0.0.1:${settings.port}`;
const users = settings.users;

const provider = new Provider(issuer, {
  clients: [{
    client_id: settings.client_id,
    client_secret: settings.client_secret,
    redirect_uris: settings.redirect_uris,
    post_logout_redirect_uris: settings.post_logout_redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // PKCE (S256) for every client, the confidential one too.
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email'],
    groups: ['groups'],
  },
  // Claims go to the userinfo endpoint, as the specification has it for the code flow:
  // the client must read them there.
  conformIdTokenClaims: true,
  async findAccount(ctx, id) {
    const user = users[id];
    if (user === undefined) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: id, email: user.email, groups: user.groups };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // The static client is first-party: no consent screen (a grant of what it asks for).
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email groups');
    await grant.save();
    return grant;
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: ['tether-tests-only-cookie-key'] },
});

const server = https.createServer(
  { cert: fs.readFileSync(settings.cert), key: fs.readFileSync(settings.key) },
  provider.callback(),
);
server.listen(settings.port, '127.0.0.1', () => {
  process.stdout.write('listening\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
