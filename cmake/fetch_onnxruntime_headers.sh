#!/usr/bin/env bash
# Obtain ONNX Runtime's C/C++ API headers without installing anything system-wide.
#
# The onnxruntime wheel ships the shared library but no headers. Debian trixie's
# libonnxruntime-dev package carries them; the C API is versioned, so its headers
# (API 21) work with the newer library inside the wheel. We reuse this machine's
# own Debian mirror configuration (first stanza of debian.sources), switch the suite
# to trixie in a private folder, download the .deb and unpack it.
#
# Usage: fetch_onnxruntime_headers.sh DEST   -> headers end up in DEST/include/onnxruntime
set -euo pipefail
dest=${1:?usage: $0 DEST}
sources=/etc/apt/sources.list.d/debian.sources
if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null || [ ! -f "$sources" ]; then
  echo "fetch_onnxruntime_headers: needs apt-get, dpkg and $sources (a Debian machine)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
# First stanza only, suite switched to trixie.
awk 'BEGIN{RS=""; ORS="\n\n"} NR==1{print; exit}' "$sources" \
  | sed -E 's/^Suites:.*/Suites: trixie/' > "$work/trixie.sources"
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
          -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" -qq update >&2
(cd "$work" && apt-get "${apt_opts[@]}" -qq download libonnxruntime-dev >&2)
mkdir -p "$work/x"
dpkg -x "$work"/libonnxruntime-dev_*.deb "$work/x"
mkdir -p "$dest/include"
rm -rf "$dest/include/onnxruntime"
cp -r "$work/x/usr/include/onnxruntime" "$dest/include/onnxruntime"
echo "$dest/include/onnxruntime"
