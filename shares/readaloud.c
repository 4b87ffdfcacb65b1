/*
 * readaloud.c - grouped hex and the PGP word list, both ways.
 *
 * The word lists are the PGPfone "biometric" lists of Juola and Zimmermann
 * (1995), as printed in the PGPfone manual and used by the DNSSEC root key
 * ceremony tools (byte 0x17 at an even offset is "banjo").  Thumbprints are
 * public values: no constant-time requirement here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64.h"
#include "readaloud.h"

/* two syllables: bytes at even offsets (0, 2, 4, ...) */
static const char *const pgp_even[256] = {
	"aardvark", "absurd", "accrue", "acme", "adrift", "adult", "afflict",
	"ahead", "aimless", "Algol", "allow", "alone", "ammo", "ancient",
	"apple", "artist", "assume", "Athens", "atlas", "Aztec", "baboon",
	"backfield", "backward", "banjo", "beaming", "bedlamp", "beehive",
	"beeswax", "befriend", "Belfast", "berserk", "billiard", "bison",
	"blackjack", "blockade", "blowtorch", "bluebird", "bombast",
	"bookshelf", "brackish", "breadline", "breakup", "brickyard",
	"briefcase", "Burbank", "button", "buzzard", "cement", "chairlift",
	"chatter", "checkup", "chisel", "choking", "chopper", "Christmas",
	"clamshell", "classic", "classroom", "cleanup", "clockwork", "cobra",
	"commence", "concert", "cowbell", "crackdown", "cranky", "crowfoot",
	"crucial", "crumpled", "crusade", "cubic", "dashboard", "deadbolt",
	"deckhand", "dogsled", "dragnet", "drainage", "dreadful", "drifter",
	"dropper", "drumbeat", "drunken", "Dupont", "dwelling", "eating",
	"edict", "egghead", "eightball", "endorse", "endow", "enlist",
	"erase", "escape", "exceed", "eyeglass", "eyetooth", "facial",
	"fallout", "flagpole", "flatfoot", "flytrap", "fracture",
	"framework", "freedom", "frighten", "gazelle", "Geiger", "glitter",
	"glucose", "goggles", "goldfish", "gremlin", "guidance", "hamlet",
	"highchair", "hockey", "indoors", "indulge", "inverse", "involve",
	"island", "jawbone", "keyboard", "kickoff", "kiwi", "klaxon",
	"locale", "lockup", "merit", "minnow", "miser", "Mohawk", "mural",
	"music", "necklace", "Neptune", "newborn", "nightbird", "Oakland",
	"obtuse", "offload", "optic", "orca", "payday", "peachy", "pheasant",
	"physique", "playhouse", "Pluto", "preclude", "prefer", "preshrunk",
	"printer", "prowler", "pupil", "puppy", "python", "quadrant",
	"quiver", "quota", "ragtime", "ratchet", "rebirth", "reform",
	"regain", "reindeer", "rematch", "repay", "retouch", "revenge",
	"reward", "rhythm", "ribcage", "ringbolt", "robust", "rocker",
	"ruffled", "sailboat", "sawdust", "scallion", "scenic", "scorecard",
	"Scotland", "seabird", "select", "sentence", "shadow", "shamrock",
	"showgirl", "skullcap", "skydive", "slingshot", "slowdown",
	"snapline", "snapshot", "snowcap", "snowslide", "solo", "southward",
	"soybean", "spaniel", "spearhead", "spellbind", "spheroid", "spigot",
	"spindle", "spyglass", "stagehand", "stagnate", "stairway",
	"standard", "stapler", "steamship", "sterling", "stockman",
	"stopwatch", "stormy", "sugar", "surmount", "suspense", "sweatband",
	"swelter", "tactics", "talon", "tapeworm", "tempest", "tiger",
	"tissue", "tonic", "topmost", "tracker", "transit", "trauma",
	"treadmill", "Trojan", "trouble", "tumor", "tunnel", "tycoon",
	"uncut", "unearth", "unwind", "uproot", "upset", "upshot", "vapor",
	"village", "virus", "Vulcan", "waffle", "wallet", "watchword",
	"wayside", "willow", "woodlark", "Zulu",
};

/* three syllables: bytes at odd offsets (1, 3, 5, ...) */
static const char *const pgp_odd[256] = {
	"adroitness", "adviser", "aftermath", "aggregate", "alkali",
	"almighty", "amulet", "amusement", "antenna", "applicant", "Apollo",
	"armistice", "article", "asteroid", "Atlantic", "atmosphere",
	"autopsy", "Babylon", "backwater", "barbecue", "belowground",
	"bifocals", "bodyguard", "bookseller", "borderline", "bottomless",
	"Bradbury", "bravado", "Brazilian", "breakaway", "Burlington",
	"businessman", "butterfat", "Camelot", "candidate", "cannonball",
	"Capricorn", "caravan", "caretaker", "celebrate", "cellulose",
	"certify", "chambermaid", "Cherokee", "Chicago", "clergyman",
	"coherence", "combustion", "commando", "company", "component",
	"concurrent", "confidence", "conformist", "congregate", "consensus",
	"consulting", "corporate", "corrosion", "councilman", "crossover",
	"crucifix", "cumbersome", "customer", "Dakota", "decadence",
	"December", "decimal", "designing", "detector", "detergent",
	"determine", "dictator", "dinosaur", "direction", "disable",
	"disbelief", "disruptive", "distortion", "document", "embezzle",
	"enchanting", "enrollment", "enterprise", "equation", "equipment",
	"escapade", "Eskimo", "everyday", "examine", "existence", "exodus",
	"fascinate", "filament", "finicky", "forever", "fortitude",
	"frequency", "gadgetry", "Galveston", "getaway", "glossary",
	"gossamer", "graduate", "gravity", "guitarist", "hamburger",
	"Hamilton", "handiwork", "hazardous", "headwaters", "hemisphere",
	"hesitate", "hideaway", "holiness", "hurricane", "hydraulic",
	"impartial", "impetus", "inception", "indigo", "inertia", "infancy",
	"inferno", "informant", "insincere", "insurgent", "integrate",
	"intention", "inventive", "Istanbul", "Jamaica", "Jupiter",
	"leprosy", "letterhead", "liberty", "maritime", "matchmaker",
	"maverick", "Medusa", "megaton", "microscope", "microwave",
	"midsummer", "millionaire", "miracle", "misnomer", "molasses",
	"molecule", "Montana", "monument", "mosquito", "narrative", "nebula",
	"newsletter", "Norwegian", "October", "Ohio", "onlooker", "opulent",
	"Orlando", "outfielder", "Pacific", "pandemic", "Pandora",
	"paperweight", "paragon", "paragraph", "paramount", "passenger",
	"pedigree", "Pegasus", "penetrate", "perceptive", "performance",
	"pharmacy", "phonetic", "photograph", "pioneer", "pocketful",
	"politeness", "positive", "potato", "processor", "provincial",
	"proximate", "puberty", "publisher", "pyramid", "quantity",
	"racketeer", "rebellion", "recipe", "recover", "repellent",
	"replica", "reproduce", "resistor", "responsive", "retraction",
	"retrieval", "retrospect", "revenue", "revival", "revolver",
	"sandalwood", "sardonic", "Saturday", "savagery", "scavenger",
	"sensation", "sociable", "souvenir", "specialist", "speculate",
	"stethoscope", "stupendous", "supportive", "surrender", "suspicious",
	"sympathy", "tambourine", "telephone", "therapist", "tobacco",
	"tolerance", "tomorrow", "torpedo", "tradition", "travesty",
	"trombonist", "truncated", "typewriter", "ultimate", "undaunted",
	"underfoot", "unicorn", "unify", "universe", "unravel", "upcoming",
	"vacancy", "vagabond", "vertigo", "Virginia", "visitor", "vocalist",
	"voyager", "warranty", "Waterloo", "whimsical", "Wichita",
	"Wilmington", "Wyoming", "yesteryear", "Yucatan",
};

size_t
readaloud_hex_size(size_t n)
{
	if (n == 0)
		return 1;
	return 2 * n + (n - 1) / 2 + 1;
}

size_t
readaloud_pgp_size(size_t n)
{
	/* longest word: "chambermaid"/"performance" etc., 11 characters */
	return n * 12 + 1;
}

int
readaloud_hex(const uint8_t *b, size_t n, char *out, size_t outsz)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i, o = 0;

	if (out == NULL || (b == NULL && n > 0))
		return SD_ERR_ARG;
	if (outsz < readaloud_hex_size(n)) {
		if (outsz > 0)
			out[0] = '\0';
		return SD_ERR_RANGE;
	}
	for (i = 0; i < n; i++) {
		if (i > 0 && i % 2 == 0)
			out[o++] = ' ';
		out[o++] = digits[b[i] >> 4];
		out[o++] = digits[b[i] & 0xf];
	}
	out[o] = '\0';
	return 0;
}

const char *
readaloud_pgp_word(uint8_t v, size_t pos)
{
	return (pos % 2 == 0) ? pgp_even[v] : pgp_odd[v];
}

int
readaloud_pgp(const uint8_t *b, size_t n, char *out, size_t outsz)
{
	size_t i, o = 0, need = 1, len;
	const char *w;

	if (out == NULL || (b == NULL && n > 0))
		return SD_ERR_ARG;
	for (i = 0; i < n; i++)
		need += strlen(readaloud_pgp_word(b[i], i)) + (i > 0);
	if (outsz < need) {
		if (outsz > 0)
			out[0] = '\0';
		return SD_ERR_RANGE;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			out[o++] = ' ';
		w = readaloud_pgp_word(b[i], i);
		len = strlen(w);
		memcpy(out + o, w, len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}

static int
is_sep(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' ||
	    c == '-' || c == '.' || c == '_';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Count hex digits if typed is only hex digits and separators, else -1. */
static long
hex_digits(const char *typed)
{
	long nd = 0;
	const char *p;

	for (p = typed; *p != '\0'; p++) {
		if (is_sep((unsigned char)*p))
			continue;
		if (hexval((unsigned char)*p) < 0)
			return -1;
		nd++;
	}
	return nd;
}

static void
hex_decode(const char *typed, uint8_t *out)
{
	const char *p;
	size_t k = 0;

	for (p = typed; *p != '\0'; p++) {
		int v;

		if (is_sep((unsigned char)*p))
			continue;
		v = hexval((unsigned char)*p);
		if (k % 2 == 0)
			out[k / 2] = (uint8_t)(v << 4);
		else
			out[k / 2] |= (uint8_t)v;
		k++;
	}
}

static int
word_sep(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '-' ||
	    c == ',';
}

/*
 * 1 if typed is min or more alphabetic tokens, 0 otherwise.  Two, unless
 * the value is one byte (one word): a lone word could be base64url.
 */
static int
looks_like_words(const char *typed, size_t min)
{
	const char *p = typed;
	size_t tokens = 0;

	while (*p != '\0') {
		while (*p != '\0' && word_sep((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		tokens++;
		while (*p != '\0' && !word_sep((unsigned char)*p)) {
			if (!isalpha((unsigned char)*p))
				return 0;
			p++;
		}
	}
	return tokens >= min;
}

static int
find_word(const char *const list[256], const char *w, size_t len)
{
	int v;

	for (v = 0; v < 256; v++)
		if (strlen(list[v]) == len && strncasecmp(list[v], w, len) == 0)
			return v;
	return -1;
}

static int
words_decode(const char *typed, uint8_t *out, size_t n, struct sd_err *e)
{
	const char *p = typed, *w;
	size_t pos = 0, len;
	int v;

	while (*p != '\0') {
		while (*p != '\0' && word_sep((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && !word_sep((unsigned char)*p))
			p++;
		len = (size_t)(p - w);
		if (pos >= n)
			return sd_err_set(e, SD_ERR_RANGE,
			    "more than %zu words: the value has %zu bytes, one "
			    "word each", n, n);
		v = find_word(pos % 2 == 0 ? pgp_even : pgp_odd, w, len);
		if (v < 0) {
			if (len > 40)
				len = 40;
			if (find_word(pos % 2 == 0 ? pgp_odd : pgp_even, w,
			    len) >= 0)
				return sd_err_set(e, SD_ERR_FORMAT,
				    "word %zu \"%.*s\" has %s syllables where a "
				    "%s-syllable word belongs: a word was "
				    "dropped or repeated before it", pos + 1,
				    (int)len, w, pos % 2 == 0 ? "three" : "two",
				    pos % 2 == 0 ? "two" : "three");
			return sd_err_set(e, SD_ERR_FORMAT,
			    "word %zu \"%.*s\" is not in the PGP word list",
			    pos + 1, (int)len, w);
		}
		out[pos++] = (uint8_t)v;
	}
	if (pos != n)
		return sd_err_set(e, SD_ERR_RANGE,
		    "%zu words typed, the value has %zu (one word per byte)",
		    pos, n);
	return 0;
}

int
readaloud_parse(const char *typed, uint8_t *out, size_t n, struct sd_err *e)
{
	long nd;

	if (typed == NULL || out == NULL)
		return SD_ERR_ARG;
	nd = hex_digits(typed);
	if (nd >= 0 && (size_t)nd == 2 * n) {
		hex_decode(typed, out);
		return 0;
	}
	if (nd > 0)
		return sd_err_set(e, SD_ERR_RANGE,
		    "%ld hex digits typed, the value has %zu", nd, 2 * n);
	if (looks_like_words(typed, n == 1 ? 1 : 2))
		return words_decode(typed, out, n, e);
	return sd_err_set(e, SD_ERR_FORMAT,
	    "not hex digits nor PGP words");
}

/* typed with every whitespace character removed; malloc'd or NULL */
static char *
strip_space(const char *typed)
{
	size_t i, o = 0, len = strlen(typed);
	char *s = malloc(len + 1);

	if (s == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		if (!isspace((unsigned char)typed[i]))
			s[o++] = typed[i];
	s[o] = '\0';
	return s;
}

int
readaloud_match(const char *typed, const uint8_t *expect, size_t n,
    struct sd_err *e)
{
	uint8_t *got = NULL, *dec = NULL;
	char *s = NULL, *want = NULL;
	size_t dec_len = 0;
	struct sd_err pe;
	long nd;
	int r = SD_ERR_INTERNAL;

	if (typed == NULL || expect == NULL)
		return SD_ERR_ARG;
	sd_err_clear(&pe);
	if ((got = malloc(n > 0 ? n : 1)) == NULL) {
		r = SD_ERR_ALLOC;
		goto out;
	}
	nd = hex_digits(typed);
	if ((nd >= 0 && (size_t)nd == 2 * n) ||
	    looks_like_words(typed, n == 1 ? 1 : 2)) {
		if ((r = readaloud_parse(typed, got, n, e)) != 0)
			goto out;
		if (memcmp(got, expect, n) != 0) {
			r = sd_err_set(e, SD_ERR_AUTH,
			    "the typed value is a different value");
			goto out;
		}
		r = 0;
		goto out;
	}
	/* base64url: case is part of the value */
	if ((s = strip_space(typed)) == NULL) {
		r = SD_ERR_ALLOC;
		goto out;
	}
	if ((r = b64url_encode(expect, n, &want)) != 0)
		goto out;
	if (strcmp(s, want) == 0) {
		r = 0;
		goto out;
	}
	if (strcasecmp(s, want) == 0) {
		r = sd_err_set(e, SD_ERR_AUTH,
		    "the typed value matches only if letter case is ignored, "
		    "and base64url is case-sensitive: compare the grouped hex "
		    "or the words instead");
		goto out;
	}
	if (b64url_decode(s, strlen(s), &dec, &dec_len, &pe) == 0 &&
	    dec_len == n) {
		r = sd_err_set(e, SD_ERR_AUTH,
		    "the typed value is a different value");
		goto out;
	}
	if (nd > 0)
		r = sd_err_set(e, SD_ERR_RANGE,
		    "%ld hex digits typed, the value has %zu", nd, 2 * n);
	else
		r = sd_err_set(e, SD_ERR_FORMAT,
		    "not hex digits, PGP words or base64url of %zu bytes", n);
out:
	free(got);
	free(dec);
	free(s);
	free(want);
	return r;
}
