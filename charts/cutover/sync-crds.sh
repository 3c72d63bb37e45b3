#!/usr/bin/env bash
# Copies the generated CRDs (repo's crds/, from `npm run gen:crds`) into the chart's crds/ folder.
# Helm installs crds/ before the templates and never upgrades or deletes them (see README "CRDs").
# test/integration/chart.test.ts fails when the two folders differ.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src="$here/../../crds"
dst="$here/crds"
mkdir -p "$dst"
rm -f "$dst"/*.yaml
cp "$src"/*.yaml "$dst"/
echo "synced $(ls "$src"/*.yaml | wc -l) CRDs into $dst"
