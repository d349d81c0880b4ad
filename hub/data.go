package hub

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"strings"
	"unicode/utf8"
)

// The parameters that carry an event's data to an action when the data is
// not a JSON object (whose fields are the parameters themselves).
const (
	// PayloadParameter carries JSON data that is not an object (as its
	// JSON value) and text data (as a string).
	PayloadParameter = "payload"
	// BodyParameter carries binary data, base64-encoded (standard
	// alphabet, padded), as OpenWhisk gives a raw web action its body.
	BodyParameter = "__ow_body"
	// HeadersParameter goes with BodyParameter: {"content-type": T}, the
	// data's media type, where a raw web action finds it.
	HeadersParameter = "__ow_headers"
)

// DefaultBinaryType is the media type of binary data that came without one.
const DefaultBinaryType = "application/octet-stream"

// DataParameters is how data of media type contentType reaches an action
// as parameters. Every feed hands data to actions through it, so that an
// action gets what the producer sent, byte for byte:
//
//   - JSON (contentType is JSON, application/json or a +json type, or
//     empty): an object's fields are the parameters; any other JSON value
//     is {"payload": value}.
//   - Text (a text/* type, XML, JavaScript, YAML, a form, or any type with
//     a charset; data that is valid UTF-8): {"payload": "the text"}.
//   - Binary (any other type, or data that is not valid UTF-8):
//     {"__ow_body": "<base64>", "__ow_headers": {"content-type": T}}, as a
//     raw web action gets a binary body. T is contentType, or
//     application/octet-stream when there is none.
//
// No data gives no parameters.
func DataParameters(contentType string, data []byte) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	if len(data) == 0 {
		return out
	}
	mt := mediaType(contentType)
	if (mt == "" || isJSONMediaType(mt)) && json.Valid(data) {
		if json.Unmarshal(data, &out) == nil && out != nil { // null unmarshals as a nil map
			return out
		}
		return map[string]json.RawMessage{PayloadParameter: data}
	}
	if !IsBinary(contentType, data) {
		s, _ := json.Marshal(string(data))
		return map[string]json.RawMessage{PayloadParameter: s}
	}
	if contentType == "" {
		contentType = DefaultBinaryType
	}
	body, _ := json.Marshal(base64.StdEncoding.EncodeToString(data))
	headers, _ := json.Marshal(map[string]string{"content-type": contentType})
	return map[string]json.RawMessage{BodyParameter: body, HeadersParameter: headers}
}

// IsBinary reports whether data of media type contentType is binary, that
// is whether an action gets it base64-encoded: data that is not valid
// UTF-8 always is; text, JSON, XML, JavaScript, YAML and form types, types
// with a charset parameter, and data without a type are not; every other
// type (application/octet-stream, image/png, application/protobuf, ...) is.
func IsBinary(contentType string, data []byte) bool {
	if !utf8.Valid(data) {
		return true
	}
	if strings.TrimSpace(contentType) == "" {
		return false
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true
	}
	if _, ok := params["charset"]; ok {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"), isJSONMediaType(mt),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/ecmascript",
		mt == "application/yaml", mt == "application/x-yaml", strings.HasSuffix(mt, "+yaml"),
		mt == "application/x-www-form-urlencoded", mt == "application/graphql":
		return false
	}
	return true
}

// mediaType is contentType's media type in lower case, without parameters.
func mediaType(contentType string) string {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func isJSONMediaType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/json"
}
