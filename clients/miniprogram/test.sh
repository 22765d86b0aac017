#!/usr/bin/env bash
# Installs the mini-program client's pinned dependencies and runs its tests:
# type check (including the compile-time request() checks), generated-code
# freshness, unit tests with a fake wx and a Taro-shaped API, the live tests
# against a wxid built from this repository, and the package test (npm pack,
# install the tarball into a fresh strict TypeScript project with
# miniprogram-api-typings, type-check a sample app). Needs Go and Node >= 20;
# after the first run npm's cache is enough (no network needed).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --prefer-offline --no-audit --no-fund
npm test
npm run test:pack
