#include "certs.h"

#include <errno.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/mem.h"

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static char *bio_take(BIO *b)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	char *s = xstrndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

static char *cert_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	return bio_take(b);
}

static char *key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	return bio_take(b);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

/* issuer/issuer_key NULL => self-signed. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *org, X509 *issuer, EVP_PKEY *issuer_key,
		       int is_ca, int server)
{
	X509 *x = X509_new();
	X509_set_version(x, 2);
	unsigned char serial[16];
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	if (org)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509 *iss = issuer ? issuer : x;
	if (is_ca) {
		add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
		add_ext(x, iss, NID_subject_key_identifier, "hash");
	} else {
		add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
		add_ext(x, iss, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
		add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
		if (server)
			add_ext(x, iss, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int certs_generate(struct certs *c)
{
	memset(c, 0, sizeof(*c));
	int rc = -EIO;
	EVP_PKEY *cak = new_key(), *sk = new_key(), *ck = new_key();
	X509 *ca = NULL, *sc = NULL, *cc = NULL;
	if (!cak || !sk || !ck)
		goto out;
	ca = make_cert(cak, "kubesim-ca", NULL, NULL, NULL, 1, 0);
	sc = ca ? make_cert(sk, "kubesim", NULL, ca, cak, 0, 1) : NULL;
	cc = ca ? make_cert(ck, "kubesim-admin", "system:masters", ca, cak, 0, 0) : NULL;
	if (!ca || !sc || !cc)
		goto out;
	c->ca_pem = cert_pem(ca);
	c->server_cert_pem = cert_pem(sc);
	c->server_key_pem = key_pem(sk);
	c->client_cert_pem = cert_pem(cc);
	c->client_key_pem = key_pem(ck);
	rc = 0;
out:
	X509_free(ca);
	X509_free(sc);
	X509_free(cc);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(ck);
	return rc;
}

void certs_cleanup(struct certs *c)
{
	free(c->ca_pem);
	free(c->server_cert_pem);
	free_secret(c->server_key_pem);
	free(c->client_cert_pem);
	free_secret(c->client_key_pem);
	memset(c, 0, sizeof(*c));
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

SSL_CTX *certs_server_ctx(const struct certs *c, int verify_clients)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	X509 *sc = pem_cert(c->server_cert_pem);
	BIO *kb = BIO_new_mem_buf(c->server_key_pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	BIO_free(kb);
	int ok = sc && k && SSL_CTX_use_certificate(ctx, sc) == 1 && SSL_CTX_use_PrivateKey(ctx, k) == 1;
	X509_free(sc);
	EVP_PKEY_free(k);
	if (ok && verify_clients) {
		X509 *ca = pem_cert(c->ca_pem);
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		ok = ca && X509_STORE_add_cert(st, ca) == 1;
		if (ok) {
			STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
			sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
			SSL_CTX_set_client_CA_list(ctx, names);
		}
		X509_free(ca);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"kubesim", 7);
	}
	if (!ok) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
