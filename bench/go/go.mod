module candor.dev/bench

go 1.19

require golang.org/x/mod v0.7.0

// Debian's golang-golang-x-mod-dev ships x/mod 0.7.0 as plain source; building against it keeps
// the build offline (GOPROXY=off) and needs no go.sum, since directory replacements are not hashed.
replace golang.org/x/mod => /usr/share/gocode/src/golang.org/x/mod
