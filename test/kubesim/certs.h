/* In-process TLS material for kubesim --tls: a throw-away CA, a server
 * certificate for 127.0.0.1/localhost and a client certificate
 * (CN=kubesim-admin, O=system:masters), all ECDSA P-256, valid for a day.
 * Nothing is written to disk except through the kubeconfig. */
#ifndef KUBESIM_CERTS_H
#define KUBESIM_CERTS_H

#include <openssl/ssl.h>

struct certs {
	char *ca_pem;
	char *server_cert_pem, *server_key_pem;
	char *client_cert_pem, *client_key_pem;
};

int certs_generate(struct certs *c);
void certs_cleanup(struct certs *c);
/* A server context using the generated pair. verify_clients: ask for a client
 * certificate and verify it against the CA when one is sent (a missing one is
 * left to the HTTP layer: 401). Caller SSL_CTX_free()s. */
SSL_CTX *certs_server_ctx(const struct certs *c, int verify_clients);

#endif
