# bash completion for sdtool(1); installed by `make install` as
# $(PREFIX)/share/bash-completion/completions/sdtool.
#
# Verbs, subcommands and options are read from sdtool's own --help, so
# this file never disagrees with the binary it completes.

_sdtool_verbs() {
	sdtool --help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'
}

# the subcommands of VERB, from "usage: sdtool VERB a | b | c ..."
_sdtool_subs() {
	sdtool "$1" --help 2>/dev/null | sed -n '1s/^usage: sdtool [a-z-]* //p' |
	    grep '|' | tr -d '.' | tr '|' '\n' | tr -d ' '
}

# the long options of VERB [SUB]
_sdtool_opts() {
	sdtool "$@" --help 2>/dev/null | grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u
}

_sdtool() {
	local cur prev verb sub i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$(_sdtool_verbs) help --help --version" -- "$cur"))
		return
	fi
	verb=${COMP_WORDS[1]}
	if [ "$verb" = help ]; then
		[ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "$(_sdtool_verbs)" -- "$cur"))
		return
	fi
	sub=""
	case $verb in
	sim|hsm|escrow|card|yk)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "$(_sdtool_subs "$verb")" -- "$cur"))
			return
		fi
		sub=${COMP_WORDS[2]}
		;;
	esac
	case $prev in
	-d|--dir|--state)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_sdtool_opts "$verb" $sub)" -- "$cur"))
		return
	fi
	# keys, certificates, SD files, blobs, sheets: file names
	COMPREPLY=($(compgen -f -- "$cur"))
	compopt -o filenames 2>/dev/null
}
complete -F _sdtool sdtool
