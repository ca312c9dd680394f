#!/usr/bin/env bash
# Installs the system packages munitc builds against (Debian 12): LLVM 19's C API, OpenBLAS, pkg-config,
# libjpeg-turbo, libpng and Open MPI (data-parallel training). Does nothing when they are already there; needs root (or sudo) otherwise.
set -euo pipefail
packages=(llvm-19-dev libopenblas-dev pkg-config libjpeg62-turbo-dev libpng-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
