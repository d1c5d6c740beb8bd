#!/usr/bin/env bash
# Build the one-folder ppdesk bundle with PyInstaller and pack it as
# dist/ppdesk-<version>-linux-<machine>.tar.gz (x86_64 on a PC).
#
# Usage, from anywhere: bash packaging/build_archive.sh
# Needs: the project installed for development (pip install -e ".[test]")
# and pyinstaller. The archive contains one folder, ppdesk/, with the program,
# its libraries in _internal/, the desktop entry and the 256 px icon.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(python3 -c 'import ppdesk; print(ppdesk.__version__)')
machine=$(uname -m)
archive="dist/ppdesk-${version}-linux-${machine}.tar.gz"

pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller build.spec

cp packaging/ppdesk.desktop dist/ppdesk/ppdesk.desktop
cp ppdesk/resources/icons/ppdesk.png dist/ppdesk/ppdesk.png

# Fail here, not on a user's machine, if the program cannot start.
reported=$(dist/ppdesk/ppdesk --version)
case "$reported" in
    *"$version"*) ;;
    *) echo "build_archive.sh: dist/ppdesk/ppdesk --version printed '$reported', expected $version" >&2; exit 1 ;;
esac

# Sorted names and fixed owners, so two builds of the same files pack alike.
tar --sort=name --owner=0 --group=0 --numeric-owner -C dist -czf "$archive" ppdesk

echo "bundle: $(du -sh dist/ppdesk | cut -f1)  archive: $(du -h "$archive" | cut -f1)  $archive"
