/*
 * mkseeds - writes the generated seeds of tests/fuzz/corpus/escrow_text
 * and escrow_qr: the typed copy and the QR texts of one plain and one
 * encrypted sheet of the DER key given.  Run by tests/fuzz/mkcorpus.sh;
 * the output is committed, so this runs only to refresh it.
 *
 *   mkseeds KEY.der OUTDIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <jansson.h>

#include "../../shares/escrow.h"
#include "../../shares/transcript.h"

static void
put(const char *dir, const char *sub, const char *name, const void *p,
    size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static uint8_t der[ESCROW_MAX_KEY_DER];
	struct escrow_kdf kdf = { 1, 8192 };
	struct escrow_header h;
	struct escrow_parts *parts = NULL;
	struct sd_secret *pl = NULL, *text = NULL;
	struct sd_err e = { "" };
	char name[64], *qr;
	size_t n, i, k, qlen;
	FILE *f;
	int enc;

	if (argc != 3 || sodium_init() < 0)
		return 2;
	if ((f = fopen(argv[1], "rb")) == NULL)
		return 1;
	n = fread(der, 1, sizeof(der), f);
	fclose(f);
	for (enc = 0; enc < 2; enc++) {
		memset(&h, 0, sizeof(h));
		snprintf(h.hsm, sizeof(h.hsm), "contoso-mhsm");
		snprintf(h.officer, sizeof(h.officer), "Alice Officer");
		snprintf(h.subject, sizeof(h.subject), "CN=sdtool officer 0");
		snprintf(h.version, sizeof(h.version), "0.1.0");
		h.created = 1790000000;
		h.key_index = enc ? 1 : ESCROW_NO_INDEX;
		h.has_cert = enc;
		if (escrow_seal(&h, der, n, enc ? "correct horse" : NULL, &kdf,
		    NULL, &pl, &e) != 0 ||
		    escrow_text_encode(pl->p, pl->len, &text, &e) != 0 ||
		    escrow_qr_split(pl->p, pl->len, &parts, &e) != 0) {
			fprintf(stderr, "mkseeds: %s\n", e.msg);
			return 1;
		}
		snprintf(name, sizeof(name), "%s-sheet.txt",
		    enc ? "encrypted" : "plain");
		put(argv[2], "escrow_text", name, text->p, text->len);
		for (qlen = 0, i = 0; i < parts->n; i++)
			qlen += strlen(parts->text[i]) + 10;
		if ((qr = malloc(qlen + 1)) == NULL)
			return 1;
		for (k = 0, i = 0; i < parts->n; i++)
			k += (size_t)sprintf(qr + k, "%s\n", parts->text[i]);
		snprintf(name, sizeof(name), "%s-codes.txt",
		    enc ? "encrypted" : "plain");
		put(argv[2], "escrow_qr", name, qr, k);
		/* the codes out of order, as zbarimg prints them */
		for (k = 0, i = parts->n; i-- > 0;)
			k += (size_t)sprintf(qr + k, "QR-Code:%s\n",
			    parts->text[i]);
		snprintf(name, sizeof(name), "%s-zbar.txt",
		    enc ? "encrypted" : "plain");
		put(argv[2], "escrow_qr", name, qr, k);
		free(qr);
		snprintf(name, sizeof(name), "%s.payload",
		    enc ? "encrypted" : "plain");
		put(argv[2], "escrow_text", name, pl->p, pl->len);
		escrow_parts_free(parts);
		sd_secret_free(text);
		sd_secret_free(pl);
	}
	/* a ceremony transcript of three entries */
	{
		uint8_t head[TRANSCRIPT_HASH_LEN] = { 0 };
		static const char *const what[] = { "start", "step", "end" };
		char *line = NULL, *all = NULL;
		size_t llen = 0, alen = 0;
		json_t *o;

		for (i = 0; i < 3; i++) {
			o = json_pack("{s:s, s:s, s:i, s:{s:b}}", "event",
			    what[i], "step", i == 1 ? "verify" : "", "status",
			    0, "report", "ok", 1);
			if (o == NULL || transcript_seal(o, i + 1, head, &line,
			    &llen, head, &e) != 0) {
				fprintf(stderr, "mkseeds: %s\n", e.msg);
				return 1;
			}
			json_decref(o);
			if ((all = realloc(all, alen + llen + 1)) == NULL)
				return 1;
			memcpy(all + alen, line, llen);
			alen += llen;
			free(line);
			line = NULL;
		}
		put(argv[2], "transcript", "three-entries.jsonl", all, alen);
		/* the same cut short, and with the second line altered */
		put(argv[2], "transcript", "cut.jsonl", all, alen - 10);
		all[alen / 2] ^= 1;
		put(argv[2], "transcript", "altered.jsonl", all, alen);
		free(all);
	}
	return 0;
}
