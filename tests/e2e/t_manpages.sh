#!/bin/bash
# Every verb has a man page whose SYNOPSIS is what --help prints, and
# every page is clean under mandoc -Tlint.
. "$(dirname "$0")/lib.sh"
MAN=$(cd "$E2E/../../man" && pwd)

norm() { tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'; }

# synopsis_lines PAGE: the SYNOPSIS section, one "sdtool ..." entry a line.
synopsis_lines() {
	mandoc -Tascii "$1" | col -b | awk '/^SYNOPSIS/{on=1; next} /^[A-Z]/{on=0} on' |
		norm | sed 's/ sdtool /\nsdtool /g'
}

for page in "$MAN"/*.1; do
	check "$(basename "$page"): mandoc -Tlint clean" test -z "$(mandoc -Tlint -Wwarning "$page" 2>&1)"
done
check "sd-file.5: mandoc -Tlint clean" test -z "$(mandoc -Tlint -Wwarning "$MAN/sd-file.5" 2>&1)"

for verb in keygen inspect verify restore-blob; do
	want=$("$SDTOOL" "$verb" --help | head -n 1 | sed 's/^usage: //' | norm)
	got=$(synopsis_lines "$MAN/sdtool-$verb.1")
	check "sdtool-$verb.1 SYNOPSIS matches --help" test "$want" = "$got"
	[ "$want" = "$got" ] || printf '#   --help: %s\n#   man:    %s\n' "$want" "$got"
done
for sub in activate init-recovery upload status; do
	want=$("$SDTOOL" sim "$sub" --help | head -n 1 | sed 's/^usage: //' | norm)
	synopsis_lines "$MAN/sdtool-sim.1" | grep -Fxq -- "$want" ||
		{ not_ok "sdtool-sim.1 SYNOPSIS line for $sub" "man lacks: $want"; continue; }
	ok "sdtool-sim.1 SYNOPSIS line for $sub"
done
for f in "$E2E"/../../sdtool/cmd_*.c; do
	verb=$(basename "$f" .c); verb=${verb#cmd_}; verb=${verb//_/-}
	check "sdtool-$verb has a man page" test -f "$MAN/sdtool-$verb.1"
	check "sdtool $verb --help exits 0" sh -c '"$0" "$1" --help >/dev/null' "$SDTOOL" "$verb"
done

done_testing
