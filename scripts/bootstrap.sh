#!/usr/bin/env bash
# Installs what the project needs from the package registries, once; later runs reuse it.
#   scripts/bootstrap.sh        npm packages, Prisma client, Temporal CLI (dev server)
#   scripts/bootstrap.sh server the same plus Temporal's production server and its SQL tool (TEMPORAL_ENGINE=postgres)
#   scripts/bootstrap.sh test   all of the above plus Temporal's Java time-skipping test server and Debian's chromium
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '[bootstrap] %s\n' "$*"; }
mkdir -p .tools

# npm packages: reinstalled whenever the lockfile changes.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.lock-sum ] || [ "$(cat node_modules/.lock-sum)" != "$lock_sum" ]; then
  step "installing npm packages (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.lock-sum
fi

# Prisma client: regenerated whenever the schema changes. `prisma generate` wants a schema engine binary it
# never runs for generation; pointing it at a placeholder stops it trying to download one (which fails here).
schema_sum=$(sha256sum prisma/schema.prisma package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f generated/.schema-sum ] || [ "$(cat generated/.schema-sum)" != "$schema_sum" ]; then
  step "generating the Prisma client…"
  touch .tools/no-schema-engine
  PRISMA_SCHEMA_ENGINE_BINARY="$PWD/.tools/no-schema-engine" npx prisma generate > /dev/null
  echo "$schema_sum" > generated/.schema-sum
fi

# Temporal CLI (dev server + UI), built from its Go module: Temporal's own download site is out of reach.
TEMPORAL_CLI_VERSION=v1.5.1
if [ ! -x .tools/bin/temporal ] || [ "$(cat .tools/bin/.temporal-version 2>/dev/null)" != "$TEMPORAL_CLI_VERSION" ]; then
  step "building the Temporal CLI $TEMPORAL_CLI_VERSION from its Go module (first time: about 6 minutes on 2 cores)…"
  GOBIN="$PWD/.tools/bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -v "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" 2>&1 \
    | awk '{ n++; if (n % 50 == 0) printf "[bootstrap]   …%d packages downloaded or compiled\n", n; fflush() }'
  test -x .tools/bin/temporal
  echo "$TEMPORAL_CLI_VERSION" > .tools/bin/.temporal-version
  step "Temporal CLI ready: $(.tools/bin/temporal --version)"
fi

# Temporal's production server and its schema tool, from the server's Go module at the version docker-compose.yml runs.
# `go install` names them server and sql: they are built into a folder of their own and renamed. Go's build cache
# (~/.cache/go-build) is kept, so a later build on this machine (a fresh clone in CI) only links.
TEMPORAL_SERVER_VERSION=v1.29.1
if [ "${1:-}" = server ] || [ "${1:-}" = test ] || [ "${TEMPORAL_ENGINE:-}" = postgres ]; then
  if [ ! -x .tools/bin/temporal-server ] || [ ! -x .tools/bin/temporal-sql-tool ] \
    || [ "$(cat .tools/bin/.temporal-server-version 2>/dev/null)" != "$TEMPORAL_SERVER_VERSION" ]; then
    step "building temporal-server and temporal-sql-tool $TEMPORAL_SERVER_VERSION from their Go module (first time on a cold Go cache: about 8 minutes on 2 cores; warm: about 1)…"
    staging=.tools/go-install-temporal-server
    rm -rf "$staging"
    GOBIN="$PWD/$staging" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
      go install "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" \
      "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
    mv "$staging/server" .tools/bin/temporal-server
    mv "$staging/sql" .tools/bin/temporal-sql-tool
    rm -rf "$staging"
    echo "$TEMPORAL_SERVER_VERSION" > .tools/bin/.temporal-server-version
    step "temporal-server ready: $(.tools/bin/temporal-server --version 2>&1 | head -1)"
  fi
fi

if [ "${1:-}" = test ]; then
  # Temporal's Java test server (time skipping), resolved from Maven Central, run through a small wrapper.
  TS_DIR=.tools/temporal-test-server
  if [ ! -x "$TS_DIR/test-server" ]; then
    step "resolving Temporal's Java test server from Maven Central…"
    rm -rf "$TS_DIR/lib"
    mvn -B -q -f scripts/tools/temporal-test-server.pom.xml dependency:copy-dependencies -DoutputDirectory="$PWD/$TS_DIR/lib"
    cat > "$TS_DIR/test-server" <<WRAPPER
#!/bin/sh
exec java -cp '$PWD/$TS_DIR/lib/*' io.temporal.testserver.TestServer "\$@"
WRAPPER
    chmod +x "$TS_DIR/test-server"
  fi
  # Debian's Chromium for the page tests (test/support/browser.ts drives it with playwright-core): Playwright's own
  # browser download cannot work here. CHROMIUM_PATH names another build instead.
  if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium > /dev/null; then
    if ! command -v apt-get > /dev/null; then
      echo "[bootstrap] Chromium is missing and apt-get is not available: install Chromium and set CHROMIUM_PATH" >&2
      exit 1
    fi
    as_root=()
    if [ "$(id -u)" != 0 ]; then
      command -v sudo > /dev/null || { echo "[bootstrap] installing Chromium needs root or sudo" >&2; exit 1; }
      as_root=(sudo -n)
    fi
    step "installing Debian's chromium (apt-get)…"
    apt_log=$(mktemp)
    # The package lists may be missing or stale on a fresh machine: refresh them once if the first try fails.
    if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > "$apt_log" 2>&1; then
      "${as_root[@]}" apt-get update -qq > "$apt_log" 2>&1 &&
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > "$apt_log" 2>&1 ||
        { cat "$apt_log" >&2; echo "[bootstrap] apt-get could not install chromium" >&2; exit 1; }
    fi
    rm -f "$apt_log"
    step "Chromium ready: $(chromium --version)"
  fi
fi
