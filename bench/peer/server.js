// Peer OpenID Provider for Plinto's benchmarks: panva/oidc-provider configured like Plinto.
// See README.md. Everything lives in memory and is lost on exit.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';

import { hash, verify } from '@node-rs/argon2';
import Provider, { errors } from 'oidc-provider';

const env = process.env;
const PORT = Number(env.PEER_PORT ?? 3900);
const ISSUER = `http://127.0.0.1:${PORT}`;
const SECRET = env.PEER_CLIENT_SECRET ?? 'bench-secret';
const EMAIL = env.PEER_EMAIL ?? 'bench@example.com';
const ACCOUNT_ID = randomUUID();
const PASSWORD_HASH = await hash(env.PEER_PASSWORD ?? 'bench password 123', {
  algorithm: 2, // Argon2id
  memoryCost: Number(env.PEER_ARGON2_M ?? 19456), // KiB
  timeCost: Number(env.PEER_ARGON2_T ?? 2),
  parallelism: Number(env.PEER_ARGON2_P ?? 1),
});
const API = ISSUER; // resource indicator of the client_credentials tokens; also their `aud`, as in Plinto
const TTL = {
  AccessToken: 600,
  ClientCredentials: 600,
  IdToken: 3600,
  AuthorizationCode: 60,
  RefreshToken: 2592000,
  Session: 86400,
  Interaction: 600,
  Grant: 2592000,
};

// Signing keys, new at every start: RSA 2048 for RS256 and P-256 for ES256.
const signingKey = (alg, type, options) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  kid: `${alg.toLowerCase()}-${randomUUID()}`,
  alg,
  use: 'sig',
});
const keys = [
  signingKey('RS256', 'rsa', { modulusLength: 2048 }),
  signingKey('ES256', 'ec', { namedCurve: 'P-256' }),
];

// The built-in memory adapter is an LRU of 1000 entries; this one is unbounded (a Map with expiry).
const store = new Map(); // `${model}:${id}` -> { payload, exp (ms) }
const byGrant = new Map(); // grantId -> Set of store keys
const sessionByUid = new Map(); // session uid -> session id
const byUserCode = new Map(); // user code -> id
const live = (key) => {
  const entry = store.get(key);
  if (entry && entry.exp <= Date.now()) store.delete(key);
  else return entry?.payload;
};
setInterval(() => { // drop what expired, so memory does not only grow
  for (const key of store.keys()) live(key);
  for (const [uid, id] of sessionByUid) if (!store.has(`Session:${id}`)) sessionByUid.delete(uid);
  for (const [code, id] of byUserCode) if (!store.has(`DeviceCode:${id}`)) byUserCode.delete(code);
  for (const [grantId, keySet] of byGrant) {
    for (const key of keySet) if (!store.has(key)) keySet.delete(key);
    if (!keySet.size) byGrant.delete(grantId);
  }
}, 60_000).unref();

class MemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (this.model === 'Session') sessionByUid.set(payload.uid, id);
    if (payload.userCode) byUserCode.set(payload.userCode, id);
    if (payload.grantId) {
      if (!byGrant.has(payload.grantId)) byGrant.set(payload.grantId, new Set());
      byGrant.get(payload.grantId).add(key);
    }
  }

  async find(id) { return live(this.key(id)); }

  async findByUid(uid) { return sessionByUid.has(uid) ? this.find(sessionByUid.get(uid)) : undefined; }

  async findByUserCode(userCode) { return byUserCode.has(userCode) ? this.find(byUserCode.get(userCode)) : undefined; }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const key of byGrant.get(grantId) ?? []) store.delete(key);
    byGrant.delete(grantId);
  }
}

const ccClient = (clientId) => ({
  client_id: clientId,
  client_secret: SECRET,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'reports:read',
});

const provider = new Provider(ISSUER, {
  adapter: MemoryAdapter,
  jwks: { keys },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  ttl: TTL,
  clients: [
    ccClient('cc-rs256'),
    ccClient('cc-es256'),
    {
      client_id: 'web',
      client_secret: SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
      id_token_signed_response_alg: 'RS256',
      scope: 'openid email offline_access',
    },
  ],
  responseTypes: ['code'], // Plinto's only response type
  scopes: ['openid', 'offline_access', 'email', 'reports:read'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false, // scope claims in the ID token too, as Plinto does
  async findAccount(ctx, sub) {
    if (sub !== ACCOUNT_ID) return undefined;
    return { accountId: sub, claims: async () => ({ sub, email: EMAIL, email_verified: true }) };
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    pushedAuthorizationRequests: { enabled: false }, // Plinto has no PAR yet
    introspection: { enabled: true, allowedPolicy: async () => true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // client_credentials tokens go to API (a JWT); user tokens have no resource (opaque, for UserInfo)
      defaultResource: async (ctx, client, oneOf) => oneOf ?? (client.clientId.startsWith('cc-') ? API : undefined),
      async getResourceServerInfo(ctx, resource, client) {
        if (resource !== API) throw new errors.InvalidTarget();
        return {
          scope: 'reports:read',
          audience: API,
          accessTokenTTL: TTL.ClientCredentials,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: client.clientId === 'cc-es256' ? 'ES256' : 'RS256' } },
        };
      },
    },
  },
  // A refresh token whenever the client may use the grant (oidc-provider drops offline_access from
  // a request without prompt=consent), new at every use, and not tied to the login session.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  expiresWithSession: async () => false,
});

// --- HTTP: the login pages and the bench route in front of the provider -------------------------

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const send = (res, status, type, body) => {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
};
const loginForm = (res, uid, error) => send(res, 200, 'text/html; charset=utf-8', `<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></body></html>`);
const readForm = async (req) => {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('body too large');
  }
  return new URLSearchParams(body);
};

async function interaction(req, res, uid, login) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch\n');
  if (!login) return req.method === 'GET' ? loginForm(res, uid) : send(res, 405, 'text/plain', '');
  if (req.method !== 'POST') return send(res, 405, 'text/plain', '');

  const form = await readForm(req);
  // The hash is verified whatever the email, so a wrong email costs the same as a wrong password.
  const passwordOk = await verify(PASSWORD_HASH, form.get('password') ?? '');
  if (!passwordOk || form.get('email') !== EMAIL) return loginForm(res, uid, 'Wrong email or password.');

  // Login and consent in one step: grant everything the client asked for.
  const { params } = details;
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: params.client_id });
  grant.addOIDCScope(`${params.scope ?? ''} offline_access`.trim()); // claims come with the scopes
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, {
    login: { accountId: ACCOUNT_ID },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function benchSessions(res, n) {
  const loginTs = Math.floor(Date.now() / 1000);
  for (let i = 0; i < n; i += 1) {
    await new provider.Session({ accountId: ACCOUNT_ID, loginTs }).save(TTL.Session);
  }
  send(res, 200, 'application/json', JSON.stringify({ created: n }));
}

const providerCallback = provider.callback();
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, ISSUER);
  try {
    const m = url.pathname.match(/^\/interaction\/([\w-]+)(\/login)?$/);
    if (m) return await interaction(req, res, m[1], !!m[2]);
    if (env.PEER_BENCH_ROUTES === '1' && req.method === 'POST' && url.pathname === '/bench/sessions') {
      return await benchSessions(res, Math.max(0, Number.parseInt(url.searchParams.get('n') ?? '0', 10) || 0));
    }
    return providerCallback(req, res);
  } catch (err) {
    const status = err instanceof errors.SessionNotFound ? 400 : 500;
    if (status === 500) console.error(err);
    if (!res.headersSent) send(res, status, 'text/plain', `${err.message}\n`);
    else res.end();
  }
});
server.listen(PORT, '127.0.0.1', () => console.log(`peer ready on ${ISSUER}`));
