// helm-template renders a Helm chart the way `helm template` does, with the
// same libraries Helm's engine uses (Go text/template, Masterminds sprig v3,
// xeipuuv/gojsonschema for values.schema.json), built offline from Debian's
// packages (tools/helm-template/build.sh). It exists because no helm binary
// is packaged for the build machines; it implements Helm's template contract:
//
//   - .Values: the chart's values.yaml, then each -f file, then each --set /
//     --set-string, merged as Helm coalesces them (maps deep-merged, a null
//     deletes a key), then checked against values.schema.json;
//   - .Release {Name, Namespace, Service "Helm", IsInstall, IsUpgrade,
//     Revision}, .Chart (Chart.yaml with Helm's field names), .Capabilities
//     {KubeVersion, APIVersions}, .Template {Name, BasePath};
//   - functions: sprig's TxtFuncMap without env/expandenv (as Helm), plus
//     include, tpl, required, toYaml, fromYaml, fromYamlArray, toJson,
//     fromJson, fromJsonArray, lookup (returns an empty map: no cluster, as
//     `helm template`);
//   - every file of templates/ is parsed into one set (partials are those
//     whose name starts with "_"), rendered with missingkey=zero and
//     "<no value>" removed; each non-empty manifest is printed as
//     "---\n# Source: CHART/templates/FILE" like `helm template`; NOTES.txt
//     is rendered (errors count) but not printed; --include-crds prints crds/.
//
// usage: helm-template CHART_DIR [--name NAME] [--namespace NS] [-f values.yaml]...
//
//	[--set k=v[,k=v]]... [--set-string k=v]... [--include-crds]
//
// Exit 1 with Helm's message on a template or schema error.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/xeipuuv/gojsonschema"
	yaml "gopkg.in/yaml.v2"
)

type chartMeta struct {
	APIVersion  string            `json:"apiVersion"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	AppVersion  string            `json:"appVersion"`
	Description string            `json:"description"`
	Type        string            `json:"type"`
	KubeVersion string            `json:"kubeVersion"`
	Home        string            `json:"home"`
	Keywords    []string          `json:"keywords"`
	Sources     []string          `json:"sources"`
	Icon        string            `json:"icon"`
	Annotations map[string]string `json:"annotations"`
}

// Helm exposes Chart metadata with Go field names (.Chart.Name, .Chart.AppVersion).
func (c chartMeta) values() map[string]interface{} {
	return map[string]interface{}{
		"APIVersion": c.APIVersion, "Name": c.Name, "Version": c.Version, "AppVersion": c.AppVersion,
		"Description": c.Description, "Type": c.Type, "KubeVersion": c.KubeVersion, "Home": c.Home,
		"Keywords": c.Keywords, "Sources": c.Sources, "Icon": c.Icon, "Annotations": c.Annotations,
	}
}

type multiFlag []string

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "Error: "+format+"\n", a...)
	os.Exit(1)
}

// yamlToJSONValue turns yaml.v2's map[interface{}]interface{} into JSON-shaped values.
func jsonish(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonish(x)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = jsonish(t[i])
		}
		return t
	case int:
		return int64(t)
	default:
		return v
	}
}

func readValues(file string) (map[string]interface{}, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var v interface{}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("failed to parse %s: %v", file, err)
	}
	if v == nil {
		return map[string]interface{}{}, nil
	}
	m, ok := jsonish(v).(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: values must be a map", file)
	}
	return m, nil
}

// merge copies src over dst the way Helm coalesces user values onto the
// chart's: nested maps merge, anything else replaces, null deletes.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// typed parses a --set value as Helm's strvals does: true/false, integers,
// null, {a,b} lists; everything else (and every --set-string value) a string.
func typed(s string, asString bool) interface{} {
	if asString {
		return s
	}
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		inner := s[1 : len(s)-1]
		out := []interface{}{}
		if inner != "" {
			for _, p := range strings.Split(inner, ",") {
				out = append(out, typed(p, false))
			}
		}
		return out
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && (s == "0" || !strings.HasPrefix(s, "0")) {
		return i
	}
	return s
}

// splitSet splits "a=1,b={x,y}" at the commas outside braces.
func splitSet(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func applySet(values map[string]interface{}, expr string, asString bool) error {
	for _, kv := range splitSet(expr) {
		eq := strings.IndexByte(kv, '=')
		if eq <= 0 {
			return fmt.Errorf("failed parsing --set data: key %q has no value", kv)
		}
		keys := strings.Split(kv[:eq], ".")
		m := values
		for _, k := range keys[:len(keys)-1] {
			if k == "" {
				return fmt.Errorf("failed parsing --set data: empty key in %q", kv)
			}
			next, ok := m[k].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				m[k] = next
			}
			m = next
		}
		last := keys[len(keys)-1]
		v := typed(kv[eq+1:], asString)
		if v == nil {
			delete(m, last)
		} else {
			m[last] = v
		}
	}
	return nil
}

// checkSchema validates the values like Helm's chartutil.ValidateAgainstSchema.
func checkSchema(chartDir, chartName string, values map[string]interface{}) error {
	schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewGoLoader(values))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n", chartName)
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return errors.New(strings.TrimSuffix(b.String(), "\n"))
}

func toYAML(v interface{}) string {
	// sigs.k8s.io/yaml (Helm's): through JSON, so keys are sorted and
	// structs follow their json tags; then YAML.
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var o interface{}
	if err := yaml.Unmarshal(j, &o); err != nil {
		return ""
	}
	b, err := yaml.Marshal(o)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func fromYAML(s string) map[string]interface{} {
	var v interface{}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		m["Error"] = err.Error()
		return m
	}
	if mm, ok := jsonish(v).(map[string]interface{}); ok {
		return mm
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	var v []interface{}
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return []interface{}{err.Error()}
	}
	return jsonish(v).([]interface{})
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	var a []interface{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return []interface{}{err.Error()}
	}
	return a
}

type renderer struct {
	t        *template.Template
	top      map[string]interface{}
	basePath string
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	includeDepth := 0
	f["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var b bytes.Buffer
		if err := r.t.ExecuteTemplate(&b, name, data); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.t.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New(r.basePath + "/tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %v", text, err)
		}
		return strings.ReplaceAll(b.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["fromYamlArray"] = fromYAMLArray
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["fromJsonArray"] = fromJSONArray
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

func main() {
	var files, sets, setStrings multiFlag
	name, namespace, chartDir := "release-name", "default", ""
	includeCRDs := false
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() string {
			if eq := strings.IndexByte(a, '='); eq > 0 && strings.HasPrefix(a, "--") {
				return a[eq+1:]
			}
			i++
			if i >= len(args) {
				fail("flag needs an argument: %s", a)
			}
			return args[i]
		}
		flag := a
		if eq := strings.IndexByte(a, '='); eq > 0 && strings.HasPrefix(a, "--") {
			flag = a[:eq]
		}
		switch flag {
		case "-f", "--values":
			files = append(files, val())
		case "--set":
			sets = append(sets, val())
		case "--set-string":
			setStrings = append(setStrings, val())
		case "--name":
			name = val()
		case "-n", "--namespace":
			namespace = val()
		case "--include-crds":
			includeCRDs = true
		case "-h", "--help":
			fmt.Println("usage: helm-template CHART_DIR [--name NAME] [-n NS] [-f FILE]... [--set K=V]... [--set-string K=V]... [--include-crds]")
			return
		default:
			if strings.HasPrefix(a, "-") || chartDir != "" {
				fail("unknown argument %q", a)
			}
			chartDir = a
		}
	}
	if chartDir == "" {
		fail("a chart directory is required")
	}

	var meta chartMeta
	cb, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		fail("%v", err)
	}
	var cy interface{}
	if err := yaml.Unmarshal(cb, &cy); err != nil {
		fail("Chart.yaml: %v", err)
	}
	cj, _ := json.Marshal(jsonish(cy))
	if err := json.Unmarshal(cj, &meta); err != nil {
		fail("Chart.yaml: %v", err)
	}
	if meta.APIVersion != "v2" || meta.Name == "" || meta.Version == "" {
		fail("Chart.yaml: apiVersion v2, name and version are required")
	}

	values, err := readValues(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		fail("%v", err)
	}
	for _, f := range files {
		u, err := readValues(f)
		if err != nil {
			fail("%v", err)
		}
		values = merge(values, u)
	}
	for _, s := range sets {
		if err := applySet(values, s, false); err != nil {
			fail("%v", err)
		}
	}
	for _, s := range setStrings {
		if err := applySet(values, s, true); err != nil {
			fail("%v", err)
		}
	}
	if err := checkSchema(chartDir, meta.Name, values); err != nil {
		fail("%v", err)
	}

	basePath := meta.Name + "/templates"
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": name, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart": meta.values(),
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.32.0", "Major": "1", "Minor": "32", "GitVersion": "v1.32.0"},
			"APIVersions": []string{"v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1",
				"admissionregistration.k8s.io/v1", "coordination.k8s.io/v1", "apiextensions.k8s.io/v1"},
			"HelmVersion": map[string]interface{}{"Version": "v3"},
		},
		"Files": map[string]interface{}{},
	}

	entries, err := os.ReadDir(filepath.Join(chartDir, "templates"))
	if err != nil {
		fail("%v", err)
	}
	r := &renderer{basePath: basePath, top: top}
	r.t = template.New("gotpl").Option("missingkey=zero")
	r.t.Funcs(r.funcs())
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(chartDir, "templates", e.Name()))
		if err != nil {
			fail("%v", err)
		}
		full := path.Join(basePath, e.Name())
		if _, err := r.t.New(full).Parse(string(b)); err != nil {
			fail("parse error at (%s): %v", full, err)
		}
		names = append(names, full)
	}
	sort.Strings(names)

	var out bytes.Buffer
	if includeCRDs {
		crds, _ := os.ReadDir(filepath.Join(chartDir, "crds"))
		for _, e := range crds {
			if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(chartDir, "crds", e.Name()))
			if err != nil {
				fail("%v", err)
			}
			fmt.Fprintf(&out, "---\n# Source: %s/crds/%s\n%s\n", meta.Name, e.Name(), strings.TrimSpace(string(b)))
		}
	}
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": n, "BasePath": basePath}
		var b bytes.Buffer
		if err := r.t.ExecuteTemplate(&b, n, data); err != nil {
			fail("%v", err)
		}
		text := strings.ReplaceAll(b.String(), "<no value>", "")
		if base == "NOTES.txt" || strings.TrimSpace(text) == "" {
			continue
		}
		if !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") && !strings.HasSuffix(base, ".tpl") {
			continue
		}
		// a template may hold several documents; each is printed with its source
		for _, doc := range splitDocs(text) {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, doc)
		}
	}
	os.Stdout.Write(out.Bytes())
}

// splitDocs splits rendered YAML at "---" lines and drops empty documents,
// as Helm's releaseutil.SplitManifests does.
func splitDocs(s string) []string {
	var out []string
	for _, d := range strings.Split("\n"+s, "\n---") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		// the separator line may carry a comment or trailing text
		if nl := strings.IndexByte(d, '\n'); nl >= 0 && strings.TrimSpace(d[:nl]) == "" {
			d = d[nl+1:]
		} else if nl >= 0 {
			d = d[nl+1:]
		}
		d = strings.TrimRight(d, "\n ")
		d = strings.TrimLeft(d, "\n")
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}
