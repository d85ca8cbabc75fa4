"""The .dsc language server (`dsc lsp`): pygls over stdio, answering from the checker's results."""
