/*
 * ceremony.c - parse a ceremony file and expand it with its parameters
 * (see ceremony.h for the format).  No I/O.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ceremony.h"

/* A growable string. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap * 2 : 64;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* What substitution sees. */
struct subst_ctx {
	json_t *params;     /* object */
	json_t *each;       /* the foreach item (object), or NULL */
	long index;         /* its index, or -1 */
	const char *where;  /* "steps[3] (verify).run[2]" */
};

enum { SUB_OK = 0, SUB_MISSING = 1 };

static int
is_name_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

/* A scalar JSON value as text; -1 when it is not a scalar. */
static int
scalar_text(json_t *v, char *buf, size_t bufsz, const char **out)
{
	if (json_is_string(v)) {
		*out = json_string_value(v);
		return 0;
	}
	if (json_is_integer(v)) {
		snprintf(buf, bufsz, "%lld", (long long)json_integer_value(v));
		*out = buf;
		return 0;
	}
	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? "yes" : "no";
		return 0;
	}
	return -1;
}

/*
 * Look up a name: "i", "n", "each.FIELD" or a parameter.  Returns 0 with
 * *out set, SUB_MISSING when absent, or an SD_ERR.
 */
static int
lookup(const struct subst_ctx *c, const char *name, char *buf, size_t bufsz,
    const char **out, struct sd_err *e)
{
	json_t *v;

	*out = NULL;
	if (strcmp(name, "i") == 0 || strcmp(name, "n") == 0) {
		if (c->index < 0)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: ${%s} outside "
			    "a foreach step", c->where, name);
		snprintf(buf, bufsz, "%ld", c->index + (name[0] == 'n'));
		*out = buf;
		return 0;
	}
	if (strncmp(name, "each.", 5) == 0) {
		if (c->each == NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: ${%s} outside "
			    "a foreach step", c->where, name);
		v = json_object_get(c->each, name + 5);
	} else {
		v = json_object_get(c->params, name);
	}
	if (v == NULL || json_is_null(v))
		return SUB_MISSING;
	if (scalar_text(v, buf, bufsz, out) != 0)
		return sd_err_set(e, SD_ERR_FORMAT, "%s: ${%s} is a list, not "
		    "one value", c->where, name);
	return 0;
}

/*
 * Substitute ${...} in tmpl.  Returns 0 (*out allocated), SUB_MISSING
 * (*missing names the first absent or empty parameter), or an SD_ERR.
 * declared: the ceremony's declared parameter names (a name neither
 * declared nor present is an error, not "missing").
 */
static int
subst(const struct subst_ctx *c, json_t *declared, const char *tmpl,
    char **out, struct sd_err *e)
{
	struct sbuf b = { 0 };
	const char *p = tmpl, *end, *val;
	char name[128], num[32];
	size_t n;
	int r, missing = 0;

	*out = NULL;
	sb_add(&b, "", 0);
	while (*p != '\0') {
		if (p[0] == '$' && p[1] == '$') {
			sb_add(&b, "$", 1);
			p += 2;
			continue;
		}
		if (p[0] != '$' || p[1] != '{') {
			sb_add(&b, p, 1);
			p++;
			continue;
		}
		if ((end = strchr(p + 2, '}')) == NULL) {
			free(b.p);
			return sd_err_set(e, SD_ERR_FORMAT, "%s: unterminated "
			    "${ in \"%s\"", c->where, tmpl);
		}
		n = (size_t)(end - (p + 2));
		if (n == 0 || n >= sizeof(name)) {
			free(b.p);
			return sd_err_set(e, SD_ERR_FORMAT, "%s: bad parameter "
			    "reference in \"%s\"", c->where, tmpl);
		}
		memcpy(name, p + 2, n);
		name[n] = '\0';
		for (size_t k = 0; k < n; k++) {
			if (!is_name_char((unsigned char)name[k])) {
				free(b.p);
				return sd_err_set(e, SD_ERR_FORMAT, "%s: bad "
				    "parameter name ${%s}", c->where, name);
			}
		}
		if (strncmp(name, "each.", 5) != 0 && strcmp(name, "i") != 0 &&
		    strcmp(name, "n") != 0 &&
		    json_object_get(declared, name) == NULL) {
			free(b.p);
			return sd_err_set(e, SD_ERR_FORMAT, "%s: unknown "
			    "parameter ${%s} (not declared in \"params\")",
			    c->where, name);
		}
		r = lookup(c, name, num, sizeof(num), &val, e);
		if (r < 0) {
			free(b.p);
			return r;
		}
		if (r == SUB_MISSING || val[0] == '\0')
			missing = 1;
		else
			sb_add(&b, val, strlen(val));
		p = end + 1;
	}
	if (b.oom) {
		free(b.p);
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	if (missing) {
		free(b.p);
		return SUB_MISSING;
	}
	*out = b.p;
	return 0;
}

/* A NULL-terminated-free string vector. */
struct svec {
	char **v;
	size_t n, cap;
};

static int
sv_push(struct svec *s, char *str)
{
	char **nv;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		if ((nv = realloc(s->v, s->cap * sizeof(*nv))) == NULL) {
			free(str);
			return SD_ERR_ALLOC;
		}
		s->v = nv;
	}
	s->v[s->n++] = str;
	return 0;
}

static void
sv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *
xstrdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* Only these keys (and "note") in obj. */
static int
check_keys(json_t *obj, const char *where, const char *const *allowed,
    struct sd_err *e)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		int ok = strcmp(key, "note") == 0;

		for (size_t i = 0; !ok && allowed[i] != NULL; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: unknown key "
			    "\"%s\"", where, key);
	}
	return 0;
}

/* A required (or, if opt, optional) string member. */
static int
get_str(json_t *obj, const char *key, int opt, const char *where,
    const char **out, struct sd_err *e)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL && opt)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "%s: \"%s\" must be a "
		    "non-empty string", where, key);
	*out = json_string_value(v);
	return 0;
}

/* Is the parameter set and true-ish? */
static int
truthy(json_t *params, const char *name)
{
	json_t *v = json_object_get(params, name);
	const char *s;

	if (v == NULL || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v)) {
		s = json_string_value(v);
		return s[0] != '\0' && strcmp(s, "no") != 0 &&
		    strcmp(s, "false") != 0 && strcmp(s, "0") != 0;
	}
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return 1;
}

/* Expand one "run" element (string, "@{list.field}" or group) into argv. */
static int
expand_arg(const struct subst_ctx *c, json_t *declared, json_t *arg,
    struct svec *argv, struct sd_err *e)
{
	const char *s, *dot;
	char name[128], *out = NULL;
	json_t *list, *item, *v;
	size_t i, n;
	int r;

	if (!json_is_string(arg))
		return sd_err_set(e, SD_ERR_FORMAT, "%s: must be a string or an "
		    "array of strings", c->where);
	s = json_string_value(arg);
	n = strlen(s);
	if (s[0] == '@' && s[1] == '{' && n > 3 && s[n - 1] == '}') {
		if (n - 3 >= sizeof(name))
			return sd_err_set(e, SD_ERR_FORMAT, "%s: name too long",
			    c->where);
		memcpy(name, s + 2, n - 3);
		name[n - 3] = '\0';
		if ((dot = strchr(name, '.')) == NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: @{%s} must be "
			    "@{list.field}", c->where, name);
		name[dot - name] = '\0';
		if (json_object_get(declared, name) == NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: unknown "
			    "parameter @{%s}", c->where, name);
		list = json_object_get(c->params, name);
		if (!json_is_array(list) || json_array_size(list) == 0)
			return SUB_MISSING;
		json_array_foreach(list, i, item) {
			v = json_object_get(item, dot + 1);
			if (!json_is_string(v) || json_string_length(v) == 0)
				return SUB_MISSING;
			if ((out = strdup(json_string_value(v))) == NULL ||
			    sv_push(argv, out) != 0)
				return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		}
		return 0;
	}
	if ((r = subst(c, declared, s, &out, e)) != 0)
		return r;
	if (sv_push(argv, out) != 0)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	return 0;
}

static int
expand_run(struct subst_ctx *c, json_t *declared, json_t *run,
    struct svec *argv, const char *sw, struct sd_err *e)
{
	char where[300];
	json_t *arg, *g;
	size_t i, j, mark;
	int r;

	if (!json_is_array(run) || json_array_size(run) == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "%s.run: must be a non-empty "
		    "array", sw);
	json_array_foreach(run, i, arg) {
		snprintf(where, sizeof(where), "%s.run[%zu]", sw, i);
		c->where = where;
		if (json_is_array(arg)) {
			mark = argv->n;
			json_array_foreach(arg, j, g) {
				r = expand_arg(c, declared, g, argv, e);
				if (r == SUB_MISSING) {
					while (argv->n > mark)
						free(argv->v[--argv->n]);
					break;
				}
				if (r != 0)
					return r;
			}
			continue;
		}
		if ((r = expand_arg(c, declared, arg, argv, e)) == SUB_MISSING)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: a parameter it "
			    "needs is not set (%s)", where,
			    json_string_value(arg));
		if (r != 0)
			return r;
	}
	if (argv->n == 0 || strcmp(argv->v[0], "ceremony") == 0 ||
	    argv->v[0][0] == '-' || strchr(argv->v[0], '/') != NULL)
		return sd_err_set(e, SD_ERR_FORMAT, "%s.run[0]: must name an "
		    "sdtool verb other than ceremony", sw);
	/* the transcript keeps the verb's report: it must print one */
	for (i = 1; i < argv->n; i++)
		if (strcmp(argv->v[i], "--json") == 0)
			return 0;
	return sd_err_set(e, SD_ERR_FORMAT, "%s.run: must include --json, so "
	    "that the transcript holds the verb's report", sw);
}

/* A list of file names or {"file","sha256"} objects. */
static int
expand_files(struct subst_ctx *c, json_t *declared, json_t *arr,
    const char *sw, const char *key, struct cer_step *st, int inputs,
    struct sd_err *e)
{
	static const char *const fkeys[] = { "file", "sha256", NULL };
	char where[300], *path = NULL, *hash = NULL;
	json_t *f, *fv, *hv;
	size_t i, k;
	int r;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return sd_err_set(e, SD_ERR_FORMAT, "%s.%s: must be an array",
		    sw, key);
	json_array_foreach(arr, i, f) {
		snprintf(where, sizeof(where), "%s.%s[%zu]", sw, key, i);
		c->where = where;
		hv = NULL;
		fv = f;
		if (json_is_object(f)) {
			if (!inputs)
				return sd_err_set(e, SD_ERR_FORMAT, "%s: must be a "
				    "string", where);
			if ((r = check_keys(f, where, fkeys, e)) != 0)
				return r;
			fv = json_object_get(f, "file");
			hv = json_object_get(f, "sha256");
		}
		if (!json_is_string(fv))
			return sd_err_set(e, SD_ERR_FORMAT, "%s: must name a file",
			    where);
		if (hv == NULL && strncmp(json_string_value(fv), "@{", 2) == 0) {
			/* one file per item of a list parameter */
			struct svec tv = { 0 };

			r = expand_arg(c, declared, fv, &tv, e);
			if (r == SUB_MISSING)
				r = sd_err_set(e, SD_ERR_FORMAT, "%s: a parameter "
				    "it needs is not set (%s)", where,
				    json_string_value(fv));
			for (k = 0; r == 0 && k < tv.n; k++) {
				if (inputs) {
					struct cer_file *nf = realloc(st->inputs,
					    (st->n_inputs + 1) * sizeof(*nf));
					if (nf == NULL) {
						r = sd_err_set(e, SD_ERR_ALLOC,
						    "out of memory");
						break;
					}
					st->inputs = nf;
					nf[st->n_inputs].path = tv.v[k];
					nf[st->n_inputs++].sha256 = NULL;
				} else {
					char **no = realloc(st->outputs,
					    (st->n_outputs + 1) * sizeof(*no));
					if (no == NULL) {
						r = sd_err_set(e, SD_ERR_ALLOC,
						    "out of memory");
						break;
					}
					st->outputs = no;
					no[st->n_outputs++] = tv.v[k];
				}
				tv.v[k] = NULL;
			}
			sv_free(tv.v, tv.n);
			if (r != 0)
				return r;
			continue;
		}
		if ((r = subst(c, declared, json_string_value(fv), &path, e)) ==
		    SUB_MISSING)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: a parameter it "
			    "needs is not set (%s)", where, json_string_value(fv));
		if (r != 0)
			return r;
		hash = NULL;
		if (hv != NULL) {
			if (!json_is_string(hv)) {
				free(path);
				return sd_err_set(e, SD_ERR_FORMAT, "%s.sha256: must "
				    "be a string", where);
			}
			r = subst(c, declared, json_string_value(hv), &hash, e);
			if (r < 0) {
				free(path);
				return r;
			}
			if (hash != NULL) {
				for (k = 0; hash[k] != '\0'; k++)
					hash[k] = (char)tolower((unsigned char)hash[k]);
				if (k != 64 || strspn(hash, "0123456789abcdef") != 64) {
					free(path);
					free(hash);
					return sd_err_set(e, SD_ERR_FORMAT, "%s.sha256: "
					    "not 64 hex digits", where);
				}
			}
		}
		if (inputs) {
			struct cer_file *nf = realloc(st->inputs,
			    (st->n_inputs + 1) * sizeof(*nf));
			if (nf == NULL) {
				free(path);
				free(hash);
				return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			}
			st->inputs = nf;
			nf[st->n_inputs].path = path;
			nf[st->n_inputs].sha256 = hash;
			st->n_inputs++;
		} else {
			char **no = realloc(st->outputs,
			    (st->n_outputs + 1) * sizeof(*no));
			if (no == NULL) {
				free(path);
				return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			}
			st->outputs = no;
			no[st->n_outputs++] = path;
		}
		path = NULL;
	}
	return 0;
}

static void
step_clear(struct cer_step *s)
{
	free(s->id);
	free(s->title);
	free(s->role);
	free(s->who);
	free(s->note);
	free(s->manual);
	sv_free(s->argv, s->argc);
	for (size_t i = 0; i < s->n_inputs; i++) {
		free(s->inputs[i].path);
		free(s->inputs[i].sha256);
	}
	free(s->inputs);
	sv_free(s->outputs, s->n_outputs);
	sv_free(s->checkpoint, s->n_checkpoint);
	memset(s, 0, sizeof(*s));
}

void
ceremony_free(struct ceremony *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->name);
	free(c->title);
	free(c->version);
	free(c->note);
	for (i = 0; i < c->n_roles; i++) {
		free(c->roles[i].id);
		free(c->roles[i].title);
		free(c->roles[i].note);
		free(c->roles[i].name);
	}
	free(c->roles);
	for (i = 0; i < c->n_params; i++) {
		free(c->params[i].name);
		free(c->params[i].note);
		free(c->params[i].value);
	}
	free(c->params);
	sv_free(c->materials, c->n_materials);
	for (i = 0; i < c->n_steps; i++)
		step_clear(&c->steps[i]);
	free(c->steps);
	free(c);
}

const struct cer_role *
ceremony_role(const struct ceremony *c, const char *id)
{
	for (size_t i = 0; i < c->n_roles; i++)
		if (strcmp(c->roles[i].id, id) == 0)
			return &c->roles[i];
	return NULL;
}

long
ceremony_step_index(const struct ceremony *c, const char *id)
{
	for (size_t i = 0; i < c->n_steps; i++)
		if (strcmp(c->steps[i].id, id) == 0)
			return (long)i;
	return -1;
}

int
ceremony_status_ok(const struct cer_step *s, int status)
{
	for (size_t i = 0; i < s->n_status; i++)
		if (s->status[i] == status)
			return 1;
	return 0;
}

int
ceremony_quote_arg(const char *arg, char *out, size_t outsz)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
	    "OPQRSTUVWXYZ0123456789-_./=:,+@%";
	size_t n = 0, len = strlen(arg);

	if (len > 0 && strspn(arg, safe) == len) {
		if (len + 1 > outsz)
			return -1;
		memcpy(out, arg, len + 1);
		return (int)len;
	}
	if (n + 1 >= outsz)
		return -1;
	out[n++] = '\'';
	for (const char *p = arg; *p != '\0'; p++) {
		if (*p == '\'') {
			if (n + 4 >= outsz)
				return -1;
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			if (n + 1 >= outsz)
				return -1;
			out[n++] = *p;
		}
	}
	if (n + 2 > outsz)
		return -1;
	out[n++] = '\'';
	out[n] = '\0';
	return (int)n;
}

static int
parse_header(json_t *root, struct ceremony *c, struct sd_err *e)
{
	static const char *const keys[] = { "ceremony", "title", "version",
	    "roles", "params", "materials", "steps", NULL };
	const char *name, *title, *version, *note;
	json_t *v;
	int r;

	if (!json_is_object(root))
		return sd_err_set(e, SD_ERR_FORMAT, "a ceremony file is one JSON "
		    "object");
	if ((r = check_keys(root, "ceremony file", keys, e)) != 0 ||
	    (r = get_str(root, "ceremony", 0, "ceremony file", &name, e)) != 0 ||
	    (r = get_str(root, "title", 0, "ceremony file", &title, e)) != 0 ||
	    (r = get_str(root, "note", 1, "ceremony file", &note, e)) != 0)
		return r;
	v = json_object_get(root, "version");
	if (json_is_integer(v)) {
		char num[32];

		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(v));
		c->version = strdup(num);
	} else if ((r = get_str(root, "version", 0, "ceremony file", &version,
	    e)) != 0) {
		return r;
	} else {
		c->version = strdup(version);
	}
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(name))
		return sd_err_set(e, SD_ERR_FORMAT, "ceremony file: \"ceremony\" "
		    "must be lowercase letters, digits and '-'");
	c->name = strdup(name);
	c->title = strdup(title);
	c->note = xstrdup(note);
	if (c->name == NULL || c->title == NULL || c->version == NULL ||
	    (note != NULL && c->note == NULL))
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	return 0;
}

int
ceremony_peek(const char *cer, size_t cer_len, struct ceremony **out,
    struct sd_err *e)
{
	struct ceremony *c = NULL;
	json_error_t je;
	json_t *root = NULL;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (cer_len > CER_MAX_FILE)
		return sd_err_set(e, SD_ERR_LIMIT, "ceremony file larger than "
		    "%u bytes", CER_MAX_FILE);
	if ((root = json_loadb(cer, cer_len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "line %d column %d: %s",
		    je.line, je.column, je.text);
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = parse_header(root, c, e)) != 0)
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	ceremony_free(c);
	json_decref(root);
	return r;
}

static int
parse_roles(json_t *root, json_t *people, struct ceremony *c,
    struct sd_err *e)
{
	static const char *const keys[] = { "id", "title", NULL };
	char where[64];
	const char *id, *title, *note;
	json_t *roles = json_object_get(root, "roles"), *ro, *nm;
	size_t i;
	int r;

	if (!json_is_array(roles) || json_array_size(roles) == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "roles: must be a non-empty "
		    "array");
	if ((c->roles = calloc(json_array_size(roles), sizeof(*c->roles))) ==
	    NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	json_array_foreach(roles, i, ro) {
		snprintf(where, sizeof(where), "roles[%zu]", i);
		if (!json_is_object(ro))
			return sd_err_set(e, SD_ERR_FORMAT, "%s: must be an "
			    "object", where);
		if ((r = check_keys(ro, where, keys, e)) != 0 ||
		    (r = get_str(ro, "id", 0, where, &id, e)) != 0 ||
		    (r = get_str(ro, "title", 0, where, &title, e)) != 0 ||
		    (r = get_str(ro, "note", 1, where, &note, e)) != 0)
			return r;
		if (ceremony_role(c, id) != NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: role \"%s\" "
			    "declared twice", where, id);
		nm = json_object_get(people, id);
		if (nm != NULL && !json_is_string(nm))
			return sd_err_set(e, SD_ERR_FORMAT, "params: people.%s "
			    "must be a string", id);
		c->roles[i].id = strdup(id);
		c->roles[i].title = strdup(title);
		c->roles[i].note = xstrdup(note);
		c->roles[i].name = nm != NULL && json_string_length(nm) > 0 ?
		    strdup(json_string_value(nm)) : NULL;
		c->n_roles++;
		if (c->roles[i].id == NULL || c->roles[i].title == NULL)
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	return 0;
}

/*
 * Parameters: the declarations, checked against the given values; fills
 * `declared` (name -> declaration) and completes `params` with defaults.
 */
static int
parse_params(json_t *root, json_t *params, json_t *declared,
    struct ceremony *c, struct sd_err *e)
{
	static const char *const keys[] = { "name", "required", "default",
	    "list", NULL };
	char where[64], buf[64];
	const char *name, *note, *key, *txt;
	json_t *decl = json_object_get(root, "params"), *d, *v, *lst, *item,
	    *f, *dv;
	size_t i, j;
	int r;

	if (decl != NULL && !json_is_array(decl))
		return sd_err_set(e, SD_ERR_FORMAT, "params: must be an array");
	if ((c->params = calloc(json_array_size(decl) + 1,
	    sizeof(*c->params))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	json_array_foreach(decl, i, d) {
		struct cer_param *p = &c->params[c->n_params];

		snprintf(where, sizeof(where), "params[%zu]", i);
		if (!json_is_object(d))
			return sd_err_set(e, SD_ERR_FORMAT, "%s: must be an "
			    "object", where);
		if ((r = check_keys(d, where, keys, e)) != 0 ||
		    (r = get_str(d, "name", 0, where, &name, e)) != 0 ||
		    (r = get_str(d, "note", 1, where, &note, e)) != 0)
			return r;
		if (strcmp(name, "people") == 0 || strcmp(name, "i") == 0 ||
		    strcmp(name, "n") == 0 || strncmp(name, "each.", 5) == 0 ||
		    strchr(name, '.') != NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: \"%s\" is a "
			    "reserved name", where, name);
		if (json_object_get(declared, name) != NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "%s: parameter \"%s\" "
			    "declared twice", where, name);
		if (json_object_set(declared, name, d) != 0)
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		p->name = strdup(name);
		p->note = xstrdup(note);
		/* counted now, so that ceremony_free frees it on any return */
		c->n_params++;
		lst = json_object_get(d, "list");
		p->list = lst != NULL;
		v = json_object_get(d, "required");
		if (v != NULL && !json_is_boolean(v))
			return sd_err_set(e, SD_ERR_FORMAT, "%s.required: must be "
			    "true or false", where);
		dv = json_object_get(d, "default");
		p->required = v != NULL ? json_is_true(v) : dv == NULL;
		if (p->name == NULL)
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		v = json_object_get(params, name);
		if (v == NULL && dv != NULL) {
			if (scalar_text(dv, buf, sizeof(buf), &txt) != 0)
				return sd_err_set(e, SD_ERR_FORMAT, "%s.default: "
				    "must be a string, number or boolean", where);
			if (json_object_set(params, name, dv) != 0)
				return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			v = dv;
		}
		if (v == NULL) {
			if (p->required)
				return sd_err_set(e, SD_ERR_FORMAT, "params: "
				    "\"%s\" is required by this ceremony%s%s",
				    name, note ? ": " : "", note ? note : "");
			continue;
		}
		if (p->list) {
			if (!json_is_array(lst) || json_array_size(lst) == 0)
				return sd_err_set(e, SD_ERR_FORMAT, "%s.list: must "
				    "be an array of field names", where);
			if (!json_is_array(v))
				return sd_err_set(e, SD_ERR_FORMAT, "params: \"%s\" "
				    "must be an array of objects", name);
			json_array_foreach(v, j, item) {
				if (!json_is_object(item))
					return sd_err_set(e, SD_ERR_FORMAT, "params: "
					    "%s[%zu] must be an object", name, j);
				json_object_foreach(item, key, f) {
					int known = 0;
					size_t k;
					json_t *fn;

					json_array_foreach(lst, k, fn)
						known |= json_is_string(fn) &&
						    strcmp(json_string_value(fn),
						    key) == 0;
					if (!known)
						return sd_err_set(e, SD_ERR_FORMAT,
						    "params: %s[%zu]: unknown field "
						    "\"%s\"", name, j, key);
					if (scalar_text(f, buf, sizeof(buf),
					    &txt) != 0)
						return sd_err_set(e, SD_ERR_FORMAT,
						    "params: %s[%zu].%s must be a "
						    "string", name, j, key);
				}
			}
			snprintf(buf, sizeof(buf), "%zu item%s",
			    json_array_size(v), json_array_size(v) == 1 ? "" :
			    "s");
			p->value = strdup(buf);
		} else {
			if (scalar_text(v, buf, sizeof(buf), &txt) != 0)
				return sd_err_set(e, SD_ERR_FORMAT, "params: \"%s\" "
				    "must be a string, number or boolean", name);
			p->value = strdup(txt);
		}
		if (p->value == NULL)
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	}
	json_object_foreach(params, key, v) {
		if (strcmp(key, "people") == 0)
			continue;
		if (json_object_get(declared, key) == NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "params: \"%s\" is not "
			    "a parameter of this ceremony", key);
	}
	return 0;
}

static int
parse_materials(json_t *root, struct ceremony *c, struct sd_err *e)
{
	json_t *m = json_object_get(root, "materials"), *v;
	size_t i;

	if (m == NULL)
		return 0;
	if (!json_is_array(m))
		return sd_err_set(e, SD_ERR_FORMAT, "materials: must be an array");
	if ((c->materials = calloc(json_array_size(m) + 1,
	    sizeof(*c->materials))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	json_array_foreach(m, i, v) {
		if (!json_is_string(v))
			return sd_err_set(e, SD_ERR_FORMAT, "materials[%zu]: must "
			    "be a string", i);
		if ((c->materials[i] = strdup(json_string_value(v))) == NULL)
			return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		c->n_materials++;
	}
	return 0;
}

static int
add_step(struct ceremony *c, struct cer_step *st, struct sd_err *e)
{
	struct cer_step *ns;

	if (c->n_steps >= CER_MAX_STEPS)
		return sd_err_set(e, SD_ERR_LIMIT, "more than %d steps",
		    CER_MAX_STEPS);
	if ((ns = realloc(c->steps, (c->n_steps + 1) * sizeof(*ns))) == NULL)
		return sd_err_set(e, SD_ERR_ALLOC, "out of memory");
	c->steps = ns;
	c->steps[c->n_steps++] = *st;
	memset(st, 0, sizeof(*st));
	return 0;
}

/* Expand one step template for one foreach item (or none). */
static int
expand_step(struct ceremony *c, json_t *tmpl, json_t *params,
    json_t *declared, json_t *each, long index, const char *id,
    const char *sw, struct sd_err *e)
{
	struct subst_ctx sc = { params, each, index, sw };
	struct cer_step st = { 0 };
	struct svec argv = { 0 };
	const struct cer_role *role;
	const char *s;
	char where[300], idbuf[160], *tmp = NULL;
	json_t *v, *x;
	size_t i;
	int r = SD_ERR_INTERNAL;

	if (index >= 0)
		snprintf(idbuf, sizeof(idbuf), "%s.%ld", id, index + 1);
	else
		snprintf(idbuf, sizeof(idbuf), "%s", id);
	if (ceremony_step_index(c, idbuf) >= 0) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: step id \"%s\" used twice",
		    sw, idbuf);
		goto out;
	}
	st.id = strdup(idbuf);
	/* title, who, note, manual: strings with substitution */
	{
		static const char *const skeys[] = { "title", "who", "note",
		    "manual" };
		char **dst[] = { &st.title, &st.who, &st.note, &st.manual };

		for (i = 0; i < 4; i++) {
			if ((v = json_object_get(tmpl, skeys[i])) == NULL)
				continue;
			snprintf(where, sizeof(where), "%s.%s", sw, skeys[i]);
			if (!json_is_string(v)) {
				r = sd_err_set(e, SD_ERR_FORMAT, "%s: must be a "
				    "string", where);
				goto out;
			}
			sc.where = where;
			r = subst(&sc, declared, json_string_value(v), &tmp, e);
			if (r == SUB_MISSING) {
				r = sd_err_set(e, SD_ERR_FORMAT, "%s: a parameter "
				    "it needs is not set", where);
				goto out;
			}
			if (r != 0)
				goto out;
			*dst[i] = tmp;
			tmp = NULL;
		}
	}
	if (st.title == NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: \"title\" is required", sw);
		goto out;
	}
	if ((r = get_str(tmpl, "role", 0, sw, &s, e)) != 0)
		goto out;
	if ((role = ceremony_role(c, s)) == NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s.role: \"%s\" is not a "
		    "declared role", sw, s);
		goto out;
	}
	st.role = strdup(s);
	if (st.who == NULL && role->name != NULL)
		st.who = strdup(role->name);
	v = json_object_get(tmpl, "run");
	if ((v == NULL) == (st.manual == NULL)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "%s: needs exactly one of "
		    "\"run\" and \"manual\"", sw);
		goto out;
	}
	if (v != NULL) {
		if ((r = expand_run(&sc, declared, v, &argv, sw, e)) != 0)
			goto out;
		st.argv = argv.v;
		st.argc = argv.n;
		argv.v = NULL;
		argv.n = 0;
	}
	if ((r = expand_files(&sc, declared, json_object_get(tmpl, "inputs"),
	    sw, "inputs", &st, 1, e)) != 0 ||
	    (r = expand_files(&sc, declared, json_object_get(tmpl, "outputs"),
	    sw, "outputs", &st, 0, e)) != 0)
		goto out;
	if ((v = json_object_get(tmpl, "checkpoint")) != NULL) {
		if (!json_is_array(v)) {
			r = sd_err_set(e, SD_ERR_FORMAT, "%s.checkpoint: must be "
			    "an array of role ids", sw);
			goto out;
		}
		if ((st.checkpoint = calloc(json_array_size(v) + 1,
		    sizeof(char *))) == NULL) {
			r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
			goto out;
		}
		json_array_foreach(v, i, x) {
			if (!json_is_string(x) ||
			    ceremony_role(c, json_string_value(x)) == NULL) {
				r = sd_err_set(e, SD_ERR_FORMAT, "%s.checkpoint[%zu]: "
				    "not a declared role", sw, i);
				goto out;
			}
			st.checkpoint[st.n_checkpoint++] =
			    strdup(json_string_value(x));
		}
	}
	if ((v = json_object_get(tmpl, "status")) != NULL) {
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > CER_MAX_STATUS || st.manual != NULL) {
			r = sd_err_set(e, SD_ERR_FORMAT, "%s.status: must be an "
			    "array of 1 to %d exit statuses, on a run step", sw,
			    CER_MAX_STATUS);
			goto out;
		}
		json_array_foreach(v, i, x) {
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    json_integer_value(x) > 255) {
				r = sd_err_set(e, SD_ERR_FORMAT, "%s.status[%zu]: "
				    "must be 0..255", sw, i);
				goto out;
			}
			st.status[st.n_status++] = (int)json_integer_value(x);
		}
	} else {
		st.status[0] = 0;
		st.n_status = 1;
	}
	if (st.id == NULL || st.role == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = add_step(c, &st, e);
out:
	sv_free(argv.v, argv.n);
	free(tmp);
	step_clear(&st);
	return r;
}

static int
parse_steps(json_t *root, json_t *params, json_t *declared,
    struct ceremony *c, struct sd_err *e)
{
	static const char *const keys[] = { "id", "title", "role", "who",
	    "foreach", "if", "run", "manual", "inputs", "outputs",
	    "checkpoint", "status", NULL };
	json_t *steps = json_object_get(root, "steps"), *t, *list, *item;
	const char *id, *cond, *fe;
	char sw[200];
	size_t i, j;
	int r, neg;

	if (!json_is_array(steps) || json_array_size(steps) == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "steps: must be a non-empty "
		    "array");
	json_array_foreach(steps, i, t) {
		snprintf(sw, sizeof(sw), "steps[%zu]", i);
		if (!json_is_object(t))
			return sd_err_set(e, SD_ERR_FORMAT, "%s: must be an "
			    "object", sw);
		if ((r = get_str(t, "id", 0, sw, &id, e)) != 0)
			return r;
		snprintf(sw, sizeof(sw), "steps[%zu] (%s)", i, id);
		if (strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
		    strlen(id) || strlen(id) > 64)
			return sd_err_set(e, SD_ERR_FORMAT, "%s.id: lowercase "
			    "letters, digits and '-', at most 64", sw);
		if ((r = check_keys(t, sw, keys, e)) != 0 ||
		    (r = get_str(t, "if", 1, sw, &cond, e)) != 0 ||
		    (r = get_str(t, "foreach", 1, sw, &fe, e)) != 0)
			return r;
		if (cond != NULL) {
			neg = cond[0] == '!';
			if (json_object_get(declared, cond + neg) == NULL)
				return sd_err_set(e, SD_ERR_FORMAT, "%s.if: unknown "
				    "parameter \"%s\"", sw, cond + neg);
			if (truthy(params, cond + neg) == neg)
				continue;
		}
		if (fe == NULL) {
			if ((r = expand_step(c, t, params, declared, NULL, -1, id,
			    sw, e)) != 0)
				return r;
			continue;
		}
		if (json_object_get(declared, fe) == NULL ||
		    json_object_get(json_object_get(declared, fe), "list") ==
		    NULL)
			return sd_err_set(e, SD_ERR_FORMAT, "%s.foreach: \"%s\" is "
			    "not a list parameter", sw, fe);
		list = json_object_get(params, fe);
		json_array_foreach(list, j, item) {
			if ((r = expand_step(c, t, params, declared, item,
			    (long)j, id, sw, e)) != 0)
				return r;
		}
	}
	if (c->n_steps == 0)
		return sd_err_set(e, SD_ERR_FORMAT, "steps: no step applies with "
		    "these parameters");
	return 0;
}

int
ceremony_load(const char *cer, size_t cer_len, const char *params,
    size_t params_len, struct ceremony **out, struct sd_err *e)
{
	struct ceremony *c = NULL;
	json_error_t je;
	json_t *root = NULL, *pj = NULL, *declared = NULL, *people;
	int r = SD_ERR_INTERNAL;

	*out = NULL;
	if (cer_len > CER_MAX_FILE || params_len > CER_MAX_FILE)
		return sd_err_set(e, SD_ERR_LIMIT, "file larger than %u bytes",
		    CER_MAX_FILE);
	if ((root = json_loadb(cer, cer_len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		r = sd_err_set(e, SD_ERR_FORMAT, "ceremony file: line %d column "
		    "%d: %s", je.line, je.column, je.text);
		goto out;
	}
	if (params != NULL) {
		if ((pj = json_loadb(params, params_len,
		    JSON_REJECT_DUPLICATES, &je)) == NULL) {
			r = sd_err_set(e, SD_ERR_FORMAT, "params: line %d column "
			    "%d: %s", je.line, je.column, je.text);
			goto out;
		}
	} else {
		pj = json_object();
	}
	if (!json_is_object(pj)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "params: must be one JSON "
		    "object");
		goto out;
	}
	people = json_object_get(pj, "people");
	if (people != NULL && !json_is_object(people)) {
		r = sd_err_set(e, SD_ERR_FORMAT, "params: \"people\" must map "
		    "role ids to names");
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (declared = json_object()) == NULL) {
		r = sd_err_set(e, SD_ERR_ALLOC, "out of memory");
		goto out;
	}
	if ((r = parse_header(root, c, e)) != 0 ||
	    (r = parse_roles(root, people, c, e)) != 0 ||
	    (r = parse_params(root, pj, declared, c, e)) != 0 ||
	    (r = parse_materials(root, c, e)) != 0 ||
	    (r = parse_steps(root, pj, declared, c, e)) != 0)
		goto out;
	if (people != NULL) {
		const char *key;
		json_t *v;

		json_object_foreach(people, key, v) {
			if (ceremony_role(c, key) == NULL) {
				r = sd_err_set(e, SD_ERR_FORMAT, "params: people."
				    "%s: no such role in this ceremony", key);
				goto out;
			}
		}
	}
	*out = c;
	c = NULL;
	r = 0;
out:
	ceremony_free(c);
	json_decref(declared);
	json_decref(pj);
	json_decref(root);
	return r;
}
