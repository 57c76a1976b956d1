// authd's passkeys in the browser (WebAuthn): the one script of the site,
// served from its own origin (the pages' Content-Security-Policy allows no
// inline script). Everything else on the pages works without it.
//
// Each ceremony is two requests to the JSON API: ".../options" gives the
// options for navigator.credentials, the second request sends the answer.
// The pages send "Referrer-Policy: no-referrer", under which a fetch would
// carry "Origin: null", which the JSON API refuses as cross-origin: every
// request here asks for referrerPolicy "same-origin", so it carries the
// page's real Origin.
"use strict";

(function () {
  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), function (c) { return c.charCodeAt(0); }).buffer;
  }

  function toBase64url(buffer) {
    let text = "";
    new Uint8Array(buffer).forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      referrerPolicy: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {}),
    });
    let answer = {};
    try { answer = await response.json(); } catch (e) { answer = {}; }
    if (!response.ok) {
      throw new Error(answer.message || ("The server answered " + response.status + "."));
    }
    return answer;
  }

  function creationOptions(publicKey) {
    publicKey.challenge = fromBase64url(publicKey.challenge);
    publicKey.user.id = fromBase64url(publicKey.user.id);
    (publicKey.excludeCredentials || []).forEach(function (c) { c.id = fromBase64url(c.id); });
    return { publicKey: publicKey };
  }

  function requestOptions(publicKey) {
    publicKey.challenge = fromBase64url(publicKey.challenge);
    (publicKey.allowCredentials || []).forEach(function (c) { c.id = fromBase64url(c.id); });
    return { publicKey: publicKey };
  }

  function createdCredential(credential) {
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(credential.response.attestationObject),
        clientDataJSON: toBase64url(credential.response.clientDataJSON),
      },
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    };
  }

  function assertedCredential(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
      extensions: {},
    };
  }

  function say(element, text) {
    const status = document.getElementById(element.getAttribute("data-status"));
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  }

  function failure(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Try again.";
    }
    return (error && error.message) || "That did not work. Try again.";
  }

  // /me/security: add a passkey under the name typed beside the button,
  // given the password (a stolen session alone cannot add one).
  async function addPasskey(button) {
    const nameField = document.getElementById(button.getAttribute("data-name-field"));
    const passwordField = document.getElementById(button.getAttribute("data-password-field"));
    const password = passwordField ? passwordField.value : "";
    if (passwordField) {
      passwordField.value = "";
    }
    const started = await post("/mfa/passkeys/options", { password: password });
    const credential = await navigator.credentials.create(creationOptions(started.publicKey));
    await post("/mfa/passkeys", {
      ceremony: started.ceremony,
      name: nameField ? nameField.value : "",
      credential: createdCredential(credential),
    });
    window.location.assign("/me/security");
  }

  // /login: sign in with a passkey alone.
  async function signIn(button) {
    const started = await post("/sessions/passkey/options");
    const credential = await navigator.credentials.get(requestOptions(started.publicKey));
    await post("/sessions/passkey", {
      ceremony: started.ceremony,
      credential: assertedCredential(credential),
    });
    afterLogin(button);
  }

  // After a login: to the page forward authentication sent the user from
  // (GET /login checks `next` again and goes there, or shows itself), or /me.
  function afterLogin(button) {
    const next = button.getAttribute("data-next");
    window.location.assign(next ? "/login?next=" + encodeURIComponent(next) : "/me");
  }

  // The second step after a password.
  async function secondStep(button) {
    const mfaToken = button.getAttribute("data-mfa-token");
    const started = await post("/sessions/mfa/passkey/options", { mfa_token: mfaToken });
    const credential = await navigator.credentials.get(requestOptions(started.publicKey));
    await post("/sessions/mfa/passkey", {
      mfa_token: mfaToken,
      ceremony: started.ceremony,
      credential: assertedCredential(credential),
    });
    afterLogin(button);
  }

  const actions = { add: addPasskey, "sign-in": signIn, "second-step": secondStep };

  document.addEventListener("DOMContentLoaded", function () {
    const supported = !!(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll("[data-passkey]").forEach(function (button) {
      const action = actions[button.getAttribute("data-passkey")];
      if (!action) {
        return;
      }
      if (!supported) {
        say(button, "This browser cannot use passkeys.");
        return;
      }
      button.hidden = false;
      button.disabled = false;
      button.addEventListener("click", async function (event) {
        event.preventDefault();
        button.disabled = true;
        say(button, "Waiting for your passkey…");
        try {
          await action(button);
        } catch (error) {
          say(button, failure(error));
          button.disabled = false;
        }
      });
    });
  });
})();
