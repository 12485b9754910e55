"""The operator's API requests as RBAC (verb, group, resource) triples,
compared with the rules manifests/rbac.yaml grants.

usage: rbac_triples.py RBAC.yaml EXCEPTIONS OPERATOR_LOG... -- KUBECTL_LOG...
  OPERATOR_LOG  kubesim request logs ("METHOD PATH?QUERY CODE") from the moment
                the operator started;
  KUBECTL_LOG   `kubectl -v=6` output of every kubectl call the test made in
                that time: those requests are removed from the kubesim logs
                (as a multiset), so what is left is the operator's.
Prints the used triples; exit 1 on a triple used but not granted, or granted
but never used, unless EXCEPTIONS lists it ("verb group resource  reason":
granted, and the scenario may or may not issue it)."""
import collections
import re
import sys
import urllib.parse

import yaml

args = sys.argv[1:]
sep = args.index("--")
rbac, exc_file, op_logs, kubectl_logs = args[0], args[1], args[2:sep], args[sep + 1:]


def request_info(method, target, code):
    """Kubernetes' RequestInfoFactory, for resource requests: None for
    non-resource URLs (/version, /api, /apis, /openapi ...)."""
    u = urllib.parse.urlsplit(target)
    q = urllib.parse.parse_qs(u.query)
    parts = [p for p in u.path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]                      # namespaced resource
    elif rest[0] == "namespaces" and len(rest) <= 2:
        pass                                 # the namespaces resource itself
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    watch = q.get("watch", ["false"])[0] not in ("0", "false", "False")
    verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    if verb is None:
        return None
    res = resource + ("/" + sub if sub else "")
    # a server-side apply that creates the object (201) is authorized as
    # create too (Kubernetes API concepts, "Patch and apply")
    if method == "PATCH" and code == "201":
        return [(verb, group, res), ("create", group, res)]
    return [(verb, group, res)]


def kubesim_lines(path):
    out = []
    for line in open(path):
        f = line.split()
        if len(f) == 3:
            out.append((f[0], f[1], f[2]))
    return out


def kubectl_lines(path):
    out = []
    pat = re.compile(r"round_trippers\.go:\d+\] (GET|POST|PUT|PATCH|DELETE) https?://[^/ ]+(/\S*) (\d+)")
    for line in open(path, errors="replace"):
        m = pat.search(line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3)))
    return out


seen = collections.Counter()
for p in op_logs:
    seen.update(kubesim_lines(p))
theirs = collections.Counter()
for p in kubectl_logs:
    theirs.update(kubectl_lines(p))
missing = theirs - seen
if sum(missing.values()) > 5:
    sys.exit("kubectl requests not in the kubesim logs (wrong logs?): %s" % list(missing)[:5])
ops = seen - theirs
used = collections.Counter()
for (method, target, code), n in ops.items():
    for ri in request_info(method, target, code) or []:
        used[ri] += n

granted = set()
for doc in yaml.safe_load_all(open(rbac)):
    if not doc or doc["kind"] not in ("ClusterRole", "Role"):
        continue
    if doc["metadata"]["name"] not in ("modelcache-operator", "modelcache-operator-leader-election"):
        continue
    for r in doc["rules"]:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    granted.add((v, g, res))

exceptions = {}
for line in open(exc_file):
    line = line.split("#", 1)[0].strip()
    if line:
        f = line.split(None, 3)
        group = "" if f[1] == '""' else f[1]
        exceptions[(f[0], group, f[2])] = f[3] if len(f) > 3 else ""

bad = 0
print("   used by the operator (verb group resource: requests):")
for t in sorted(used):
    print("     %-8s %-26s %-34s %d" % (t[0], t[1] or '""', t[2], used[t]))
for t in sorted(set(used) - granted):
    if t not in exceptions:
        print("USED BUT NOT GRANTED: %s %s %s" % (t[0], t[1] or '""', t[2]))
        bad += 1
for t in sorted(granted - set(used)):
    if t in exceptions:
        print("   granted, not exercised here: %s %s %s (%s)" % (t[0], t[1] or '""', t[2], exceptions[t]))
    else:
        print("GRANTED BUT NEVER USED: %s %s %s" % (t[0], t[1] or '""', t[2]))
        bad += 1
for t in sorted(set(exceptions) - granted):
    print("STALE EXCEPTION (not granted): %s %s %s" % (t[0], t[1] or '""', t[2]))
    bad += 1
for t in sorted(set(exceptions) & set(used)):
    # an exception is a triple the scenario may not issue (timing); when it
    # does, it is simply used
    print("   exception exercised this time: %s %s %s" % (t[0], t[1] or '""', t[2]))
print("   %d triples used, %d granted, %d exceptions, %d problems" % (len(used), len(granted), len(exceptions), bad))
sys.exit(1 if bad else 0)
