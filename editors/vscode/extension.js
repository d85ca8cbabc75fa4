// Starts the `dsc lsp` language server for .dsc files (the grammar works without it).
"use strict";
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("dsc");
  if (!config.get("server.enabled", true)) {
    return;
  }
  const [command, ...args] = config.get("server.command", ["dsc", "lsp"]);
  const serverOptions = { command, args };
  const clientOptions = {
    documentSelector: [{ language: "dsc" }],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{dsc,py}") },
  };
  client = new LanguageClient("dsc", "DataStation contracts", serverOptions, clientOptions);
  client.start().catch((err) => {
    vscode.window.showWarningMessage(
      `Could not start the .dsc language server (${command} ${args.join(" ")}): ${err.message}. ` +
        "Install DataStation (pip install datastation) or set dsc.server.command."
    );
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
