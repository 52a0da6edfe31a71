#!/usr/bin/env python3
"""Scale-out check: the SQL of docs/export.md, run by ClickHouse (chDB),
Spark (PySpark, local mode) and DuckDB over heatstore's Parquet export,
must give exactly `heatstore query --json`'s answers.

Run it through `benches/scale-out/run` (which builds heatstore and the venv).

Steps: generate a workload (`heatstore gen`), import it, export one site as
Parquet, read every ```sql block of docs/export.md marked `-- report: NAME`
(and the `-- setup` blocks that create the views), substitute the
parameters as literals, run each report in each engine and compare its rows
with heatstore's. Exit status 1 on the first disagreement.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings

# PySpark warns about the pandas it finds; it is not used here.
warnings.filterwarnings("ignore", category=FutureWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DOC = os.path.join(ROOT, "docs", "export.md")
DAY_MS = 86_400_000
REPLAY_FIELDS = ["ts", "type", "page", "x", "y", "vw", "vh", "dh", "load_ms", "selector",
                 "ex", "ey", "len", "duration_ms", "name"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Disagreement(Exception):
    pass


# ---------------------------------------------------------------- the SQL of the docs

def doc_blocks():
    """{(kind, name, engine): sql} from docs/export.md: kind is "setup" or
    "report"; a block names its engines on an `-- engines:` line."""
    text = open(DOC).read()
    out = {}
    for body in re.findall(r"```sql\n(.*?)```", text, re.S):
        m = re.search(r"^-- (report|setup): *(.+)$", body, re.M)
        if not m:
            continue
        kind, name = m.group(1), m.group(2).strip()
        e = re.search(r"^-- engines: *(.+)$", body, re.M)
        engines = e.group(1).split() if e else ["clickhouse", "spark"]
        for eng in engines:
            if (kind, name, eng) in out:
                sys.exit(f"scaleout.py: docs/export.md has two {kind} blocks {name!r} for {eng}")
            out[(kind, name, eng)] = body
    return out


def statements(sql):
    out = []
    for part in re.split(r";\s*(?:\n|$)", sql):
        body = "\n".join(l for l in part.splitlines() if not l.strip().startswith("--")).strip()
        if body:
            out.append(body)
    return out


PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")


def bind(sql, params, engine="spark"):
    """`:name` → the value as a literal (ints bare, strings quoted the
    engine's way: DuckDB's strings have no backslash escapes)."""
    def lit(m):
        v = params[m.group(1)]
        if isinstance(v, int):
            return str(v)
        if engine == "duckdb":
            return "'" + str(v).replace("'", "''") + "'"
        return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return PARAM.sub(lit, sql)


# ---------------------------------------------------------------- engines

class ClickHouse:
    name = "clickhouse"

    def __init__(self):
        from chdb import session
        self.s = session.Session()
        self.version = self.rows("SELECT version()")[0][0]

    def rows(self, sql):
        r = self.s.query(sql + "\nSETTINGS output_format_json_quote_64bit_integers = 0, "
                         "output_format_json_quote_denormals = 1", "JSONCompact")
        text = r.bytes().decode() if hasattr(r, "bytes") else str(r)
        return [tuple(row) for row in json.loads(text)["data"]] if text.strip() else []

    def run(self, sql):
        out = None
        for st in statements(sql):
            if re.match(r"(?is)\s*(CREATE|SET|DROP|USE)\b", st):
                self.s.query(st)
            else:
                out = self.rows(st)
        return out

    def close(self):
        try:
            self.s.close()
        except Exception:
            pass


class Spark:
    name = "spark"

    def __init__(self, cores):
        from pyspark.sql import SparkSession
        self.spark = (SparkSession.builder.master(f"local[{cores}]").appName("heatstore-scale-out")
                      .config("spark.ui.enabled", "false")
                      .config("spark.ui.showConsoleProgress", "false")
                      .config("spark.sql.shuffle.partitions", str(max(2, cores)))
                      .config("spark.sql.session.timeZone", "UTC")
                      .getOrCreate())
        self.spark.sparkContext.setLogLevel("ERROR")
        self.version = self.spark.version

    def run(self, sql):
        out = None
        for st in statements(sql):
            df = self.spark.sql(st)
            if not re.match(r"(?is)\s*(CREATE|SET|DROP|USE)\b", st):
                out = [tuple(r) for r in df.collect()]
        return out

    def close(self):
        self.spark.stop()


class DuckDB:
    name = "duckdb"

    def __init__(self):
        import duckdb
        self.con = duckdb.connect()
        self.version = duckdb.__version__

    def run(self, sql):
        out = None
        for st in statements(sql):
            rows = self.con.execute(st)
            if not re.match(r"(?is)\s*(CREATE|SET|DROP|USE)\b", st):
                out = [tuple(r) for r in rows.fetchall()]
        return out

    def close(self):
        self.con.close()


# ---------------------------------------------------------------- heatstore

class Heatstore:
    def __init__(self, binary, db):
        self.binary, self.db = binary, db

    def run(self, args):
        p = subprocess.run([self.binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            sys.exit(f"heatstore {' '.join(args)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
        return p.stdout

    def query(self, args):
        return json.loads(self.run(["query"] + args + ["--db", self.db, "--json"]))


# ---------------------------------------------------------------- answers in one shape

def same_value(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)
    return a == b


def same_row(a, b):
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return same_value(a, b)


def compare(report, engine, want, got):
    for key in want:
        w, g = want[key], got.get(key)
        if isinstance(w, list):
            for i, (a, b) in enumerate(zip(w, g)):
                if not same_row(a, b):
                    raise Disagreement(f"{report}: {engine} disagrees with heatstore at {key}[{i}]:\n"
                                       f"    heatstore: {a!r}\n    {engine}: {b!r}")
            if len(w) != len(g):
                raise Disagreement(f"{report}: {engine} has {len(g)} {key}, heatstore {len(w)}")
        elif not same_row(w, g):
            raise Disagreement(f"{report}: {engine} disagrees on {key}: heatstore {w!r}, {engine} {g!r}")


def hs_heatmap(j):
    return {"cells": [(c["col"], c["row"], c["count"]) for c in j["cells"]], "total": j["total"], "skipped": j["skipped"]}


def sql_heatmap(rows):
    cells = [tuple(r) for r in rows if r[0] is not None]
    return {"cells": cells, "total": sum(c[2] for c in cells), "skipped": sum(r[2] for r in rows if r[0] is None)}


def hs_elements(j):
    return {"rows": [(r["selector"], r["clicks"], r["mean_ex"], r["mean_ey"]) for r in j["rows"]], "total": j["total"]}


def sql_elements(rows):
    rows = [tuple(r) for r in rows]
    return {"rows": rows, "total": sum(r[1] for r in rows)}


def hs_scroll(j):
    return {"steps": [(s["depth"], s["sessions"]) for s in j["steps"]]}


def sql_scroll(rows):
    return {"steps": [tuple(r) for r in rows]}


def hs_breakdown(j):
    return {"rows": [(r["key"], r["sessions"], r["visitors"]) for r in j["rows"]],
            "sessions": j["sessions"], "visitors": j["visitors"]}


def sql_breakdown(rows):
    body = [tuple(r) for r in rows if r[0] is not None]
    tot = [r for r in rows if r[0] is None]
    return {"rows": body, "sessions": tot[0][1] if tot else 0, "visitors": tot[0][2] if tot else 0}


def hs_pages(j):
    return {"rows": [(r["page"], r["pageviews"], r["visitors"], r["entries"], r["mean_load_ms"]) for r in j["rows"]],
            "pageviews": j["pageviews"], "visitors": j["visitors"]}


def sql_pages(rows):
    return {"rows": [tuple(r[:5]) for r in rows],
            "pageviews": rows[0][5] if rows else 0, "visitors": rows[0][6] if rows else 0}


def hs_series(j):
    return {"rows": [(r["ts"], r["pageviews"], r["sessions"], r["visitors"]) for r in j["rows"]]}


def sql_series(rows):
    return {"rows": [tuple(r) for r in rows]}


def hs_replay(j):
    return {"events": [tuple(e.get(f) for f in REPLAY_FIELDS) for e in j]}


def sql_replay(rows):
    return {"events": [tuple(r) for r in rows]}


def hs_sessions(j):
    rows = sorted((r["first_ts"], r["entry_page"], r["referrer"], r["channel"], r["device"], r["browser"], r["os"])
                  for r in j["rows"])
    return {"total": j["total"], "rows": rows}


def sql_sessions(rows):
    rows = sorted(tuple(r) for r in rows)
    return {"total": len(rows), "rows": rows}


def reports(p):
    """(doc block name, title, heatstore args, canon of heatstore, canon of SQL)."""
    rng = ["--site", p["site"], "--from", str(p["from"]), "--to", str(p["to"])]
    pg = rng + ["--page", p["page"]]
    return [
        ("heatmap", "heatmap (click, 64 cols, 16 px rows)",
         ["heatmap"] + pg + ["--kind", "click", "--cols", str(p["cols"]), "--row-px", str(p["row_px"])],
         hs_heatmap, sql_heatmap),
        ("elements", "elements", ["elements"] + pg, hs_elements, sql_elements),
        ("scroll", "scroll reach (step 10)", ["scroll"] + pg + ["--step", str(p["step"])], hs_scroll, sql_scroll),
        ("referrers by host", "referrers by host", ["referrers"] + pg + ["--by", "host"], hs_breakdown, sql_breakdown),
        ("referrers by channel", "referrers by channel", ["referrers"] + pg + ["--by", "channel"],
         hs_breakdown, sql_breakdown),
        ("devices by class", "devices by class", ["devices"] + pg + ["--by", "class"], hs_breakdown, sql_breakdown),
        ("devices by browser", "devices by browser", ["devices"] + pg + ["--by", "browser"],
         hs_breakdown, sql_breakdown),
        ("pages", "pages (whole site)", ["pages"] + rng, hs_pages, sql_pages),
        ("series", "series (day)", ["series"] + pg + ["--interval", "day"], hs_series, sql_series),
        ("replay", "replay (one session)", ["replay", "--site", p["site"], "--session", p["session"]],
         hs_replay, sql_replay),
        ("sessions clicked", "sessions that clicked the top element",
         ["sessions"] + pg + ["--kind", "click", "--selector", p["selector"]], hs_sessions, sql_sessions),
    ]


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--site", default="shop.example.com")
    ap.add_argument("--engines", default="clickhouse,spark", help="comma-separated: clickhouse, spark, duckdb")
    ap.add_argument("--spark-cores", type=int, default=2)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "target", "scale-out"))
    ap.add_argument("--heatstore", default=os.path.join(ROOT, "target", "release", "heatstore"))
    args = ap.parse_args()

    work = os.path.abspath(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    binary = os.path.join(work, "heatstore-bin")
    shutil.copy2(args.heatstore, binary)
    db = os.path.join(work, "store.heat")
    hs = Heatstore(binary, db)
    data = os.path.join(work, "data.ndjson")
    out = os.path.join(work, "export")

    start = 1_790_812_800_000  # 2026-10-01, the generator's default
    log(f"generating {args.events:,} events over {args.days} days, importing, exporting Parquet")
    hs.run(["gen", "--events", str(args.events), "--seed", str(args.seed), "--days", str(args.days),
            "--start", str(start), "--sites", f"{args.site},blog.example.org", "--out", data])
    imp = json.loads(hs.run(["import", data, "--db", db, "--json"]))
    if imp["rejected"]:
        sys.exit(f"heatstore import rejected {imp['rejected']} lines: {imp['errors'][:3]}")
    t = time.perf_counter()
    exp = json.loads(hs.run(["export", "--db", db, "--site", args.site, "--format", "parquet", "--out", out, "--json"]))
    log(f"  exported {exp['events']:,} events, {exp['sessions']:,} sessions, {exp['files']} files "
        f"in {time.perf_counter() - t:.1f} s")

    # The range cuts the data on both sides: sessions cross its bounds.
    frm, to = start + 2 * DAY_MS + 3_600_000, start + (args.days - 1) * DAY_MS
    p = {"site": args.site, "from": frm, "to": to, "cols": 64, "row_px": 16, "step": 10, "bucket_ms": DAY_MS}
    pages = hs.query(["pages", "--site", args.site, "--from", str(frm), "--to", str(to), "--limit", "1"])
    p["page"] = pages["rows"][0]["page"]
    els = hs.query(["elements", "--site", args.site, "--from", str(frm), "--to", str(to), "--page", p["page"],
                    "--limit", "1"])
    p["selector"] = els["rows"][0]["selector"]
    blocks = doc_blocks()

    engines = []
    for name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        log(f"starting {name}")
        makers = {"clickhouse": ClickHouse, "spark": lambda: Spark(args.spark_cores), "duckdb": DuckDB}
        eng = makers[name]() if name in makers else None
        if eng is None:
            sys.exit(f"scaleout.py: unknown engine {name!r}")
        setup = blocks.get(("setup", "views", name))
        if setup is None:
            sys.exit(f"scaleout.py: docs/export.md has no setup block for {name}")
        eng.run(setup.replace("OUT", out))
        engines.append(eng)
    # The session to replay: the one with the most events on the page.
    first = engines[0] if engines else None
    if first is None:
        sys.exit("scaleout.py: no engine")
    p["session"] = first.run(bind(
        "SELECT session FROM events WHERE page = :page GROUP BY session ORDER BY count(*) DESC, session LIMIT 1",
        p, first.name))[0][0]

    failures = 0
    timings = {}
    for block, title, hs_args, hs_canon, sql_canon in reports(p):
        want = hs_canon(hs.query(hs_args))
        for eng in engines:
            sql = blocks.get(("report", block, eng.name))
            if sql is None:
                log(f"FAIL {title}: docs/export.md has no {eng.name} SQL for it")
                failures += 1
                continue
            t = time.perf_counter()
            try:
                rows = eng.run(bind(sql, p, eng.name))
            except Exception as e:  # an engine's error: report it, go on
                log(f"FAIL {title} [{eng.name}]: the engine failed: {str(e).splitlines()[0][:500]}")
                failures += 1
                continue
            secs = time.perf_counter() - t
            timings.setdefault(title, {})[eng.name] = secs
            try:
                compare(title, eng.name, want, sql_canon(rows))
                n = sum(len(v) if isinstance(v, list) else 0 for v in want.values())
                log(f"ok   {title} [{eng.name}]: {n} rows equal, {secs * 1000:.0f} ms")
            except Disagreement as d:
                log(f"FAIL {d}")
                failures += 1
    versions = ", ".join(f"{e.name} {e.version}" for e in engines)
    for eng in engines:
        eng.close()
    total = len(reports(p)) * len(engines)
    print(f"scale-out: {total - failures} of {total} report runs equal heatstore's answers "
          f"({exp['events']:,} events exported; {versions})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
