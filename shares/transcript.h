/*
 * transcript.h - the ceremony transcript: JSON lines chained by SHA-256.
 *
 * No I/O: entries are sealed into lines here and checked here; the caller
 * appends and fsyncs them (sdtool/cmd_ceremony.c).
 *
 * Each entry is one line: a compact JSON object whose first member is
 * "seq" (1, 2, ...), then the caller's members in their order, then
 * "prev" (the hash of the entry before, 64 zeros for the first) and last
 * "hash":
 *
 *   {"seq":N,...,"prev":"<64 hex>","hash":"<64 hex>"}\n
 *
 * where hash = SHA-256 of the line's bytes before ,"hash": (i.e. the
 * object up to and including prev's closing quote).  An entry's hash is
 * the chain head after it.  Changing any byte of an entry breaks its own
 * hash; removing, inserting or reordering entries breaks seq and prev; a
 * rewritten chain is caught by the head written on paper at checkpoints.
 */
#ifndef SD_TRANSCRIPT_H
#define SD_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "sd_err.h"

#define TRANSCRIPT_HASH_LEN 32
#define TRANSCRIPT_MAX_LINE (4u << 20)

/*
 * Seal an entry: fields is a jansson object (declared void * to keep
 * jansson out of this header) without "seq", "prev" or "hash".  Returns
 * the line (with its newline, malloc'd) and the new head.
 */
int transcript_seal(const void *fields, uint64_t seq,
    const uint8_t prev[TRANSCRIPT_HASH_LEN], char **line, size_t *line_len,
    uint8_t head[TRANSCRIPT_HASH_LEN], struct sd_err *e) SD_WUR;

/* What a check found. */
struct transcript_check {
	size_t n_entries;        /* entries that checked out */
	uint8_t (*heads)[TRANSCRIPT_HASH_LEN];  /* head after each good entry */
	size_t bad_entry;        /* 1-based line of the first bad entry, or 0 */
	char reason[256];        /* why it is bad */
};

/*
 * Check a whole transcript: every line complete, its hash right, seq
 * consecutive from 1, prev the hash of the line before.  Returns 0 when
 * every entry checks (res->bad_entry 0), SD_ERR_AUTH naming the first bad
 * entry in res (entries before it are in res->heads), or another SD_ERR.
 * An empty transcript is SD_ERR_FORMAT.
 */
int transcript_check(const char *buf, size_t len,
    struct transcript_check *res, struct sd_err *e) SD_WUR;

void transcript_check_clear(struct transcript_check *res);

/* Lowercase hex of a hash: out holds 65 bytes. */
void transcript_hex(const uint8_t h[TRANSCRIPT_HASH_LEN], char out[65]);

#endif
