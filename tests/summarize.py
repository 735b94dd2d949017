#!/usr/bin/env python3
"""Prints one summary of `meson test` runs: test cases passed, failed and skipped.

Usage: tests/summarize.py [--failure TEXT]... BUILD_DIR...

For each BUILD_DIR (scripts/test.sh passes the normal build, the sanitizer
build and the fuzz build), reads every JUnit-style XML in BUILD_DIR/test-results/
(GoogleTest's GTEST_OUTPUT=xml:DIR/ files and pytest's --junitxml files) and
BUILD_DIR/meson-logs/testlog.json; the counts of all build dirs are added up.
Each --failure TEXT counts as one more failure (a stage that could not even
build or run its tests); a BUILD_DIR without a testlog.json is one too. A meson test that failed or timed out
without a failing case in its XML (a crash, a timeout, a collection error)
counts as one failure; one that passed without writing any XML counts as one
passed case. Skipped cases are never counted as passed.

The LAST line printed is `N passed, N failed` (plus `, N skipped` when some
were skipped). Exits 1 if anything failed or if no test ran, else 0.
Standard library only.
"""

import json
import os
import pathlib
import sys
import xml.etree.ElementTree as ET

FAILED_RESULTS = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS", "INTERRUPT"}
PASSED_RESULTS = {"OK", "EXPECTEDFAIL"}


class XmlResult:
    def __init__(self, path):
        self.path = path
        self.passed = 0
        self.failed = []  # names of failed cases
        self.skipped = 0
        self.error = None  # the file could not be parsed

    @property
    def label(self):
        return self.path.stem


def parse_xml(path):
    """Counts the <testcase> elements of a GoogleTest or pytest JUnit XML file."""
    result = XmlResult(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        result.error = str(e)
        return result
    for case in root.iter("testcase"):
        name = ".".join(x for x in (case.get("classname"), case.get("name")) if x)
        if case.find("failure") is not None or case.find("error") is not None:
            result.failed.append(name)
        elif (case.find("skipped") is not None or case.get("status") == "notrun"
              or case.get("result") in ("skipped", "suppressed")):
            result.skipped += 1
        else:
            result.passed += 1
    return result


def read_testlog(path):
    entries = []
    if not path.exists():
        return entries
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return entries


def xml_paths_of(entry, results_dir, xml_by_path):
    """The XML files a meson test wrote: pytest's --junitxml, or GoogleTest's <binary>[_N].xml."""
    command = entry.get("command") or []
    found = []
    for arg in command:
        if isinstance(arg, str) and arg.startswith("--junitxml="):
            found.append(pathlib.Path(arg.split("=", 1)[1]).resolve())
    if not found and command:
        stem = os.path.basename(command[0])
        for path in xml_by_path:
            if path.parent == results_dir and (path.stem == stem or (
                    path.stem.startswith(stem + "_") and path.stem[len(stem) + 1:].isdigit())):
                found.append(path)
    return [p for p in found if p in xml_by_path]


def summarize_build(build):
    """Returns (passed, skipped, failure lines) of the meson test run in `build`."""
    build = pathlib.Path(build).resolve()
    if not (build / "meson-logs" / "testlog.json").exists():
        return 0, 0, ["no meson test log (meson-logs/testlog.json): no test ran"]
    results_dir = (build / "test-results").resolve()
    xml_by_path = {}
    if results_dir.is_dir():
        for path in sorted(results_dir.glob("*.xml")):
            xml_by_path[path.resolve()] = parse_xml(path)

    passed = sum(r.passed for r in xml_by_path.values())
    skipped = sum(r.skipped for r in xml_by_path.values())
    failures = [f"{r.label}: {name}" for r in xml_by_path.values() for name in r.failed]
    for r in xml_by_path.values():
        if r.error:
            failures.append(f"{r.label}: unreadable result file ({r.error})")

    for entry in read_testlog(build / "meson-logs" / "testlog.json"):
        name = entry.get("name", "?")
        outcome = entry.get("result", "?")
        xmls = [xml_by_path[p] for p in xml_paths_of(entry, results_dir, xml_by_path)]
        xml_failed = any(r.failed or r.error for r in xmls)
        xml_cases = sum(r.passed + len(r.failed) + r.skipped for r in xmls)
        if outcome in FAILED_RESULTS:
            if not xml_failed:
                failures.append(f"meson test {name}: {outcome} (exit {entry.get('returncode')}) "
                                f"with no failing case in its results")
        elif outcome in PASSED_RESULTS:
            if not xmls:
                passed += 1  # a plain exit-code test
            elif xml_cases == 0:
                failures.append(f"meson test {name}: passed but its results hold no test case")
        elif outcome == "SKIP":
            if not xmls:
                skipped += 1
        else:
            failures.append(f"meson test {name}: unknown result {outcome}")
    return passed, skipped, failures


def main(argv):
    args = argv[1:]
    builds = []
    failures = []
    while args:
        arg = args.pop(0)
        if arg == "--failure" and args:
            failures.append(args.pop(0))
        elif arg.startswith("--failure="):
            failures.append(arg.split("=", 1)[1])
        else:
            builds.append(arg)
    if not builds and not failures:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    passed = skipped = 0
    for build in builds:
        p, s, f = summarize_build(build)
        passed += p
        skipped += s
        label = pathlib.Path(build).resolve().name
        failures.extend(f"[{label}] {line}" if len(builds) > 1 else line for line in f)

    for line in failures:
        print(f"FAILED {line}")
    summary = f"{passed} passed, {len(failures)} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary)
    return 1 if failures or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
