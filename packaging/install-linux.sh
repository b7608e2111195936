#!/usr/bin/env bash
# Copy the built app to ~/.local/opt and add it to the desktop menu (no root needed).
#   pyinstaller --noconfirm build.spec && packaging/install-linux.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-$HOME/.local/opt/FintechMLWorkbench}"
mkdir -p "$(dirname "$target")" "$HOME/.local/share/applications"
rm -rf "$target"
cp -a dist/FintechMLWorkbench "$target"
sed "s|INSTALL_DIR|$target|g" packaging/fintech-ml-workbench.desktop \
  > "$HOME/.local/share/applications/fintech-ml-workbench.desktop"
echo "Installed to $target; 'Fintech ML Workbench' is in your applications menu."
