// Prints "N passed, M failed" from vitest's JSON report(s) (CI reads this line, not vitest's summary).
// Exit 1 when a report is missing or shows failures, so a crash before the report is not green.
//
//   node scripts/test-summary.mjs [REPORT]                      one report (default .vitest-report.json)
//   node scripts/test-summary.mjs "node 20=a.json" "node 24=b.json" --check "image check=passed"
// With several, each gets its own line first; the last line is the total. A --check counts as one
// test that passed (value "passed") or failed (anything else).
import { readFileSync } from 'node:fs';

const reports = [];
const checks = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--check') {
    const [label, value] = split(args[++i] ?? '');
    checks.push({ label, ok: value === 'passed' });
  } else {
    const [label, file] = args[i].includes('=') ? split(args[i]) : [undefined, args[i]];
    reports.push({ label, file });
  }
}
if (reports.length === 0) reports.push({ label: undefined, file: '.vitest-report.json' });

let passed = 0;
let failed = 0;
let ok = true;
const lines = [];
for (const { label, file } of reports) {
  const r = count(file);
  passed += r.passed;
  failed += r.failed;
  ok &&= r.ok;
  lines.push(`${label ?? file}: ${r.passed} passed, ${r.failed} failed${r.note ? ` (${r.note})` : ''}`);
}
for (const { label, ok: good } of checks) {
  if (good) passed++;
  else failed++;
  ok &&= good;
  lines.push(`${label}: ${good ? 'passed' : 'FAILED'}`);
}
if (reports.length + checks.length > 1) for (const line of lines) console.log(line);
else if (reports[0] && lines[0]?.includes('(')) console.log(lines[0]);
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok && failed === 0 ? 0 : 1);

function split(arg) {
  const i = arg.lastIndexOf('=');
  return [arg.slice(0, i), arg.slice(i + 1)];
}

function count(file) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { passed: 0, failed: 1, ok: false, note: `no test report at ${file}: ${err.code ?? err.message}` };
  }
  const p = report.numPassedTests ?? 0;
  // Suites that failed to load count as failures too: their tests never ran.
  const failedSuites = (report.testResults ?? []).filter((r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0).length;
  const f = (report.numFailedTests ?? 0) + failedSuites;
  return { passed: p, failed: f, ok: f === 0 && report.success !== false };
}
