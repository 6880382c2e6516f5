// Package amf0 encodes and decodes Action Message Format 0 values, the
// serialisation of RTMP command (20) and data (18) messages ("AMF0 File Format
// Specification", Adobe, 2007).
//
// Go representation of the AMF0 types:
//
//	number (0x00)          float64 (Append also accepts Go integer types and float32)
//	boolean (0x01)         bool
//	string (0x02)          string (Append picks long string for > 65535 bytes)
//	object (0x03)          Object, ordered properties
//	null (0x05)            nil
//	undefined (0x06)       Undefined
//	reference (0x07)       decoded as Undefined: references are never emitted by
//	                       RTMP encoders in practice, and resolving them would
//	                       alias values across the tree; Append cannot produce them
//	ECMA array (0x08)      ECMAArray; the count is a hint, parsing runs to the end marker
//	strict array (0x0A)    StrictArray
//	date (0x0B)            Date
//	long string (0x0C)     string
//	unsupported (0x0D)     decoded as Undefined
//	XML document (0x0F)    decoded as string; Append never produces it
//	typed object (0x10)    decoded as Object, the class name is dropped
//	AVM+ (0x11)            ErrAMF3: AMF3 is not supported
//
// The decoder never allocates from a count read from the input and bounds
// the nesting depth to MaxDepth, so it is safe on untrusted bytes. Decoded
// values never alias the input buffer.
package amf0

import (
	"errors"
)

// Markers (AMF0 spec §2.1).
const (
	markerNumber      = 0x00
	markerBoolean     = 0x01
	markerString      = 0x02
	markerObject      = 0x03
	markerMovieClip   = 0x04 // reserved, not supported
	markerNull        = 0x05
	markerUndefined   = 0x06
	markerReference   = 0x07
	markerECMAArray   = 0x08
	markerObjectEnd   = 0x09
	markerStrictArray = 0x0A
	markerDate        = 0x0B
	markerLongString  = 0x0C
	markerUnsupported = 0x0D
	markerRecordSet   = 0x0E // reserved, not supported
	markerXMLDocument = 0x0F
	markerTypedObject = 0x10
	markerAVMPlus     = 0x11
)

// MaxDepth is the deepest nesting of objects and arrays that Decode accepts
// and Append produces. RTMP commands nest two or three levels deep.
const MaxDepth = 64

// MaxValues bounds how many values (nested ones included, object and array
// properties counted one each) a single Decode or DecodeAll call produces.
// Every decoded value costs tens of bytes of Go memory for one byte of input
// (a null, an empty-key property), so without a budget a few MiB of hostile
// input would allocate hundreds of MiB. Real command and metadata messages
// hold at most a few thousand values (a keyframes index).
const MaxValues = 1 << 16

// Errors. Decode wraps ErrTruncated, ErrDepth and ErrTooMany with the offending offset or
// size, so test them with errors.Is.
var (
	ErrTruncated = errors.New("amf0: truncated value")
	ErrDepth     = errors.New("amf0: nesting too deep")
	ErrAMF3      = errors.New("amf0: AMF3 value (marker 0x11) not supported")
	ErrTooMany   = errors.New("amf0: too many values")
)

// Property is one key/value pair of an Object or ECMAArray.
type Property struct {
	Key   string
	Value any
}

// Object is an AMF0 anonymous object (marker 0x03). Property order is kept:
// some peers (and humans reading captures) care about it.
type Object []Property

// ECMAArray is an AMF0 ECMA array (marker 0x08), an associative array such as
// onMetaData. Its wire count is only a hint; Decode parses to the end marker.
type ECMAArray []Property

// StrictArray is an AMF0 strict array (marker 0x0A).
type StrictArray []any

// Undefined is the AMF0 undefined value (marker 0x06). Go nil is AMF0 null.
type Undefined struct{}

// Date is an AMF0 date (marker 0x0B): milliseconds since the Unix epoch in UTC
// and a time-zone field the spec reserves (should be 0).
type Date struct {
	Millis float64
	TZ     int16
}

// Get returns the value of the first property named key.
func (o Object) Get(key string) (any, bool) { return get(o, key) }

// String returns the string value of key, or "" if it is missing or not a string.
func (o Object) String(key string) string { return getString(o, key) }

// Number returns the number value of key; ok is false if it is missing or not a number.
func (o Object) Number(key string) (float64, bool) { return getNumber(o, key) }

// Get returns the value of the first property named key.
func (a ECMAArray) Get(key string) (any, bool) { return get(a, key) }

// String returns the string value of key, or "" if it is missing or not a string.
func (a ECMAArray) String(key string) string { return getString(a, key) }

// Number returns the number value of key; ok is false if it is missing or not a number.
func (a ECMAArray) Number(key string) (float64, bool) { return getNumber(a, key) }

func get(props []Property, key string) (any, bool) {
	for _, p := range props {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

func getString(props []Property, key string) string {
	v, _ := get(props, key)
	s, _ := v.(string)
	return s
}

func getNumber(props []Property, key string) (float64, bool) {
	v, _ := get(props, key)
	f, ok := v.(float64)
	return f, ok
}
