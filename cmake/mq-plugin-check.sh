#!/usr/bin/env bash
#
# mq-plugin-check.sh -- refuse a MindQuiz plugin .so that cannot be
# hot-reloaded safely (DESIGN.md section 8). Every build runs it after
# linking a plugin (mq_add_plugin); plugin developers can run it by hand.
#
# usage: mq-plugin-check.sh [--delete-refused] <plugin.so>
#
#   exit 0  the plugin is safe to load, unload and load again
#   exit 1  refused; one line per problem on stderr:
#             mq-plugin-check: "<file>" refused: <cause>
#   exit 2  usage error, or readelf is missing
#
# --delete-refused  also remove a refused file, so a failed build leaves no
#                   unsafe .so behind for a release to pick up (and the next
#                   build links it again instead of finding it up to date).
# READELF           the readelf to use (the build passes CMAKE_READELF).
#
# What is refused, and why:
#   - exports other than mq_plugin_descriptor: with default visibility one
#     plugin's internal symbol can bind to another's;
#   - imports of atexit and friends, exit, abort, pthread_create: exit
#     handlers run at dlclose (or later, into unmapped code), a plugin must
#     never end the host, and a thread can outlive its code;
#   - the NODELETE flag, STB_GNU_UNIQUE symbols and thread-local storage:
#     each keeps the object mapped after dlclose, so a reload never really
#     unloads the old code or statics;
#   - no mq_plugin_descriptor: the host would refuse it at load time anyway,
#     better to learn it from the build.

set -u -o pipefail
# readelf's keywords (GLOBAL, UND, ...) are parsed below: never translated.
export LC_ALL=C

prog=mq-plugin-check
readelf=${READELF:-readelf}
delete=0

usage() {
    echo "usage: $prog [--delete-refused] <plugin.so>" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
    --delete-refused) delete=1; shift ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
    esac
done
[ $# -eq 1 ] || usage
file=$1
# llvm-readelf rejects "--", so keep a leading "-" from reading as an option.
case $file in -*) file=./$file ;; esac

problems=()

# Record one problem; all of them are reported together by finish.
refuse() {
    problems+=("$1")
}

# Report the problems found (if any) and exit with the script's status.
finish() {
    local p
    [ ${#problems[@]} -eq 0 ] && exit 0
    for p in "${problems[@]}"; do
        printf '%s: "%s" refused: %s\n' "$prog" "$file" "$p" >&2
    done
    if [ "$delete" -eq 1 ]; then
        rm -f "$file"
    fi
    exit 1
}

# Print "type bind vis ndx name" for each row of a readelf -W symbol table
# on stdin; name is "-" when empty and loses its @version suffix.
symbol_rows() {
    awk '
        /^ *[0-9]+:/ {
            line = $0
            # Annotations some targets print after the visibility
            # ([VARIANT_PCS] on aarch64, <localentry>: N on ppc64).
            gsub(/\[[^]]*\]/, " ", line)
            gsub(/<[^>]*>: *[0-9]+/, " ", line)
            n = split(line, f, " ")
            if (n < 7)
                next
            name = (n >= 8) ? f[8] : "-"
            sub(/@.*/, "", name)
            print f[4], f[5], f[6], f[7], name
        }'
}

if ! command -v "$readelf" >/dev/null 2>&1; then
    echo "$prog: cannot check \"$file\": readelf \"$readelf\" not found (set READELF)" >&2
    exit 2
fi
if [ ! -f "$file" ]; then
    refuse "no such file"
    finish
fi
if ! header=$("$readelf" -W --file-header "$file" 2>/dev/null); then
    refuse "not an ELF file"
    finish
fi
if ! grep -Eq '^ *Type: +DYN ' <<<"$header"; then
    refuse "not an ELF shared object (link it with -shared)"
    finish
fi

# Lines of readelf output. --syms adds .symtab, unless stripped.
dynsyms=$("$readelf" -W --dyn-syms "$file" 2>/dev/null)
allsyms=$("$readelf" -W --syms "$file" 2>/dev/null)
dynamic=$("$readelf" -W --dynamic "$file" 2>/dev/null)
phdrs=$("$readelf" -W --program-headers "$file" 2>/dev/null)

# -- (a) exports and (f) the descriptor; (b) imports ----------------------
why_handlers="exit handlers run at dlclose or after the plugin is unmapped; free state in fini"
why_exit="a plugin must never end the host process; return an error status instead"
why_thread="a thread can outlive the plugin's code; use the host's timers"
why_export="a plugin exports only mq_plugin_descriptor; build with -fvisibility=hidden"
desc_type=
while read -r type bind vis ndx name; do
    if [ "$ndx" = UND ]; then
        # An import. Exact names only: gcc's weak __cxa_finalize reference
        # (it runs the object's own destructors at dlclose) is fine.
        case $name in
        atexit | __cxa_atexit | on_exit | at_quick_exit | __cxa_at_quick_exit | \
            __cxa_thread_atexit | __cxa_thread_atexit_impl)
            refuse "imports \"$name\" ($why_handlers)" ;;
        exit | _exit | _Exit | quick_exit | abort)
            refuse "imports \"$name\" ($why_exit)" ;;
        pthread_create | thrd_create)
            refuse "imports \"$name\" ($why_thread)" ;;
        esac
        continue
    fi
    # A definition: exported when global or weak and not hidden/internal.
    case $bind in GLOBAL | WEAK | UNIQUE) ;; *) continue ;; esac
    case $vis in DEFAULT | PROTECTED) ;; *) continue ;; esac
    case $name in
    - | _init | _fini | _edata | _end | __bss_start) ;; # linker-generated
    # AddressSanitizer's ODR indicator for an exported global (gcc, clang):
    # it comes and goes with that global, which is checked on its own.
    __odr_asan.* | __odr_asan_gen_*) ;;
    mq_plugin_descriptor) desc_type=$type ;;
    *) refuse "exports \"$name\" ($why_export)" ;;
    esac
done < <(symbol_rows <<<"$dynsyms")

if [ -z "$desc_type" ]; then
    refuse "does not export mq_plugin_descriptor (define it with MQ_PLUGIN_EXPORT)"
elif [ "$desc_type" != OBJECT ]; then
    refuse "mq_plugin_descriptor is a $desc_type, not a const mq_plugin_desc object"
fi

# -- (c) NODELETE ---------------------------------------------------------
if grep -E '\(FLAGS_1\)' <<<"$dynamic" | grep -qw NODELETE; then
    refuse "marked NODELETE (dlclose would never unmap it; do not link with -z nodelete)"
fi

# -- (d) STB_GNU_UNIQUE -----------------------------------------------------
while read -r name; do
    refuse "symbol \"$name\" has UNIQUE binding (STB_GNU_UNIQUE keeps the object mapped)"
done < <(printf '%s\n' "$dynsyms" "$allsyms" | symbol_rows |
    awk '$2 == "UNIQUE" { print $5 }' | sort -u)

# -- (e) thread-local storage ------------------------------------------------
if awk '$1 == "TLS" { found = 1 } END { exit !found }' <<<"$phdrs"; then
    refuse "has a TLS segment (thread-local destructors pin the object in memory; \
keep state in the plugin's state struct)"
fi

finish
