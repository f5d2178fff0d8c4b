# Sourced by tests/vm/run and tests/run-all: a guest test's header, the
# "# KEY: value" lines among its first 40 lines (tests/vm/README.md lists
# the keys).

# header_value FILE KEY DEFAULT: the first word of KEY's value (the rest of
# the line is a comment), or DEFAULT when FILE has no such line.
header_value() {
	local v
	v=$(sed -n '1,40{/^#[[:space:]]*'"$2"':[[:space:]]*/{s/^#[[:space:]]*'"$2"':[[:space:]]*//;p;q}}' "$1")
	v=${v%%[[:space:]]*}
	echo "${v:-$3}"
}
