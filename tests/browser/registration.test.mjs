// A site registers itself with the npm openid-client library (v6,
// dynamicClientRegistration, RFC 7591), then logs the demo user in through Chromium and
// redeems the code with the same library; it then reads and deletes its registration
// (RFC 7592). scripts/browser-test opens registration on the demo.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "./chromium.mjs";
import * as client from "openid-client";

const IDP = process.env.IDP_URL ?? "http://127.0.0.1:8080";
// Never served: the browser's request to it is caught, and its URL is the answer.
const SITE = "http://127.0.0.1:28083";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

test("a site registers itself with openid-client and logs a person in", { skip: !process.env.REGISTRATION_OPEN && "REGISTRATION_OPEN is not set (scripts/browser-test sets it)" }, async () => {
  const redirect_uri = `${SITE}/callback`;
  // The demo's provider is plain http on loopback.
  const config = await client.dynamicClientRegistration(
    new URL(IDP),
    {
      client_name: "Registered Site",
      redirect_uris: [redirect_uri],
      token_endpoint_auth_method: "client_secret_post",
    },
    undefined,
    { execute: [client.allowInsecureRequests] },
  );
  const registered = config.clientMetadata();
  assert.ok(registered.client_id && registered.client_secret, JSON.stringify(registered));
  assert.ok(registered.registration_access_token, "an RFC 7592 token");

  const code_verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: "S256",
    state,
  });

  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  let callback;
  await page.route(`${SITE}/**`, (route) => {
    callback = route.request().url();
    return route.fulfill({ status: 200, contentType: "text/plain", body: "back at the site" });
  });
  await page.goto(url.href);
  assert.match(await page.locator("h1").innerText(), /Log in to Registered Site/);
  await page.getByLabel("Your XMPP address").fill("demo@localhost");
  await page.getByRole("button", { name: "Send confirmation request" }).click();
  // A site that registered itself is always asked about, with a warning that names it.
  await page.waitForURL(/\/consent$/, { timeout: 20000 });
  const consent = await page.locator("main").innerText();
  assert.match(consent, /This site registered itself/);
  assert.match(consent, /127\.0\.0\.1/);
  await page.screenshot({ path: join(ARTIFACTS, "registered-site-consent.png"), fullPage: true });
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(`${SITE}/**`);
  assert.ok(callback, "the browser came back to the site");

  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: code_verifier,
    expectedState: state,
  });
  const claims = tokens.claims();
  assert.equal(claims.sub, "demo@localhost");
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.preferred_username, "demo");
  await context.close();

  // RFC 7592: read with the registration access token, then delete.
  const headers = { Authorization: `Bearer ${registered.registration_access_token}` };
  const read = await fetch(registered.registration_client_uri, { headers });
  assert.equal(read.status, 200);
  assert.equal((await read.json()).client_name, "Registered Site");
  const deleted = await fetch(registered.registration_client_uri, { method: "DELETE", headers });
  assert.equal(deleted.status, 204);
  assert.equal((await fetch(registered.registration_client_uri, { headers })).status, 401);
});
