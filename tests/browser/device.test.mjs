// Devices (RFC 8628) with the npm openid-client library (v6): a TV app registers itself
// for the device grant, starts with initiateDeviceAuthorization and waits with
// pollDeviceAuthorizationGrant while the person either types the code in Chromium and
// confirms over XMPP (the demo's confirmer), or sends the code from an XMPP app (slixmpp,
// as an app without XEP-0070) with no browser at all. scripts/browser-test opens
// registration on the demo.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { launchChromium } from "./chromium.mjs";
import * as client from "openid-client";

const IDP = process.env.IDP_URL ?? "http://127.0.0.1:8080";
const XMPP_PORT = process.env.XMPP_PORT ?? "15222";
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });
const skip = !process.env.REGISTRATION_OPEN && "REGISTRATION_OPEN is not set (scripts/browser-test sets it)";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => browser?.close());

// The demo's provider is plain http on loopback.
const insecure = { execute: [client.allowInsecureRequests] };

async function registerTv() {
  const config = await client.dynamicClientRegistration(
    new URL(IDP),
    {
      client_name: "Living-room TV",
      grant_types: [DEVICE_GRANT, "refresh_token"],
      token_endpoint_auth_method: "none",
    },
    client.None(),
    insecure,
  );
  assert.deepEqual(config.clientMetadata().grant_types, [DEVICE_GRANT, "refresh_token"]);
  assert.equal(config.serverMetadata().device_authorization_endpoint, `${IDP}/device_authorization`);
  return config;
}

test("a TV logs in with openid-client while the person types its code in Chromium", { skip }, async () => {
  const config = await registerTv();
  const started = await client.initiateDeviceAuthorization(config, { scope: "openid profile" });
  assert.match(started.user_code, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
  assert.equal(started.verification_uri, `${IDP}/device`);
  const polling = client.pollDeviceAuthorizationGrant(config, started);

  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(started.verification_uri_complete);
  assert.equal(await page.getByLabel("The code your device shows").inputValue(), started.user_code);
  await page.screenshot({ path: join(ARTIFACTS, "device-1-code.png"), fullPage: true });
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${IDP}/login/**`);
  assert.match(await page.locator("h1").innerText(), /Log in your device to Living-room TV/);
  await page.getByLabel("Your XMPP address").fill("demo@localhost");
  await page.getByRole("button", { name: "Send confirmation request" }).click();
  await page.waitForURL(/\/consent$/, { timeout: 20000 });
  assert.match(await page.locator("main").innerText(), /This login is for a device/);
  await page.screenshot({ path: join(ARTIFACTS, "device-2-consent.png"), fullPage: true });
  await page.getByRole("button", { name: "Allow" }).click();
  await page.getByRole("heading", { name: "Done: go back to your device" }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, "device-3-done.png"), fullPage: true });
  await context.close();

  const tokens = await polling;
  assert.equal(tokens.claims().sub, "demo@localhost");
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, "demo@localhost");
  assert.equal(userinfo.preferred_username, "demo");
});

test("a TV logs in with openid-client while the person sends its code from an XMPP app", { skip }, async () => {
  const config = await registerTv();
  const started = await client.initiateDeviceAuthorization(config, { scope: "openid" });
  const polling = client.pollDeviceAuthorizationGrant(config, started);

  // An app without XEP-0070 that answers a request by typing its code back.
  const app = spawn("python3", [
    new URL("../support/xmpp_user.py", import.meta.url).pathname,
    "--jid", "demo@localhost/tv-remote", "--password", "demo",
    "--port", XMPP_PORT, "--no-xep0070", "--mode", "body-code",
  ], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: app.stdout });
  await new Promise((resolve) => lines.on("line", (line) => {
    if (JSON.parse(line).event === "online") resolve();
  }));
  app.stdin.write(JSON.stringify({ cmd: "send", to: "auth.localhost", body: `TV: ${started.user_code}` }) + "\n");
  try {
    const tokens = await polling;
    assert.equal(tokens.claims().sub, "demo@localhost");
  } finally {
    app.kill();
  }
});
