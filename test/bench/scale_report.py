#!/usr/bin/env python3
"""test/bench/scale_report.py -- doc/scale.md's tables and doc/scale.svg from
the results of test/bench/scale.sh

    python3 test/bench/scale_report.py [RESULTS] [--doc doc/scale.md]
                                       [--svg doc/scale.svg] [--min-n 1000000]

RESULTS (default bench-results/scale.tsv) holds one line per figure:
n, dataset, measure, method, value, unit, date, commit (scale.sh appends;
a later line of the same n, dataset, measure and method replaces an
earlier one).  Rows with n below --min-n (default 1,000,000: the sizes the
issue asks for; 0 keeps every run, e.g. a check at 100,000) are left out.

Writes, between the markers <!-- scale:NAME --> and <!-- /scale:NAME --> of
the doc (the rest of it is left as it is):
  events, events_partitioned, trips
                  one table per data set: each measure and query, edp and
                  plain for each N, and edp / plain
  plot            the image link and the runs' dates and commits
and the SVG (standard library only, well-formed XML, checked by parsing it
back): rows/s against N, and the query medians against N for each data set
(edp solid, plain dashed), logarithmic axes.  With no rows, the tables say
"pending" and no SVG is written.
"""
import argparse
import math
import os
import re
import sys
import xml.etree.ElementTree as ET

LABELS = {
    "load_rows_per_s": "load, rows/s",
    "load_s": "load, s",
    "load_peak_rss": "load, peak backend RSS (MB)",
    "load_wal": "load, WAL bytes",
    "table_bytes_per_row": "table, bytes per row",
    "index_bytes_per_row": "indexes, bytes per row",
    "side_bytes_per_row": "rollups / point blocks, bytes per row",
    "total_bytes_per_row": "total on disk, bytes per row",
    "vacuum_analyze_s": "VACUUM ANALYZE, s",
}
MEASURES = list(LABELS)
QUERY = re.compile(r"^(buckets|weekly|groups)_")


def label(measure):
    if measure in LABELS:
        return LABELS[measure]
    m = re.match(r"^buckets_(hot|typical)_(\w+)$", measure)
    if m:
        return "hourly buckets, %s customer, %s (ms)" % m.groups()
    m = re.match(r"^weekly_(\w+)$", measure)
    if m:
        return "weekly average, %s (ms)" % m.group(1).replace("_", " ")
    m = re.match(r"^groups_(\w+?)(_peak_rss)?$", measure)
    if m:
        return "trip groups, %s%s" % (m.group(1).replace("_", " "), " peak RSS (MB)" if m.group(2) else " (ms)")
    return measure


def number(v):
    try:
        return float(v)
    except ValueError:
        return None


def fmt(v):
    x = number(v)
    if x is None:
        return v or "-"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    if abs(x) >= 10:
        return "{:.1f}".format(x)
    return "{:.2f}".format(x)


def read(path, min_n):
    data = {}      # (dataset, measure, method, n) -> value
    runs = {}      # n -> set of (date, commit)
    if not os.path.exists(path):
        return data, runs
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            try:
                n = int(row["n"])
            except (KeyError, ValueError):
                continue
            if n < min_n:
                continue
            data[(row["dataset"], row["measure"], row["method"], n)] = row["value"]
            runs.setdefault(n, set()).add((row.get("date", ""), row.get("commit", "")))
    return data, runs


def table(data, dataset):
    ns = sorted({k[3] for k in data if k[0] == dataset})
    if not ns:
        return "_Figures pending: no run of `test/bench/scale.sh` at these sizes yet._\n"
    measures = [m for m in MEASURES if any(k[0] == dataset and k[1] == m for k in data)]
    measures += sorted({k[1] for k in data if k[0] == dataset and QUERY.match(k[1])},
                       key=lambda m: (m.startswith("groups"), m))
    head = "| measure | " + " | ".join("N = {:,}: edp | plain | edp / plain".format(n) for n in ns) + " |"
    sep = "|---|" + "---:|---:|---:|" * len(ns)
    lines = [head, sep]
    for m in measures:
        cells = []
        for n in ns:
            e = data.get((dataset, m, "edp", n), "-")
            p = data.get((dataset, m, "plain", n), "-")
            ex, px = number(e), number(p)
            cells += [fmt(e), fmt(p), "{:.2f}".format(ex / px) if ex and px else "-"]
        lines.append("| %s | %s |" % (label(m), " | ".join(cells)))
    return "\n".join(lines) + "\n"


# ---- SVG ---------------------------------------------------------------------
W, H = 360, 260
PAD_L, PAD_R, PAD_T, PAD_B = 62, 12, 28, 40
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def log_ticks(lo, hi):
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [10 ** e for e in range(a, b + 1)]


def panel(x0, title, series, unit):
    """series: list of (name, colour, dashed, [(n, value)]); log-log axes"""
    pts = [(n, v) for s in series for n, v in s[3] if v > 0]
    out = ['<g transform="translate(%d,0)">' % x0,
           '<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>' % (PAD_L, esc(title))]
    if not pts:
        return out + ["</g>"]
    nx = [p[0] for p in pts]
    vy = [p[1] for p in pts]
    xlo, xhi = min(nx), max(nx)
    if xlo == xhi:
        xlo, xhi = xlo / 3.0, xhi * 3.0
    ylo, yhi = min(vy) / 1.5, max(vy) * 1.5
    lx = lambda n: PAD_L + (math.log10(n) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) * (W - PAD_L - PAD_R)
    ly = lambda v: H - PAD_B - (math.log10(v) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) * (H - PAD_T - PAD_B)
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>'
               % (PAD_L, PAD_T, W - PAD_L - PAD_R, H - PAD_T - PAD_B))
    for t in log_ticks(ylo, yhi):
        if ylo <= t <= yhi:
            y = ly(t)
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (PAD_L, W - PAD_R, y, y))
            out.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end">%s</text>' % (PAD_L - 4, y + 3, "{:g}".format(t)))
    for n in sorted(set(nx)):
        x = lx(n)
        out.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>'
                   % (x, H - PAD_B + 14, "%gM" % (n / 1e6) if n >= 1e6 else "%gk" % (n / 1e3)))
    out.append('<text x="%d" y="%d" font-size="10" text-anchor="middle">N (rows)</text>' % ((PAD_L + W - PAD_R) // 2, H - 8))
    out.append('<text x="12" y="%d" font-size="10" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>'
               % ((PAD_T + H - PAD_B) // 2, (PAD_T + H - PAD_B) // 2, esc(unit)))
    # one legend line per name (edp and plain share a colour), below the plot
    ly0 = H + 4
    named = set()
    for name, colour, dashed, values in series:
        values = sorted((n, v) for n, v in values if v > 0)
        if not values:
            continue
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        path = " ".join("%s%.1f,%.1f" % ("M" if i == 0 else "L", lx(n), ly(v)) for i, (n, v) in enumerate(values))
        out.append('<path d="%s" fill="none" stroke="%s" stroke-width="1.6"%s/>' % (path, colour, dash))
        for n, v in values:
            out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (lx(n), ly(v), colour))
        if name not in named:
            named.add(name)
            out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                       % (PAD_L, PAD_L + 16, ly0, ly0, colour))
            out.append('<text x="%d" y="%d" font-size="9">%s</text>' % (PAD_L + 20, ly0 + 3, esc(name)))
            ly0 += 11
    return out + ["</g>"]


def series(data, dataset, measures, methods=("edp", "plain")):
    out = []
    for i, m in enumerate(measures):
        for method in methods:
            vals = [(k[3], number(v)) for k, v in data.items()
                    if k[0] == dataset and k[1] == m and k[2] == method and number(v) is not None]
            if vals:
                out.append((label(m).replace(" (ms)", ""), COLOURS[i % len(COLOURS)], method != "edp", vals))
    return out


def svg(data):
    load = []
    for i, d in enumerate(("events", "trips", "events_partitioned")):
        for method in ("edp", "plain"):
            vals = [(k[3], number(v)) for k, v in data.items()
                    if k[0] == d and k[1] == "load_rows_per_s" and k[2] == method and number(v) is not None]
            if vals:
                load.append((d.replace("_", ", "), COLOURS[i], method != "edp", vals))
    eq = sorted({k[1] for k in data if k[0] == "events" and k[1].startswith("buckets_")})
    tq = sorted({k[1] for k in data if k[0] == "trips" and QUERY.match(k[1]) and not k[1].endswith("_peak_rss")})
    panels = [("load rows/s", load, "rows/s"),
              ("events: query median", series(data, "events", eq), "ms"),
              ("trips: query median", series(data, "trips", tq), "ms")]
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'font-family="sans-serif">' % (W * len(panels), H + 110, W * len(panels), H + 110),
             '<rect width="100%" height="100%" fill="white"/>']
    for i, (title, s, unit) in enumerate(panels):
        parts += panel(i * W, title, s, unit)
    parts.append('<text x="8" y="%d" font-size="10">edp solid, plain PostgreSQL/PostGIS dashed; '
                 'generated by test/bench/scale_report.py from test/bench/scale.sh results</text>' % (H + 104))
    parts.append("</svg>")
    text = "\n".join(parts) + "\n"
    ET.fromstring(text)          # well-formed, or this raises
    return text


def fill(doc, name, body):
    pat = re.compile(r"(<!-- scale:%s -->\n).*?(<!-- /scale:%s -->)" % (name, name), re.S)
    if not pat.search(doc):
        sys.exit("scale_report: %s has no <!-- scale:%s --> ... <!-- /scale:%s --> markers" % ("doc", name, name))
    return pat.sub(lambda m: m.group(1) + body + m.group(2), doc)


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="?", default=os.path.join(root, "bench-results", "scale.tsv"))
    ap.add_argument("--doc", default=os.path.join(root, "doc", "scale.md"))
    ap.add_argument("--svg", default=os.path.join(root, "doc", "scale.svg"))
    ap.add_argument("--min-n", type=int, default=1000000)
    a = ap.parse_args()
    data, runs = read(a.results, a.min_n)
    with open(a.doc) as f:
        doc = f.read()
    for d in ("events", "events_partitioned", "trips"):
        doc = fill(doc, d, table(data, d))
    if data:
        with open(a.svg, "w") as f:
            f.write(svg(data))
        when = "; ".join("N = {:,}: {}".format(n, ", ".join("%s (%s)" % dc for dc in sorted(runs[n])))
                         for n in sorted(runs))
        plot = "![rows/s and query medians against N](%s)\n\nRuns: %s.\n" % (os.path.basename(a.svg), when)
    else:
        plot = "_Plot pending: drawn by `test/bench/scale_report.py` once results exist._\n"
    doc = fill(doc, "plot", plot)
    with open(a.doc, "w") as f:
        f.write(doc)
    print("scale_report: %d figures, N in %s" % (len(data), sorted(runs) or "-"))


if __name__ == "__main__":
    main()
