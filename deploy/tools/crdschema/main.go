// Command crdschema writes the JSON schemas that `make deploy-validate` gives kubeconform,
// from the CustomResourceDefinitions of an Agones release (install/yaml/install.yaml):
//
//	go run ./crdschema -o ../schemas -kinds Fleet,FleetAutoscaler,GameServer agones-install.yaml
//
// Each CRD version's openAPIV3Schema becomes {out}/{group}/{kind}_{version}.json (kind in
// lower case: kubeconform's {{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json) in the
// way of kubeconform's openapi2jsonschema.py, made strict: every object that lists its
// properties allows no others (unless x-kubernetes-preserve-unknown-fields), nullable fields
// accept null, int-or-string accepts either, and the root admits apiVersion, kind and metadata
// with the CRD's own apiVersion and kind. Descriptions are dropped (the schemas validate;
// they do not document).
//
// The cluster's own kinds have no schema here (the Kubernetes OpenAPI is not reachable from
// our machines), except Deployment: apps/deployment_v1.json is the DeploymentSpec's fields
// around the PodTemplateSpec and LabelSelector schemas that the Fleet CRD embeds (both are
// Kubernetes' own, as Agones generates them), so a lobby's pod template is checked as
// strictly as a game server's.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

func main() {
	out := flag.String("o", "schemas", "output `directory`")
	kinds := flag.String("kinds", "", "comma-separated CRD kinds to write (default: all)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: crdschema [-o DIR] [-kinds K1,K2] CRDS.yaml")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out, *kinds); err != nil {
		fmt.Fprintln(os.Stderr, "crdschema:", err)
		os.Exit(1)
	}
}

func run(in, out, kindList string) error {
	crds, err := readCRDs(in)
	if err != nil {
		return err
	}
	want := func(kind string) bool { return kindList == "" || slices.Contains(strings.Split(kindList, ","), kind) }
	for _, crd := range crds {
		group, kind := str(crd, "spec", "group"), str(crd, "spec", "names", "kind")
		for _, v := range list(crd, "spec", "versions") {
			version := str(v, "name")
			schema, ok := field(v, "schema", "openAPIV3Schema").(map[string]any)
			if !ok {
				continue
			}
			if kind == "Fleet" {
				if err := writeDeployment(out, schema); err != nil {
					return err
				}
			}
			if !want(kind) {
				continue
			}
			if err := write(out, group, kind, version, root(convert(schema), group+"/"+version, kind)); err != nil {
				return err
			}
		}
	}
	return nil
}

// readCRDs returns the CustomResourceDefinitions among the file's YAML documents.
func readCRDs(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var crds []map[string]any
	dec := yaml.NewDecoder(f)
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if str(d, "kind") == "CustomResourceDefinition" {
			crds = append(crds, d)
		}
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("%s: no CustomResourceDefinition", path)
	}
	return crds, nil
}

// convert returns a JSON schema (draft 4, kubeconform's default) for an OpenAPI v3 schema.
func convert(s map[string]any) map[string]any {
	if s["format"] == "int-or-string" || s["x-kubernetes-int-or-string"] == true {
		return map[string]any{"anyOf": []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}}
	}
	c := map[string]any{}
	for k, v := range s {
		switch {
		case k == "description" || k == "title" || k == "nullable" || strings.HasPrefix(k, "x-kubernetes-"):
		case k == "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = convert(p.(map[string]any))
			}
			c[k] = props
		case k == "items" || k == "not" || (k == "additionalProperties" && isMap(v)):
			c[k] = convert(v.(map[string]any))
		case k == "anyOf" || k == "oneOf" || k == "allOf":
			var alts []any
			for _, a := range v.([]any) {
				alts = append(alts, convert(a.(map[string]any)))
			}
			c[k] = alts
		default:
			c[k] = v
		}
	}
	if _, ok := s["properties"]; ok && s["x-kubernetes-preserve-unknown-fields"] != true {
		if _, set := s["additionalProperties"]; !set {
			c["additionalProperties"] = false
		}
	}
	if s["nullable"] == true {
		if t, ok := c["type"].(string); ok {
			c["type"] = []any{t, "null"}
		}
	}
	return c
}

// root makes the top of a resource's schema strict too: apiVersion and kind are the ones
// given, metadata is an object, and nothing else is allowed beside the schema's own fields.
func root(s map[string]any, apiVersion, kind string) map[string]any {
	props, _ := s["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
	props["kind"] = map[string]any{"type": "string", "enum": []any{kind}}
	if _, ok := props["metadata"]; !ok {
		props["metadata"] = map[string]any{"type": "object"}
	}
	s["properties"] = props
	s["additionalProperties"] = false
	required, _ := s["required"].([]any)
	s["required"] = append([]any{"apiVersion", "kind"}, required...)
	return s
}

// writeDeployment writes apps/deployment_v1.json from the Fleet's embedded PodTemplateSpec
// (spec.template.spec.template) and LabelSelector (the pod template's pod affinity term
// selector): the fields of apps/v1 DeploymentSpec and DeploymentStrategy around them.
func writeDeployment(out string, fleet map[string]any) error {
	gsSpec := field(fleet, "properties", "spec", "properties", "template", "properties", "spec")
	podTemplate, ok := field(gsSpec, "properties", "template").(map[string]any)
	selector, ok2 := field(podTemplate, "properties", "spec", "properties", "affinity", "properties", "podAffinity",
		"properties", "requiredDuringSchedulingIgnoredDuringExecution", "items", "properties", "labelSelector").(map[string]any)
	if !ok || !ok2 {
		return errors.New("the Fleet CRD has no pod template or label selector schema where expected")
	}
	integer := map[string]any{"type": "integer"}
	intOrString := map[string]any{"x-kubernetes-int-or-string": true}
	spec := map[string]any{
		"type":     "object",
		"required": []any{"selector", "template"},
		"properties": map[string]any{
			"replicas":                integer,
			"selector":                selector,
			"template":                podTemplate,
			"minReadySeconds":         integer,
			"revisionHistoryLimit":    integer,
			"progressDeadlineSeconds": integer,
			"paused":                  map[string]any{"type": "boolean"},
			"strategy": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"type": map[string]any{"type": "string", "enum": []any{"Recreate", "RollingUpdate"}},
					"rollingUpdate": map[string]any{
						"type":       "object",
						"properties": map[string]any{"maxSurge": intOrString, "maxUnavailable": intOrString},
					},
				},
			},
		},
	}
	d := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"metadata": field(podTemplate, "properties", "metadata"),
			"spec":     spec,
			"status":   map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
		},
	}
	return write(out, "apps", "Deployment", "v1", root(convert(d), "apps/v1", "Deployment"))
}

func write(out, group, kind, version string, schema map[string]any) error {
	b, err := json.MarshalIndent(schema, "", " ")
	if err != nil {
		return err
	}
	path := filepath.Join(out, group, strings.ToLower(kind)+"_"+version+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

// field walks nested mappings by key; nil when a step is missing.
func field(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string { s, _ := field(v, path...).(string); return s }
func list(v any, path ...string) []any { l, _ := field(v, path...).([]any); return l }
