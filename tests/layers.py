#!/usr/bin/env python3
"""layers.py SOURCE_ROOT: no file includes a header from a floor above its own.

The floors (DESIGN.md, README "Where things are"): base -> engine -> traces | kernels -> calib ->
sim -> cli. A file may include headers of its own folder and of folders on lower floors; traces/
and kernels/ share a floor and do not include each other. Each quoted #include is resolved to the
folder that holds the header; an include that no folder holds (generated version.h aside) fails.
"""
import os
import re
import sys

FLOORS = {"base": 0, "engine": 1, "traces": 2, "kernels": 2, "calib": 3, "sim": 4, "cli": 5}
GENERATED = {"version.h": "sim"}  # written by meson into the build directory


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    owner = dict(GENERATED)
    sources = []
    for folder in FLOORS:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            for n in names:
                if n.endswith((".c", ".h", ".cu", ".cuh")):
                    sources.append((folder, os.path.join(dirpath, n)))
                    if n.endswith((".h", ".cuh")):
                        if n in owner and owner[n] != folder:
                            print(f"header name {n} is used by both {owner[n]}/ and {folder}/")
                            return 1
                        owner[n] = folder
    bad = 0
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
    for folder, path in sorted(sources):
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = inc.match(line)
                if not m:
                    continue
                name = os.path.basename(m.group(1))
                where = owner.get(name)
                rel = os.path.relpath(path, root)
                if where is None:
                    print(f"{rel}:{lineno}: includes \"{name}\", which no layer folder holds")
                    bad += 1
                elif where != folder and FLOORS[where] >= FLOORS[folder]:
                    print(f"{rel}:{lineno}: {folder}/ (floor {FLOORS[folder]}) includes "
                          f"{where}/{name} (floor {FLOORS[where]})")
                    bad += 1
    print(f"{len(sources)} files, {bad} includes from a floor above or beside")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
