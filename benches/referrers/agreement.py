#!/usr/bin/env python3
"""How far heatstore's referrer channels agree with a public referrer test
suite: Snowplow's referer-parser (https://github.com/snowplow-referer-parser/referer-parser),
its `resources/referer-tests.json` (referrer URLs with the medium they
should get) and every host of its `resources/referers.yml` (by medium).
The suite is GPL-licensed; it is read where it lies, never copied into
heatstore.

Run it through `benches/referrers/run`, which finds or downloads the suite
and builds heatstore. Every case goes through the real pipeline: one
pageview per case (its own session, the case's URL as referrer, landing on
`https://landing.example/case/N`), `heatstore import`, `heatstore export
--format ndjson`, and the `derived.channel` of each session read back.

Media map to channels: search → search, social → social, email → email,
chatbot → ai, paid → campaign (a click from an ad server), unknown →
referral (the suite's "known source, no medium": support.google.com, ...).
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

EXPECTED = {
    "search": "search",
    "social": "social",
    "email": "email",
    "chatbot": "ai",
    "paid": "campaign",
    "unknown": "referral",
}
SITE = "landing.example"


def referers_yml(path):
    """{medium: [(source, host-or-host/path)]} from referers.yml. Its shape
    is fixed (medium, source, `domains:`/`parameters:`, `- item`), so a
    small reader does without a YAML library."""
    out = collections.defaultdict(list)
    medium = source = key = None
    for raw in open(path, encoding="utf-8"):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0 and text.endswith(":"):
            medium, source, key = text[:-1], None, None
        elif indent == 2 and text.endswith(":"):
            source, key = text[:-1].strip("'\""), None
        elif indent == 4 and text.endswith(":"):
            key = text[:-1]
        elif text.startswith("- ") and key == "domains" and medium and source:
            out[medium].append((source, text[2:].strip().strip("'\"")))
    return out


def referers_json(path):
    """The same from the older referers.json (PyPI's referer-parser)."""
    d = json.load(open(path, encoding="utf-8"))
    return {m: [(s, h) for s, v in srcs.items() for h in v.get("domains", [])] for m, srcs in d.items()}


def cases(suite):
    """(group, medium, label, referrer URL) for every case of the suite."""
    out = []
    tests = os.path.join(suite, "referer-tests.json")
    if os.path.exists(tests):
        for t in json.load(open(tests, encoding="utf-8")):
            if t.get("known") and t.get("medium") in EXPECTED:
                out.append(("test URLs", t["medium"], t.get("spec", ""), t["uri"]))
    yml, js = os.path.join(suite, "referers.yml"), os.path.join(suite, "referers.json")
    hosts = referers_yml(yml) if os.path.exists(yml) else referers_json(js) if os.path.exists(js) else {}
    for medium, entries in hosts.items():
        if medium not in EXPECTED:
            continue
        for source, host in entries:
            out.append(("hosts", medium, f"{source}: {host}", "https://" + host + ("" if "/" in host else "/")))
    return out


def run(binary, args):
    p = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit(f"heatstore {' '.join(args)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", required=True,
                    help="folder with referer-tests.json and referers.yml (or referers.json)")
    ap.add_argument("--suite-name", default="Snowplow referer-parser")
    ap.add_argument("--heatstore", default=os.path.join(ROOT, "target", "release", "heatstore"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, "target", "referrers"))
    ap.add_argument("--results", help="also write the table (Markdown) here")
    ap.add_argument("--misses", type=int, default=8, help="disagreements to list per medium")
    args = ap.parse_args()

    all_cases = cases(args.suite)
    if not all_cases:
        sys.exit(f"agreement.py: no cases in {args.suite}")
    work = os.path.abspath(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data, db, out = (os.path.join(work, n) for n in ("cases.ndjson", "store.heat", "export.ndjson"))
    t0 = 1_790_812_800_000
    with open(data, "w", encoding="utf-8") as f:
        for i, (_, _, _, uri) in enumerate(all_cases):
            f.write(json.dumps({
                "site": SITE, "ts": t0 + i * 1000, "type": "pageview",
                "session": f"case-{i}", "visitor": f"v-{i}",
                "url": f"https://{SITE}/case/{i}", "referrer": uri,
            }) + "\n")
    imp = json.loads(run(args.heatstore, ["import", data, "--db", db, "--json"]))
    run(args.heatstore, ["export", "--db", db, "--site", SITE, "--format", "ndjson", "--out", out])
    got = {}
    for line in open(out, encoding="utf-8"):
        e = json.loads(line)
        d = e.get("derived") or {}
        m = re.fullmatch(r"/case/(\d+)", d.get("entry_page") or "")
        if m:
            got[int(m.group(1))] = d.get("channel")
    rejected = imp.get("rejected", 0)

    table = collections.OrderedDict()
    misses = collections.defaultdict(list)
    for i, (group, medium, label, uri) in enumerate(all_cases):
        ch = got.get(i, "(rejected)")
        row = table.setdefault((group, medium), collections.Counter())
        row[ch] += 1
        if ch != EXPECTED[medium]:
            misses[(group, medium)].append((label, uri, ch))

    lines = [f"Agreement of heatstore's channels with {args.suite_name} "
             f"({len(all_cases)} cases; {rejected} rejected at import)", "",
             "| cases | medium | heatstore channel expected | cases | agree | share | heatstore said instead |",
             "|---|---|---|---:|---:|---:|---|"]
    for (group, medium), row in table.items():
        n = sum(row.values())
        ok = row[EXPECTED[medium]]
        other = ", ".join(f"{c} {k}" for c, k in sorted(((c, k) for k, c in row.items() if k != EXPECTED[medium]),
                                                         reverse=True))
        lines.append(f"| {group} | {medium} | {EXPECTED[medium]} | {n} | {ok} | {100 * ok / n:.1f}% | {other or '-'} |")
    text = "\n".join(lines)
    print(text)
    print()
    for key, ms in misses.items():
        print(f"{key[0]}, {key[1]}: {len(ms)} disagree, e.g.")
        for label, uri, ch in ms[: args.misses]:
            print(f"    {ch:9} {label}  {uri[:100]}")
    if args.results:
        with open(args.results, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
