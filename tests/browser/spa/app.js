// A single-page app as a browser app would use jidconnect: oidc-client-ts (global `oidc`),
// a public client with PKCE, on its own origin. Everything after the redirects is a
// cross-origin fetch: discovery, the token endpoint, UserInfo and revocation.
const { authority, clientId } = window.SPA_CONFIG;
const manager = new oidc.UserManager({
  authority,
  client_id: clientId,
  redirect_uri: `${location.origin}/callback`,
  response_type: "code",
  scope: "openid profile",
  // oidc-client-ts fetches UserInfo itself after the code exchange (with a preflight:
  // the token goes in the Authorization header).
  loadUserInfo: true,
});
const status = document.getElementById("status");
const error = document.getElementById("error");
const revoke = document.getElementById("revoke");

// The app's own UserInfo call, as an app would make it later.
async function userinfo(accessToken) {
  const metadata = await (await fetch(`${authority}/.well-known/openid-configuration`)).json();
  return fetch(metadata.userinfo_endpoint, { headers: { Authorization: `Bearer ${accessToken}` } });
}

function failed(e) {
  status.textContent = "Login failed";
  error.textContent = String(e);
}

document.getElementById("login").addEventListener("click", () => manager.signinRedirect().catch(failed));

if (location.pathname === "/callback") {
  try {
    const user = await manager.signinRedirectCallback();
    const response = await userinfo(user.access_token);
    const claims = await response.json();
    status.textContent = `Logged in as ${claims.sub}`;
    document.getElementById("login").hidden = true;
    revoke.hidden = false;
    revoke.addEventListener("click", async () => {
      await manager.revokeTokens(["access_token"]);
      // The error is readable too: the app learns why, and can log in again.
      const after = await userinfo(user.access_token);
      status.textContent = `Revoked: UserInfo answers ${after.status} (${after.headers.get("WWW-Authenticate")})`;
    });
  } catch (e) {
    failed(e);
  }
}
