#!/usr/bin/env python3
# docopts.py LANSER ROOT - used by t_docs.sh.
# Every `lanser [global options] CMD ... --option` written in the docs names
# an option the command table gives that command (or a global one).
import re, subprocess, sys, glob, os
L, root = sys.argv[1], sys.argv[2]
def opts_of(cmd):
    out = subprocess.run([L, "help", cmd], capture_output=True, text=True).stdout
    names = set(re.findall(r"^\s+(--[a-z][a-z0-9-]*)", out, re.M))
    g = re.search(r"^global options: (.*)$", out, re.M)
    if g:
        names |= set(g.group(1).split())
    return names if out else None
cmds = {}
bad = []
seen = 0
files = sorted(glob.glob(os.path.join(root, "docs", "*.md"))) + [os.path.join(root, "README.md")]
for f in files:
    lines = open(f, encoding="utf-8").read().split("\n")
    for n, line in enumerate(lines, 1):
        if n < len(lines) and "is an option of" in lines[n]:
            continue  # the docs show the error on purpose
        for m in re.finditer(r"\blanser((?:\s+--[a-z-]+(?:\s+[^\s`-][^\s`]*)?)*)\s+([a-z][a-z-]+)\b([^`|]*)", line):
            cmd = m.group(2)
            if cmd not in cmds:
                cmds[cmd] = opts_of(cmd)
            known = cmds[cmd]
            if known is None:
                continue  # not a command ("lanser is", prose)
            for o in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", m.group(1) + " " + m.group(3)):
                seen += 1
                if o not in known:
                    bad.append(f"{os.path.relpath(f, root)}:{n}: lanser {cmd} ... {o}")
for b in bad:
    print(b)
print(f"{seen} options checked")
sys.exit(1 if bad else 0)
