#!/usr/bin/env bash
# Third-party code for the web page, vendored into backend/static/vendor/ and committed: the page fetches
# nothing from elsewhere at run time and needs no build step.
#
# Each package is fetched at an exact version from the npm registry (`npm pack`), its tarball checked against
# the sha512 integrity pinned below (the registry's dist.integrity, the same value npm's lock files hold), and
# the browser build and license copied. backend/static/vendor/VENDORED.txt records what was copied, with
# every file's sha256.
#
#   scripts/vendor-web.sh           fetch, check, copy (run after changing a version and its integrity below)
#   scripts/vendor-web.sh --check   fetch and check, and fail if the committed files differ from the packages
#
# To move to a new version: `npm view oidc-client-ts@<version> dist.integrity`, update the two values below,
# run this script, read the library's changelog, and run tests/e2e/test_web_signin.py.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-copy}"
case "$MODE" in copy | --check) ;; *)
  echo "usage: $0 [--check]" >&2
  exit 2
  ;;
esac

VENDOR=backend/static/vendor
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# package@version | pinned integrity | destination folder | files to copy (paths inside the package)
PACKAGES=(
  # OpenID Connect sign-in for the page (authorization code + PKCE, token renewal, sign-out); Apache-2.0.
  "oidc-client-ts@3.5.0|sha512-l2q8l9CTCTOlbX+AnK4p3M+4CEpKpyQhle6blQkdFhm0IsBqsxm15bYaSa11G7pWdsYr6epdsRZxJpCyCRbT8A==|oidc-client-ts|dist/browser/oidc-client-ts.min.js dist/browser/oidc-client-ts.min.js.map LICENSE"
  # Bundled inside oidc-client-ts's browser build (its only dependency, ^4.0.0): only its license is copied; MIT.
  "jwt-decode@4.0.0|sha512-+KJGIyHgkGuIq3IEBNftfhW/LfWhXUIY6OmyVWjliu5KH1y0fw7VQ8YndE2O4qZdMSd9SqbnC8GOcZEy0Om7sA==|oidc-client-ts/jwt-decode|LICENSE"
)

integrity_of() { # the npm-style sha512 integrity of a file
  printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | openssl base64 -A)"
}

STAGE="$WORK/vendor"
mkdir -p "$STAGE"
{
  echo "# Written by scripts/vendor-web.sh: do not edit by hand. Package, registry integrity, then each file's sha256."
} >"$STAGE/VENDORED.txt"

for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r spec integrity dest files <<<"$entry"
  echo "== $spec"
  mkdir -p "$WORK/pack"
  tarball="$(cd "$WORK/pack" && npm pack "$spec" --silent --registry=https://registry.npmjs.org/ | tail -n 1)"
  actual="$(integrity_of "$WORK/pack/$tarball")"
  if [ "$actual" != "$integrity" ]; then
    echo "integrity mismatch for $spec: expected $integrity, got $actual" >&2
    exit 1
  fi
  rm -rf "$WORK/package"
  tar -xzf "$WORK/pack/$tarball" -C "$WORK"
  # The tarball must be the version asked for (npm pack resolves exact versions, but say so plainly).
  version="$(node -p 'require(process.argv[1]).version' "$WORK/package/package.json")"
  [ "$spec" = "$(node -p 'require(process.argv[1]).name' "$WORK/package/package.json")@$version" ] || {
    echo "unexpected package contents for $spec (version $version)" >&2
    exit 1
  }
  echo "$spec $integrity" >>"$STAGE/VENDORED.txt"
  mkdir -p "$STAGE/$dest"
  for file in $files; do
    cp "$WORK/package/$file" "$STAGE/$dest/$(basename "$file")"
    (cd "$STAGE" && sha256sum "$dest/$(basename "$file")") | sed 's/^/  /' >>"$STAGE/VENDORED.txt"
  done
  rm -rf "$WORK/package" "$WORK/pack"
done

if [ "$MODE" = "--check" ]; then
  if diff -r "$STAGE" "$VENDOR" >/dev/null; then
    echo "backend/static/vendor/ matches the pinned packages."
  else
    diff -rq "$STAGE" "$VENDOR" >&2 || true
    echo "backend/static/vendor/ differs from the pinned packages: run scripts/vendor-web.sh" >&2
    exit 1
  fi
else
  rm -rf "$VENDOR"
  mkdir -p "$VENDOR"
  cp -r "$STAGE/." "$VENDOR/"
  echo "Vendored into $VENDOR:"
  cat "$VENDOR/VENDORED.txt"
fi
