#!/usr/bin/env python3
"""Side-by-side benchmark: heatstore against DuckDB and SQLite, with answers
that must agree exactly.

Run it through `benches/compare/run` (which builds the CLI and the Python
venv); see benches/compare/README.md for what is measured and how.

Steps: generate one dataset with `heatstore gen`; load it into heatstore
(`heatstore import`), and the output of `heatstore normalize` (the same
events with the page path and, on pageviews, the derived session attributes)
into DuckDB and SQLite; run every report on every engine; compare the
answers (a disagreement fails the run, naming the report, the engine and the
first differing row); print the timings and write them to results.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time

try:
    import duckdb
except ImportError:  # pragma: no cover - the run script installs it
    sys.exit("compare.py: the duckdb module is missing; run benches/compare/run, which installs it in a venv")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SQL_DIR = os.path.join(HERE, "sql")
DAY_MS = 86_400_000

# Fields kept per kind (heatstore drops the others on ingest).
KIND_FIELDS = {
    "x": ("click", "move"),
    "y": ("click", "move", "scroll"),
    "vw": ("pageview", "click", "move", "scroll"),
    "vh": ("pageview", "click", "move", "scroll"),
    "dh": ("pageview", "click", "move", "scroll"),
    "load_ms": ("pageview",),
    "selector": ("click", "input"),
    "ex": ("click",),
    "ey": ("click",),
    "len": ("input",),
    "duration_ms": ("leave",),
    "name": ("custom",),
}
EVENT_FIELDS = ["x", "y", "vw", "vh", "dh", "load_ms", "selector", "ex", "ey", "len", "duration_ms", "name"]
ATTR_FIELDS = [
    "entry_page", "referrer_host", "referrer_domain", "channel", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "device", "browser", "browser_major", "os",
    "os_major", "screen", "lang", "tz",
]
REPLAY_FIELDS = ["ts", "type", "page", "x", "y", "vw", "vh", "dh", "load_ms", "selector", "ex", "ey", "len", "duration_ms", "name"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Disagreement(Exception):
    pass


# ---------------------------------------------------------------- SQL files

def read_sql(name):
    with open(os.path.join(SQL_DIR, name)) as f:
        return f.read()


def statements(sql):
    """Splits a script into statements (no semicolons inside strings here)."""
    out = []
    for part in re.split(r";\s*(?:\n|$)", sql):
        body = "\n".join(l for l in part.splitlines() if not l.strip().startswith("--")).strip()
        if body:
            out.append(body)
    return out


PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")


def param_names(sql):
    return sorted(set(PARAM.findall(sql)))


def for_duckdb(sql):
    """The shared SQL uses :name parameters (SQLite's); DuckDB takes $name.
    Integer division: DuckDB runs with `SET integer_division = true`, so
    `/` on integers truncates as in SQLite."""
    return PARAM.sub(lambda m: "$" + m.group(1), sql)


# ---------------------------------------------------------------- engines

class DuckEngine:
    name = "DuckDB"

    def __init__(self, path, read_only=False):
        self.con = duckdb.connect(path, read_only=read_only)
        self.con.execute("SET integer_division = true")

    def query(self, sql, params):
        names = param_names(sql)
        return self.con.execute(for_duckdb(sql), {n: params[n] for n in names}).fetchall()

    def script(self, sql, params=None):
        for st in statements(sql):
            names = param_names(st)
            self.con.execute(for_duckdb(st), {n: params[n] for n in names} if names else None)

    def close(self):
        self.con.close()


class SqliteEngine:
    name = "SQLite"

    def __init__(self, path):
        self.con = sqlite3.connect(path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute("PRAGMA synchronous = NORMAL")
        # Hot runs: a 1 GiB page cache and memory-mapped reads.
        self.con.execute("PRAGMA cache_size = -1048576")
        self.con.execute("PRAGMA mmap_size = 4294967296")
        self.con.execute("PRAGMA temp_store = MEMORY")

    def query(self, sql, params):
        return self.con.execute(sql, {n: params[n] for n in param_names(sql)}).fetchall()

    def script(self, sql, params=None):
        for st in statements(sql):
            self.con.execute(st, {n: params[n] for n in param_names(st)} if params else ())

    def close(self):
        self.con.close()


# ---------------------------------------------------------------- heatstore CLI

class Heatstore:
    def __init__(self, binary, db):
        self.binary = binary
        self.db = db

    def run(self, args, capture=True):
        p = subprocess.run([self.binary] + args, stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise SystemExit(f"heatstore {' '.join(args)} failed ({p.returncode}):\n{p.stderr.decode(errors='replace')}")
        return p.stdout

    def query(self, args):
        out = self.run(["query"] + args + ["--db", self.db, "--json"])
        return json.loads(out)


# ---------------------------------------------------------------- comparison

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
    """`want` is heatstore's canonical answer, `got` the engine's: dicts of
    scalars and row lists. Raises Disagreement naming the first difference."""
    for key in want:
        w, g = want[key], got.get(key)
        if isinstance(w, list):
            for i, (a, b) in enumerate(zip(w, g)):
                if not same_row(a, b):
                    raise Disagreement(f"{report}: {engine} disagrees with heatstore at {key}[{i}]:\n"
                                       f"    heatstore: {a!r}\n    {engine}: {b!r}")
            if len(w) != len(g):
                i = min(len(w), len(g))
                extra = ("heatstore", w[i]) if len(w) > len(g) else (engine, g[i])
                raise Disagreement(f"{report}: {engine} has {len(g)} {key}, heatstore {len(w)}; "
                                   f"first row only in {extra[0]} ({key}[{i}]): {extra[1]!r}")
        elif not same_row(w, g):
            raise Disagreement(f"{report}: {engine} disagrees with heatstore on {key}: heatstore {w!r}, {engine} {g!r}")


def split_totals(rows):
    """Breakdown-style SQL answers carry their totals in the row whose key is
    NULL; returns (rows, totals)."""
    body = [r for r in rows if r[0] is not None]
    tot = [r for r in rows if r[0] is None]
    return body, (tot[0] if tot else None)


# ---------------------------------------------------------------- reports

class Report:
    def __init__(self, name, hs_args, sql, params, hs_canon, sql_canon):
        self.name, self.hs_args, self.sql, self.params = name, hs_args, sql, params
        self.hs_canon, self.sql_canon = hs_canon, sql_canon


def canon_heatmap_hs(j):
    return {"cells": [(c["col"], c["row"], c["count"]) for c in j["cells"]], "total": j["total"],
            "skipped": j["skipped"], "cols": j["cols"], "row_px": j["row_px"]}


def canon_heatmap_sql(rows, p):
    cells = [tuple(r) for r in rows if r[0] is not None]
    skipped = sum(r[2] for r in rows if r[0] is None)
    return {"cells": cells, "total": sum(c[2] for c in cells), "skipped": skipped, "cols": p["cols"], "row_px": p["row_px"]}


def canon_elements_hs(j):
    return {"rows": [(r["selector"], r["clicks"], r["mean_ex"], r["mean_ey"]) for r in j["rows"]], "total": j["total"]}


def canon_elements_sql(rows, p):
    rows = [tuple(r) for r in rows]
    return {"rows": rows, "total": sum(r[1] for r in rows)}


def canon_scroll_hs(j):
    return {"sessions": j["sessions"], "steps": [(s["depth"], s["sessions"]) for s in j["steps"]]}


def canon_scroll_sql(rows, p):
    steps = [tuple(r) for r in rows]
    return {"sessions": steps[0][1] if steps else 0, "steps": steps}


def canon_breakdown_hs(j):
    return {"rows": [(r["key"], r["sessions"], r["visitors"]) for r in j["rows"]], "sessions": j["sessions"], "visitors": j["visitors"]}


def canon_breakdown_sql(rows, p):
    body, tot = split_totals(rows)
    return {"rows": [tuple(r) for r in body], "sessions": tot[1] if tot else 0, "visitors": tot[2] if tot else 0}


def canon_pages_hs(j):
    return {"rows": [(r["page"], r["pageviews"], r["visitors"], r["entries"], r["mean_load_ms"]) for r in j["rows"]],
            "pageviews": j["pageviews"], "visitors": j["visitors"]}


def canon_pages_sql(rows, p):
    body, tot = split_totals(rows)
    return {"rows": [tuple(r) for r in body], "pageviews": tot[1] if tot else 0, "visitors": tot[2] if tot else 0}


def canon_series_hs(j):
    return {"interval": j["interval"], "rows": [(r["ts"], r["pageviews"], r["sessions"], r["visitors"]) for r in j["rows"]]}


def canon_series_sql(rows, p):
    return {"interval": "day", "rows": [tuple(r) for r in rows]}


def canon_replay_hs(j):
    return {"events": [tuple(e.get(f) for f in REPLAY_FIELDS) for e in j]}


def canon_replay_sql(rows, p):
    return {"events": [tuple(r) for r in rows]}


def canon_sessions_hs(j):
    rows = sorted((r["first_ts"], r["entry_page"], r["referrer"], r["channel"], r["device"], r["browser"], r["os"]) for r in j["rows"])
    return {"total": j["total"], "rows": rows}


def canon_sessions_sql(rows, p):
    rows = sorted(tuple(r) for r in rows)
    return {"total": len(rows), "rows": rows}


def build_reports(site, frm, to, page, selector, session):
    base = {"site": site, "from": frm, "to": to, "page": page}
    rng = ["--site", site, "--from", str(frm), "--to", str(to)]
    pg = rng + ["--page", page]
    breakdown = read_sql("breakdown.sql")

    def by(expr):
        return breakdown.replace("{{KEY}}", expr)

    return [
        Report("heatmap (click, 64 cols, 16 px rows)", ["heatmap"] + pg + ["--kind", "click", "--cols", "64", "--row-px", "16"],
               read_sql("heatmap.sql"), dict(base, cols=64, row_px=16), canon_heatmap_hs, canon_heatmap_sql),
        Report("elements", ["elements"] + pg, read_sql("elements.sql"), base, canon_elements_hs, canon_elements_sql),
        Report("scroll reach (step 10)", ["scroll"] + pg + ["--step", "10"], read_sql("scroll.sql"), dict(base, step=10),
               canon_scroll_hs, canon_scroll_sql),
        Report("referrers by host", ["referrers"] + pg + ["--by", "host"], by("coalesce(s.referrer_host, '(none)')"), base,
               canon_breakdown_hs, canon_breakdown_sql),
        Report("referrers by channel", ["referrers"] + pg + ["--by", "channel"], by("coalesce(s.channel, '(none)')"), base,
               canon_breakdown_hs, canon_breakdown_sql),
        Report("devices by class", ["devices"] + pg + ["--by", "class"], by("coalesce(s.device, 'unknown')"), base,
               canon_breakdown_hs, canon_breakdown_sql),
        Report("devices by browser", ["devices"] + pg + ["--by", "browser"], by("coalesce(s.browser, '(unknown)')"), base,
               canon_breakdown_hs, canon_breakdown_sql),
        Report("pages (whole site)", ["pages"] + rng, read_sql("pages.sql"), base, canon_pages_hs, canon_pages_sql),
        Report("series (day)", ["series"] + pg + ["--interval", "day"], read_sql("series.sql"), dict(base, bucket_ms=DAY_MS),
               canon_series_hs, canon_series_sql),
        Report("replay (one session)", ["replay", "--site", site, "--session", session], read_sql("replay.sql"),
               {"site": site, "session": session}, canon_replay_hs, canon_replay_sql),
        Report("sessions that clicked the top element", ["sessions"] + pg + ["--kind", "click", "--selector", selector],
               read_sql("sessions_clicked.sql"), dict(base, selector=selector), canon_sessions_hs, canon_sessions_sql),
    ]


# ---------------------------------------------------------------- loading

def timed(f):
    t = time.perf_counter()
    r = f()
    return r, time.perf_counter() - t


def load_duckdb(path, norm):
    for p in (path, path + ".wal"):
        if os.path.exists(p):
            os.remove(p)
    eng = DuckEngine(path)
    _, t_events = timed(lambda: eng.script(read_sql("events_duckdb.sql").replace(":path", "'" + norm.replace("'", "''") + "'")))
    _, t_sessions = timed(lambda: eng.script(read_sql("sessions.sql")))
    _, t_close = timed(lambda: (eng.con.execute("CHECKPOINT"), eng.close()))
    return {"events": t_events, "sessions": t_sessions, "indexes": 0.0, "checkpoint": t_close}


def load_sqlite(path, norm, sample_every):
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    eng = SqliteEngine(path)
    eng.script(read_sql("events_sqlite.sql"))
    cols = ["seq", "site", "ts", "type", "session", "visitor", "page"] + EVENT_FIELDS + ATTR_FIELDS
    ins = f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    sample = []
    loads = json.loads
    t0 = time.perf_counter()
    batch = []
    seq = 0
    eng.con.execute("BEGIN")
    with open(norm, "rb") as f:
        for line in f:
            e = loads(line)
            if e.get("session") is None:
                raise SystemExit("compare.py: an event without a session id (cookieless); the harness needs session ids")
            if e.get("dnt"):
                seq += 1
                continue
            k = e["type"]
            a = e.get("attrs") or {}
            row = [seq, e["site"], e["ts"], k, e["session"], e.get("visitor"), e["page"]]
            row += [e.get(fld) if k in KIND_FIELDS[fld] else None for fld in EVENT_FIELDS]
            row += [a.get(fld) for fld in ATTR_FIELDS]
            batch.append(row)
            if seq % sample_every == 0:
                sample.append((seq, e["ts"], e["session"], k))
            seq += 1
            if len(batch) >= 50_000:
                eng.con.executemany(ins, batch)
                batch = []
    if batch:
        eng.con.executemany(ins, batch)
    eng.con.execute("COMMIT")
    t_events = time.perf_counter() - t0
    _, t_sessions = timed(lambda: eng.script(read_sql("sessions.sql")))
    _, t_indexes = timed(lambda: eng.script(read_sql("indexes_sqlite.sql")))
    _, t_ckpt = timed(lambda: eng.con.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    eng.close()
    return {"events": t_events, "sessions": t_sessions, "indexes": t_indexes, "checkpoint": t_ckpt}, sample


def file_bytes(*paths):
    return sum(os.path.getsize(p) for p in paths if os.path.exists(p))


# ---------------------------------------------------------------- timing

def median_ms(samples):
    return statistics.median(samples) * 1000.0


def time_engine(eng, rep, repeat):
    eng.query(rep.sql, rep.params)  # warm-up
    ts = []
    rows = None
    for _ in range(repeat):
        t = time.perf_counter()
        rows = eng.query(rep.sql, rep.params)
        ts.append(time.perf_counter() - t)
    return rows, ts


def time_heatstore(hs, rep, repeat, overhead_args):
    """Times the report's process, each run paired with a run of a query
    that finds nothing (the process overhead), so that drift in the
    machine's load and in fsync latency hits both alike."""
    hs.query(rep.hs_args)  # warm-up
    ts, over = [], []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        hs.query(overhead_args)
        over.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = hs.query(rep.hs_args)
        ts.append(time.perf_counter() - t)
    return out, ts, over


# ---------------------------------------------------------------- machine

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def machine_info():
    info = {"nproc": os.cpu_count(), "load_start": loadavg()}
    try:
        info["nproc"] = int(subprocess.run(["nproc"], stdout=subprocess.PIPE, text=True).stdout.strip())
    except Exception:
        pass
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = cpu
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    info["memory"] = mem
    info["os"] = platform.platform()
    info["python"] = platform.python_version()
    info["duckdb"] = duckdb.__version__
    info["sqlite"] = sqlite3.sqlite_version
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        info["heatstore"] = (rev or "unknown") + (" (uncommitted changes)" if dirty else "")
    except Exception:
        info["heatstore"] = "unknown"
    return info


# ---------------------------------------------------------------- main

RESULTS_HEAD = "# Side-by-side results\n\nWritten by `benches/compare/run`; see `benches/compare/README.md`. One section per dataset size; a run replaces the section of its size.\n"
SECTION = re.compile(r"^## heatstore vs DuckDB vs SQLite: ([0-9,]+) events", re.M)


def write_results(path, n_events, text):
    """Keeps the sections of other dataset sizes, replaces this one's."""
    sections = {}
    if os.path.exists(path):
        old = open(path).read()
        marks = list(SECTION.finditer(old))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(old)
            sections[int(m.group(1).replace(",", ""))] = old[m.start():end].rstrip() + "\n"
    sections[n_events] = text.rstrip() + "\n"
    with open(path, "w") as f:
        f.write(RESULTS_HEAD)
        for n in sorted(sections):
            f.write("\n" + sections[n])

def fmt_ms(x):
    if x is None:
        return "-"
    if x < 10:
        return f"{x:.2f}"
    if x < 100:
        return f"{x:.1f}"
    return f"{x:.0f}"


def fmt_ratio(a, b):
    if a is None or b is None or b <= 0:
        return "-"
    r = a / b
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000, help="events to generate (default 10,000,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=7, help="timed hot runs per report and engine, after one warm-up (default 7)")
    ap.add_argument("--site", default="shop.example.com")
    ap.add_argument("--days", type=int, default=30, help="the range: the last DAYS days of the data (default 30)")
    ap.add_argument("--workdir", help="where data and databases go (default target/compare/N)")
    ap.add_argument("--heatstore", default=os.path.join(ROOT, "target", "release", "heatstore"))
    ap.add_argument("--results", default=os.path.join(HERE, "results.md"), help="markdown results file ('-' for none)")
    ap.add_argument("--fresh", action="store_true", help="regenerate the dataset even if the work dir has it")
    ap.add_argument("--no-load", action="store_true", help="reuse the databases of a previous run (no load timings)")
    ap.add_argument("--gen-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for `heatstore gen`, e.g. --gen-arg=--late-fraction=0.3 (repeatable)")
    args = ap.parse_args()

    work = os.path.abspath(args.workdir or os.path.join(ROOT, "target", "compare", str(args.events)))
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "data.ndjson")
    norm = os.path.join(work, "normalized.ndjson")
    hs_db = os.path.join(work, "heatstore.heat")
    duck_db = os.path.join(work, "duckdb.db")
    lite_db = os.path.join(work, "sqlite.db")
    stamp = os.path.join(work, "data.stamp")
    want_stamp = f"events={args.events} seed={args.seed} gen={' '.join(args.gen_arg)}\n"
    if not os.path.exists(args.heatstore):
        sys.exit(f"compare.py: {args.heatstore} not found; build it with cargo build --release --features cli")
    # A private copy: other builds may replace target/release/heatstore mid-run.
    binary = os.path.join(work, "heatstore-bin")
    shutil.copy2(args.heatstore, binary)
    args.heatstore = binary
    hs = Heatstore(binary, hs_db)
    info = machine_info()

    # 1. The dataset.
    fresh = args.fresh or not (os.path.exists(stamp) and open(stamp).read() == want_stamp and os.path.exists(norm))
    t_norm = None
    if fresh:
        if os.path.exists(stamp):
            os.remove(stamp)
        log(f"generating {args.events:,} events (seed {args.seed}) into {data}")
        hs.run(["gen", "--events", str(args.events), "--seed", str(args.seed), "--out", data] + args.gen_arg)
        log("normalizing for the peers (heatstore normalize)")
        t = time.perf_counter()
        with open(norm, "wb") as out:
            p = subprocess.run([args.heatstore, "normalize", data], stdout=out, stderr=subprocess.PIPE)
        t_norm = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"heatstore normalize failed:\n{p.stderr.decode(errors='replace')}")
        if p.stderr.strip():
            log(f"normalize rejected lines:\n{p.stderr.decode(errors='replace')[:2000]}")
        with open(stamp, "w") as f:
            f.write(want_stamp)
    n_lines = None

    # 2. Loads.
    loads = {}
    if not args.no_load:
        for p in (hs_db,):
            if os.path.exists(p):
                os.remove(p)
        log("loading heatstore (heatstore import)")
        t = time.perf_counter()
        imp = json.loads(hs.run(["import", data, "--db", hs_db, "--json"]))
        t_hs = time.perf_counter() - t
        if imp["rejected"]:
            sys.exit(f"heatstore import rejected {imp['rejected']} lines: {imp['errors'][:3]}")
        stats = json.loads(hs.run(["stats", "--db", hs_db, "--json"]))
        n_events = stats["events"]
        loads["heatstore"] = {"seconds": t_hs, "bytes": stats["file_bytes"], "events": n_events,
                              "detail": f"import {t_hs:.1f} s (parse, normalize, hash, seal)"}
        log(f"  {n_events:,} events in {t_hs:.1f} s, {stats['file_bytes']:,} bytes")
        # The file as a maintenance rewrite leaves it, measured on a copy: the
        # CLI has no compact command, and `maintain` rewrites the file only
        # when it erased something, so a deletion request for a session that
        # does not exist makes it rewrite without removing anything.
        comp = hs_db + ".rewritten"
        shutil.copy2(hs_db, comp)
        hs.run(["delete", "--db", comp, "--site", args.site, "--session", "compare-harness-no-such-session", "--json"])
        t = time.perf_counter()
        m = json.loads(hs.run(["maintain", "--db", comp, "--json"]))
        t_m = time.perf_counter() - t
        os.remove(comp)
        loads["heatstore after maintain"] = {"seconds": t_hs + t_m, "bytes": m["file_bytes_after"], "events": n_events,
                                             "detail": f"import {t_hs:.1f} s + `heatstore maintain` rewrite {t_m:.1f} s (on a copy; queries use the file as imported)"}

        log("loading DuckDB (read_json of the normalized file)")
        d = load_duckdb(duck_db, norm)
        t_duck = sum(d.values())
        loads["DuckDB"] = {"seconds": t_duck, "bytes": file_bytes(duck_db, duck_db + ".wal"), "events": n_events,
                           "detail": f"events {d['events']:.1f} s + sessions table {d['sessions']:.1f} s + checkpoint {d['checkpoint']:.1f} s"}
        log(f"  {t_duck:.1f} s ({loads['DuckDB']['detail']})")

        # The yardstick: DuckDB's read_json of the very file heatstore
        # imports, into one table as DuckDB infers it (no normalization, no
        # sessions table), timed with its checkpoint in the same run.
        log("DuckDB read_json of the raw file (for scale)")
        raw_db = os.path.join(work, "raw.duckdb")
        for p in (raw_db, raw_db + ".wal"):
            if os.path.exists(p):
                os.remove(p)
        raw = DuckEngine(raw_db)
        quoted = "'" + data.replace("'", "''") + "'"
        _, t_raw = timed(lambda: (
            raw.con.execute(f"CREATE TABLE raw AS SELECT * FROM read_json({quoted}, format = 'newline_delimited')"),
            raw.con.execute("CHECKPOINT")))
        n_raw = raw.con.execute("SELECT count(*) FROM raw").fetchone()[0]
        raw.close()
        loads["DuckDB read_json, raw file"] = {
            "seconds": t_raw, "bytes": file_bytes(raw_db, raw_db + ".wal"), "events": n_raw,
            "detail": f"read_json of the raw NDJSON heatstore imports, into one table as inferred, checkpoint {t_raw:.1f} s (no normalization, no sessions table; the issue's yardstick)"}
        for p in (raw_db, raw_db + ".wal"):
            if os.path.exists(p):
                os.remove(p)
        log(f"  {t_raw:.1f} s")

        log("loading SQLite (executemany of the normalized file)")
        sample_every = max(1, args.events // 1000)
        s, sample = load_sqlite(lite_db, norm, sample_every)
        t_lite = sum(s.values())
        loads["SQLite"] = {"seconds": t_lite, "bytes": file_bytes(lite_db, lite_db + "-wal"), "events": n_events,
                           "detail": f"events {s['events']:.1f} s + sessions table {s['sessions']:.1f} s + indexes {s['indexes']:.1f} s + checkpoint {s['checkpoint']:.1f} s"}
        log(f"  {t_lite:.1f} s ({loads['SQLite']['detail']})")

        # Arrival order in DuckDB must be the file's line order.
        duck = DuckEngine(duck_db, read_only=True)
        got = duck.con.execute(
            "SELECT seq, ts, session, type FROM events WHERE seq % $k = 0 ORDER BY seq", {"k": sample_every}).fetchall()
        if [tuple(r) for r in got] != sample:
            sys.exit("compare.py: DuckDB's seq is not the line order of the file (insertion order not preserved)")
        n_dk = duck.con.execute("SELECT count(*) FROM events").fetchone()[0]
        duck.close()
        if n_dk != n_events:
            sys.exit(f"compare.py: DuckDB holds {n_dk} events, heatstore {n_events}")
    duck = DuckEngine(duck_db, read_only=True)
    lite = SqliteEngine(lite_db)
    engines = [duck, lite]
    n_events = duck.con.execute("SELECT count(*) FROM events").fetchone()[0]

    # 3. The parameters: last DAYS days, the top page, its top element, a session.
    site = args.site
    max_ts = duck.con.execute("SELECT max(ts) FROM events WHERE site = $s", {"s": site}).fetchone()[0]
    if max_ts is None:
        sys.exit(f"compare.py: no events of site {site}")
    to = max_ts + 1
    frm = to - args.days * DAY_MS
    pages = hs.query(["pages", "--site", site, "--from", str(frm), "--to", str(to)])
    page = pages["rows"][0]["page"]
    elements = hs.query(["elements", "--site", site, "--from", str(frm), "--to", str(to), "--page", page])
    selector = elements["rows"][0]["selector"] if elements["rows"] else "#none"
    session = duck.con.execute(
        """SELECT e.session FROM events e
           WHERE e.site = $s AND e.session IN (
               SELECT session FROM events WHERE site = $s AND page = $p AND type = 'pageview' AND ts >= $f AND ts < $t)
           GROUP BY e.session ORDER BY count(*) DESC, e.session LIMIT 1""",
        {"s": site, "p": page, "f": frm, "t": to}).fetchone()[0]
    log(f"site {site}, range [{frm}, {to}) ({args.days} days), page {page!r}, element {selector!r}, session {session!r}")

    # 4. Process overhead of the CLI: a query that finds nothing.
    overhead_args = ["pages", "--site", "no-such-site.invalid", "--from", str(frm), "--to", str(to)]
    hs.query(overhead_args)

    # 5. Reports.
    reports = build_reports(site, frm, to, page, selector, session)
    results = []
    failures = []
    for rep in reports:
        log(f"report: {rep.name}")
        hs_json, hs_t, hs_over = time_heatstore(hs, rep, args.repeat, overhead_args)
        want = rep.hs_canon(hs_json)
        row = {"name": rep.name, "heatstore": median_ms(hs_t), "overhead": median_ms(hs_over), "rows": None}
        for k in ("rows", "cells", "steps", "events"):
            if k in want:
                row["rows"] = len(want[k])
        for eng in engines:
            rows, ts = time_engine(eng, rep, args.repeat)
            row[eng.name] = median_ms(ts)
            try:
                compare(rep.name, eng.name, want, rep.sql_canon(rows, rep.params))
                row[eng.name + " ok"] = True
            except Disagreement as e:
                row[eng.name + " ok"] = False
                failures.append(str(e))
                log("DISAGREEMENT " + str(e))
        results.append(row)

    # 6. The table.
    lines = []
    lines.append(f"## heatstore vs DuckDB vs SQLite: {n_events:,} events")
    lines.append("")
    gen_extra = "".join(" " + a for a in args.gen_arg)
    lines.append(f"Dataset: `heatstore gen --events {args.events} --seed {args.seed}{gen_extra}` (site `{site}`); "
                 f"reports over the last {args.days} days `[{frm}, {to})`, page `{page}`, element `{selector}`.")
    lines.append("")
    lines.append(f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']} memory, {info['os']}. "
                 f"DuckDB {info['duckdb']} (Python), SQLite {info['sqlite']} (Python stdlib), Python {info['python']}, "
                 f"heatstore {info['heatstore']}. Load average (1, 5, 15 min) at the start {info['load_start']}, "
                 f"at the end {loadavg()}: other work on the machine slows every engine. Generated {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.")
    lines.append("")
    if loads:
        lines.append("### Load")
        lines.append("")
        lines.append("| engine | load time | events/s | bytes on disk | bytes/event | what is timed |")
        lines.append("|---|---:|---:|---:|---:|---|")
        for name in ("heatstore", "heatstore after maintain", "DuckDB", "DuckDB read_json, raw file", "SQLite"):
            l = loads[name]
            lines.append(f"| {name} | {l['seconds']:.1f} s | {l['events'] / l['seconds']:,.0f} | {human_bytes(l['bytes'])} | "
                         f"{l['bytes'] / l['events']:.1f} | {l['detail']} |")
        lines.append("")
        norm_txt = f"{t_norm:.1f} s" if t_norm is not None else "not re-run (cached dataset)"
        lines.append(f"heatstore loads the raw NDJSON and derives pages, referrer classes, user-agent devices and session "
                     f"attributes itself. **The peers load pre-normalized events** (`heatstore normalize`, which cannot "
                     f"be done in SQL: {norm_txt}, not counted in their load time). Their load time includes building the "
                     f"sessions table (and for SQLite the indexes). heatstore's size is the file as `heatstore import` "
                     f"leaves it (`heatstore stats`), and after the rewrite `heatstore maintain` does when it erased "
                     f"something (forced here on a copy with a deletion request for a session that does not exist: the "
                     f"CLI has no compact command); DuckDB's is its file after a checkpoint; "
                     f"SQLite's is the database plus WAL after `wal_checkpoint(TRUNCATE)`. "
                     f"**DuckDB read_json, raw file** is for scale only: DuckDB reading the very file heatstore imports "
                     f"into one table as it infers it, with nothing derived; heatstore's import over it: "
                     f"{loads['DuckDB read_json, raw file']['seconds'] / loads['heatstore']['seconds']:.2f}× its speed.")
        lines.append("")
    lines.append(f"### Reports (median of {args.repeat} hot runs, ms)")
    lines.append("")
    lines.append(f"heatstore is timed as the `heatstore query ... --json` process: **CLI** is its wall time, **net** subtracts "
                 f"the median wall time of a query that finds nothing (`query pages --site no-such-site.invalid`: process start, "
                 f"opening the store, printing; what a CLI user pays and a library user does not), run alternately with the "
                 f"report's runs (**overhead**; opening the store commits a write transaction with several fdatasyncs, so it "
                 f"varies with the disk's latency). DuckDB and SQLite are timed in-process (Python `execute().fetchall()`). "
                 f"Ratios are the peer's time over heatstore's net time (over its CLI time in parentheses); '< 0.5' means the "
                 f"report took no measurably longer than the overhead.")
    lines.append("")
    lines.append("| report | rows | heatstore CLI | overhead | heatstore net | DuckDB | SQLite | DuckDB ÷ heatstore | SQLite ÷ heatstore | answers |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        net = r["heatstore"] - r["overhead"]
        net = net if net >= 0.5 else None  # within the noise of the overhead
        ok = "agree" if r["DuckDB ok"] and r["SQLite ok"] else "**DISAGREE**"
        lines.append(f"| {r['name']} | {r['rows']} | {fmt_ms(r['heatstore'])} | {fmt_ms(r['overhead'])} | {fmt_ms(net) if net else '< 0.5'} | {fmt_ms(r['DuckDB'])} | "
                     f"{fmt_ms(r['SQLite'])} | {fmt_ratio(r['DuckDB'], net)} ({fmt_ratio(r['DuckDB'], r['heatstore'])}) | "
                     f"{fmt_ratio(r['SQLite'], net)} ({fmt_ratio(r['SQLite'], r['heatstore'])}) | {ok} |")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if failures:
        print("\nFAILED: answers disagree:", file=sys.stderr)
        for f in failures:
            print("  " + f.replace("\n", "\n  "), file=sys.stderr)
        sys.exit(1)
    if args.results != "-":
        write_results(args.results, n_events, text)
        log(f"wrote {args.results}")
    print(f"all {len(results)} reports agree on {len(engines) + 1} engines")


if __name__ == "__main__":
    main()
