// Package av defines the media packet that flows from ingest through the hub to
// every output. A Packet is created once per received RTMP/FLV message and is
// immutable from the moment the hub hands it to readers: every output shares
// the same Data bytes and the same cached encodings.
package av

import "sync"

// Kind is the FLV tag type family of a packet.
type Kind uint8

// Kinds. The numeric values are not the FLV tag types; use flv.TagType.
const (
	KindVideo Kind = iota + 1
	KindAudio
	KindData // script data: onMetaData
)

func (k Kind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	case KindData:
		return "data"
	}
	return "unknown"
}

// Codec identifies the codec of a packet's payload.
type Codec uint8

// Codecs carried over RTMP/FLV (legacy codec ids and E-RTMP v2 FourCCs).
const (
	CodecUnknown Codec = iota
	CodecH264
	CodecHEVC
	CodecAV1
	CodecVP9
	CodecAAC
	CodecMP3
	CodecOpus
	CodecFLAC
	CodecAC3
	CodecEAC3
	CodecG711A
	CodecG711U
	CodecSpeex
	CodecNellymoser
	CodecPCM
)

var codecNames = [...]string{
	CodecUnknown: "unknown", CodecH264: "h264", CodecHEVC: "hevc", CodecAV1: "av1",
	CodecVP9: "vp9", CodecAAC: "aac", CodecMP3: "mp3", CodecOpus: "opus",
	CodecFLAC: "flac", CodecAC3: "ac3", CodecEAC3: "eac3", CodecG711A: "pcma",
	CodecG711U: "pcmu", CodecSpeex: "speex", CodecNellymoser: "nellymoser", CodecPCM: "pcm",
}

func (c Codec) String() string {
	if int(c) < len(codecNames) {
		return codecNames[c]
	}
	return "unknown"
}

// Slot names one cached encoding of a packet (see Packet.Encoded).
type Slot uint8

// Cached encodings. Each output format that needs per-packet framing bytes
// (FLV tag header and trailer, RTMP chunk headers) owns one slot; so does
// each derivation that every reader of a packet would otherwise repeat.
const (
	SlotFLV Slot = iota
	SlotRTMP
	// SlotMetaInfo caches a summary of a script-data packet's onMetaData
	// (owned by pkg/flv, see flv.MetaTracks), so per-player code reads it
	// without decoding AMF0 once per player.
	SlotMetaInfo
	slotCount
)

// Packet is one audio, video or script-data message.
//
// Data is the FLV tag body, which is byte-for-byte the RTMP message payload
// (FLV v10.1 §E.4.2, E-RTMP v2): for video it starts with the frame-type /
// codec byte (or the E-RTMP ex-header and FourCC), for audio with the
// sound-format byte, for data with the AMF0 name ("onMetaData").
// After the hub has accepted a packet, neither Data nor any field may change.
type Packet struct {
	Kind  Kind
	Codec Codec
	// Track is the E-RTMP v2 track id of the packet in the message it came
	// from: 0 for the default track, and for every packet of a message
	// that has no tracks (legacy FLV, single-track E-RTMP, script data).
	// flv.SplitTracks sets it when it splits a multitrack message. RTMP
	// ingest publishes track N (N > 0) as the default track of a stream of
	// its own (flv.TrackKey), so every packet a hub holds has Track 0. The
	// RTMP client sends a packet whose Track is not 0 as a one-track
	// multitrack message of that track.
	Track uint8
	// Keyframe marks a video random-access point (legacy frame type 1 or the
	// E-RTMP key frame type). Audio and data packets are never keyframes.
	Keyframe bool
	// Header marks decoder configuration: AVC/HEVC sequence header, AAC
	// AudioSpecificConfig, E-RTMP SequenceStart. Header packets are never
	// dropped by the hub.
	Header bool
	// DTS is the decode timestamp in milliseconds on the stream's timeline.
	// Ingest sets it to the wire timestamp; the hub rewrites it (unwraps
	// 32-bit rollover, keeps it monotonic per track, rebases) before any
	// reader sees the packet. Writers put uint32(DTS) on the wire.
	DTS int64
	// CTS is PTS−DTS in milliseconds (FLV CompositionTime, signed 24-bit).
	CTS int32
	// Data is the FLV tag body. It is owned by the packet and never copied
	// or mutated after ingest.
	Data []byte

	enc [slotCount]lazy
}

type lazy struct {
	once sync.Once
	b    []byte
}

// Encoded returns the encoding of p cached in slot s, computing it with enc
// on first use. All callers of one slot must pass an equivalent enc (the
// slot's owner decides what that means, e.g. the RTMP writer only uses the
// cache for its configured chunk size). The returned bytes are shared by all
// readers and must not be modified. Safe for concurrent use.
func (p *Packet) Encoded(s Slot, enc func(*Packet) []byte) []byte {
	l := &p.enc[s]
	l.once.Do(func() { l.b = enc(p) })
	return l.b
}

// Fork returns a new packet with p's fields and the same Data (shared, not
// copied) but none of p's cached encodings: the same media published into
// another stream, whose hub rewrites the DTS of its own packet. Call it
// before p is handed to a hub, which rewrites p.DTS under its own lock.
func (p *Packet) Fork() *Packet {
	return &Packet{
		Kind: p.Kind, Codec: p.Codec, Track: p.Track, Keyframe: p.Keyframe, Header: p.Header,
		DTS: p.DTS, CTS: p.CTS, Data: p.Data,
	}
}

// PTS returns the presentation timestamp in milliseconds.
func (p *Packet) PTS() int64 { return p.DTS + int64(p.CTS) }

// IsMedia reports whether p is audio or video (not script data).
func (p *Packet) IsMedia() bool { return p.Kind == KindVideo || p.Kind == KindAudio }
