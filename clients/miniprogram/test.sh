#!/usr/bin/env bash
# Installs the mini-program client's pinned dependencies and runs its tests:
# type check, generated-code freshness, unit tests and the live tests against
# a wxid built from this repository (needs Go and Node >= 20).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm test
