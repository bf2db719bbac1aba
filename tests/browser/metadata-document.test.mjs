// A site known by its Client ID Metadata Document: it serves its metadata as JSON on its
// own loopback origin and uses that URL as its client_id with the npm openid-client library
// (v6, a public client with PKCE, never registered), logs the demo user in through
// Chromium and redeems the code with the library. scripts/browser-test opens registration
// on the demo, which lets such sites in.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "./chromium.mjs";
import * as client from "openid-client";

const IDP = process.env.IDP_URL ?? "http://127.0.0.1:8080";
const SITE = "http://127.0.0.1:28084";
const CLIENT_ID = `${SITE}/client.json`;
const REDIRECT_URI = `${SITE}/callback`;
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

const DOCUMENT = JSON.stringify({
  client_id: CLIENT_ID,
  client_name: "Document Site",
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: "none",
});

let browser, server, callback;
let fetches = 0;
before(async () => {
  // The site: its document (which only jidconnect reads) and its callback.
  server = createServer((request, response) => {
    const url = new URL(request.url, SITE);
    if (url.pathname === "/client.json") {
      fetches += 1;
      return response
        .writeHead(200, { "Content-Type": "application/json", "Cache-Control": "max-age=600" })
        .end(DOCUMENT);
    }
    if (url.pathname === "/callback") {
      callback = url.href;
      return response.writeHead(200, { "Content-Type": "text/plain" }).end("back at the site");
    }
    response.writeHead(404).end();
  });
  const { port, hostname } = new URL(SITE);
  await new Promise((resolve) => server.listen(Number(port), hostname, resolve));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("a site known by its metadata document logs a person in with openid-client", { skip: !process.env.REGISTRATION_OPEN && "REGISTRATION_OPEN is not set (scripts/browser-test sets it)" }, async () => {
  // The demo's provider is plain http on loopback.
  const config = await client.discovery(new URL(IDP), CLIENT_ID, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  assert.equal(config.serverMetadata().client_id_metadata_document_supported, true);

  const code_verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: "S256",
    state,
  });

  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await page.goto(url.href);
  assert.match(await page.locator("h1").innerText(), /Log in to Document Site/);
  await page.getByLabel("Your XMPP address").fill("demo@localhost");
  await page.getByRole("button", { name: "Send confirmation request" }).click();
  // Never trusted: asked about at every login, naming where its document is served.
  await page.waitForURL(/\/consent$/, { timeout: 20000 });
  const consent = await page.locator("main").innerText();
  assert.match(consent, /identified itself by its metadata document on 127\.0\.0\.1/);
  await page.screenshot({ path: join(ARTIFACTS, "metadata-document-consent.png"), fullPage: true });
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(`${SITE}/**`);
  assert.ok(callback, "the browser came back to the site");

  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: code_verifier,
    expectedState: state,
  });
  const claims = tokens.claims();
  assert.equal(claims.sub, "demo@localhost");
  assert.equal(claims.aud, CLIENT_ID);
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(userinfo.preferred_username, "demo");
  await context.close();
  // Its Cache-Control let jidconnect read it once for the whole login.
  assert.equal(fetches, 1);
});
