// DataStation review page (served by `dsc serve`; see docs/server.md, "The review page").
//
// The agent's key file is read in this tab and imported into WebCrypto as a non-extractable
// Ed25519 key; it is never sent anywhere. Every read and every decision is a request signed
// here: the envelope {action, params, agent, escrow, nonce, timestamp} as canonical JSON
// (sorted keys, no spaces, UTF-8), like datastation.runtime.keys.make_request. The escrow
// renders the views (HTML, every value escaped) from those signed reads; this script only
// signs, asks and places them. A key protected with a passphrase (PKCS#8 PBES2, scrypt +
// AES-256-CBC, as runtime/keyfile.py writes it) is opened here too: scrypt below, AES by WebCrypto.
"use strict";

(() => {
  const state = { key: null, agent: null, escrow: null };
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

  class Refused extends Error {
    constructor(code, message, status) { super(message); this.code = code; this.status = status; }
  }

  // ------------------------------------------------------------------ bytes
  const b64 = (bytes) => {
    let s = "";
    for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
    return btoa(s);
  };
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

  function pem(text) {
    const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
    if (!m) throw new Error("this is not a PEM file");
    return { label: m[1], der: unb64(m[2].replace(/\s+/g, "")) };
  }

  // ------------------------------------------------------------------ canonical JSON, signing
  const byCodePoint = (a, b) => {
    const x = Array.from(a, (c) => c.codePointAt(0)), y = Array.from(b, (c) => c.codePointAt(0));
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  };

  function canonical(v) {
    if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new Error("only integers are signed here");
      return String(v);
    }
    if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
    return "{" + Object.keys(v).sort(byCodePoint).map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  }

  async function signBytes(bytes) {
    return b64(await crypto.subtle.sign({ name: "Ed25519" }, state.key, bytes));
  }

  async function signed(action, params) {
    const envelope = {
      action, params, agent: state.agent, escrow: state.escrow,
      nonce: hex(crypto.getRandomValues(new Uint8Array(16))), timestamp: Math.floor(Date.now() / 1000),
    };
    return { envelope, signature: await signBytes(enc.encode(canonical(envelope))) };
  }

  // ------------------------------------------------------------------ DER and scrypt (protected keys)
  class Der {
    constructor(bytes) { this.b = bytes; this.i = 0; }
    read(tag) {
      const b = this.b;
      let i = this.i;
      if (i + 2 > b.length || b[i] !== tag) throw new Error("unexpected DER");
      let n = b[i + 1];
      i += 2;
      if (n & 0x80) {
        const k = n & 0x7f;
        if (k < 1 || k > 4 || i + k > b.length) throw new Error("bad DER length");
        n = 0;
        for (let j = 0; j < k; j++) n = n * 256 + b[i + j];
        i += k;
      }
      if (i + n > b.length) throw new Error("truncated DER");
      this.i = i + n;
      return b.subarray(i, i + n);
    }
    seq() { return new Der(this.read(0x30)); }
    int() {
      const v = this.read(0x02);
      if (!v.length || v[0] & 0x80 || v.length > 6) throw new Error("bad DER integer");
      return v.reduce((n, x) => n * 256 + x, 0);
    }
    done() { return this.i === this.b.length; }
  }

  const OID_PBES2 = "2a864886f70d01050d", OID_SCRYPT = "2b06010401da47040b", OID_AES256_CBC = "60864801650304012a";
  const MAX_MEMORY = 256 * 1024 * 1024, MAX_WORK = 4 << 20; // as runtime/keyfile.py: a hostile file asks no more

  function scryptParts(der) {
    const top = new Der(der).seq(), alg = top.seq();
    if (hex(alg.read(0x06)) !== OID_PBES2) throw new Error("this key is encrypted by another tool: unsupported here");
    const params = alg.seq(), kdf = params.seq(), cipher = params.seq();
    if (hex(kdf.read(0x06)) !== OID_SCRYPT || hex(cipher.read(0x06)) !== OID_AES256_CBC) {
      throw new Error("this key is encrypted by another tool: unsupported here");
    }
    const sp = kdf.seq();
    const salt = sp.read(0x04), n = sp.int(), r = sp.int(), p = sp.int();
    if (!sp.done() && sp.int() !== 32) throw new Error("unsupported key length");
    const iv = cipher.read(0x04), ciphertext = top.read(0x04);
    if (n < 2 || (n & (n - 1)) || r < 1 || p < 1 || 128 * n * r > MAX_MEMORY || n * r * p > MAX_WORK || iv.length !== 16) {
      throw new Error("unsupported scrypt parameters");
    }
    return { salt, n, r, p, iv, ciphertext };
  }

  async function pbkdf2(pass, salt, bytes) {
    const k = await crypto.subtle.importKey("raw", pass, "PBKDF2", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: 1 }, k, bytes * 8));
  }

  function salsa8(B) {
    let x0 = B[0], x1 = B[1], x2 = B[2], x3 = B[3], x4 = B[4], x5 = B[5], x6 = B[6], x7 = B[7];
    let x8 = B[8], x9 = B[9], x10 = B[10], x11 = B[11], x12 = B[12], x13 = B[13], x14 = B[14], x15 = B[15], t;
    for (let i = 0; i < 8; i += 2) {
      t = x0 + x12; x4 ^= (t << 7) | (t >>> 25); t = x4 + x0; x8 ^= (t << 9) | (t >>> 23);
      t = x8 + x4; x12 ^= (t << 13) | (t >>> 19); t = x12 + x8; x0 ^= (t << 18) | (t >>> 14);
      t = x5 + x1; x9 ^= (t << 7) | (t >>> 25); t = x9 + x5; x13 ^= (t << 9) | (t >>> 23);
      t = x13 + x9; x1 ^= (t << 13) | (t >>> 19); t = x1 + x13; x5 ^= (t << 18) | (t >>> 14);
      t = x10 + x6; x14 ^= (t << 7) | (t >>> 25); t = x14 + x10; x2 ^= (t << 9) | (t >>> 23);
      t = x2 + x14; x6 ^= (t << 13) | (t >>> 19); t = x6 + x2; x10 ^= (t << 18) | (t >>> 14);
      t = x15 + x11; x3 ^= (t << 7) | (t >>> 25); t = x3 + x15; x7 ^= (t << 9) | (t >>> 23);
      t = x7 + x3; x11 ^= (t << 13) | (t >>> 19); t = x11 + x7; x15 ^= (t << 18) | (t >>> 14);
      t = x0 + x3; x1 ^= (t << 7) | (t >>> 25); t = x1 + x0; x2 ^= (t << 9) | (t >>> 23);
      t = x2 + x1; x3 ^= (t << 13) | (t >>> 19); t = x3 + x2; x0 ^= (t << 18) | (t >>> 14);
      t = x5 + x4; x6 ^= (t << 7) | (t >>> 25); t = x6 + x5; x7 ^= (t << 9) | (t >>> 23);
      t = x7 + x6; x4 ^= (t << 13) | (t >>> 19); t = x4 + x7; x5 ^= (t << 18) | (t >>> 14);
      t = x10 + x9; x11 ^= (t << 7) | (t >>> 25); t = x11 + x10; x8 ^= (t << 9) | (t >>> 23);
      t = x8 + x11; x9 ^= (t << 13) | (t >>> 19); t = x9 + x8; x10 ^= (t << 18) | (t >>> 14);
      t = x15 + x14; x12 ^= (t << 7) | (t >>> 25); t = x12 + x15; x13 ^= (t << 9) | (t >>> 23);
      t = x13 + x12; x14 ^= (t << 13) | (t >>> 19); t = x14 + x13; x15 ^= (t << 18) | (t >>> 14);
    }
    B[0] += x0; B[1] += x1; B[2] += x2; B[3] += x3; B[4] += x4; B[5] += x5; B[6] += x6; B[7] += x7;
    B[8] += x8; B[9] += x9; B[10] += x10; B[11] += x11; B[12] += x12; B[13] += x13; B[14] += x14; B[15] += x15;
  }

  function blockMix(B, Y, X, r) {
    X.set(B.subarray((2 * r - 1) * 16, 2 * r * 16));
    for (let i = 0; i < 2 * r; i++) {
      for (let k = 0; k < 16; k++) X[k] ^= B[i * 16 + k];
      salsa8(X);
      Y.set(X, i * 16);
    }
    for (let i = 0; i < r; i++) {
      B.set(Y.subarray(2 * i * 16, (2 * i + 1) * 16), i * 16);
      B.set(Y.subarray((2 * i + 1) * 16, (2 * i + 2) * 16), (r + i) * 16);
    }
  }

  // scrypt (RFC 7914): PBKDF2-HMAC-SHA256 by WebCrypto around ROMix with Salsa20/8.
  async function scrypt(pass, salt, N, r, p, dkLen) {
    const B = await pbkdf2(pass, salt, p * 128 * r);
    const words = 32 * r, dv = new DataView(B.buffer, B.byteOffset, B.byteLength);
    const X = new Uint32Array(words), Y = new Uint32Array(words), T = new Uint32Array(16);
    const V = new Uint32Array(words * N);
    for (let q = 0; q < p; q++) {
      const off = q * 128 * r;
      for (let k = 0; k < words; k++) X[k] = dv.getUint32(off + 4 * k, true);
      for (let i = 0; i < N; i++) { V.set(X, i * words); blockMix(X, Y, T, r); }
      for (let i = 0; i < N; i++) {
        const j = (X[(2 * r - 1) * 16] & (N - 1)) * words;
        for (let k = 0; k < words; k++) X[k] ^= V[j + k];
        blockMix(X, Y, T, r);
      }
      for (let k = 0; k < words; k++) dv.setUint32(off + 4 * k, X[k], true);
    }
    V.fill(0);
    const out = await pbkdf2(pass, B, dkLen);
    B.fill(0);
    return out;
  }

  async function decryptKey(der, passphrase) {
    if (!passphrase) throw new Error("this key is protected by a passphrase: type it in the passphrase field");
    const k = scryptParts(der);
    const secret = await scrypt(enc.encode(passphrase), k.salt, k.n, k.r, k.p, 32);
    const aes = await crypto.subtle.importKey("raw", secret, { name: "AES-CBC" }, false, ["decrypt"]);
    secret.fill(0);
    try {
      return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv: k.iv }, aes, k.ciphertext));
    } catch (_) {
      throw new Error("wrong passphrase");
    }
  }
  window.dscScrypt = scrypt; // the tests check it against RFC 7914 and Python's hashlib

  // ------------------------------------------------------------------ talking to the escrow
  async function post(path, body) {
    const resp = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      credentials: "omit", cache: "no-store", redirect: "error",
    });
    const text = await resp.text();
    if (!resp.ok) {
      let err = { code: String(resp.status), message: "" };
      try { err = JSON.parse(text); } catch (_) { /* not JSON: the status says it */ }
      throw new Refused(err.code, err.message, resp.status);
    }
    return text;
  }

  async function escrowInfo() {
    const resp = await fetch("/v1/escrow", { credentials: "omit", cache: "no-store" });
    if (!resp.ok) throw new Error("the escrow does not answer (" + resp.status + ")");
    const info = await resp.json();
    // the id is derived from the escrow's public key: check it (keys.escrow_id)
    const spki = pem(info.public_key).der, raw = spki.subarray(spki.length - 32);
    const tag = enc.encode("datastation-escrow-id:"), msg = new Uint8Array(tag.length + 32);
    msg.set(tag); msg.set(raw, tag.length);
    const id = "escrow-" + hex(await crypto.subtle.digest("SHA-256", msg)).slice(0, 24);
    if (id !== info.escrow_id) throw new Error("the escrow's id does not match its public key: not signing for it");
    return id;
  }

  // Server-rendered, escaped HTML; parsed inertly (no script runs: DOMParser, and the CSP).
  function place(section, html) {
    const doc = new DOMParser().parseFromString("<!doctype html><body>" + html, "text/html");
    section.replaceChildren(...Array.from(doc.body.childNodes, (n) => document.adoptNode(n)));
  }

  function say(el, text, bad) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("error", !!bad);
  }

  const describe = (e) => (e instanceof Refused ? `refused (${e.code}): ${e.message}` : (e && e.message) || String(e));

  // ------------------------------------------------------------------ views
  async function showContracts() {
    const html = await post("/review/contracts", { contracts: await signed("read.contracts", {}) });
    place($("contracts"), html);
  }

  // The next page of one list (waiting for a decision, or the others): a signed read of the
  // page after the last contract shown, placed in that list's section.
  async function showPage(which, after) {
    const params = which === "waiting" ? { pending: true, after } : { after };
    const html = await post("/review/contracts", { contracts: await signed("read.contracts", params) });
    place($(`${which}-section`), html);
    const title = $(`${which}-title`);
    if (title) title.focus();
  }

  async function showContract(cid, focus = true) {
    const body = {
      summary: await signed("read.summary", { contract: cid }),
      status: await signed("read.status", { contract: cid }),
      audit: await signed("read.audit", { contract: cid, after: 0, limit: 1000 }),
      graph: await signed("read.graph", { contract: cid }),
    };
    place($("contract"), await post("/review/contract", body));
    if (focus && $("contract-title")) $("contract-title").focus();
  }

  async function decide(form) {
    const cid = form.dataset.contract, decision = form.dataset.decision;
    const buttons = Array.from(document.querySelectorAll("form.decide button"));
    buttons.forEach((b) => { b.disabled = true; });
    const words = {
      approve: ["Signing the approval…", "Approved: your signature is recorded at the escrow."],
      reject: ["Signing the rejection…", "Rejected: your rejection is recorded at the escrow."],
      revoke: ["Signing the withdrawal…", "Withdrawn: your withdrawal is recorded at the escrow."],
    }[decision];
    say($("decision-status"), words[0]);
    try {
      if (decision === "approve") {
        const sig = await signBytes(enc.encode(`datastation-approval:v2:${state.escrow}:${cid}`));
        await post("/v1/contracts/approve", await signed("contract.approve", { contract: cid, signature: sig }));
      } else if (decision === "reject") {
        const reason = $("reject-reason").value;
        await post("/v1/contracts/reject", await signed("contract.reject", { contract: cid, reason }));
      } else {
        await post("/v1/contracts/revoke", await signed("contract.revoke", { contract: cid }));
      }
      await showContract(cid, false);
      await showContracts();
      say($("decision-status"), words[1]);
      if ($("decision-status")) $("decision-status").setAttribute("tabindex", "-1");
      if ($("decision-status")) $("decision-status").focus();
    } catch (e) {
      buttons.forEach((b) => { b.disabled = false; });
      say($("decision-status"), describe(e), true);
    }
  }

  async function loadKey(ev) {
    ev.preventDefault();
    const status = $("key-status"), file = $("key-file").files[0];
    if (!file) { say(status, "Choose your key file first.", true); return; }
    const agent = $("agent-name").value.trim() || file.name.replace(/\.pem$/i, "");
    if (!NAME.test(agent)) { say(status, "Type your agent name (letters, digits and _).", true); return; }
    $("load-key").disabled = true;
    let pkcs8 = null;
    try {
      if (!(crypto && crypto.subtle)) throw new Error("this browser offers no WebCrypto here (use HTTPS or localhost)");
      const { label, der } = pem(await file.text());
      if (label === "PRIVATE KEY") pkcs8 = der;
      else if (label === "ENCRYPTED PRIVATE KEY") {
        say(status, "Opening the protected key (scrypt: a few seconds)…");
        await new Promise((ok) => setTimeout(ok, 30));
        pkcs8 = await decryptKey(der, $("passphrase").value);
      } else throw new Error(`this file holds a ${label.toLowerCase()}, not a private key`);
      let key;
      try {
        key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
      } catch (_) {
        throw new Error(label === "ENCRYPTED PRIVATE KEY" ? "wrong passphrase" : "not an Ed25519 private key (PKCS#8)");
      }
      state.escrow = await escrowInfo();
      state.key = key;
      state.agent = agent;
      $("escrow-id").textContent = state.escrow;
      await showContracts();
      say(status, `Key of ${agent} loaded (kept in this tab only).`);
      $("forget-key").disabled = false;
      const first = document.querySelector("#contracts button");
      if (first) first.focus();
    } catch (e) {
      state.key = null;
      say(status, e instanceof Refused && ["bad_signature", "unknown_agent"].includes(e.code)
        ? `The escrow does not know this key as ${agent}'s (${e.code}).` : describe(e), true);
    } finally {
      if (pkcs8) pkcs8.fill(0);
      $("passphrase").value = "";
      $("key-file").value = "";
      $("load-key").disabled = false;
    }
  }

  function forget() {
    state.key = null;
    state.agent = null;
    $("contract").replaceChildren();
    place($("contracts"), '<h2 id="contracts-title">Contracts</h2><p>Load your key to see the contracts that wait for your decision.</p>');
    $("forget-key").disabled = true;
    say($("key-status"), "Key forgotten.");
  }

  function guarded(fn, where) {
    return async (...args) => {
      try { await fn(...args); } catch (e) { say(where(), describe(e), true); }
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", loadKey);
    $("forget-key").addEventListener("click", forget);
    document.addEventListener("submit", (ev) => {
      const form = ev.target;
      if (form.classList.contains("open-contract")) {
        ev.preventDefault();
        guarded(() => showContract(form.dataset.contract), () => $("key-status"))();
      } else if (form.classList.contains("decide")) {
        ev.preventDefault();
        decide(form);
      }
    });
    document.addEventListener("click", (ev) => {
      const id = ev.target && ev.target.id;
      if (id === "refresh") guarded(showContracts, () => $("key-status"))();
      const button = ev.target && ev.target.closest && ev.target.closest("button.next-page, button.first-page");
      if (button && button.classList.contains("next-page")) {
        guarded(() => showPage(button.dataset.list, button.dataset.after), () => $("key-status"))();
      } else if (button) {
        guarded(async () => { await showContracts(); const t = $(`${button.dataset.list}-title`); if (t) t.focus(); },
          () => $("key-status"))();
      }
      if (id === "back") {
        $("contract").replaceChildren();
        guarded(async () => { await showContracts(); $("contracts-title").setAttribute("tabindex", "-1"); $("contracts-title").focus(); },
          () => $("key-status"))();
      }
    });
  });
})();
