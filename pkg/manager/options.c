#include "manager/options.h"

#include <string.h>

void operator_options_defaults(struct operator_options *o)
{
	memset(o, 0, sizeof(*o));
	o->metrics_bind_address = ":8080";
	o->health_probe_bind_address = ":8081";
	o->leader_election_id = "modelcache-operator.modelcache.dev";
	o->workers = 2;
	o->qps = 20;
	o->burst = 30;
	o->log_format = "text";
	o->log_level = "info";
	o->hydrator_image = "modelcache-operator:" MC_VERSION;
	o->webhook_port = 9443;
	o->webhook_cert_dir = "/tmp/k8s-webhook-server/serving-certs";
	o->default_cache_size = "100Gi";
	o->ic_recheck_seconds = 30;
	o->resync_seconds = 30;
	o->hydration_retry_base_seconds = 60;
}
