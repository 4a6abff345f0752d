// Package leakcheck finds credentials in text that must never hold them: logs,
// command output, metrics pages. Tests use it; it recognises credentials by
// type (Anthropic keys and tokens, JWTs) and by the known values a test used.
package leakcheck

import (
	"regexp"
	"strconv"
	"strings"
)

// Shapes of credentials. A display form such as "sk-ant-oat01-… (fingerprint
// 1a2b3c4d)" keeps the kind prefix only and does not match.
var shapes = []*regexp.Regexp{
	regexp.MustCompile(`sk-ant-[a-z]+[0-9]*-[A-Za-z0-9_-]{4,}`),
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}`),
}

// Find returns a description of each credential in text: every match of a
// credential shape, and every non-empty known value. The descriptions name
// the kind and position, never the credential itself.
func Find(text string, known ...string) []string {
	var out []string
	for _, re := range shapes {
		for _, loc := range re.FindAllStringIndex(text, -1) {
			out = append(out, describe("credential-shaped text", text, loc[0]))
		}
	}
	for i, k := range known {
		if k == "" {
			continue
		}
		if at := strings.Index(text, k); at >= 0 {
			out = append(out, describe("known secret #"+strconv.Itoa(i), text, at))
		}
	}
	return out
}

// describe names a leak by kind and line number.
func describe(kind, text string, at int) string {
	return kind + " on line " + strconv.Itoa(strings.Count(text[:at], "\n")+1)
}
