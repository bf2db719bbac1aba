// Every shipped language in a real browser: the login, waiting, consent, refused and error
// pages, with the language chosen by OIDC ui_locales, by the browser's Accept-Language
// (Playwright's locale) and by the page's picker. The wait page's countdown is formatted
// by the browser for the page's language. Screenshots: tests/browser/artifacts/lang-*.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { launchChromium } from "./chromium.mjs";

const SITE = process.env.SITE_URL ?? "http://127.0.0.1:8081";
const IDP = process.env.IDP_URL ?? "http://127.0.0.1:8080";
const XMPP_PORT = process.env.XMPP_PORT ?? "15222";
const ARTIFACTS = new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

// What each page says, per language (from locales/*/jidconnect.ftl).
const WORDS = {
  en: { login: /^Log in to Demo site/, wait: "Check your XMPP app", refused: "You refused this login", gone: "This login has expired", seconds: /\d+\sseconds/ },
  fr: { login: /^Connexion à Demo site/, wait: "Regardez votre application XMPP", refused: "Vous avez refusé cette connexion", gone: "Cette connexion a expiré", seconds: /\d+\ssecondes/ },
  es: { login: /^Iniciar sesión en Demo site/, wait: "Revisa tu aplicación XMPP", refused: "Has rechazado este inicio de sesión", gone: "Este inicio de sesión ha caducado", seconds: /\d+\ssegundos/ },
  ca: { login: /^Inicia la sessió a Demo site/, wait: "Reviseu l'aplicació XMPP", refused: "Heu rebutjat aquest inici de sessió", gone: "Aquest inici de sessió ha caducat", seconds: /\d+\ssegons/ },
  de: { login: /^Bei Demo site anmelden/, wait: "Sieh in deiner XMPP-App nach", refused: "Du hast diese Anmeldung abgelehnt", gone: "Diese Anmeldung ist abgelaufen", seconds: /\d+\sSekunden/ },
};
const NAMES = { en: "English", fr: "Français", es: "Español", ca: "Català", de: "Deutsch" };

// A second app of the demo user that refuses the requests sent to it alone (to its full
// JID, as an IQ) and ignores those to the bare JID: the refused page without disturbing the
// demo's accepting confirmer.
let browser;
let refuser;
before(async () => {
  browser = await launchChromium();
  refuser = spawn("python3", [
    new URL("../support/xmpp_user.py", import.meta.url).pathname,
    "--jid", "demo@localhost/refuser", "--password", "demo", "--port", XMPP_PORT, "--mode", "deny-iq",
  ], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: refuser.stdout });
  await new Promise((resolve) => lines.on("line", (line) => {
    if (JSON.parse(line).event === "online") resolve();
  }));
});
after(async () => {
  refuser?.kill();
  await browser?.close();
});

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `lang-${name}.png`), fullPage: true });
}

// The site's login link, then this language by `how`; returns on jidconnect's login page.
// `prompt`: asked for with it (consent, so that the consent page shows in every language;
// login, for a browser that has logged in already).
async function startLogin(page, lang, how, prompt) {
  let authorize;
  page.on("request", (request) => {
    if (request.url().startsWith(`${IDP}/authorize`)) authorize ??= request.url();
  });
  await page.goto(SITE);
  await page.locator("a", { hasText: "Log in with XMPP" }).click();
  await page.waitForURL((url) => url.href.startsWith(`${IDP}/login/`) || url.href.startsWith(`${SITE}/callback`));
  const url = new URL(authorize);
  // The site asks for the language (OIDC Core §3.1.2.1), with one that does not ship first.
  if (how === "ui_locales") url.searchParams.set("ui_locales", `ja ${lang}`);
  url.searchParams.set("prompt", prompt);
  await page.goto(url.toString());
  await page.waitForURL(`${IDP}/login/**`);
  if (how === "picker") {
    await page.getByRole("navigation").getByRole("link", { name: NAMES[lang] }).click();
    await page.waitForURL(/\?lang=/);
  }
  assert.equal(await page.locator("html").getAttribute("lang"), lang);
  assert.equal(await page.locator("html").getAttribute("dir"), "ltr");
}

// Every shipped language by every way of choosing it.
const WAYS = ["ui_locales", "Accept-Language", "picker"];
for (const [lang, how] of ["fr", "de", "es", "ca", "en"].flatMap((l) => WAYS.map((w) => [l, w]))) {
  test(`every page in ${NAMES[lang]}, chosen by ${how}`, async () => {
    // Otherwise the browser asks for another language, so that the choice shows.
    const locale = how === "Accept-Language"
      ? { fr: "fr-FR", de: "de-DE", es: "es-ES", ca: "ca-ES", en: "en-GB" }[lang]
      : lang === "en" ? "de-DE" : "en-US";
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale });
    const page = await context.newPage();
    const words = WORDS[lang];

    // Login page, waiting page (with its countdown), consent, back on the site.
    await startLogin(page, lang, how, "consent");
    assert.match(await page.locator("h1").innerText(), words.login);
    await shot(page, `${lang}-${how}-1-login`);
    await page.locator("#jid").fill("demo@localhost");
    await page.locator("#jid").press("Enter");
    await page.locator(".code").waitFor();
    assert.match(await page.locator("h1").innerText(), new RegExp(words.wait));
    await shot(page, `${lang}-${how}-2-wait`);
    const countdown = page.locator("#expiry .countdown");
    const first = await countdown.innerText();
    assert.match(first, words.seconds);
    // The browser counts down in the page's language (before the demo's app accepts).
    const next = await page.waitForFunction((before) => {
      const now = document.querySelector("#expiry .countdown")?.textContent;
      return now && now !== before ? now : null;
    }, first, { timeout: 5000 });
    assert.match(await next.jsonValue(), words.seconds);
    await page.waitForURL(/\/consent$/, { timeout: 20000 });
    assert.equal(await page.locator("html").getAttribute("lang"), lang);
    await shot(page, `${lang}-${how}-3-consent`);
    await page.locator("button[value=allow]").click();
    await page.waitForURL(`${SITE}/callback**`);
    assert.match(await page.locator("h1").innerText(), /Logged in as demo@localhost/);

    // A request refused in the XMPP app: the refused page.
    // After the picker, the cookie keeps the language.
    await startLogin(page, lang, how === "picker" ? "cookie" : how, "login");
    await page.locator("#jid").fill("demo@localhost/refuser");
    await page.locator("#jid").press("Enter");
    await page.waitForFunction((text) => document.querySelector("h1")?.textContent.includes(text), words.refused, { timeout: 20000 });
    assert.equal(await page.locator("html").getAttribute("lang"), lang);
    await shot(page, `${lang}-${how}-4-refused`);

    // An error page: a login that no longer exists.
    const response = await page.goto(`${IDP}/login/no-such-login${how === "ui_locales" ? `?lang=${lang}` : ""}`);
    assert.equal(response.status(), 404);
    assert.equal(await page.locator("html").getAttribute("lang"), lang);
    assert.equal(await page.locator("h1").innerText(), words.gone);
    await shot(page, `${lang}-${how}-5-error`);
    await context.close();
  });
}
