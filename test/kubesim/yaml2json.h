/* YAML (one document) to json-c, for application/apply-patch+yaml bodies.
 * Plain scalars are typed the YAML 1.2 core-schema way (null, true/false,
 * integers, floats); quoted scalars stay strings. Anchors/aliases and tags
 * are not supported (-EINVAL). */
#ifndef KUBESIM_YAML2JSON_H
#define KUBESIM_YAML2JSON_H

#include <stddef.h>

#include <json-c/json.h>

/* 0 and *out (caller puts) or -EINVAL. Input capped at len bytes. */
int yaml_to_json(const char *text, size_t len, json_object **out);

/* As yaml_to_json, with the escapes of the decoder the apiserver uses for
 * application/apply-patch+yaml (sigs.k8s.io/yaml over go-yaml v2): in a
 * double-quoted scalar only \0 \a \b \t \<TAB> \n \v \f \r \e \<SP> \"
 * \' \\ \N \_ \L \P \xXX \uXXXX \UXXXXXXXX and escaped line breaks are
 * known; libyaml also knows \/, go-yaml v2 does not. On failure *err (caller
 * frees) is go-yaml's message, e.g. "yaml: found unknown escape character"
 * or "yaml: line 3: found unknown escape character". */
int yaml_to_json_k8s(const char *text, size_t len, json_object **out, char **err);

#endif
