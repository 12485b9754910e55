/* A small HTTP/1.1 server for the probe and metrics endpoints: one thread,
 * poll() over the listening sockets and a self-pipe; one request per
 * connection (Connection: close), requests capped at 8 KiB, a 2 s read
 * deadline per connection. */
#include "manager/probes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "util/log.h"
#include "util/mem.h"

#define REQ_MAX 8192

struct probes {
	int lfd[2];        /* 0 metrics, 1 health */
	int port[2];
	int wake[2];
	pthread_t thread;
	bool running;
	bool (*ready)(void *);
	void *ctx;
};

static int listen_on(const char *addr, int *fd_out, int *port_out, char **errmsg)
{
	*fd_out = -1;
	*port_out = 0;
	if (!addr || !*addr || strcmp(addr, "0") == 0)
		return 0;
	const char *colon = strrchr(addr, ':');
	char host[64] = "";
	const char *portstr = addr;
	if (colon) {
		size_t hl = (size_t)(colon - addr);
		if (hl >= sizeof host) {
			*errmsg = xasprintf("bad bind address %s", addr);
			return -EINVAL;
		}
		memcpy(host, addr, hl);
		host[hl] = 0;
		portstr = colon + 1;
	}
	char *end;
	long port = strtol(portstr, &end, 10);
	if (!*portstr || *end || port < 0 || port > 65535) {
		*errmsg = xasprintf("bad bind address %s", addr);
		return -EINVAL;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (!*host || strcmp(host, "0.0.0.0") == 0) {
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (strcmp(host, "localhost") == 0) {
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		*errmsg = xasprintf("bad bind address %s", addr);
		return -EINVAL;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*errmsg = xasprintf("socket: %s", strerror(errno));
		return -errno;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 64)) {
		int e = errno;
		*errmsg = xasprintf("cannot listen on %s: %s", addr, strerror(e));
		close(fd);
		return -e;
	}
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port_out = ntohs(sa.sin_port);
	*fd_out = fd;
	return 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int code, const char *ctype, const char *body)
{
	const char *status = code == 200 ? "OK" : code == 404 ? "Not Found" : code == 405 ? "Method Not Allowed"
		: code == 503 ? "Service Unavailable" : "Bad Request";
	size_t bl = strlen(body);
	char *hdr = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			      code, status, ctype, bl);
	write_all(fd, hdr, strlen(hdr));
	write_all(fd, body, bl);
	free(hdr);
}

static void serve(struct probes *p, int fd, bool metrics)
{
	char req[REQ_MAX + 1];
	size_t len = 0;
	/* read the request head (2 s budget) */
	while (len < REQ_MAX) {
		struct pollfd pf = {fd, POLLIN, 0};
		if (poll(&pf, 1, 2000) <= 0)
			return;
		ssize_t r = read(fd, req + len, REQ_MAX - len);
		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = 0;
	char method[8] = "", path[256] = "";
	if (sscanf(req, "%7s %255s", method, path) != 2) {
		respond(fd, 400, "text/plain", "bad request\n");
		return;
	}
	char *q = strchr(path, '?');
	if (q)
		*q = 0;
	bool head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		respond(fd, 405, "text/plain", "method not allowed\n");
		return;
	}
	if (metrics && strcmp(path, "/metrics") == 0) {
		char *text = NULL;
		if (metrics_render(NULL, &text) == 0) {
			respond(fd, 200, METRICS_CONTENT_TYPE, head ? "" : text);
			free(text);
		} else {
			respond(fd, 503, "text/plain", "metrics unavailable\n");
		}
	} else if (!metrics && strcmp(path, "/healthz") == 0) {
		respond(fd, 200, "text/plain", "ok\n");
	} else if (!metrics && strcmp(path, "/readyz") == 0) {
		bool r = p->ready ? p->ready(p->ctx) : true;
		respond(fd, r ? 200 : 503, "text/plain", r ? "ok\n" : "caches not synced\n");
	} else {
		respond(fd, 404, "text/plain", "not found\n");
	}
}

static void *run(void *arg)
{
	struct probes *p = arg;
	for (;;) {
		struct pollfd pf[3] = {{p->wake[0], POLLIN, 0}, {p->lfd[0], POLLIN, 0}, {p->lfd[1], POLLIN, 0}};
		int n = poll(pf, 3, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (pf[0].revents & POLLIN))
			break;
		for (int i = 0; i < 2; i++) {
			if (!(pf[i + 1].revents & POLLIN))
				continue;
			int c = accept4(p->lfd[i], NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			serve(p, c, i == 0);
			close(c);
		}
	}
	return NULL;
}

int probes_start(const struct probes_opts *o, struct probes **out, char **errmsg)
{
	struct probes *p = xcalloc(1, sizeof(*p));
	p->lfd[0] = p->lfd[1] = p->wake[0] = p->wake[1] = -1;
	p->ready = o->ready;
	p->ctx = o->ctx;
	int rc = listen_on(o->metrics_bind, &p->lfd[0], &p->port[0], errmsg);
	if (!rc)
		rc = listen_on(o->health_bind, &p->lfd[1], &p->port[1], errmsg);
	if (!rc && pipe2(p->wake, O_CLOEXEC))
		rc = -errno;
	if (!rc)
		rc = -pthread_create(&p->thread, NULL, run, p);
	if (rc) {
		probes_free(p);
		return rc;
	}
	p->running = true;
	if (p->port[0])
		LOG_INFO("metrics server listening", "addr=%s port=%d", o->metrics_bind, p->port[0]);
	if (p->port[1])
		LOG_INFO("health probe server listening", "addr=%s port=%d", o->health_bind, p->port[1]);
	*out = p;
	return 0;
}

int probes_port(struct probes *p, bool metrics)
{
	return p ? p->port[metrics ? 0 : 1] : 0;
}

void probes_stop(struct probes *p)
{
	if (!p || !p->running)
		return;
	write_all(p->wake[1], "x", 1);
	pthread_join(p->thread, NULL);
	p->running = false;
}

void probes_free(struct probes *p)
{
	if (!p)
		return;
	probes_stop(p);
	for (int i = 0; i < 2; i++) {
		if (p->lfd[i] >= 0)
			close(p->lfd[i]);
		if (p->wake[i] >= 0)
			close(p->wake[i]);
	}
	free(p);
}
