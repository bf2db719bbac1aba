// The demo login in a real browser: demo site → jidconnect's login page → XEP-0070
// confirmation answered by a real XMPP client (`jidconnect demo-user --auto accept`,
// started by scripts/browser-test) → consent → back on the demo site, logged in. Also: the
// login page at phone and desktop width, the send-the-code way, and cancel.
// Screenshots of every page go to tests/browser/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "./chromium.mjs";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import jsQR from "jsqr";

const SITE = process.env.SITE_URL ?? "http://127.0.0.1:8081";
const IDP = process.env.IDP_URL ?? "http://127.0.0.1:8080";
const XMPP_PORT = process.env.XMPP_PORT ?? "15222";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

/** The text of the QR code image `img`, as the browser drew it, read by a QR decoder. */
async function decodeQr(page, img) {
  const size = 400;
  const pixels = await img.evaluate((element, size) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    const context = canvas.getContext("2d");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, size, size);
    context.drawImage(element, 0, 0, size, size);
    return Array.from(context.getImageData(0, 0, size, size).data);
  }, size);
  const decoded = jsQR(Uint8ClampedArray.from(pixels), size, size);
  assert.ok(decoded, "the QR code decodes");
  return decoded.data;
}

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => browser?.close());

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

for (const [label, viewport] of [["desktop", { width: 1280, height: 860 }], ["phone", { width: 390, height: 844 }]]) {
  test(`log in on the demo site through XMPP (${label})`, async () => {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(SITE);
    await shot(page, `${label}-1-site`);
    await page.getByRole("link", { name: "Log in with XMPP" }).click();

    await page.waitForURL(`${IDP}/login/**`);
    assert.match(await page.locator("h1").innerText(), /Log in to Demo site/);
    assert.equal(await page.title(), "Log in to Demo site · jidconnect");
    // Both ways in: on a desktop the QR code is there for the phone beside it; on a
    // phone the button that opens the XMPP app comes first, and no QR code.
    const openApp = page.getByRole("link", { name: "Open in my XMPP app" });
    const address = page.getByLabel("Your XMPP address");
    const qr = page.getByRole("img", { name: /QR code/ });
    assert.match(await openApp.getAttribute("href"), /^xmpp:auth\.localhost\?message;body=Log%20in%20to%20Demo%20site%3A%20[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    if (label === "desktop") {
      assert.ok(await qr.isVisible(), "the QR code shows on a desktop");
      // A phone's camera reads the same link from it.
      assert.equal(await decodeQr(page, qr), await openApp.getAttribute("href"));
    } else {
      assert.ok(!(await qr.isVisible()), "no QR code on a phone");
      const [button, field] = [await openApp.boundingBox(), await address.boundingBox()];
      assert.ok(button.y < field.y, "the open-in-app button comes first on a phone");
    }
    await shot(page, `${label}-2-login`);
    await page.getByLabel("Your XMPP address").fill("demo@localhost");
    await page.getByRole("button", { name: "Send confirmation request" }).click();

    // The code is shown large; the page moves on by itself once the client accepts.
    const code = page.locator(".code");
    await code.waitFor();
    const shown = await code.innerText();
    assert.match(shown, /^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/);
    await shot(page, `${label}-3-code`);
    if (process.env.DEMO_LOG) {
      // The XMPP client was asked with the very code the page shows.
      await page.waitForTimeout(100);
      assert.ok(readFileSync(process.env.DEMO_LOG, "utf8").includes(`code: ${shown}`), "same code in the XMPP client");
    }

    await page.waitForURL(/\/consent$|\/callback/, { timeout: 20000 });
    if (page.url().endsWith("/consent")) {
      await shot(page, `${label}-4-consent`);
      await page.getByRole("button", { name: "Allow" }).click();
    }
    await page.waitForURL(`${SITE}/callback**`);
    assert.match(await page.locator("h1").innerText(), /Logged in as demo@localhost/);
    await shot(page, `${label}-5-logged-in`);
    await context.close();
  });
}

// The send-the-code way in a real browser: a real XMPP client (slixmpp, as an app without
// XEP-0070) sends the text of the page's link; the page moves on by itself.
function xmppApp(resource) {
  const child = spawn("python3", [
    new URL("../support/xmpp_user.py", import.meta.url).pathname,
    "--jid", `demo@localhost/${resource}`, "--password", "demo",
    "--port", XMPP_PORT, "--no-xep0070",
  ], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const online = new Promise((resolve) => lines.on("line", (line) => {
    if (JSON.parse(line).event === "online") resolve();
  }));
  return {
    online,
    send: (to, body) => child.stdin.write(JSON.stringify({ cmd: "send", to, body }) + "\n"),
    quit: () => child.kill(),
  };
}

test("log in from the XMPP app by sending the code (phone)", async () => {
  const app = xmppApp("phone");
  await app.online;
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(SITE);
  await page.getByRole("link", { name: "Log in with XMPP" }).click();
  await page.waitForURL(`${IDP}/login/**`);
  const href = await page.getByRole("link", { name: "Open in my XMPP app" }).getAttribute("href");
  const body = decodeURIComponent(href.split("?message;body=")[1]);
  app.send("auth.localhost", body);
  // The page moves on by itself to say whose address sent the code; going on as that
  // address takes a click (someone could have sent a code they saw over a shoulder).
  const continueAs = page.getByRole("button", { name: "Continue as demo@localhost" });
  await continueAs.waitFor({ timeout: 20000 });
  await shot(page, "phone-code-received");
  await continueAs.click();
  await page.waitForURL(/\/consent$|\/callback/, { timeout: 20000 });
  if (page.url().endsWith("/consent")) {
    await shot(page, "phone-code-consent");
    await page.getByRole("button", { name: "Allow" }).click();
  }
  await page.waitForURL(`${SITE}/callback**`);
  assert.match(await page.locator("h1").innerText(), /Logged in as demo@localhost/);
  await shot(page, "phone-code-logged-in");
  app.quit();
  await context.close();
});

test("cancel returns to the site", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  await page.goto(SITE);
  await page.getByRole("link", { name: "Log in with XMPP" }).click();
  await page.waitForURL(`${IDP}/login/**`);
  await page.getByRole("button", { name: /^Cancel/ }).click();
  await page.waitForURL(`${SITE}/callback**`);
  assert.match(new URL(page.url()).searchParams.get("error"), /^access_denied$/);
  assert.match(await page.locator("body").innerText(), /access_denied/);
  await shot(page, "cancelled");
  await context.close();
});

test("errors say what to do next", async () => {
  const page = await browser.newPage();
  const response = await page.goto(`${IDP}/authorize?client_id=nobody&redirect_uri=https://evil.example/&response_type=code&scope=openid`);
  assert.equal(response.status(), 400);
  assert.equal(new URL(page.url()).origin, IDP, "no redirect to an unregistered redirect_uri");
  assert.match(await page.locator("body").innerText(), /Go back to the website/);
  await shot(page, "error-unknown-client");
  await page.goto(`${IDP}/button`);
  await shot(page, "button");
  await page.close();
});

test("reflected parameters cannot inject script", async () => {
  const page = await browser.newPage();
  let alerted = false;
  page.on("dialog", async (dialog) => { alerted = true; await dialog.dismiss(); });
  if (process.env.EVIL_CLIENT) {
    // The client's name and login_hint, both shown on the login page.
    const url = new URL(`${IDP}/authorize`);
    url.search = new URLSearchParams({
      client_id: process.env.EVIL_CLIENT,
      redirect_uri: `${SITE}/callback`,
      response_type: "code",
      scope: "openid",
      login_hint: '"><img src=x onerror=alert(2)><script>alert(3)</script>',
    }).toString();
    await page.goto(url.toString());
    await page.locator("h1").waitFor();
    assert.match(await page.locator("h1").innerText(), /<script>alert\("name"\)<\/script> Evil/);
    assert.match(await page.getByLabel("Your XMPP address").inputValue(), /<img src=x onerror=alert\(2\)>/);
    await page.locator("h1").hover();
    await shot(page, "xss-client-name-and-hint");
  }
  // Error pages that name what was wrong: an unknown client, a bad redirect_uri.
  for (const params of [
    { client_id: "<script>alert(5)</script>", redirect_uri: "javascript:alert(6)", response_type: "code" },
    { client_id: process.env.EVIL_CLIENT ?? "x", redirect_uri: "https://evil.example/\"><script>alert(7)</script>", response_type: "code" },
  ]) {
    const url = new URL(`${IDP}/authorize`);
    url.search = new URLSearchParams(params).toString();
    const response = await page.goto(url.toString());
    assert.equal(response.status(), 400);
    await page.locator("h1").waitFor();
  }
  await shot(page, "xss-error-page");
  await page.goto(SITE);
  await page.getByRole("link", { name: "Log in with XMPP" }).click();
  await page.waitForURL(`${IDP}/login/**`);
  await page.getByLabel("Your XMPP address").fill("<img src=x onerror=alert(1)>@localhost");
  await page.getByRole("button", { name: "Send confirmation request" }).click();
  await page.locator(".notice.error").waitFor();
  await shot(page, "error-bad-jid");
  assert.equal(alerted, false);
  await page.close();
});
