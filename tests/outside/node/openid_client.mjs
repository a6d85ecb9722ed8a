// openid-client v6 in its defaults (client_secret_post for a client with a secret), one
// step per run; tests/it/oauth.rs drives the browser between them.
//
// Environment: PHASE (start | finish), ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// STATE_FILE (PKCE verifier and state between the runs), CALLBACK_URL (finish: where the
// browser was sent back to). Prints one JSON object on its last line.
//
// The only option given is allowInsecureRequests: the test server speaks plain http on
// loopback, which openid-client otherwise refuses.

import { readFileSync, writeFileSync } from 'node:fs'
import * as client from 'openid-client'

const env = process.env
const config = await client.discovery(
  new URL(env.ISSUER),
  env.CLIENT_ID,
  env.CLIENT_SECRET,
  undefined,
  { execute: [client.allowInsecureRequests] },
)

if (env.PHASE === 'start') {
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: env.REDIRECT_URI,
    scope: 'openid email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
  })
  writeFileSync(env.STATE_FILE, JSON.stringify({ codeVerifier, state }))
  console.log(JSON.stringify({ url: url.href }))
} else if (env.PHASE === 'finish') {
  const { codeVerifier, state } = JSON.parse(readFileSync(env.STATE_FILE, 'utf8'))
  const tokens = await client.authorizationCodeGrant(config, new URL(env.CALLBACK_URL), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
  })
  const claims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub)
  console.log(JSON.stringify({
    sub: claims.sub,
    userinfo_email: userinfo.email,
    refreshed: typeof refreshed.access_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    userinfo_after_refresh_sub: again.sub,
  }))
} else {
  throw new Error(`unknown PHASE ${env.PHASE}`)
}
