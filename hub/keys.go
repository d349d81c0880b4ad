package hub

import (
	"strings"
)

// EncodeToken makes s usable as one token of a NATS subject or KV key.
// Letters, digits, '-' and '_' stay; every other byte becomes "=XX" (hex), so
// the encoding is reversible and keeps keys readable. The empty string
// encodes as "=", which no other input produces.
func EncodeToken(s string) string {
	if s == "" {
		return "="
	}
	if isPlainToken(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// DecodeToken reverses EncodeToken. A malformed token decodes as itself.
func DecodeToken(t string) string {
	if t == "=" {
		return ""
	}
	if !strings.Contains(t, "=") {
		return t
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] == '=' && i+2 < len(t) {
			hi, ok1 := unhex(t[i+1])
			lo, ok2 := unhex(t[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(t[i])
	}
	return b.String()
}

// Key joins encoded tokens into a KV key or subject.
func Key(tokens ...string) string {
	enc := make([]string, len(tokens))
	for i, t := range tokens {
		enc[i] = EncodeToken(t)
	}
	return strings.Join(enc, ".")
}

func isPlainToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			return false
		}
	}
	return true
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
