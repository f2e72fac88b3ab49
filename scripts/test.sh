#!/usr/bin/env bash
# The README's test command: installs what is missing, type-checks, lints, runs every test, and ends with one plain
# summary line ("Tests: N passed, N failed, N skipped") whatever the outcome. Extra arguments go to vitest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test || exit $?
npx tsc --noEmit || exit $?
npm run --silent lint || exit $?
report=.data/vitest-report.json
mkdir -p .data && rm -f "$report"
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@"
status=$?
node -e '
  const fs = require("fs");
  if (!fs.existsSync(process.argv[1])) process.exit(0);
  const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report"
exit $status
