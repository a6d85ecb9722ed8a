// Plinto: the WebAuthn ceremonies of the hosted pages (passkey registration, sign-in with a
// passkey as second factor or without a password, conditional UI). Served from the binary;
// no other script runs on these pages. Elements with `data-passkey` declare what to do.
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (e) { errors.push(String(e.message)); });
  window.plintoWebauthnErrors = errors;

  function toBuf(s) {
    s = String(s).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }
  function toB64(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creation(o) {
    var pk = o.publicKey;
    pk.challenge = toBuf(pk.challenge);
    pk.user.id = toBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    return { publicKey: pk };
  }
  function request(o, mediation, signal) {
    var pk = o.publicKey;
    pk.challenge = toBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = toBuf(c.id); });
    var out = { publicKey: pk };
    if (mediation) { out.mediation = mediation; }
    if (signal) { out.signal = signal; }
    return out;
  }
  function extensions(c) {
    return c.getClientExtensionResults ? c.getClientExtensionResults() : {};
  }
  function registered(c) {
    return {
      id: c.id, rawId: toB64(c.rawId), type: c.type, extensions: extensions(c),
      response: {
        attestationObject: toB64(c.response.attestationObject),
        clientDataJSON: toB64(c.response.clientDataJSON)
      }
    };
  }
  function asserted(c) {
    return {
      id: c.id, rawId: toB64(c.rawId), type: c.type, extensions: extensions(c),
      response: {
        authenticatorData: toB64(c.response.authenticatorData),
        clientDataJSON: toB64(c.response.clientDataJSON),
        signature: toB64(c.response.signature),
        userHandle: c.response.userHandle ? toB64(c.response.userHandle) : null
      }
    };
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok && j.redirect) { window.location.assign(j.redirect); }
        if (!r.ok) { throw new Error(j.error || "The request failed."); }
        return j;
      });
    });
  }
  function say(text) {
    var m = document.getElementById("passkey-message");
    if (m) { m.textContent = text; m.hidden = false; }
  }
  var conditional = null;
  function run(el, mediation) {
    var csrf = el.getAttribute("data-csrf");
    var kind = el.getAttribute("data-passkey");
    var signal = null;
    if (mediation) {
      conditional = new AbortController();
      signal = conditional.signal;
    } else if (conditional) {
      conditional.abort();
      conditional = null;
    }
    return post(el.getAttribute("data-begin"), { csrf_token: csrf }).then(function (begun) {
      if (kind === "register") {
        return navigator.credentials.create(creation(begun.options)).then(function (c) {
          var name = document.getElementById("passkey-name");
          return post(el.getAttribute("data-finish"), {
            csrf_token: csrf, ceremony: begun.ceremony,
            name: name ? name.value : "", credential: registered(c)
          });
        });
      }
      return navigator.credentials.get(request(begun.options, mediation, signal)).then(function (c) {
        return post(el.getAttribute("data-finish"), {
          csrf_token: csrf, ceremony: begun.ceremony, credential: asserted(c),
          return_to: el.getAttribute("data-return-to") || ""
        });
      });
    }).then(function (done) {
      if (done && done.redirect) { window.location.assign(done.redirect); }
    });
  }
  function init() {
    var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
    document.querySelectorAll("[data-passkey]").forEach(function (el) {
      if (el.getAttribute("data-passkey") === "conditional") { return; }
      el.hidden = !supported;
      if (!supported) { return; }
      el.addEventListener("click", function (e) {
        e.preventDefault();
        run(el, null).catch(function (err) {
          say(err && err.name === "NotAllowedError"
            ? "The passkey request was cancelled or timed out."
            : (err && err.message) || "The passkey did not work.");
        });
      });
    });
    var cond = document.querySelector("[data-passkey=conditional]");
    if (supported && cond && window.PublicKeyCredential.isConditionalMediationAvailable) {
      window.PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (ok) { run(cond, "conditional").catch(function () {}); }
      });
    }
    document.documentElement.setAttribute("data-webauthn", supported ? "ready" : "unsupported");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
