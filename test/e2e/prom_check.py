#!/usr/bin/env python3
"""Minimal Prometheus text-format (0.0.4) parser used by the e2e tests.

usage: prom_check.py FILE [required_family ...]
Checks every line: comments are `# HELP name text` / `# TYPE name
counter|gauge|histogram|summary|untyped`; samples are
`name{label="value",...} value [timestamp]` with valid metric/label names,
properly escaped label values and a float value; histogram families have
_bucket (with le, ending at +Inf, cumulative), _sum and _count. Exits 1
with a message on the first problem, or when a required family is missing.
"""
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
VALUE = r'(?:[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|[-+]?Inf|NaN)'
LABELV = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(' + NAME + r')(\{(?:' + LABEL + '=' + LABELV + r'(?:,' + LABEL + '=' + LABELV +
                    r')*,?)?\})? (' + VALUE + r')(?: -?\d+)?$')


def fail(msg):
    print("prom_check: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) < 2:
        fail("usage: prom_check.py FILE [family...]")
    text = open(sys.argv[1], encoding="utf-8").read()
    if not text.endswith("\n"):
        fail("output does not end with a newline")
    types = {}
    samples = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("#"):
            m = re.match(r'^# (HELP|TYPE) (' + NAME + r')(?: (.*))?$', line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    fail("line %d: bad comment: %r" % (n, line))
                continue
            if m.group(1) == "TYPE":
                if m.group(3) not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    fail("line %d: bad type %r" % (n, m.group(3)))
                if m.group(2) in types:
                    fail("line %d: TYPE repeated for %s" % (n, m.group(2)))
                types[m.group(2)] = m.group(3)
            continue
        m = SAMPLE.match(line)
        if not m:
            fail("line %d: not a valid sample: %r" % (n, line))
        samples.setdefault(m.group(1), []).append((m.group(2) or "", m.group(3)))
    for fam, typ in types.items():
        if typ == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                if fam + suffix not in samples:
                    fail("histogram %s has no %s samples" % (fam, suffix))
            by_series = {}
            for labels, value in samples[fam + "_bucket"]:
                le = re.search(r'le="([^"]*)"', labels)
                if not le:
                    fail("bucket of %s without le" % fam)
                key = re.sub(r',?le="[^"]*"', "", labels)
                by_series.setdefault(key, []).append((le.group(1), float(value)))
            for key, buckets in by_series.items():
                if buckets[-1][0] != "+Inf":
                    fail("histogram %s%s does not end with le=\"+Inf\"" % (fam, key))
                vals = [v for _, v in buckets]
                if vals != sorted(vals):
                    fail("histogram %s%s buckets are not cumulative" % (fam, key))
        elif typ == "counter":
            for labels, value in samples.get(fam, []) + samples.get(fam + "_total", []):
                if float(value) < 0:
                    fail("counter %s%s is negative" % (fam, labels))
    for fam in sys.argv[2:]:
        if fam not in types and fam not in samples:
            fail("family %s missing" % fam)
    print("prom_check: %d families, %d sample names OK" % (len(types), len(samples)))


main()
