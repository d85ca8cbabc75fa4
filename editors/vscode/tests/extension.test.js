// Loads extension.js with a stub `vscode` module and checks it starts `dsc lsp` for .dsc files.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const Module = require("node:module");
const path = require("node:path");

function load(settings) {
  const started = [];
  const stub = {
    workspace: {
      getConfiguration: () => ({ get: (key, dflt) => (key in settings ? settings[key] : dflt) }),
      createFileSystemWatcher: (glob) => ({ glob }),
    },
    window: { showWarningMessage: () => undefined },
  };
  class LanguageClient {
    constructor(id, name, serverOptions, clientOptions) {
      Object.assign(this, { id, name, serverOptions, clientOptions });
      started.push(this);
    }
    start() { return Promise.resolve(); }
    stop() { return Promise.resolve(); }
  }
  const realLoad = Module._load;
  Module._load = function (request, parent, isMain) {
    if (request === "vscode") return stub;
    if (request === "vscode-languageclient/node") return { LanguageClient };
    return realLoad.call(this, request, parent, isMain);
  };
  try {
    const file = path.join(__dirname, "..", "extension.js");
    delete require.cache[require.resolve(file)];
    return { ext: require(file), started };
  } finally {
    Module._load = realLoad;
  }
}

test("starts dsc lsp over stdio for the dsc language", () => {
  const { ext, started } = load({});
  const context = { subscriptions: [] };
  ext.activate(context);
  assert.strictEqual(started.length, 1);
  assert.deepStrictEqual(started[0].serverOptions, { command: "dsc", args: ["lsp"] });
  assert.deepStrictEqual(started[0].clientOptions.documentSelector, [{ language: "dsc" }]);
  assert.strictEqual(context.subscriptions.length, 1);
});

test("honours dsc.server.command and dsc.server.enabled", () => {
  let { ext, started } = load({ "server.command": ["/venv/bin/dsc", "lsp", "-v"] });
  ext.activate({ subscriptions: [] });
  assert.deepStrictEqual(started[0].serverOptions, { command: "/venv/bin/dsc", args: ["lsp", "-v"] });
  ({ ext, started } = load({ "server.enabled": false }));
  ext.activate({ subscriptions: [] });
  assert.strictEqual(started.length, 0);
});
