#!/usr/bin/env python3
"""Print the suite's last line, `N passed, N failed`, from meson's testlog.json.

Passed = OK + EXPECTEDFAIL (a planted-bug build that the tests caught); failed = FAIL,
UNEXPECTEDPASS, TIMEOUT and ERROR. Skips are listed by name on the line before, so a skip
never hides. Exit status 1 when anything failed or when no test ran at all.
"""
import json
import sys

def main(path):
    passed, failed, skipped = 0, 0, []
    try:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                res = r.get("result")
                if res in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif res == "SKIP":
                    skipped.append(r.get("name", "?"))
                else:
                    failed += 1
    except OSError as e:
        print(f"cannot read {path}: {e}")
        failed += 1
    if skipped:
        print(f"{len(skipped)} skipped: {', '.join(skipped)}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
