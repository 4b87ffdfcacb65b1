#!/bin/bash
# Every verb has a man page whose SYNOPSIS is what --help prints, and
# every page is clean under mandoc -Tlint.
#
# A verb with subcommands prints "usage: sdtool VERB A | B | C ..." and its
# page has one SYNOPSIS line per subcommand, each equal to the first line
# of `sdtool VERB SUB --help`.
. "$(dirname "$0")/lib.sh"
MAN=$(cd "$E2E/../../man" && pwd)

norm() { tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'; }

# synopsis_lines PAGE: the SYNOPSIS section, one "sdtool ..." entry a line.
synopsis_lines() {
	mandoc -Tascii "$1" | col -b | awk '/^SYNOPSIS/{on=1; next} /^[A-Z]/{on=0} on' |
		norm | sed 's/ sdtool /\nsdtool /g'
}

for page in "$MAN"/*.1 "$MAN"/*.5 "$MAN"/*.7; do
	check "$(basename "$page"): mandoc -Tlint clean" test -z "$(mandoc -Tlint -Wwarning "$page" 2>&1)"
done

for f in "$E2E"/../../sdtool/cmd_*.c; do
	verb=$(basename "$f" .c); verb=${verb#cmd_}; verb=${verb//_/-}
	page=$MAN/sdtool-$verb.1
	if [ ! -f "$page" ]; then
		not_ok "sdtool-$verb has a man page" "no $page"
		continue
	fi
	ok "sdtool-$verb has a man page"
	check "sdtool-$verb.1 is listed in sdtool.1" grep -q "^\.Xr sdtool-$verb 1" "$MAN/sdtool.1"
	check "sdtool $verb --help exits 0" sh -c '"$0" "$1" --help >/dev/null' "$SDTOOL" "$verb"
	usage=$("$SDTOOL" "$verb" --help | head -n 1 | sed 's/^usage: //' | norm)
	subs=$(printf '%s\n' "$usage" | sed -n "s/^sdtool $verb \([a-z-]*\( | [a-z-]*\)*\) \.\.\.\$/\1/p")
	if [ -z "$subs" ]; then
		got=$(synopsis_lines "$page")
		check "sdtool-$verb.1 SYNOPSIS matches --help" test "$usage" = "$got"
		[ "$usage" = "$got" ] || printf '#   --help: %s\n#   man:    %s\n' "$usage" "$got"
		continue
	fi
	for sub in ${subs//|/ }; do
		want=$("$SDTOOL" "$verb" "$sub" --help | head -n 1 | sed 's/^usage: //' | norm)
		if synopsis_lines "$page" | grep -Fxq -- "$want"; then
			ok "sdtool-$verb.1 SYNOPSIS line for $sub"
		else
			not_ok "sdtool-$verb.1 SYNOPSIS line for $sub" "man lacks: $want"
		fi
	done
done

done_testing
