/* Watch streams multiplexed on one curl-multi thread (see watch.h).
 *
 * Threads: kube_watch_start/stop run on any thread and only touch the
 * pending/stop flags under m->mu, then wake the mux thread with
 * curl_multi_wakeup(); every curl_multi_* call except the wakeup happens on
 * the mux thread. Event and done callbacks run on the mux thread, never
 * after kube_watch_stop() has returned. */
#include "kube/watch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/client_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define WATCH_LINE_MAX (32u << 20)    /* one event (object) */
#define WATCH_ERRBODY_MAX (64u << 10)
#define RV_MAX 128

enum wstate { W_PENDING, W_ACTIVE, W_DONE };

struct kube_watch {
	struct kube_watch_mux *m;
	struct kube_client *c;
	struct kube_resource res;   /* labels for the hook */
	char *resource;
	char *path;
	CURL *h;
	struct curl_slist *hl;
	kube_watch_event_cb on_event;
	kube_watch_done_cb on_done;
	void *ctx;
	struct buf line;
	struct buf errbody;
	long http;
	bool decode_failed;
	char decode_msg[160];
	char last_rv[RV_MAX];   /* under m->mu */
	enum wstate state;      /* mux thread */
	bool stop_requested;    /* under m->mu */
	bool stopped;           /* under m->mu: the mux thread let go of it */
	bool self_free;         /* stop was called on the mux thread */
	struct kube_watch *next;
};

struct kube_watch_mux {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	CURLM *multi;
	bool quit;
	struct kube_watch *all;
};

static void watch_destroy(struct kube_watch *w)
{
	if (w->h)
		curl_easy_cleanup(w->h);
	curl_slist_free_all(w->hl);
	buf_cleanup(&w->line);
	buf_cleanup(&w->errbody);
	free(w->resource);
	free(w->path);
	free(w);
}

static bool stop_flag(struct kube_watch *w)
{
	pthread_mutex_lock(&w->m->mu);
	bool s = w->stop_requested;
	pthread_mutex_unlock(&w->m->mu);
	return s;
}

static enum kube_watch_type parse_type(const char *s, bool *ok)
{
	*ok = true;
	if (strcmp(s, "ADDED") == 0)
		return KUBE_WATCH_ADDED;
	if (strcmp(s, "MODIFIED") == 0)
		return KUBE_WATCH_MODIFIED;
	if (strcmp(s, "DELETED") == 0)
		return KUBE_WATCH_DELETED;
	if (strcmp(s, "BOOKMARK") == 0)
		return KUBE_WATCH_BOOKMARK;
	if (strcmp(s, "ERROR") == 0)
		return KUBE_WATCH_ERROR;
	*ok = false;
	return KUBE_WATCH_ERROR;
}

/* One complete line (not NUL-terminated). 0, or -1 to abort the stream. */
static int handle_line(struct kube_watch *w, const char *p, size_t n)
{
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (n == 0)
		return 0;
	struct json_tokener *tok = json_tokener_new_ex(512);
	json_object *ev = json_tokener_parse_ex(tok, p, (int)n);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	json_object *t, *obj = NULL, *meta, *rv;
	bool ok = false;
	enum kube_watch_type type = KUBE_WATCH_ERROR;
	if (jerr == json_tokener_success && ev && json_object_object_get_ex(ev, "type", &t) &&
	    json_object_is_type(t, json_type_string) && json_object_object_get_ex(ev, "object", &obj) &&
	    json_object_is_type(obj, json_type_object))
		type = parse_type(json_object_get_string(t), &ok);
	if (!ok) {
		snprintf(w->decode_msg, sizeof(w->decode_msg), "watch %s: undecodable event (%zu bytes)", w->resource, n);
		json_object_put(ev);
		return -1;
	}
	const char *rvs = NULL;
	if (json_object_object_get_ex(obj, "metadata", &meta) && json_object_object_get_ex(meta, "resourceVersion", &rv) &&
	    json_object_is_type(rv, json_type_string))
		rvs = json_object_get_string(rv);
	if (rvs && type != KUBE_WATCH_ERROR && strlen(rvs) < RV_MAX) {
		pthread_mutex_lock(&w->m->mu);
		strcpy(w->last_rv, rvs);
		pthread_mutex_unlock(&w->m->mu);
	}
	if (!stop_flag(w)) {
		struct kube_watch_event e = { .type = type, .object = obj, .resource_version = rvs };
		w->on_event(w->ctx, &e);
	}
	json_object_put(ev);
	return 0;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
	struct kube_watch *w = ud;
	size_t len = sz * n, total = len;
	if (w->http == 0)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http);
	if (w->http < 200 || w->http > 299) {
		buf_append(&w->errbody, p, len);   /* truncated beyond the cap: fine for a Status */
		return total;
	}
	if (stop_flag(w))
		return 0;
	while (len) {
		char *nl = memchr(p, '\n', len);
		if (!nl) {
			if (buf_append(&w->line, p, len) < 0)
				goto too_long;
			break;
		}
		size_t k = (size_t)(nl - p);
		int rc;
		if (w->line.len == 0) {
			if (k > w->line.max)
				goto too_long;
			rc = handle_line(w, p, k);
		} else {
			if (buf_append(&w->line, p, k) < 0)
				goto too_long;
			rc = handle_line(w, w->line.data, w->line.len);
			buf_reset(&w->line);
		}
		if (rc < 0) {
			w->decode_failed = true;
			return 0;
		}
		p += k + 1;
		len -= k + 1;
	}
	return total;
too_long:
	w->decode_failed = true;
	snprintf(w->decode_msg, sizeof(w->decode_msg), "watch %s: event larger than %zu bytes", w->resource,
		 w->line.max);
	return 0;
}

static void finish(struct kube_watch *w, CURLcode cc)
{
	struct kube_error err = { 0 };
	int rc = 0;
	long http = 0;
	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &http);
	kube__hook(w->c, "WATCH", &w->res, cc == CURLE_OK || http ? (int)http : 0);
	if (w->decode_failed) {
		rc = kube_error_set(&err, KUBE_ERR_DECODE, "%s", w->decode_msg);
	} else if (http && (http < 200 || http > 299)) {
		json_object *st = NULL;
		if (w->errbody.len) {
			struct json_tokener *tok = json_tokener_new_ex(64);
			st = json_tokener_parse_ex(tok, w->errbody.data, (int)w->errbody.len);
			json_tokener_free(tok);
		}
		rc = kube_error_from_status((int)http, st, &err);
		json_object_put(st);
		if (http == 401)
			kube_config_auth_invalidate(kube_client_config(w->c));
	} else if (cc != CURLE_OK) {
		rc = kube_error_set(&err, cc == CURLE_OPERATION_TIMEDOUT ? KUBE_ERR_TIMEOUT : KUBE_ERR_UNAVAILABLE,
				    "watch %s: %s", w->resource, curl_easy_strerror(cc));
	} else if (w->line.len) {
		/* the stream ended inside an event: treat the tail as a final line */
		if (handle_line(w, w->line.data, w->line.len) < 0)
			rc = kube_error_set(&err, KUBE_ERR_DECODE, "%s", w->decode_msg);
		buf_reset(&w->line);
	}
	LOG_DEBUG("watch ended", "resource=%s code=%ld rc=%d", w->resource, http, rc);
	if (!stop_flag(w))
		w->on_done(w->ctx, rc, rc < 0 ? &err : NULL);
	kube_error_clear(&err);
}

/* Apply pending adds and stops. Called with m->mu held. */
static void process_pending(struct kube_watch_mux *m)
{
	struct kube_watch **pp = &m->all;
	while (*pp) {
		struct kube_watch *w = *pp;
		if (w->stop_requested && !w->stopped) {
			if (w->state == W_ACTIVE)
				curl_multi_remove_handle(m->multi, w->h);
			w->state = W_DONE;
			w->stopped = true;
			if (w->self_free) {
				*pp = w->next;
				watch_destroy(w);
				continue;
			}
			pthread_cond_broadcast(&m->cv);
		} else if (w->state == W_PENDING && !w->stop_requested) {
			curl_multi_add_handle(m->multi, w->h);
			w->state = W_ACTIVE;
		}
		pp = &w->next;
	}
}

static void *mux_main(void *arg)
{
	struct kube_watch_mux *m = arg;
	pthread_mutex_lock(&m->mu);
	while (!m->quit) {
		process_pending(m);
		pthread_mutex_unlock(&m->mu);

		int running = 0;
		curl_multi_perform(m->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct kube_watch *w = NULL;
			CURLcode cc = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
			curl_multi_remove_handle(m->multi, msg->easy_handle);
			w->state = W_DONE;
			finish(w, cc);
		}
		curl_multi_poll(m->multi, NULL, 0, 1000, NULL);
		pthread_mutex_lock(&m->mu);
	}
	/* shutting down: let go of every handle */
	for (struct kube_watch *w = m->all; w; w = w->next) {
		if (w->state == W_ACTIVE)
			curl_multi_remove_handle(m->multi, w->h);
		w->state = W_DONE;
		w->stopped = true;
	}
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

int kube_watch_mux_new(struct kube_watch_mux **out)
{
	kube__curl_global();
	struct kube_watch_mux *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	m->multi = curl_multi_init();
	if (!m->multi)
		abort();
	if (pthread_create(&m->th, NULL, mux_main, m) != 0) {
		curl_multi_cleanup(m->multi);
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		free(m);
		*out = NULL;
		return -1;
	}
	*out = m;
	return 0;
}

void kube_watch_mux_free(struct kube_watch_mux *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->quit = true;
	for (struct kube_watch *w = m->all; w; w = w->next)
		w->stop_requested = true;
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);
	pthread_join(m->th, NULL);
	while (m->all) {
		struct kube_watch *w = m->all;
		m->all = w->next;
		watch_destroy(w);
	}
	curl_multi_cleanup(m->multi);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

int kube_watch_start(struct kube_watch_mux *m, struct kube_client *c, const struct kube_resource *r, const char *ns,
		     const struct kube_watch_opts *o, kube_watch_event_cb on_event, kube_watch_done_cb on_done,
		     void *ctx, struct kube_watch **out, struct kube_error *err)
{
	*out = NULL;
	if (!on_event || !on_done)
		return kube_error_set(err, KUBE_ERR_BAD_REQUEST, "watch: callbacks are required");
	struct kube_watch *w = xcalloc(1, sizeof(*w));
	w->m = m;
	w->c = c;
	w->resource = xstrdup(r->resource);
	w->res = *r;
	w->res.resource = w->resource;
	w->on_event = on_event;
	w->on_done = on_done;
	w->ctx = ctx;
	buf_init(&w->line, o && o->max_event_bytes ? o->max_event_bytes : WATCH_LINE_MAX);
	buf_init(&w->errbody, WATCH_ERRBODY_MAX);

	struct buf b;
	buf_init(&b, 0);
	char *p = kube_resource_path(r, ns, NULL, NULL);
	buf_puts(&b, p);
	free(p);
	kube__query(&b, "watch", "1");
	if (o && o->resource_version && o->resource_version[0]) {
		kube__query(&b, "resourceVersion", o->resource_version);
		if (strlen(o->resource_version) < RV_MAX)
			strcpy(w->last_rv, o->resource_version);
	}
	if (o && o->allow_bookmarks)
		kube__query(&b, "allowWatchBookmarks", "true");
	if (o && o->timeout_seconds > 0) {
		char t[24];
		snprintf(t, sizeof(t), "%d", o->timeout_seconds);
		kube__query(&b, "timeoutSeconds", t);
	}
	if (o && o->label_selector && o->label_selector[0])
		kube__query(&b, "labelSelector", o->label_selector);
	if (o && o->field_selector && o->field_selector[0])
		kube__query(&b, "fieldSelector", o->field_selector);
	w->path = buf_take(&b, NULL);

	kube__rate_wait(c);
	w->h = curl_easy_init();
	if (!w->h)
		abort();
	int rc = kube__easy_setup(c, w->h, "GET", w->path, NULL, &w->hl, err);
	if (rc < 0) {
		watch_destroy(w);
		return rc;
	}
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->h, CURLOPT_PRIVATE, (char *)w);
	/* Watches are long-lived: no overall timeout except a guard past the
	 * server-side one; TCP keepalive notices dead peers. */
	if (o && o->timeout_seconds > 0)
		curl_easy_setopt(w->h, CURLOPT_TIMEOUT, (long)o->timeout_seconds + 60L);
	curl_easy_setopt(w->h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(w->h, CURLOPT_TCP_KEEPINTVL, 15L);

	pthread_mutex_lock(&m->mu);
	w->state = W_PENDING;
	w->next = m->all;
	m->all = w;
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);
	*out = w;
	if (err)
		kube_error_clear(err);
	return 0;
}

void kube_watch_stop(struct kube_watch *w)
{
	if (!w)
		return;
	struct kube_watch_mux *m = w->m;
	pthread_mutex_lock(&m->mu);
	if (pthread_equal(pthread_self(), m->th)) {
		/* From a callback: the loop lets go of it and frees it. */
		w->stop_requested = true;
		w->self_free = true;
		pthread_mutex_unlock(&m->mu);
		return;
	}
	w->stop_requested = true;
	pthread_mutex_unlock(&m->mu);
	curl_multi_wakeup(m->multi);
	pthread_mutex_lock(&m->mu);
	while (!w->stopped)
		pthread_cond_wait(&m->cv, &m->mu);
	for (struct kube_watch **pp = &m->all; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	watch_destroy(w);
}

void kube_watch_last_rv(struct kube_watch *w, char *out, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&w->m->mu);
	snprintf(out, n, "%s", w->last_rv);
	pthread_mutex_unlock(&w->m->mu);
}
