#!/usr/bin/env bash
# install-deps.sh [build|all]: installs the Debian packages not installed yet: `build` (the default)
# those of scripts/packages-build.txt, what the ipctrail binary needs; `all` those and
# scripts/packages.txt, what the tests, benchmarks and packaging need too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$here/packages-build.txt")
case ${1:-build} in
  build) ;;
  all) lists+=("$here/packages.txt") ;;
  *)
    echo "usage: $0 [build|all]" >&2
    exit 2
    ;;
esac
mapfile -t wanted < <(cat "${lists[@]}" | grep -Ev '^\s*(#|$)')
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: installing packages needs root; run with sudo" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
