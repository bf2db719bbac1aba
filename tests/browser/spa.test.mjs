// A browser app (single-page app, public client with PKCE) logs in with the oidc-client-ts
// library from its own loopback origin: the token, UserInfo and revocation calls are
// cross-origin fetches, which work only with jidconnect's CORS headers. The app is served
// here (tests/browser/spa/); scripts/browser-test registers it as SPA_CLIENT, and the
// demo's XMPP confirmer accepts the login.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "./chromium.mjs";

const IDP = process.env.IDP_URL ?? "http://127.0.0.1:8080";
const SPA = process.env.SPA_URL ?? "http://127.0.0.1:8082";
const CLIENT = process.env.SPA_CLIENT;
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

const file = (path) => readFileSync(new URL(path, import.meta.url));
const FILES = {
  "/": ["text/html", () => file("./spa/index.html")],
  "/callback": ["text/html", () => file("./spa/index.html")],
  "/app.js": ["text/javascript", () => file("./spa/app.js")],
  "/oidc-client-ts.min.js": ["text/javascript", () => file("./node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js")],
  "/config.js": ["text/javascript", () => `window.SPA_CONFIG = ${JSON.stringify({ authority: IDP, clientId: CLIENT })};`],
};

let browser, server;
before(async () => {
  server = createServer((request, response) => {
    const path = new URL(request.url, SPA).pathname;
    if (path === "/favicon.ico") return response.writeHead(204).end();
    const found = FILES[path];
    if (!found) return response.writeHead(404).end();
    response.writeHead(200, { "Content-Type": `${found[0]}; charset=utf-8` }).end(found[1]());
  });
  const { port, hostname } = new URL(SPA);
  await new Promise((resolve) => server.listen(Number(port), hostname, resolve));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  server?.close();
});

test("a browser app logs in with oidc-client-ts (CORS)", { skip: !CLIENT && "SPA_CLIENT is not set (scripts/browser-test sets it)" }, async () => {
  assert.notEqual(new URL(SPA).origin, new URL(IDP).origin, "the app is on another origin");
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  // What the browser blocked, for the failure message.
  const console = [];
  page.on("console", (message) => console.push(message.text()));
  const why = async () => `${await page.locator("#error").innerText()}\n${console.join("\n")}`;
  await page.goto(SPA);
  await page.getByRole("button", { name: "Log in with XMPP" }).click();

  // oidc-client-ts reads discovery (cross-origin) before it redirects.
  await page.waitForURL(`${IDP}/login/**`, { timeout: 10000 })
    .catch(async () => assert.fail(`no redirect to the login page: ${await why()}`));
  assert.match(await page.locator("h1").innerText(), /Log in to Browser app/);
  await page.getByLabel("Your XMPP address").fill("demo@localhost");
  await page.getByRole("button", { name: "Send confirmation request" }).click();
  await page.waitForURL(/\/consent$|\/callback/, { timeout: 20000 });
  if (page.url().endsWith("/consent")) {
    await page.getByRole("button", { name: "Allow" }).click();
  }
  await page.waitForURL(`${SPA}/callback**`);
  const status = page.locator("#status");
  await page.waitForFunction(() => document.getElementById("status").textContent !== "Not logged in");
  await page.screenshot({ path: join(ARTIFACTS, "spa-logged-in.png"), fullPage: true });
  assert.equal(await status.innerText(), "Logged in as demo@localhost", await why());

  // Revocation from the app, and UserInfo's error read there.
  await page.getByRole("button", { name: "Revoke the tokens" }).click();
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Revoked"));
  assert.match(await status.innerText(), /^Revoked: UserInfo answers 401 \(Bearer .*invalid_token/, await why());
  await context.close();
});
