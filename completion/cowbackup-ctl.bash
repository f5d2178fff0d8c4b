# bash completion for cowbackup-ctl(8)                 -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2207 # COMPREPLY=($(compgen ...)) is the idiom
#
# Commands, their options and option values, LVs as vg/lv (from lvs) for
# SOURCE and TARGET, and job names (from `cowbackup-ctl list --json`) for
# JOB. Installed as /usr/share/bash-completion/completions/cowbackup-ctl;
# tests/install/completion.sh checks it against the tool's own --help.

# Job names of the running jobs (empty when there are none or no root).
_cowbackup_ctl_jobs()
{
    "$1" list --json 2>/dev/null |
        sed -n 's/^[[:space:]]*"name":[[:space:]]*"\([^"]*\)".*/\1/p'
}

# Active and inactive LVs as vg/lv.
_cowbackup_ctl_lvs()
{
    lvs --noheadings -o vg_name,lv_name 2>/dev/null |
        awk 'NF == 2 { print $1 "/" $2 }'
}

# A device argument: an LV as vg/lv, or a /dev path.
_cowbackup_ctl_device()
{
    if [[ $cur == /* ]]; then
        _filedir
    else
        COMPREPLY=($(compgen -W "$(_cowbackup_ctl_lvs)" -- "$cur"))
    fi
}

_cowbackup_ctl()
{
    local cur prev words cword
    _init_completion -n = || return

    local i cmd='' cmdi=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        -*) ;;
        *) cmd=${words[i]} cmdi=$i; break ;;
        esac
    done

    local commands='backup start status list wait pause resume cancel
        set-speed finish recover track info map export restore help'

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    # Option values.
    case $prev in
    -s | --sync)
        COMPREPLY=($(compgen -W 'full top none' -- "$cur"))
        return ;;
    --on-source-error | --on-target-error)
        COMPREPLY=($(compgen -W 'report ignore stop' -- "$cur"))
        return ;;
    --cow-error)
        COMPREPLY=($(compgen -W 'break_snapshot break_write' -- "$cur"))
        return ;;
    --format)
        COMPREPLY=($(compgen -W 'qcow2 vmdk raw' -- "$cur"))
        return ;;
    --subformat)
        COMPREPLY=($(compgen -W 'monolithicSparse streamOptimized' -- "$cur"))
        return ;;
    --adapter-type)
        COMPREPLY=($(compgen -W 'ide buslogic lsilogic legacyESX' -- "$cur"))
        return ;;
    --compress)
        COMPREPLY=($(compgen -W 'zlib zstd' -- "$cur"))
        return ;;
    --top-map | --backing)
        _filedir
        return ;;
    -m | --meta)
        _cowbackup_ctl_device
        return ;;
    --export-tls)
        _filedir -d
        return ;;
    -c | --cluster-size | --speed | --max-workers | --interval | --threads | \
        --export)
        return ;;
    esac

    local start_opts='--sync --cluster-size --speed --max-workers
        --on-source-error --on-target-error --cow-error --top-map --incremental
        --incremental-only --force
        --help'
    local opts='--help' args=''
    case $cmd in
    backup) opts="$start_opts --interval --new-uuid --quiet" args=lv ;;
    start) opts="$start_opts --paused --snapshot --export --export-tls"
        args=lv ;;
    status) opts='--json --help' args=job ;;
    list) opts='--json --help' ;;
    wait) opts='--interval --quiet --help' args=job ;;
    pause | resume | cancel | set-speed) args=job ;;
    finish) opts='--force --new-uuid --help' args=job ;;
    recover) opts='--dry-run --help' ;;
    track)
        # track enable|disable|status|resume VOL
        opts='--meta --cluster-size --all --force --json --help'
        args=track ;;
    info) opts='--json --force --help' args=file ;;
    map) opts='--json --help' args=file ;;
    export)
        opts='--format --backing --subformat --adapter-type --compress
            --threads --all --force --help'
        args='export' ;;
    restore)
        opts='--force --verify --no-backing --target-is-zero --json
            --quiet --interval --help'
        args=restore ;;
    help) return ;;
    *) return ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    # Which positional argument is this (options with a value skip two)?
    local n=0
    for ((i = cmdi + 1; i < cword; i++)); do
        case ${words[i]} in
        -s | -c | --sync | --cluster-size | --speed | --max-workers | \
            --on-source-error | --on-target-error | --cow-error | --top-map | \
            --interval | --format | --backing | --subformat | --adapter-type | \
            -m | --meta)
            ((i++)) ;;
        -*) ;;
        *) ((n++)) ;;
        esac
    done

    case $args in
    lv)
        # SOURCE and TARGET.
        [[ $n -lt 2 ]] && _cowbackup_ctl_device ;;
    job)
        [[ $n -eq 0 ]] &&
            COMPREPLY=($(compgen -W "$(_cowbackup_ctl_jobs "${words[0]}")" -- "$cur")) ;;
    file)
        [[ $n -eq 0 ]] && _filedir ;;
    track)
        # The subcommand, then the volume.
        if [[ $n -eq 0 ]]; then
            COMPREPLY=($(compgen -W 'enable disable status resume' -- "$cur"))
        elif [[ $n -eq 1 ]]; then
            _cowbackup_ctl_device
        fi ;;
    restore)
        # IMAGE, then DEVICE.
        if [[ $n -eq 0 ]]; then
            _filedir
        elif [[ $n -eq 1 ]]; then
            _cowbackup_ctl_device
        fi ;;
    export)
        # JOB (or, with --all, a device or file), then OUTPUT.
        if [[ $n -eq 0 ]]; then
            COMPREPLY=($(compgen -W "$(_cowbackup_ctl_jobs "${words[0]}")" -- "$cur"))
            [[ $cur == */* || ${#COMPREPLY[@]} -eq 0 ]] && _filedir
        elif [[ $n -eq 1 ]]; then
            _filedir
        fi ;;
    esac
} &&
    complete -F _cowbackup_ctl cowbackup-ctl

# ex: filetype=sh
