// The benchmark's peer: panva's oidc-provider with one confidential client
// (client_secret_basic), RS256 ID tokens, an unbounded in-memory adapter and an
// interaction route that approves login and consent at once. Started by bench/run:
//
//   node bench/peer/provider.mjs PORT
//
// Same contract as jidconnect's bench client: redirect_uri http://127.0.0.1/cb, scope
// "openid offline_access" (refresh tokens, rotated on every use like jidconnect's).
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 3000);
const issuer = `http://127.0.0.1:${port}`;

// The built-in memory adapter is an LRU of 1,000 entries, which would evict the codes
// minted before a timed run; this one keeps everything (the process lives for one bench).
const storage = new Map();
const grantMembers = new Map();

class UnboundedAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload) {
    const key = this.key(id);
    storage.set(key, payload);
    if (payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (payload.uid) storage.set(`sessionUid:${payload.uid}`, id);
    if (payload.userCode) storage.set(`userCode:${payload.userCode}`, id);
  }

  async find(id) {
    return storage.get(this.key(id));
  }

  async findByUid(uid) {
    const id = storage.get(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = storage.get(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = storage.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    storage.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) storage.delete(key);
    grantMembers.delete(grantId);
  }
}

function signingKey(type, options) {
  const { privateKey } = generateKeyPairSync(type, options);
  return privateKey.export({ format: 'jwk' });
}

const provider = new Provider(issuer, {
  adapter: UnboundedAdapter,
  clients: [
    {
      client_id: 'perf-client',
      client_secret: 'perf-secret',
      redirect_uris: ['http://127.0.0.1/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  // RS256 signs (the first RSA key); a P-256 key is published too, as jidconnect does.
  jwks: {
    keys: [
      { ...signingKey('rsa', { modulusLength: 2048 }), kid: 'rs256', alg: 'RS256', use: 'sig' },
      { ...signingKey('ec', { namedCurve: 'P-256' }), kid: 'es256', alg: 'ES256', use: 'sig' },
    ],
  },
  cookies: { keys: ['bench-cookie-key-not-secret'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, accountId) => ({ accountId, claims: async () => ({ sub: accountId }) }),
  pkce: { required: () => false },
  rotateRefreshToken: true,
  // Codes are minted before the timed run; jidconnect's bench config allows 600 s too.
  ttl: { AuthorizationCode: 600 },
});

// Approves login and consent in one step, for the single bench user.
async function approve(req, res) {
  const details = await provider.interactionDetails(req, res);
  const accountId = details.session?.accountId ?? 'user-1';
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const oidc = provider.callback();
http
  .createServer((req, res) => {
    if (req.url.startsWith('/interaction/')) {
      approve(req, res).catch((error) => {
        res.statusCode = 500;
        res.end(String(error));
      });
    } else {
      oidc(req, res);
    }
  })
  .listen(port, '127.0.0.1', () => console.log(`peer listening on ${issuer}`));
