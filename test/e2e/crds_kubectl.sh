#!/usr/bin/env bash
# crds/ and examples/ against the real kubectl and the kubesim API server:
#   1. kubectl apply --dry-run=client -f crds/ parses all three CRDs;
#   2. kubectl apply -f crds/ serves the kinds (short names, category);
#   3. kubectl apply -f examples/ creates every example, schema defaults applied;
#   4. printer columns, invalid objects rejected naming the field (422),
#      status and scale subresources of ModelDeployment;
#   5. manifests/ renders with kustomize (also with the cert-manager
#      component) and applies; every operator flag it uses exists;
#   6. the Helm chart renders (an embedded renderer for the Go-template
#      subset the chart uses, since helm is not installed) with default and
#      non-default values, and applies.
# Needs build/bin/kubesim (built by the default build): a missing kubesim is a
# failure, not a skip.
set -euo pipefail

SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:-$SRC/build/bin}
KUBESIM=$BIN/kubesim

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${TMP:-}" ] && [ -f "$TMP/kubesim.log" ]; then
		echo "--- kubesim log (tail)" >&2
		tail -n 20 "$TMP/kubesim.log" >&2
	fi
	exit 1
}

[ -x "$KUBESIM" ] || fail "$KUBESIM is not built (cmake --build <dir> --target kubesim)"
command -v kubectl >/dev/null || fail "kubectl not found"

TMP=$(mktemp -d)
KS_PID=""
cleanup() {
	if [ -n "$KS_PID" ]; then
		kill "$KS_PID" 2>/dev/null || true
		wait "$KS_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

"$KUBESIM" --port 0 --kubeconfig-out "$TMP/kubeconfig" --data-dir "$TMP/data" >"$TMP/kubesim.log" 2>&1 &
KS_PID=$!
for _ in $(seq 100); do
	[ -s "$TMP/kubeconfig" ] && break
	kill -0 "$KS_PID" 2>/dev/null || fail "kubesim exited early"
	sleep 0.1
done
[ -s "$TMP/kubeconfig" ] || fail "kubesim wrote no kubeconfig within 10 s"
export KUBECONFIG=$TMP/kubeconfig
K() { kubectl --request-timeout=20s "$@"; }

echo "== 1. client dry-run parses the CRDs"
out=$(K apply --dry-run=client -f "$SRC/crds/" 2>&1) || fail "dry-run failed: $out"
for crd in inferenceclusters modelcaches modeldeployments; do
	grep -q "$crd.modelcache.dev created (dry run)" <<<"$out" || fail "dry-run did not accept $crd: $out"
done
crds=$(K get crd -o name) || fail "kubectl get crd failed"
if grep -q modelcache.dev <<<"$crds"; then fail "client dry-run created something: $crds"; fi

echo "== 2. the CRDs serve our kinds"
K apply -f "$SRC/crds/" >/dev/null || fail "kubectl apply -f crds/ failed"
res=$(K api-resources --api-group=modelcache.dev --no-headers) || fail "api-resources failed"
grep -Eq '^inferenceclusters +ic +modelcache.dev/v1alpha1 +false +InferenceCluster' <<<"$res" || fail "ic not served: $res"
grep -Eq '^modelcaches +mc +modelcache.dev/v1alpha1 +true +ModelCache' <<<"$res" || fail "mc not served: $res"
grep -Eq '^modeldeployments +md +modelcache.dev/v1alpha1 +true +ModelDeployment' <<<"$res" || fail "md not served: $res"
cats=$(K get crd modelcaches.modelcache.dev -o jsonpath='{.spec.names.categories[0]}')
[ "$cats" = modelcache-all ] || fail "category is '$cats'"

echo "== 3. examples apply, with schema defaults"
out=$(K apply -f "$SRC/examples/" 2>&1) || fail "kubectl apply -f examples/ failed: $out"
[ "$(K get ic --no-headers | wc -l)" -ge 2 ] || fail "expected >= 2 InferenceClusters"
[ "$(K get mc -n ml-team --no-headers | wc -l)" -ge 3 ] || fail "expected >= 3 ModelCaches"
K get md -n ml-team qwen-chat >/dev/null || fail "ModelDeployment qwen-chat missing"
v=$(K get mc -n ml-team qwen3-0-6b -o jsonpath='{.spec.precheck.vram}/{.spec.precheck.safetyFactor}/{.spec.deletionPolicy}')
[ "$v" = "Enabled/1.0/Delete" ] || fail "ModelCache defaults not applied: $v"
v=$(K get mc -n ml-team llama-3-2-1b -o jsonpath='{.spec.huggingFace.revision}')
[ "$v" = main ] || fail "revision default not applied: '$v'"
v=$(K get ic local -o jsonpath='{.spec.namespace}')
[ "$v" = modelcache ] || fail "InferenceCluster namespace default not applied: '$v'"
v=$(K get ic gpu-west -o jsonpath='{.spec.gpus[0].unifiedMemory}')
[ "$v" = false ] || fail "gpus[].unifiedMemory default not applied: '$v'"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.spec.engine.port}/{.spec.topology.tensor}/{.spec.contextLength}')
[ "$v" = "8000/0/0" ] || fail "ModelDeployment defaults not applied: $v"

echo "== 3b. kubectl names: the kind's singular is not swallowed by the category"
# kubectl expands categories before kinds; with the category 'modelcache'
# these failed ("you must specify only one resource")
out=$(K get modelcache -n ml-team qwen3-0-6b --no-headers 2>&1) || fail "kubectl get modelcache NAME: $out"
grep -q '^qwen3-0-6b ' <<<"$out" || fail "kubectl get modelcache NAME printed: $out"
out=$(K describe modelcache -n ml-team qwen3-0-6b 2>&1) || fail "kubectl describe modelcache NAME: $out"
grep -q '^Kind: *ModelCache' <<<"$out" || fail "kubectl describe modelcache NAME printed: $out"
out=$(K get modelcache -A --no-headers 2>&1) || fail "kubectl get modelcache -A: $out"
grep -qi inferencecluster <<<"$out" && fail "kubectl get modelcache -A lists InferenceClusters: $out"
out=$(K get modelcache-all -A 2>&1) || fail "kubectl get modelcache-all -A: $out"
for kind in inferencecluster.modelcache.dev/local modelcache.modelcache.dev/qwen3-0-6b modeldeployment.modelcache.dev/qwen-chat; do
	grep -q "$kind" <<<"$out" || fail "kubectl get modelcache-all -A lacks $kind: $out"
done

echo "== 4. printer columns"
out=$(K get mc -n ml-team) || fail "kubectl get mc -n ml-team failed"
hdr=${out%%$'\n'*}
for col in NAME SOURCE READY STATUS SIZE AGE; do
	grep -qw "$col" <<<"$hdr" || fail "mc column $col missing: $hdr"
done
grep -q "Qwen/Qwen3-0.6B" <<<"$(K get mc -n ml-team qwen3-0-6b --no-headers)" || fail "SOURCE column empty"
out=$(K get md -n ml-team) || fail "kubectl get md -n ml-team failed"
hdr=${out%%$'\n'*}
for col in REPLICAS READY CACHE STATUS AGE; do
	grep -qw "$col" <<<"$hdr" || fail "md column $col missing: $hdr"
done
out=$(K get ic) || fail "kubectl get ic failed"
hdr=${out%%$'\n'*}
for col in CONNECTED VERSION GPUS CACHES USED CAPACITY AGE; do
	grep -qw "$col" <<<"$hdr" || fail "ic column $col missing: $hdr"
done

echo "== 5. invalid objects are rejected naming the field"
bad=$(cat <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: bad, namespace: ml-team}
spec:
  source: S3
  huggingFace: {repo: "a/b/c"}
  size: 20Gx
  deletionPolicy: Orphan
YAML
)
if out=$(K apply -f - <<<"$bad" 2>&1); then fail "an invalid ModelCache was accepted"; fi
# enum violations block the CEL rules, as on the apiserver (hasBlockingErr)
for field in 'spec.source: Unsupported value: "S3"' 'spec.deletionPolicy: Unsupported value: "Orphan"' \
	'<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid'; do
	grep -qF "$field" <<<"$out" || fail "rejection does not name '$field': $out"
done
# without them the CEL rules speak, with readable messages
bad=${bad/source: S3/source: HuggingFace}
bad=${bad/deletionPolicy: Orphan/deletionPolicy: Delete}
if out=$(K apply -f - <<<"$bad" 2>&1); then fail "an invalid ModelCache was accepted"; fi
for field in 'spec.huggingFace.repo: Invalid value: "string": must be "org/name" or "name"' \
	'spec.size: Invalid value: "": not a quantity'; do
	grep -qF "$field" <<<"$out" || fail "rejection does not name '$field': $out"
done
if out=$(K apply -f - 2>&1 <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: bad, namespace: ml-team}
spec:
  modelCacheRef: {name: qwen3-0-6b}
  engine: {port: 70000}
YAML
); then fail "an invalid ModelDeployment was accepted"; fi
grep -qF 'spec.engine.image: Required value' <<<"$out" || fail "missing image not reported: $out"
grep -qF 'spec.engine.port' <<<"$out" || fail "bad port not reported: $out"

echo "== 6. status and scale subresources"
K patch md -n ml-team qwen-chat --subresource=status --type=merge \
	-p '{"status":{"replicas":{"desired":2,"ready":1}}}' >/dev/null || fail "status patch failed"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.status.replicas.ready}')
[ "$v" = 1 ] || fail "status.replicas.ready is '$v'"
K scale md -n ml-team qwen-chat --replicas=3 >/dev/null || fail "kubectl scale failed"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.spec.replicas}')
[ "$v" = 3 ] || fail "spec.replicas after scale is '$v'"
# Scale.status.replicas comes from statusReplicasPath .status.replicas.ready
v=$(K get md -n ml-team qwen-chat --subresource=scale -o jsonpath='{.kind}/{.spec.replicas}/{.status.replicas}')
[ "$v" = "Scale/3/1" ] || fail "scale subresource reads '$v', want Scale/3/1"
# a spec write through /status is ignored, a status write through the object too
K patch md -n ml-team qwen-chat --type=merge -p '{"status":{"replicas":{"ready":9}}}' >/dev/null ||
	fail "main-resource patch failed"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.status.replicas.ready}')
[ "$v" = 1 ] || fail "status changed through the main resource: '$v'"

echo "== 7. manifests/ (kustomize) render and apply"
out=$(K kustomize "$SRC/manifests") || fail "kubectl kustomize manifests/ failed"
kinds=$(grep '^kind:' <<<"$out" | sort | uniq -c | awk '{print $3 "=" $1}' | tr '\n' ' ')
for want in ClusterRole=3 ClusterRoleBinding=1 CustomResourceDefinition=3 Deployment=1 \
	MutatingWebhookConfiguration=1 Namespace=1 Role=1 RoleBinding=1 Service=2 ServiceAccount=1; do
	grep -qw "$want" <<<"$kinds" || fail "manifests render: want $want, got $kinds"
done
grep -q 'image: modelcache-operator:0.1.0' <<<"$out" || fail "operator image not set"
grep -q 'path: /mutate-v1-pod' <<<"$out" || fail "webhook path missing"
out=$(K apply -k "$SRC/manifests" 2>&1) || fail "kubectl apply -k manifests/ failed: $out"
v=$(K get deploy -n modelcache-system modelcache-operator -o jsonpath='{.spec.template.spec.containers[0].livenessProbe.httpGet.path}{.spec.template.spec.containers[0].readinessProbe.httpGet.path}')
[ "$v" = "/healthz/readyz" ] || fail "probes: '$v'"
v=$(K get mutatingwebhookconfiguration modelcache-operator -o jsonpath='{.webhooks[0].clientConfig.service.namespace}/{.webhooks[0].clientConfig.service.name}')
[ "$v" = "modelcache-system/modelcache-webhook" ] || fail "webhook service: '$v'"
# the cert-manager component renders (cert-manager itself is not served here)
mkdir -p "$TMP/kz"
cp -r "$SRC/manifests" "$TMP/kz/manifests"
cp -r "$SRC/crds" "$TMP/kz/crds"
sed -i 's/^# components:/components:/; s/^# - certmanager/- certmanager/' "$TMP/kz/manifests/kustomization.yaml"
out=$(K kustomize "$TMP/kz/manifests") || fail "kustomize with the certmanager component failed"
grep -q '^kind: Certificate' <<<"$out" || fail "certmanager component: no Certificate"
grep -q 'cert-manager.io/inject-ca-from: modelcache-system/modelcache-webhook-cert' <<<"$out" ||
	fail "certmanager component: CA injection annotation missing"

echo "== 8. every operator flag in manifests/ and the chart exists"
OP=$BIN/modelcache-operator
[ -x "$OP" ] || fail "$OP is not built"
help=$("$OP" run --help 2>&1) || true
flags=$(grep -ohE -- '- --[a-z-]+' "$SRC/manifests/deployment.yaml" \
	"$SRC/charts/modelcache-operator/templates/deployment.yaml" | sed 's/^- //' | sort -u)
[ -n "$flags" ] || fail "no flags found in the deployments"
for f in $flags; do
	grep -qE -- "(^|[[:space:]])$f([[:space:]=\[]|$)" <<<"$help" || fail "operator has no flag $f (run --help)"
done

echo "== 9. the Helm chart renders (a small Go-template renderer: no helm here) and applies"
cat >"$TMP/render.py" <<'PY'
# A deliberately small Go-template/Sprig renderer for charts/modelcache-operator:
# exactly the constructs that chart uses (no helm on the build machines).
# usage: render.py CHART_DIR [key=value ...]   (value: true/false/int/string)
import json, os, re, sys

def parse_scalar(v):
    v = v.strip()
    if v == '' or v in ('null', '~'): return None
    if v[0] in '"\'':
        return v[1:-1]
    if v in ('true', 'false'): return v == 'true'
    if re.fullmatch(r'-?[0-9]+', v): return int(v)
    if v.startswith('[') and v.endswith(']'):
        inner = v[1:-1].strip()
        return [parse_scalar(x) for x in inner.split(',')] if inner else []
    if v == '{}': return {}
    return v

def strip_comment(line):
    out, q = [], None
    for i, c in enumerate(line):
        if q:
            if c == q: q = None
        elif c in '"\'': q = c
        elif c == '#' and (i == 0 or line[i-1] == ' '): break
        out.append(c)
    return ''.join(out).rstrip()

def load_values(path):  # block mappings/sequences of scalars, flow [] {}
    lines = []
    for raw in open(path):
        l = strip_comment(raw.rstrip('\n'))
        if l.strip(): lines.append((len(l) - len(l.lstrip(' ')), l.strip()))
    def block(i, ind):
        if lines[i][1].startswith('- '):
            out = []
            while i < len(lines) and lines[i][0] == ind and lines[i][1].startswith('- '):
                out.append(parse_scalar(lines[i][1][2:])); i += 1
            return out, i
        out = {}
        while i < len(lines) and lines[i][0] == ind:
            k, _, v = lines[i][1].partition(':')
            i += 1
            if v.strip() == '':
                if i < len(lines) and (lines[i][0] > ind or (lines[i][0] == ind and lines[i][1].startswith('- '))):
                    out[k], i = block(i, lines[i][0])
                else:
                    out[k] = None
            else:
                out[k] = parse_scalar(v)
        return out, i
    return block(0, 0)[0]

def to_yaml(v, ind=0):
    sp = ' ' * ind
    if isinstance(v, dict):
        if not v: return sp + '{}'
        out = []
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append('%s%s:\n%s' % (sp, k, to_yaml(x, ind + (2 if isinstance(x, dict) else 0))))
            else:
                out.append('%s%s: %s' % (sp, k, scalar_yaml(x)))
        return '\n'.join(out)
    if isinstance(v, list):
        if not v: return sp + '[]'
        out = []
        for x in v:
            if isinstance(x, dict) and x:
                s = to_yaml(x, ind + 2)
                out.append(sp + '- ' + s.lstrip(' '))
            else:
                out.append(sp + '- ' + scalar_yaml(x))
        return '\n'.join(out)
    return sp + scalar_yaml(v)

def scalar_yaml(x):
    if x is None: return 'null'
    if x is True: return 'true'
    if x is False: return 'false'
    if isinstance(x, (dict, list)): return '{}' if isinstance(x, dict) else '[]'
    if isinstance(x, int): return str(x)
    s = str(x)
    if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_./-]*', s) and s not in ('true', 'false', 'null', 'yes', 'no'): return s
    return json.dumps(s)

def truthy(v):
    return not (v is None or v is False or v == 0 or v == '' or v == [] or v == {})

def gostr(v):
    if v is None: return '<no value>'
    if v is True: return 'true'
    if v is False: return 'false'
    if isinstance(v, dict): return 'map[' + ' '.join('%s:%s' % (k, gostr(x)) for k, x in sorted(v.items())) + ']'
    if isinstance(v, list): return '[' + ' '.join(gostr(x) for x in v) + ']'
    return str(v)

# ---- lexer: text and actions, with trim markers ----
def lex(src):
    toks, pos = [], 0
    while True:
        i = src.find('{{', pos)
        if i < 0:
            toks.append(('text', src[pos:])); break
        j = src.find('}}', i)
        if j < 0: raise SyntaxError('unclosed action')
        text = src[pos:i]
        inner = src[i + 2:j]
        ltrim = inner.startswith('-')
        rtrim = inner.endswith('-')
        if ltrim: inner = inner[1:]; text = text.rstrip()
        if rtrim: inner = inner[:-1]
        toks.append(('text', text))
        toks.append(('act', inner.strip()))
        pos = j + 2
        if rtrim:
            while pos < len(src) and src[pos] in ' \t\r\n': pos += 1
    return [t for t in toks if not (t[0] == 'text' and t[1] == '')]

def parse(toks, i=0, stop=('end',)):
    nodes = []
    while i < len(toks):
        kind, v = toks[i]
        if kind == 'text':
            nodes.append(('text', v)); i += 1; continue
        if v.startswith('/*'):
            i += 1; continue
        word = v.split(' ', 1)[0]
        if word in stop or word == 'else':
            return nodes, i
        if word in ('if', 'with', 'range'):
            body, i = parse(toks, i + 1)
            els = []
            if toks[i][1] == 'else':
                els, i = parse(toks, i + 1)
            if toks[i][1] != 'end': raise SyntaxError('missing end for ' + v)
            nodes.append((word, v[len(word):].strip(), body, els)); i += 1; continue
        if word == 'define':
            body, i = parse(toks, i + 1)
            nodes.append(('define', v[6:].strip().strip('"'), body)); i += 1; continue
        nodes.append(('expr', v)); i += 1
    return nodes, i

# ---- expressions ----
def tokenize_expr(s):
    return re.findall(r'"(?:[^"\\]|\\.)*"|\(|\)|\||[^\s()|]+', s)

class Ctx:
    def __init__(self, top, defs): self.top, self.defs = top, defs

def field(v, path):
    for p in path:
        v = v.get(p) if isinstance(v, dict) else None
    return v

def eval_pipeline(toks, dot, ctx):
    cmds, cur, depth = [], [], 0
    for t in toks:
        if t == '(': depth += 1
        if t == ')': depth -= 1
        if t == '|' and depth == 0: cmds.append(cur); cur = []
        else: cur.append(t)
    cmds.append(cur)
    val, first = None, True
    for c in cmds:
        args = parse_args(c, dot, ctx)
        if first:
            val = call(args, dot, ctx, None); first = False
        else:
            val = call(args, dot, ctx, val, piped=True)
    return val

def parse_args(toks, dot, ctx):
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t == '(':
            depth, j = 1, i + 1
            while depth:
                depth += {'(': 1, ')': -1}.get(toks[j], 0); j += 1
            out.append(('val', eval_pipeline(toks[i + 1:j - 1], dot, ctx))); i = j; continue
        out.append(('tok', t)); i += 1
    return out

FUNCS = {'include', 'printf', 'default', 'contains', 'trunc', 'trimSuffix', 'replace', 'quote',
         'toYaml', 'nindent', 'indent', 'and', 'not', 'or'}

def value_of(a, dot, ctx):
    kind, t = a
    if kind == 'val': return t
    if t.startswith('"'): return json.loads(t)
    if re.fullmatch(r'-?[0-9]+', t): return int(t)
    if t == '.': return dot
    if t.startswith('.'): return field(dot, t[1:].split('.'))
    if t.startswith('$.'): return field(ctx.top, t[2:].split('.'))
    if t == '$': return ctx.top
    if t in ('true', 'false'): return t == 'true'
    raise SyntaxError('unsupported operand ' + t)

def call(args, dot, ctx, piped_val, piped=False):
    if not args: raise SyntaxError('empty command')
    head = args[0]
    if head[0] == 'tok' and head[1] in FUNCS:
        name = head[1]
        vals = [value_of(a, dot, ctx) for a in args[1:]]
        if piped: vals.append(piped_val)
        if name == 'include':
            return render_nodes(ctx.defs[vals[0]], vals[1], ctx)
        if name == 'printf':
            fmt = vals[0]
            return fmt.replace('%%', '\0') % tuple(gostr(x) for x in vals[1:]) if '%s' in fmt else fmt
        if name == 'default': return vals[1] if truthy(vals[1]) else vals[0]
        if name == 'contains': return vals[0] in gostr(vals[1])
        if name == 'trunc': return gostr(vals[1])[:vals[0]]
        if name == 'trimSuffix':
            s = gostr(vals[1]); return s[:-len(vals[0])] if vals[0] and s.endswith(vals[0]) else s
        if name == 'replace': return gostr(vals[2]).replace(vals[0], vals[1])
        if name == 'quote': return json.dumps(gostr(vals[0]))
        if name == 'toYaml': return to_yaml(vals[0])
        if name == 'nindent': return '\n' + '\n'.join(' ' * vals[0] + l if l else l for l in gostr(vals[1]).split('\n'))
        if name == 'indent': return '\n'.join(' ' * vals[0] + l for l in gostr(vals[1]).split('\n'))
        if name == 'and': return all(truthy(x) for x in vals) and vals[-1]
        if name == 'or': return next((x for x in vals if truthy(x)), vals[-1])
        if name == 'not': return not truthy(vals[0])
    if piped: raise SyntaxError('cannot pipe into ' + head[1])
    if len(args) != 1: raise SyntaxError('unknown function ' + head[1])
    return value_of(head, dot, ctx)

def render_nodes(nodes, dot, ctx):
    out = []
    for n in nodes:
        if n[0] == 'text': out.append(n[1])
        elif n[0] == 'expr': out.append(gostr(eval_pipeline(tokenize_expr(n[1]), dot, ctx)))
        elif n[0] == 'define': pass
        elif n[0] in ('if', 'with'):
            v = eval_pipeline(tokenize_expr(n[1]), dot, ctx)
            if truthy(v): out.append(render_nodes(n[2], v if n[0] == 'with' else dot, ctx))
            else: out.append(render_nodes(n[3], dot, ctx))
        elif n[0] == 'range':
            v = eval_pipeline(tokenize_expr(n[1]), dot, ctx)
            if truthy(v):
                for x in v: out.append(render_nodes(n[2], x, ctx))
            else: out.append(render_nodes(n[3], dot, ctx))
    return ''.join(out)

def main():
    chart = sys.argv[1]
    values = load_values(os.path.join(chart, 'values.yaml'))
    for kv in sys.argv[2:]:
        k, v = kv.split('=', 1)
        d = values
        for p in k.split('.')[:-1]: d = d.setdefault(p, {})
        d[k.split('.')[-1]] = parse_scalar(v)
    meta = {}
    for l in open(os.path.join(chart, 'Chart.yaml')):
        m = re.match(r'^(name|version|appVersion):\s*(.*)$', l)
        if m: meta[m.group(1)] = parse_scalar(m.group(2))
    top = {'Values': values, 'Release': {'Name': 'modelcache', 'Namespace': 'modelcache-system', 'Service': 'Helm'},
           'Chart': {'Name': meta['name'], 'Version': meta['version'], 'AppVersion': meta['appVersion']}}
    tdir = os.path.join(chart, 'templates')
    files = sorted(os.listdir(tdir))
    defs, parsed = {}, {}
    for f in files:
        nodes, i = parse(lex(open(os.path.join(tdir, f)).read()))
        parsed[f] = nodes
        for n in nodes:
            if n[0] == 'define': defs[n[1]] = n[2]
    ctx = Ctx(top, defs)
    for f in files:
        if f.startswith('_') or not f.endswith('.yaml'): continue
        text = render_nodes(parsed[f], top, ctx)
        if text.strip():
            print('---\n# Source: %s\n%s' % (f, text.strip('\n')))
    render_nodes(parsed.get('NOTES.txt', []), top, ctx)

main()
PY
CHART=$SRC/charts/modelcache-operator
out=$(python3 "$TMP/render.py" "$CHART") || fail "chart does not render with default values"
kinds=$(grep '^kind:' <<<"$out" | sort | uniq -c | awk '{print $3 "=" $1}' | tr '\n' ' ')
for want in ClusterRole=3 ClusterRoleBinding=1 Deployment=1 MutatingWebhookConfiguration=1 Role=1 \
	RoleBinding=1 Service=2 ServiceAccount=1; do
	grep -qw "$want" <<<"$kinds" || fail "chart render: want $want, got $kinds"
done
grep -q 'image: modelcache-operator:0.1.0' <<<"$out" || fail "chart: image/appVersion not used"
printf '%s\n' "$out" >"$TMP/chart.yaml"
K apply -f "$CHART/crds/" >/dev/null || fail "chart crds/ do not apply"
res=$(K apply -f "$TMP/chart.yaml" 2>&1) || fail "rendered chart does not apply: $res"
v=$(K get deploy -n modelcache-system modelcache-modelcache-operator -o jsonpath='{.spec.template.spec.containers[0].readinessProbe.httpGet.path}/{.spec.template.spec.volumes[1].secret.secretName}')
[ "$v" = "/readyz/modelcache-webhook-cert" ] || fail "chart deployment: '$v'"
v=$(K get mutatingwebhookconfiguration modelcache-modelcache-operator -o jsonpath='{.webhooks[0].clientConfig.service.name}/{.webhooks[0].clientConfig.service.path}/{.webhooks[0].namespaceSelector.matchExpressions[0].values}')
[ "$v" = 'modelcache-modelcache-operator-webhook//mutate-v1-pod/["modelcache-system","kube-system"]' ] ||
	fail "chart webhook: '$v'"
# both selectors: the cache label, and never the operator's own pods (issue 15)
v=$(K get mutatingwebhookconfiguration modelcache-modelcache-operator -o jsonpath='{.webhooks[0].objectSelector.matchExpressions}')
[ "$v" = '[{"key":"modelcache.dev/cache","operator":"Exists"},{"key":"app.kubernetes.io/managed-by","operator":"NotIn","values":["modelcache-operator"]}]' ] ||
	fail "chart webhook objectSelector: '$v'"
out=$(python3 "$TMP/render.py" "$CHART" webhook.certManager.enabled=true) || fail "chart render (certManager) failed"
grep -q '^kind: Certificate' <<<"$out" || fail "chart certManager: no Certificate"
grep -q 'cert-manager.io/inject-ca-from: modelcache-system/modelcache-webhook-cert' <<<"$out" ||
	fail "chart certManager: no CA injection"
out=$(python3 "$TMP/render.py" "$CHART" webhook.enabled=false rbac.create=false) || fail "chart render (no webhook) failed"
grep -q 'MutatingWebhookConfiguration\|ClusterRole' <<<"$out" && fail "chart: webhook/RBAC rendered while disabled"
grep -q -- '- --webhook-port=0' <<<"$out" || fail "chart: webhook not disabled in the flags"

echo "PASS crds_kubectl"
