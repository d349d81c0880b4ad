package hub

import (
	"bytes"
	"testing"
)

// TestMQTTPacketParts: the gate reads remaining lengths of one to four
// bytes and refuses a fifth; it finds the user name of CONNECT packets
// with and without a will, and none where there is none or it is cut.
func TestMQTTPacketParts(t *testing.T) {
	for _, c := range []struct {
		enc  []byte
		want int
	}{
		{[]byte{0}, 0}, {[]byte{127}, 127}, {[]byte{0x80, 1}, 128},
		{[]byte{0xff, 0x7f}, 16383}, {[]byte{0x80, 0x80, 0x80, 1}, 2097152}, {[]byte{0xff, 0xff, 0xff, 0x7f}, 268435455},
	} {
		n, enc, err := remainingLength(bytes.NewReader(c.enc))
		if err != nil || n != c.want || !bytes.Equal(enc, c.enc) {
			t.Errorf("% x: %d % x %v, want %d", c.enc, n, enc, err, c.want)
		}
	}
	if _, _, err := remainingLength(bytes.NewReader([]byte{0x80, 0x80, 0x80, 0x80, 1})); err == nil {
		t.Error("a five-byte length was taken")
	}

	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	connect := func(flags byte, fields ...string) []byte {
		b := append(str("MQTT"), 4, flags, 0, 60)
		for _, f := range fields {
			b = append(b, str(f)...)
		}
		return b
	}
	for name, c := range map[string]struct {
		body []byte
		want string
	}{
		"user and password": {connect(0xc2, "client", "guest/k1", "pw"), "guest/k1"},
		"with a will":       {connect(0xc6, "client", "will/topic", "bye", "guest/k2", "pw"), "guest/k2"},
		"no user":           {connect(0x02, "client"), ""},
		"cut short":         {connect(0xc2, "client")[:12], ""},
		"empty":             {nil, ""},
	} {
		if got := connectUser(c.body); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}
