"""Compares the chart rendered with default values (release modelcache-operator,
namespace modelcache-system) with `kubectl kustomize manifests/`, object by
object for the kinds both ship (the chart's names are the release's: -editor
<-> modelcache-editor, -webhook <-> modelcache-webhook). Labels and
annotations differ by design (Helm's), and so does the selector label
app.kubernetes.io/instance; everything else must be equal, except operator
flags the chart spells out at their documented default (from `run --help`).
usage: compare.py CHART.yaml KUSTOMIZE.yaml RUN_HELP.txt"""
import json, re, sys, yaml
chart = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kust = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d and d["kind"] not in ("CustomResourceDefinition", "Namespace")]
# defaults of the operator's flags, from its help: "--workers N ... (default 2)"
defaults = {}
flag = None
for line in open(sys.argv[3]):
    m = re.match(r"^\s+(--[a-z-]+)", line)
    if m:
        flag = m.group(1)
    m = re.search(r'\(default "?([^")]*)"?', line)
    if flag and m and flag not in defaults:
        defaults[flag] = m.group(1).split(";")[0].strip()

def args_map(args):
    out = {}
    for a in args:
        k, eq, v = a.partition("=")
        out[k] = v if eq else "true"
    return out
def key(d):
    n = d["metadata"]["name"]
    n = re.sub(r"^modelcache-operator", "", n)
    n = re.sub(r"^modelcache", "", n)
    return (d["kind"], n)
ren = {}
for d in chart:
    for e in kust:
        if key(d) == key(e) and d["metadata"]["name"] != e["metadata"]["name"]:
            ren[d["metadata"]["name"]] = e["metadata"]["name"]
def norm(d, chart_side):
    s = json.dumps(d, sort_keys=True)
    if chart_side:
        for a, b in sorted(ren.items(), key=lambda x: -len(x[0])):
            s = s.replace('"%s"' % a, '"%s"' % b).replace('"%s.' % a, '"%s.' % b)
    d = json.loads(s)
    def strip(o):
        if isinstance(o, dict):
            for k in ("labels", "annotations"):
                o.pop(k, None) if "name" in o or k == "annotations" else None
            for k in ("matchLabels", "selector"):
                if isinstance(o.get(k), dict):
                    o[k] = {a: b for a, b in o[k].items() if a != "app.kubernetes.io/instance"}
            for v in o.values(): strip(v)
        elif isinstance(o, list):
            for v in o: strip(v)
    strip(d)
    md = d.get("metadata", {})
    for k in ("labels", "annotations"): md.pop(k, None)
    tm = d.get("spec", {}).get("template", {}).get("metadata", {})
    tm.pop("labels", None)
    return d
def diff(a, b, p=""):
    out = []
    if p.endswith(".args") and isinstance(a, list) and isinstance(b, list):
        ca, kb = args_map(a), args_map(b)
        for k in sorted(set(ca) | set(kb)):
            if k in ca and k in kb and ca[k] != kb[k]:
                out.append("%s %s: chart %s, manifests/ %s" % (p, k, ca[k], kb[k]))
            elif k in kb and k not in ca:
                out.append("%s: %s only in manifests/" % (p, k))
            elif k in ca and k not in kb and defaults.get(k) != ca[k]:
                out.append("%s: %s=%s only in the chart (the operator's default is %s)" % (p, k, ca[k], defaults.get(k)))
        return out
    if isinstance(a, list) and isinstance(b, list) and all(isinstance(x, str) for x in a + b):
        a, b = sorted(a), sorted(b)
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a: out.append("%s.%s: only in manifests/: %s" % (p, k, json.dumps(b[k])[:200]))
            elif k not in b: out.append("%s.%s: only in the chart: %s" % (p, k, json.dumps(a[k])[:200]))
            else: out += diff(a[k], b[k], p + "." + k)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)): out += diff(x, y, "%s[%d]" % (p, i))
    elif a != b:
        out.append("%s: chart %s, manifests/ %s" % (p, json.dumps(a)[:200], json.dumps(b)[:200]))
    return out
bad = 0
if not kust or not chart:
    sys.exit("nothing to compare")
ck = {key(d): d for d in chart}
for e in kust:
    k = key(e)
    if k not in ck:
        print("only in manifests/: %s %s" % (e["kind"], e["metadata"]["name"])); bad += 1; continue
    for line in diff(norm(ck[k], True), norm(e, False)):
        print("%s %s%s" % (e["kind"], e["metadata"]["name"], line)); bad += 1
for k, d in ck.items():
    if k not in {key(e) for e in kust}:
        print("only in the chart: %s %s" % (d["kind"], d["metadata"]["name"]))
print("   %d objects compared, %d differences" % (len(kust), bad))
sys.exit(1 if bad else 0)
