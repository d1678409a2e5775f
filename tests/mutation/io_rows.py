#!/usr/bin/env python3
"""survivors-io.txt -> a results JSON of "survived" mutants that mutation.py --mutants reads
(issue 17, helper mut-io): rows `file | original | mutated | name`, and rows `#@N file | ...`
whose original line is not unique in its file (N: the line to use).

Usage: tests/mutation/io_rows.py tests/mutation/survivors-io.txt OUT.json
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    src, out = sys.argv[1:3]
    rows = []
    with open(src) as f:
        for n, row in enumerate(f, 1):
            line_no = None
            if row.startswith("#@"):
                head, row = row[2:].split(" ", 1)
                line_no = int(head)
            elif not row.strip() or row.startswith("#"):
                continue
            rel, old, new, name = [p.strip() for p in row.rstrip("\n").split(" | ")]
            with open(os.path.join(ROOT, rel)) as g:
                lines = g.read().split("\n")
            hits = [i + 1 for i, ln in enumerate(lines) if ln.strip() == old]
            if line_no is None:
                if len(hits) != 1:
                    sys.exit(f"{src}:{n}: `{old}` found {len(hits)} times in {rel}")
                line_no = hits[0]
            elif line_no not in hits:
                sys.exit(f"{src}:{n}: line {line_no} of {rel} is not `{old}`")
            text = lines[line_no - 1]
            indent = text[:len(text) - len(text.lstrip())]
            rows.append({"file": rel, "line": line_no, "old": text, "new": indent + new,
                         "status": "survived", "name": name})
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    print(f"{len(rows)} mutants -> {out}")


if __name__ == "__main__":
    main()
