#!/usr/bin/env python3
"""Prints every result row under a store, sorted, without the wall-clock fields."""
import json, sys, pathlib
out = []
for p in sorted(pathlib.Path(sys.argv[1]).rglob('steps.jsonl')):
    for line in p.read_text().splitlines():
        r = json.loads(line)
        r.pop('wall_s', None); r.pop('cum_wall_s', None)
        out.append(json.dumps(r, sort_keys=True))
print('\n'.join(sorted(out)))
