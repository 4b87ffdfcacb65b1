#!/usr/bin/python3
"""json_valid.py SCHEMA FILE [VERB]: FILE holds exactly one JSON object
that validates against SCHEMA (docs/sd-json.schema.json), and whose verb
is VERB when given.  Prints why not, exits 1."""
import json
import sys

import jsonschema


def main():
    schema = json.load(open(sys.argv[1]))
    text = open(sys.argv[2]).read()
    try:
        doc, end = json.JSONDecoder().raw_decode(text.lstrip())
    except ValueError as e:
        print("not JSON: %s: %r" % (e, text[:200]))
        return 1
    if text.lstrip()[end:].strip():
        print("more than one JSON value on stdout")
        return 1
    v = jsonschema.Draft7Validator(schema)
    errs = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errs:
        for e in errs[:5]:
            print("%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(top)",
                              e.message[:300]))
        return 1
    if len(sys.argv) > 3 and doc.get("verb") != sys.argv[3]:
        print("verb is %r, expected %r" % (doc.get("verb"), sys.argv[3]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
