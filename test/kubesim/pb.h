/* Decoding of the Kubernetes protobuf envelope for the few built-in kinds
 * kubectl's typed clients send as protobuf (kubectl create namespace /
 * configmap / secret / serviceaccount): "k8s\0" + runtime.Unknown{typeMeta,
 * raw}. Other kinds => -ENOTSUP (answered 415). Every length is bounded by
 * the input. */
#ifndef KUBESIM_PB_H
#define KUBESIM_PB_H

#include <stddef.h>

#include <json-c/json.h>

int pb_decode_object(const unsigned char *p, size_t n, json_object **out);

#endif
