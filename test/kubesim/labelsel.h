/* Label and field selectors in their query-string forms, for list and watch
 * filtering in kubesim.
 *
 * Labels:  "a=b,a==b,c!=d,e in (x,y),f notin (z),g,!h" (every requirement
 *          must hold; != and notin also match when the label is absent).
 * Fields:  "metadata.name=x,metadata.namespace!=y,status.phase==Bound": a
 *          dotted path to a string, number or bool; =, == and != only (what the
 *          apiserver supports); a missing field compares as "".
 * An empty or NULL selector matches everything. Parse errors return -EINVAL
 * with a malloc'd message in *err (caller frees). */
#ifndef KUBESIM_LABELSEL_H
#define KUBESIM_LABELSEL_H

#include <json-c/json.h>

struct labelsel;

int labelsel_parse(const char *s, struct labelsel **out, char **err);
/* labels: the metadata.labels object (borrowed, NULL = none). */
int labelsel_match(const struct labelsel *sel, json_object *labels);
void labelsel_free(struct labelsel *sel);

struct fieldsel;

int fieldsel_parse(const char *s, struct fieldsel **out, char **err);
/* obj: the whole object (borrowed). */
int fieldsel_match(const struct fieldsel *sel, json_object *obj);
void fieldsel_free(struct fieldsel *sel);

#endif
