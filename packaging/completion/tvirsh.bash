# bash completion for tvirsh (installed as /usr/share/bash-completion/completions/tvirsh).
#
# Thin on purpose: the candidates come from `tvirsh complete -- WORDS...`, which answers from
# the command table `tvirsh help` prints (commands, options, value lists) and asks the daemon
# for domain, network and pool names over a read-only connection, as virsh's completers do.
# -c/--connect and -r on the line being completed are passed along with the other words.

_tvirsh_complete()
{
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    # Words as tvirsh splits them (whitespace), not by COMP_WORDBREAKS, which would cut a
    # URI at ':' and '='.
    read -r -a words <<< "$line"
    [[ $line =~ [[:space:]]$ ]] && words+=("")
    ((${#words[@]} == 0)) && return 0
    local cur=${words[${#words[@]}-1]}
    local IFS=$'\n'
    local -a cands
    cands=($("${words[0]}" complete -- "${words[@]:1}" 2>/dev/null))
    # bash replaces only the part of the word after the last COMP_WORDBREAKS character.
    local cword=${COMP_WORDS[COMP_CWORD]}
    if [[ $cur != "$cword" && $cur == *"$cword" ]]; then
        local cut=$((${#cur} - ${#cword}))
        local i
        for i in "${!cands[@]}"; do cands[i]=${cands[i]:cut}; done
    fi
    COMPREPLY=("${cands[@]}")
    # A directory goes on being completed: no space after it.
    if ((${#COMPREPLY[@]} == 1)) && [[ ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -F _tvirsh_complete tvirsh
