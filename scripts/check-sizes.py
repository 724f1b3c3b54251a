#!/usr/bin/env python3
"""Reports Rust source files over 600 lines and functions over 100 lines under crates/*/src
(test files and #[cfg(test)] modules excepted), and src/cmd/*.rs files over 200 lines."""
import re, sys, pathlib
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.')
bad = 0
fn_re = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+"C"\s+)?fn\s+(\w+)')
for f in sorted(root.glob('crates/*/src/**/*.rs')):
    if f.name == 'tests.rs' or '/tests/' in str(f):
        continue
    lines = f.read_text().splitlines()
    # cut at a trailing #[cfg(test)] module
    end = len(lines)
    for i, l in enumerate(lines):
        if l.strip() == '#[cfg(test)]' and i + 1 < len(lines) and re.match(r'\s*mod \w+\s*\{', lines[i+1]) and not lines[i].startswith(' '):
            end = i; break
    n = end
    if n > 600:
        print(f'FILE {f}: {n} lines'); bad += 1
    if '/src/cmd/' in str(f) and n > 200:
        print(f'CMD {f}: {n} lines'); bad += 1
    i = 0
    while i < end:
        m = fn_re.match(lines[i])
        if m and not lines[i].rstrip().endswith(';'):
            depth = 0; started = False; j = i
            while j < end:
                s = re.sub(r'"([^"\\]|\\.)*"', '""', lines[j])
                s = re.sub(r"'([^'\\]|\\.)'", "''", s)
                s = s.split('//')[0]
                for ch in s:
                    if ch == '{': depth += 1; started = True
                    elif ch == '}': depth -= 1
                if started and depth <= 0: break
                if not started and s.rstrip().endswith(';'): break
                j += 1
            length = j - i + 1
            if started and length > 100:
                print(f'FN {f}:{i+1} {m.group(7)}: {length} lines'); bad += 1
            i = j + 1 if started else i + 1
        else:
            i += 1
sys.exit(1 if bad else 0)
