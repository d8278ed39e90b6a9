#!/usr/bin/env bash
# One-step set-up of a fresh Debian 12 machine for ampc: a WebGPU-capable
# Vulkan driver (Mesa 25's lavapipe from bookworm-backports when no GPU driver
# is there), the Fashion-MNIST data set when Debian offers it, ONNX's
# operator tests (libonnx-testdata), Debian's Chromium (test/browser.test.ts
# runs ampc in it, headless), then `npm ci`.
# Idempotent: steps already done are skipped. Runs apt-get as root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "setup: need root for: $*" >&2; return 1; fi; }

updated=0
apt_update() { [ "$updated" = 1 ] || { as_root apt-get update -qq; updated=1; }; }

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }

if command -v apt-get >/dev/null; then
  v=$(mesa_version)
  if [ -z "$v" ] || dpkg --compare-versions "$v" lt 24; then
    echo "setup: installing Mesa's Vulkan drivers (lavapipe) from bookworm-backports"
    if [ -f /etc/apt/sources.list.d/debian.sources ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" |
        as_root tee /etc/apt/sources.list.d/backports.sources >/dev/null
    fi
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1
  else
    echo "setup: Mesa Vulkan drivers $v already installed"
  fi
  if [ ! -d /usr/share/datasets/fashion-mnist ]; then
    echo "setup: installing Debian's dataset-fashion-mnist (the training example's data)"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist ||
      echo "setup: dataset-fashion-mnist not available; the example falls back to its committed sample"
  fi
  if ! dpkg-query -W -f='${Status}' libonnx-testdata 2>/dev/null | grep -q 'ok installed'; then
    echo "setup: installing Debian's libonnx-testdata (ONNX's operator tests, run by test/onnx-conformance.test.ts)"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libonnx-testdata ||
      echo "setup: libonnx-testdata not available; test/onnx-conformance.test.ts will be skipped (a failure under AMPC_REQUIRE_GPU=1)"
  else
    echo "setup: libonnx-testdata already installed"
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "setup: installing Debian's chromium (the browser test runs ampc in it, headless, on WebGPU)"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ||
      echo "setup: chromium not available; test/browser.test.ts will be skipped (a failure under AMPC_REQUIRE_GPU=1)"
  else
    echo "setup: chromium already installed"
  fi
else
  echo "setup: no apt-get; make sure a Vulkan (or Metal/D3D12) driver that Dawn can use is installed"
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
