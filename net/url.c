/*
 * url.c - the HSM's URL: checked (HTTPS, or HTTP to a loopback address only)
 * and made from an HSM name.  Parsed by libcurl's URL API, as requests are.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "net.h"

/* --- URLs ---------------------------------------------------------------- */

static int
is_loopback(const char *host)
{
	struct in_addr a4;

	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

int
net_url_check(const char *url, char **out, struct sd_err *e)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *path = NULL, *query = NULL;
	char *user = NULL, *port = NULL, *s = NULL;
	char shown[128];
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	net_printable(url, strlen(url), shown, sizeof(shown));
	if ((u = curl_url()) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		r = sd_err_set(e, SD_ERR_ARG, "%s: not a URL (expected "
		    "https://HOST)", shown);
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_PATH, &path, 0);
	(void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
	(void)curl_url_get(u, CURLUPART_USER, &user, 0);
	(void)curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (strcmp(scheme, "https") != 0 &&
	    !(strcmp(scheme, "http") == 0 && is_loopback(host))) {
		r = sd_err_set(e, SD_ERR_ARG, "%s: only https:// is allowed "
		    "(http:// only to a loopback address, for the simulator)",
		    shown);
		goto out;
	}
	if ((path != NULL && strcmp(path, "/") != 0 && *path != '\0') ||
	    query != NULL || user != NULL) {
		r = sd_err_set(e, SD_ERR_ARG, "%s: give only the HSM's base URL, "
		    "https://HOST[:PORT], without a path, query or user name",
		    shown);
		goto out;
	}
	if (asprintf(&s, "%s://%s%s%s", scheme, host, port ? ":" : "",
	    port ? port : "") == -1) {
		s = NULL;
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
 out:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_free(port);
	curl_url_cleanup(u);
	free(s);
	return r;
}

int
net_url_for_name(const char *name, char **out, struct sd_err *e)
{
	char shown[64];
	size_t i, n = strlen(name);

	*out = NULL;
	net_printable(name, n, shown, sizeof(shown));
	if (n < 3 || n > 24)
		return sd_err_set(e, SD_ERR_ARG, "--hsm-name %s: a Managed HSM "
		    "name has 3 to 24 characters", shown);
	for (i = 0; i < n; i++)
		if (!isascii((unsigned char)name[i]) ||
		    !(isalnum((unsigned char)name[i]) || name[i] == '-'))
			return sd_err_set(e, SD_ERR_ARG, "--hsm-name %s: only "
			    "letters, digits and hyphens are allowed (for "
			    "another cloud or a private endpoint, use "
			    "--hsm-url)", shown);
	if (asprintf(out, "https://%s.managedhsm.azure.net", name) == -1) {
		*out = NULL;
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	return 0;
}

int
net_url_status(const char *base, const char *url, const char *api_version,
    char **out, struct sd_err *e)
{
	struct sd_err e2 = { "" };
	CURLU *u = NULL;
	char *path = NULL, *query = NULL, *origin = NULL, *s = NULL;
	char *cut = NULL;
	const char *q;
	int r = SD_ERR_INTERNAL, has_version = 0;

	*out = NULL;
	/* the origin, normalised as the base was */
	if ((u = curl_url()) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		r = sd_err_set(e, SD_ERR_ARG, "the status URL is not a URL");
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
	if ((cut = strdup(url)) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	/* scheme://authority only, for net_url_check */
	if ((q = strstr(cut, "://")) != NULL && (q = strchr(q + 3, '/')) !=
	    NULL)
		cut[q - cut] = '\0';
	if (net_url_check(cut, &origin, &e2) != 0 ||
	    strcasecmp(origin, base) != 0) {
		r = sd_err_set(e, SD_ERR_ARG, "the status URL is not on this "
		    "HSM");
		goto out;
	}
	for (q = query; q != NULL && *q != '\0'; q = strchr(q, '&') ?
	    strchr(q, '&') + 1 : q + strlen(q))
		if (strncmp(q, "api-version=", 12) == 0)
			has_version = 1;
	if (asprintf(&s, "%s%s%s%s%s%s", base, path, query ? "?" : "",
	    query ? query : "", has_version ? "" : query ? "&api-version=" :
	    "?api-version=", has_version ? "" : api_version) == -1) {
		s = NULL;
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
 out:
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	free(origin);
	free(cut);
	free(s);
	return r;
}
