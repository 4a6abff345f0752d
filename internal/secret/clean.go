package secret

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText makes outside text safe to keep in an error, a log line or an
// answer: every character that is not printable — controls, a terminal's
// escape sequences, format characters such as bidi overrides, invalid
// bytes — turned into a space, then
// credential-looking runs scrubbed — after the spaces, which can make
// "Bearer\x00<token>" a bearer value, and before the cut, which could
// shorten one past recognition — then trimmed and cut on a rune boundary to
// at most max bytes plus an ellipsis.
func CleanText(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(Scrub(s))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
