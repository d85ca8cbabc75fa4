#!/usr/bin/env python3
"""Build the extension's .vsix without vsce (used when `npx @vscode/vsce` cannot run, e.g. offline).

A .vsix is a zip holding `extension.vsixmanifest`, `[Content_Types].xml` and the extension's
files under `extension/`, including the production dependencies from `node_modules/`.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parent.parent
# The extension's own files (the YAML grammar sources, tests and scripts stay out, as in .vscodeignore).
FILES = ["package.json", "language-configuration.json", "extension.js", "README.md", "LICENSE"]
GLOBS = ["syntaxes/*.tmLanguage.json"]


def production_packages(root: Path = ROOT) -> list[Path]:
    """Folders of the runtime dependencies, resolved the way Node does (nearest node_modules up)."""
    found: dict[Path, None] = {}
    todo = [(root, name) for name in json.loads((root / "package.json").read_text()).get("dependencies", {})]
    while todo:
        base, name = todo.pop()
        for parent in [base, *base.parents]:
            candidate = parent / "node_modules" / name
            if (candidate / "package.json").exists():
                break
            if parent == root:
                raise SystemExit(f"build_vsix: dependency {name} is not installed; run npm ci")
        else:  # pragma: no cover
            raise SystemExit(f"build_vsix: dependency {name} is not installed; run npm ci")
        if candidate in found:
            continue
        found[candidate] = None
        deps = json.loads((candidate / "package.json").read_text()).get("dependencies", {})
        todo.extend((candidate, dep) for dep in deps)
    return sorted(found)


def manifest(pkg: dict) -> str:
    tags = ",".join(pkg.get("keywords", []) + ["__ext_dsc"])
    cats = ",".join(pkg.get("categories", []))
    engine = pkg.get("engines", {}).get("vscode", "*")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011" xmlns:d="http://schemas.microsoft.com/developer/vsx-schema-design/2011">
  <Metadata>
    <Identity Language="en-US" Id={quoteattr(pkg["name"])} Version={quoteattr(pkg["version"])} Publisher={quoteattr(pkg["publisher"])} />
    <DisplayName>{escape(pkg.get("displayName", pkg["name"]))}</DisplayName>
    <Description xml:space="preserve">{escape(pkg.get("description", ""))}</Description>
    <Tags>{escape(tags)}</Tags>
    <Categories>{escape(cats)}</Categories>
    <GalleryFlags>Public</GalleryFlags>
    <Properties>
      <Property Id="Microsoft.VisualStudio.Code.Engine" Value={quoteattr(engine)} />
      <Property Id="Microsoft.VisualStudio.Code.ExtensionDependencies" Value="" />
      <Property Id="Microsoft.VisualStudio.Code.ExtensionPack" Value="" />
      <Property Id="Microsoft.VisualStudio.Code.ExtensionKind" Value="workspace" />
      <Property Id="Microsoft.VisualStudio.Services.GitHubFlavoredMarkdown" Value="true" />
      <Property Id="Microsoft.VisualStudio.Services.Content.Pricing" Value="Free" />
    </Properties>
  </Metadata>
  <Installation>
    <InstallationTarget Id="Microsoft.VisualStudio.Code" />
  </Installation>
  <Dependencies />
  <Assets>
    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" />
    <Asset Type="Microsoft.VisualStudio.Services.Content.Details" Path="extension/README.md" Addressable="true" />
  </Assets>
</PackageManifest>
"""


def content_types(names: list[str]) -> str:
    exts = sorted({Path(n).suffix.lower() for n in names if Path(n).suffix} | {".vsixmanifest"})
    mime = {".json": "application/json", ".js": "application/javascript", ".md": "text/markdown",
            ".vsixmanifest": "text/xml", ".xml": "text/xml", ".txt": "text/plain"}
    defaults = "".join(
        f'<Default Extension={quoteattr(e)} ContentType={quoteattr(mime.get(e, "application/octet-stream"))}/>'
        for e in exts
    )
    return f'<?xml version="1.0" encoding="utf-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">{defaults}</Types>\n'


def collect(root: Path = ROOT) -> dict[str, Path]:
    """Archive name (under extension/) -> file on disk."""
    files: dict[str, Path] = {}
    for name in FILES:
        if (root / name).is_file():
            files[name] = root / name
    for pattern in GLOBS:
        for path in sorted(root.glob(pattern)):
            files[path.relative_to(root).as_posix()] = path
    for package in production_packages(root):
        for path in sorted(package.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and ".bin" not in rel.parts:
                files[rel.as_posix()] = path
    return files


def build(out: Path, root: Path = ROOT) -> Path:
    pkg = json.loads((root / "package.json").read_text())
    files = collect(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("extension.vsixmanifest", manifest(pkg))
        z.writestr("[Content_Types].xml", content_types(list(files)))
        for name, path in files.items():
            z.write(path, f"extension/{name}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"packaged {build(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
