package rtmp

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/amf0"
)

// NetConnection / NetStream status codes (RTMP 1.0 §7.2.1.1, §7.2.2; the
// exact strings clients match on, e.g. librtmp and libavformat rtmpproto.c).
const (
	codeConnectSuccess    = "NetConnection.Connect.Success"
	codePublishStart      = "NetStream.Publish.Start"
	codePublishBadName    = "NetStream.Publish.BadName"
	codePublishRejected   = "NetStream.Publish.Rejected"
	codeUnpublishSuccess  = "NetStream.Unpublish.Success"
	codePlayReset         = "NetStream.Play.Reset"
	codePlayStart         = "NetStream.Play.Start"
	codePlayStop          = "NetStream.Play.Stop"
	codePlayFailed        = "NetStream.Play.Failed"
	codePlayNotFound      = "NetStream.Play.StreamNotFound"
	codePlayUnpublish     = "NetStream.Play.UnpublishNotify"
	levelStatus           = "status"
	levelError            = "error"
	fmsVersion            = "FMS/3,5,7,7009" // what clients expect to parse; not a claim
	serverCapabilities    = 31
	sampleAccessName      = "|RtmpSampleAccess"
	setDataFrameName      = "@setDataFrame"
	onMetaDataName        = "onMetaData"
	commandResult         = "_result"
	commandError          = "_error"
	commandOnStatus       = "onStatus"
	defaultObjectEncoding = 0
)

// Chunk stream ids Ripple writes on (docs/interop.md §2: 2 protocol control, 3 commands,
// 4 audio, 5 data, 6 video). Fixed ids make the media chunk headers identical
// for every player, so they can be cached once per packet.
const (
	csidControl uint32 = 2
	csidCommand uint32 = 3
	csidAudio   uint32 = 4
	csidData    uint32 = 5
	csidVideo   uint32 = 6
)

// E-RTMP v2 "Enhancing NetConnection connect Command": FourCcInfoMask bits.
const fourCCCanForward = 0x04

// Codecs Ripple forwards untouched in E-RTMP form. The hub and the FLV layer
// understand these FourCCs (keyframes, sequence starts), so we can announce
// them in the connect _result.
var (
	videoFourCCs = []string{"avc1", "hvc1", "av01", "vp09"}
	audioFourCCs = []string{"mp4a", "Opus", "fLaC", ".mp3", "ac-3", "ec-3"}
)

// StatusError is an error status from the server: an `_error` reply or an
// onStatus with level "error" (NetStream.Publish.BadName,
// NetStream.Play.StreamNotFound, ...).
type StatusError struct {
	Code        string
	Description string
}

func (e *StatusError) Error() string {
	if e.Description == "" {
		return "rtmp: server error " + e.Code
	}
	return fmt.Sprintf("rtmp: server error %s: %s", e.Code, e.Description)
}

// command is one decoded command message (RTMP 1.0 §7.1.1): the name, the
// transaction id, the command object (nil or amf0.Object) and the remaining
// arguments.
type command struct {
	Name  string
	TxnID float64
	Obj   any
	Args  []any
}

var errEmptyCommand = errors.New("rtmp: empty command message")

// maxCommandArgs bounds the arguments kept after the command object. The
// commands we act on use at most three (publish: name, type); the rest is
// ignored rather than decoded.
const maxCommandArgs = 16

// decodeCommand decodes an AMF0 command payload. For an AMF3 command
// message (type 17) the caller strips the leading format byte first (the
// payload is AMF0 apart from that byte, RTMP 1.0 §7.1.1).
//
// The name must be a string and the transaction id a number; anything after
// them is decoded best-effort, up to maxCommandArgs arguments: a value the decoder rejects (an AMF3 object
// behind an avmplus marker, or garbage) ends the argument list instead of
// failing the whole command, so a client with an exotic trailing argument is
// not disconnected for it.
func decodeCommand(b []byte) (command, error) {
	if len(b) == 0 {
		return command{}, errEmptyCommand
	}
	v, n, err := amf0.Decode(b)
	if err != nil {
		return command{}, fmt.Errorf("rtmp: command name: %w", err)
	}
	name, ok := v.(string)
	if !ok {
		return command{}, fmt.Errorf("rtmp: command name is %T, want string", v)
	}
	c := command{Name: name}
	b = b[n:]
	if len(b) == 0 {
		// Data messages (onMetaData) have no transaction id; commands
		// without one are treated as txn 0.
		return c, nil
	}
	v, n, err = amf0.Decode(b)
	if err != nil {
		return command{}, fmt.Errorf("rtmp: command %q transaction id: %w", name, err)
	}
	txn, ok := v.(float64)
	if !ok {
		return command{}, fmt.Errorf("rtmp: command %q transaction id is %T, want number", name, v)
	}
	c.TxnID = txn
	b = b[n:]
	first := true
	for len(b) > 0 && len(c.Args) < maxCommandArgs {
		v, n, err = amf0.Decode(b)
		if err != nil {
			break
		}
		if first {
			c.Obj, first = v, false
		} else {
			c.Args = append(c.Args, v)
		}
		b = b[n:]
	}
	return c, nil
}

// arg returns argument i (after the command object) or nil.
func (c *command) arg(i int) any {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return nil
}

// stringArg returns argument i if it is a string.
func (c *command) stringArg(i int) (string, bool) {
	s, ok := c.arg(i).(string)
	return s, ok
}

// object returns the command object as an amf0.Object (nil if absent or of
// another type; some encoders send an ECMA array instead).
func (c *command) object() amf0.Object {
	switch o := c.Obj.(type) {
	case amf0.Object:
		return o
	case amf0.ECMAArray:
		return amf0.Object(o)
	}
	return nil
}

// info returns the info object of an onStatus/_result/_error (the first
// argument after the command object).
func (c *command) info() amf0.Object {
	switch o := c.arg(0).(type) {
	case amf0.Object:
		return o
	case amf0.ECMAArray:
		return amf0.Object(o)
	}
	return nil
}

// commandMessage encodes an AMF0 command message on stream msid from
// arbitrary values (the client's commands); vals are appended after name
// and transaction id (command object first). It fails if a value does not
// encode (an unsupported Go type, too deep).
func commandMessage(msid uint32, name string, txn float64, vals ...any) (*Message, error) {
	b, err := amf0.Append(commandHead(name, txn), vals...)
	if err != nil {
		return nil, fmt.Errorf("rtmp: encode command %q: %w", name, err)
	}
	return &Message{TypeID: TypeCommandAMF0, StreamID: msid, Payload: b}, nil
}

// The server's replies below have fixed shapes (strings, numbers, null and
// objects of them), so they are written with amf0's infallible appenders:
// no error path, and nothing to panic about (docs/architecture.md §8.3).

// commandHead starts a command payload: name and transaction id.
func commandHead(name string, txn float64) []byte {
	return amf0.AppendNumber(amf0.AppendString(make([]byte, 0, 256), name), txn)
}

// appendStatusProps appends the level, code and description properties of
// a status info object (RTMP 1.0 §7.2.1.1), without the object's ends.
func appendStatusProps(b []byte, level, code, desc string) []byte {
	b = amf0.AppendString(amf0.AppendKey(b, "level"), level)
	b = amf0.AppendString(amf0.AppendKey(b, "code"), code)
	return amf0.AppendString(amf0.AppendKey(b, "description"), desc)
}

// onStatusMessage builds ["onStatus", 0, null, {level, code, description}]
// on stream msid (RTMP 1.0 §7.2.2).
func onStatusMessage(msid uint32, level, code, desc string) *Message {
	b := amf0.AppendNull(commandHead(commandOnStatus, 0))
	b = amf0.AppendObjectEnd(appendStatusProps(amf0.AppendObjectStart(b), level, code, desc))
	return &Message{TypeID: TypeCommandAMF0, StreamID: msid, Payload: b}
}

// resultMessage builds ["_result", txn, null, args...] on stream 0.
func resultMessage(txn float64, args ...float64) *Message {
	b := amf0.AppendNull(commandHead(commandResult, txn))
	for _, a := range args {
		b = amf0.AppendNumber(b, a)
	}
	return &Message{TypeID: TypeCommandAMF0, Payload: b}
}

// connectResult is the reply to connect (RTMP 1.0 §7.2.1.1): properties
// {fmsVer, capabilities} and information {level, code, description,
// objectEncoding}. When the client announced E-RTMP capabilities the
// properties also state ours (E-RTMP v2: the server SHOULD reply with the
// same property names so both sides agree on a codec set).
func connectResult(txn, objectEncoding float64, enhanced bool) *Message {
	b := amf0.AppendObjectStart(commandHead(commandResult, txn))
	b = amf0.AppendString(amf0.AppendKey(b, "fmsVer"), fmsVersion)
	b = amf0.AppendNumber(amf0.AppendKey(b, "capabilities"), serverCapabilities)
	b = amf0.AppendNumber(amf0.AppendKey(b, "mode"), 1)
	if enhanced {
		b = amf0.AppendStrictArrayStart(amf0.AppendKey(b, "fourCcList"), uint32(len(videoFourCCs)))
		for _, f := range videoFourCCs {
			b = amf0.AppendString(b, f)
		}
		for _, m := range [...]struct {
			key    string
			fourCC []string
		}{{"videoFourCcInfoMap", videoFourCCs}, {"audioFourCcInfoMap", audioFourCCs}} {
			b = amf0.AppendObjectStart(amf0.AppendKey(b, m.key))
			for _, f := range m.fourCC {
				b = amf0.AppendNumber(amf0.AppendKey(b, f), fourCCCanForward)
			}
			b = amf0.AppendObjectEnd(b)
		}
		b = amf0.AppendNumber(amf0.AppendKey(b, "capsEx"), 0)
	}
	b = amf0.AppendObjectEnd(b)
	b = appendStatusProps(amf0.AppendObjectStart(b), levelStatus, codeConnectSuccess, "Connection succeeded.")
	b = amf0.AppendObjectEnd(amf0.AppendNumber(amf0.AppendKey(b, "objectEncoding"), objectEncoding))
	return &Message{TypeID: TypeCommandAMF0, Payload: b}
}

// wantsEnhanced reports whether a connect command object carries any E-RTMP
// capability property (v1 fourCcList, v2 info maps or capsEx).
func wantsEnhanced(obj amf0.Object) bool {
	for _, k := range [...]string{"fourCcList", "videoFourCcInfoMap", "audioFourCcInfoMap", "capsEx"} {
		if _, ok := obj.Get(k); ok {
			return true
		}
	}
	return false
}

// sampleAccessMessage is the |RtmpSampleAccess data message nginx-rtmp and
// FMS send after Play.Start (lets Flash read raw audio/video; harmless for
// everyone else).
func sampleAccessMessage(msid uint32) *Message {
	b := amf0.AppendBool(amf0.AppendBool(amf0.AppendString(nil, sampleAccessName), true), true)
	return &Message{TypeID: TypeDataAMF0, StreamID: msid, Payload: b}
}

// dataName returns the leading AMF0 string of a data message payload
// ("@setDataFrame", "onMetaData", "|RtmpSampleAccess"...) without decoding the
// rest, or "" if the payload does not start with a short string.
func dataName(b []byte) string {
	if len(b) < 3 || b[0] != 0x02 {
		return ""
	}
	n := int(b[1])<<8 | int(b[2])
	if len(b) < 3+n {
		return ""
	}
	return string(b[3 : 3+n])
}

// isMetadataName reports whether a data message named name carries stream
// metadata the hub must keep (ffmpeg/OBS send "@setDataFrame","onMetaData";
// some encoders send "onMetaData" directly).
func isMetadataName(name string) bool {
	return name == setDataFrameName || name == onMetaDataName
}

// statusOf returns the status error of an onStatus/_error command, or nil.
func statusOf(cmd *command) *StatusError {
	info := cmd.info()
	if cmd.Name == commandError || info.String("level") == levelError {
		return &StatusError{Code: info.String("code"), Description: info.String("description")}
	}
	return nil
}
