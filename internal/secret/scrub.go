package secret

import "strings"

// Scrub masks anything in text that looks like a credential: Anthropic keys and
// tokens (sk-ant-…), JWTs (three base64url segments starting with eyJ) and
// bearer values. It is a last line of defence for text that came from outside
// — an upstream error message may echo the assertion it rejected — and is not
// a substitute for keeping credentials in a Value.
func Scrub(text string) string {
	if text == "" {
		return text
	}
	var b strings.Builder
	i := 0
	for i < len(text) {
		if n := credentialAt(text, i); n > 0 {
			b.WriteString(Redacted)
			i += n
			continue
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

// credentialAt returns the length of the credential-looking run at text[i:],
// or 0.
func credentialAt(text string, i int) int {
	rest := text[i:]
	wordStart := i == 0 || !isWordByte(text[i-1])
	if strings.HasPrefix(rest, "sk-ant-") && (wordStart || hasKind(rest[len("sk-ant-"):])) {
		return tokenRun(rest) // a full sk-ant-<kind>- prefix counts even glued to a word
	}
	if !wordStart {
		return 0 // the looser shapes only at the start of a word
	}
	switch {
	case strings.HasPrefix(rest, "eyJ"):
		n := tokenRun(rest)
		if strings.Count(rest[:n], ".") >= 1 && n >= 16 {
			return n
		}
	case hasFoldPrefix(rest, "bearer "):
		j := len("bearer ")
		if n := tokenRun(rest[j:]); n >= 8 {
			return j + n
		}
	}
	return 0
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// tokenRun is the length of the leading run of base64url, dot and dash bytes.
func tokenRun(s string) int {
	n := 0
	for n < len(s) && isTokenByte(s[n]) {
		n++
	}
	return n
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/'
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// hasKind reports whether s starts with an Anthropic credential kind such as
// "oat01-" or "api03-": letters, digits, then a dash.
func hasKind(s string) bool {
	i := 0
	for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return i > 0 && j > i && j < len(s) && s[j] == '-'
}
