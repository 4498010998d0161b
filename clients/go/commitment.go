package candor

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Salted commitments (docs/leaf-format.md §Commitments):
//
//	SHA-256("candor/commitment/v1\n" || uint8 len(salt) || salt || uint16 len(field) || field || value)
//
// The opening (field, salt, value) stays with the gateway; only the digest goes into the event.

const commitmentPrefix = "candor/commitment/v1\n"

// saltSource is where salts come from; the corpus test replays the TypeScript SDK's.
var saltSource io.Reader = rand.Reader

// SaltBytes is the salt length Commit draws (the TypeScript SDK's too); the format allows 16 to 255.
const SaltBytes = 32

// Opening is what discloses one commitment: keep it (encrypted) to show an auditor the value later,
// delete it to erase the value. The leaf and its proofs stay valid either way.
type Opening struct {
	Field string `json:"field"`
	Salt  []byte `json:"salt"`
	Value []byte `json:"value"`
}

// Digest is the commitment an opening opens.
func (o Opening) Digest() ([]byte, error) {
	if len(o.Salt) < 16 || len(o.Salt) > 255 {
		return nil, fmt.Errorf("candor: commitment salt must be 16 to 255 bytes, not %d", len(o.Salt))
	}
	if len(o.Field) == 0 || len(o.Field) > 0xffff {
		return nil, fmt.Errorf("candor: commitment field name must be 1 to 65535 bytes")
	}
	h := sha256.New()
	h.Write([]byte(commitmentPrefix))
	h.Write([]byte{byte(len(o.Salt))})
	h.Write(o.Salt)
	h.Write([]byte{byte(len(o.Field) >> 8), byte(len(o.Field))})
	h.Write([]byte(o.Field))
	h.Write(o.Value)
	return h.Sum(nil), nil
}

// Opens reports whether the opening opens digest.
func (o Opening) Opens(digest []byte) bool {
	d, err := o.Digest()
	return err == nil && len(digest) == 32 && subtle.ConstantTimeCompare(d, digest) == 1
}

// Commit commits to value under field with a fresh 32-byte salt.
func Commit(field, value string) ([]byte, Opening) {
	salt := make([]byte, SaltBytes)
	if _, err := io.ReadFull(saltSource, salt); err != nil {
		panic("candor: no randomness for a commitment salt: " + err.Error())
	}
	o := Opening{Field: field, Salt: salt, Value: []byte(value)}
	d, err := o.Digest()
	if err != nil {
		panic(err) // only an empty or oversized field name, which the helpers never pass
	}
	return d, o
}

// StatementFingerprint is the first 16 bytes, in hex, of SHA-256("candor/fingerprint/v1\n" ||
// normalised statement): equal for the same query with other literals, revealing none of them.
func StatementFingerprint(sql string) string {
	h := sha256.Sum256([]byte("candor/fingerprint/v1\n" + NormalizeStatement(sql)))
	return hex.EncodeToString(h[:16])
}

// jsSpace is the set JavaScript's \s matches, which the TypeScript normalisation collapses:
// ECMA-262 §22.2.2.9 (CharacterClassEscape :: s) is every code point of WhiteSpace (§12.2: TAB,
// VT, FF, ZWNBSP U+FEFF and the Unicode category Zs) and LineTerminator (§12.3: LF, CR, LS
// U+2028, PS U+2029). Zs is U+0020, U+00A0, U+1680, U+2000..U+200A, U+202F, U+205F and U+3000
// (unchanged since Unicode 6.3). Go's \s is only [\t\n\f\r ], and unicode.IsSpace adds U+0085
// but not U+FEFF, so neither will do; the corpus checks this set against JavaScript's code point
// by code point.
const jsSpace = `\t\n\v\f\r \x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`

var (
	dollarTag  = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)?\$`)
	positional = regexp.MustCompile(`^\$[0-9]+`)
	spaces     = regexp.MustCompile(`[` + jsSpace + `]+`)
	lists      = regexp.MustCompile(`\?([` + jsSpace + `]*,[` + jsSpace + `]*\?)+`)
	punct      = regexp.MustCompile(`[` + jsSpace + `]*([(),;=<>])[` + jsSpace + `]*`)
)

// jsLower is where JavaScript's String.prototype.toLowerCase of one UTF-16 code unit differs
// from Go's unicode.ToLower (Unicode 13 in Go 1.19): U+0130's full lower-case mapping is two code
// points (SpecialCasing.txt), and the rest are pairs added in Unicode 14 to 17, which Node's ICU
// knows. Found by comparing both over every BMP code point.
var jsLower = map[rune]string{
	0x0130: "i\u0307",
	0x1C89: "\u1C8A", 0x2C2F: "\u2C5F", 0xA7C0: "\uA7C1", 0xA7CB: "\u0264", 0xA7CC: "\uA7CD",
	0xA7CE: "\uA7CF", 0xA7D0: "\uA7D1", 0xA7D2: "\uA7D3", 0xA7D4: "\uA7D5", 0xA7D6: "\uA7D7",
	0xA7D8: "\uA7D9", 0xA7DA: "\uA7DB", 0xA7DC: "\u019B",
}

// lowerLikeJS lowers one code point as the TypeScript normalisation does: it lowers sql[i], one
// UTF-16 code unit, so a code point outside the BMP (two surrogates) is never lowered.
func lowerLikeJS(r rune) string {
	if r > 0xFFFF {
		return string(r)
	}
	if l, ok := jsLower[r]; ok {
		return l
	}
	return string(unicode.ToLower(r))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isWord(c byte) bool {
	return isDigit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// NormalizeStatement is the normalisation StatementFingerprint hashes, ported from
// src/schema/commitment.ts (normalizeStatement); the shared corpus checks both agree.
func NormalizeStatement(sql string) string {
	var out strings.Builder
	n := len(sql)
	last := byte(' ')
	emit := func(s string) {
		out.WriteString(s)
		if len(s) > 0 {
			last = s[len(s)-1]
		}
	}
	for i := 0; i < n; {
		c := sql[i]
		var next byte
		if i+1 < n {
			next = sql[i+1]
		}
		switch {
		case c == '-' && next == '-':
			for i < n && sql[i] != '\n' {
				i++
			}
			emit(" ")
		case c == '/' && next == '*':
			if end := strings.Index(sql[i+2:], "*/"); end < 0 {
				i = n
			} else {
				i += 2 + end + 2
			}
			emit(" ")
		case c == '\'':
			i++
			for i < n && !(sql[i] == '\'' && (i+1 >= n || sql[i+1] != '\'')) {
				if sql[i] == '\'' {
					i += 2
				} else {
					i++
				}
			}
			i++
			emit("?")
		case c == '$':
			rest := sql[i:]
			if m := dollarTag.FindString(rest[:min(len(rest), 64)]); m != "" {
				if end := strings.Index(sql[i+len(m):], m); end < 0 {
					i = n
				} else {
					i += len(m) + end + len(m)
				}
			} else if p := positional.FindString(rest[:min(len(rest), 12)]); p != "" {
				i += len(p)
			} else {
				i++
			}
			emit("?")
		case c == '"':
			j := n
			if end := strings.IndexByte(sql[i+1:], '"'); end >= 0 {
				j = i + 1 + end + 1
			}
			emit(sql[i:j])
			i = j
		case isDigit(c) && !isWord(last):
			for i < n && (isDigit(sql[i]) || sql[i] == '.' || sql[i] == 'e' || sql[i] == 'E') {
				i++
			}
			emit("?")
		default:
			r, size := utf8.DecodeRuneInString(sql[i:])
			emit(lowerLikeJS(r))
			i += size
		}
	}
	s := spaces.ReplaceAllString(out.String(), " ")
	s = lists.ReplaceAllString(s, "?")
	s = punct.ReplaceAllString(s, "$1")
	s = strings.Trim(s, " ") // JavaScript's trim(): after the collapse, the only space left is ' '
	return strings.TrimSuffix(s, ";")
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
