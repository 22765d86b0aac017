#!/usr/bin/env bash
# Fetches the browser builds GraphiQL at / is served from, once, from the npm
# registry, and writes them gzipped into internal/graphiql/assets, where the
# binary embeds them (go:embed): the page never loads anything from another
# host, so it works on an intranet or offline.
#
#   scripts/graphiql-assets.sh      fetch, verify, write (then commit)
#
# Reproducible: the packages are pinned by version and by the sha512
# integrity the registry publishes (checked here as npm would), and gzip -n
# writes no name or time, so the same versions give the same bytes.
# internal/graphiql/assets/SHA256SUMS records the uncompressed files, and a
# test checks the embedded files against it. Needs npm, openssl, tar, gzip.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAPHIQL_VERSION=3.9.0 # the last GraphiQL with a UMD build (4 and later are ESM with Monaco workers)
REACT_VERSION=18.3.1   # the last React with UMD builds; GraphiQL 3 supports React 16.8 to 18

# name@version  integrity  file in the package  asset name
packages=(
  "graphiql@$GRAPHIQL_VERSION sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA== graphiql.min.js graphiql.min.js"
  "graphiql@$GRAPHIQL_VERSION sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA== graphiql.min.css graphiql.min.css"
  "react@$REACT_VERSION sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ== umd/react.production.min.js react.production.min.js"
  "react-dom@$REACT_VERSION sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw== umd/react-dom.production.min.js react-dom.production.min.js"
)

out=internal/graphiql/assets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for entry in "${packages[@]}"; do
  read -r spec integrity file asset <<<"$entry"
  name=${spec%@*}
  dir="$tmp/$name"
  if [[ ! -d "$dir" ]]; then
    mkdir -p "$dir"
    tgz=$(cd "$dir" && npm pack --silent "$spec" 2>/dev/null | tail -1)
    got="sha512-$(openssl dgst -sha512 -binary "$dir/$tgz" | base64 -w0)"
    if [[ "$got" != "$integrity" ]]; then
      echo "$spec: integrity $got, want $integrity" >&2
      exit 1
    fi
    tar -xzf "$dir/$tgz" -C "$dir"
  fi
  gzip -9 -n -c "$dir/package/$file" >"$out/$asset.gz"
  cp "$dir/package/$file" "$tmp/$asset"
  echo "$asset  <- $spec $file"
done
(cd "$tmp" && sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js) >"$out/SHA256SUMS"
printf 'graphiql %s\nreact %s\nreact-dom %s\n' "$GRAPHIQL_VERSION" "$REACT_VERSION" "$REACT_VERSION" >"$out/VERSIONS"
du -ch "$out"/*.gz | tail -1
