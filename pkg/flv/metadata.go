package flv

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
)

// MetaData is the part of an onMetaData message (FLV v10.1 §E.5, E-RTMP v2
// "Enhancing onMetaData") that Ripple reports. Absent properties are zero.
type MetaData struct {
	Width           float64
	Height          float64
	FrameRate       float64
	VideoCodecID    float64 // legacy CodecID (7) or a FourCC as a number ('hvc1' = 1752589105)
	VideoDataRate   float64 // kbit/s
	AudioCodecID    float64 // legacy SoundFormat (10) or a FourCC as a number
	AudioDataRate   float64 // kbit/s
	AudioSampleRate float64
	AudioChannels   float64 // "audiochannels", else 2 or 1 from "stereo"
	Encoder         string
	// HasVideo and HasAudio say which tracks the metadata announces: the
	// hasVideo/hasAudio booleans when present, otherwise the presence of a
	// videocodecid/audiocodecid property (ffmpeg and OBS write a codec id
	// only for the tracks they send). TracksKnown is false when it names
	// neither track (e.g. only a title): then it says nothing about tracks.
	HasVideo, HasAudio, TracksKnown bool
}

// ParseMetaData decodes the body of an onMetaData packet (p.Data: the
// "onMetaData" string then an ECMA array, or an object, which E-RTMP v2
// asks readers to accept too).
func ParseMetaData(data []byte) (MetaData, error) {
	props, err := metaDataProps(data)
	if err != nil {
		return MetaData{}, err
	}
	var m MetaData
	stereo := -1.0
	// Per track: 0 unknown, 1 codec id present, 2 boolean present.
	var vState, aState int
	for _, p := range props {
		switch p.Key {
		case "hasVideo":
			if b, ok := p.Value.(bool); ok && vState < 2 {
				m.HasVideo, vState = b, 2
			}
		case "hasAudio":
			if b, ok := p.Value.(bool); ok && aState < 2 {
				m.HasAudio, aState = b, 2
			}
		case "videocodecid":
			if vState == 0 {
				m.HasVideo, vState = true, 1
			}
		case "audiocodecid":
			if aState == 0 {
				m.HasAudio, aState = true, 1
			}
		}
		switch v := p.Value.(type) {
		case float64:
			switch p.Key {
			case "width":
				m.Width = v
			case "height":
				m.Height = v
			case "framerate", "videoframerate":
				m.FrameRate = v
			case "videocodecid":
				m.VideoCodecID = v
			case "videodatarate":
				m.VideoDataRate = v
			case "audiocodecid":
				m.AudioCodecID = v
			case "audiodatarate":
				m.AudioDataRate = v
			case "audiosamplerate":
				m.AudioSampleRate = v
			case "audiochannels":
				m.AudioChannels = v
			}
		case bool:
			if p.Key == "stereo" {
				stereo = 1
				if v {
					stereo = 2
				}
			}
		case string:
			if p.Key == "encoder" {
				m.Encoder = v
			}
		}
	}
	if m.AudioChannels == 0 && stereo > 0 {
		m.AudioChannels = stereo
	}
	m.TracksKnown = vState > 0 || aState > 0
	return m, nil
}

// Bits of the SlotMetaInfo summary byte.
const (
	metaInfoParsed = 1 << iota // an onMetaData that names at least one track
	metaInfoVideo
	metaInfoAudio
)

// MetaTracks returns the tracks an onMetaData packet announces
// (MetaData.HasVideo/HasAudio); ok is false for other script data, for
// bodies that do not parse and for metadata that names no track. The answer
// is computed once per packet and cached in av.SlotMetaInfo, so every player
// joining a stream reads it without decoding the metadata again.
func MetaTracks(p *av.Packet) (video, audio, ok bool) {
	if p.Kind != av.KindData {
		return false, false, false
	}
	b := p.Encoded(av.SlotMetaInfo, func(p *av.Packet) []byte {
		m, err := ParseMetaData(p.Data)
		if err != nil || !m.TracksKnown {
			return []byte{0}
		}
		info := byte(metaInfoParsed)
		if m.HasVideo {
			info |= metaInfoVideo
		}
		if m.HasAudio {
			info |= metaInfoAudio
		}
		return []byte{info}
	})
	return b[0]&metaInfoVideo != 0, b[0]&metaInfoAudio != 0, b[0]&metaInfoParsed != 0
}

// metaDataProps decodes "onMetaData" followed by an ECMA array or object.
func metaDataProps(data []byte) ([]amf0.Property, error) {
	name, n, err := amf0.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("flv: metadata name: %w", err)
	}
	if s, _ := name.(string); s != "onMetaData" {
		return nil, fmt.Errorf("flv: script data %v is not onMetaData", name)
	}
	v, _, err := amf0.Decode(data[n:])
	if err != nil {
		return nil, fmt.Errorf("flv: onMetaData value: %w", err)
	}
	switch v := v.(type) {
	case amf0.ECMAArray:
		return v, nil
	case amf0.Object:
		return v, nil
	}
	return nil, fmt.Errorf("flv: onMetaData value is %T, want an ECMA array or object", v)
}

// VideoCodec maps VideoCodecID to a codec (legacy ids 7 and 12, FourCCs).
func (m MetaData) VideoCodec() av.Codec {
	switch uint32(m.VideoCodecID) {
	case codecIDAVC, fourCCAVC:
		return av.CodecH264
	case codecIDHEVC, fourCCHEVC:
		return av.CodecHEVC
	case fourCCAV1:
		return av.CodecAV1
	case fourCCVP9:
		return av.CodecVP9
	}
	return av.CodecUnknown
}

// AudioCodec maps AudioCodecID to a codec (legacy SoundFormat, FourCCs).
func (m MetaData) AudioCodec() av.Codec {
	id := uint32(m.AudioCodecID)
	if id < uint32(len(legacyAudioCodecs)) && m.AudioCodecID == float64(id) {
		return legacyAudioCodecs[id]
	}
	switch id {
	case fourCCOpus:
		return av.CodecOpus
	case fourCCFLAC:
		return av.CodecFLAC
	case fourCCAAC:
		return av.CodecAAC
	case fourCCAC3:
		return av.CodecAC3
	case fourCCEAC3:
		return av.CodecEAC3
	case fourCCMP3:
		return av.CodecMP3
	}
	return av.CodecUnknown
}

// SetMetaDataFlags returns a new onMetaData body with the hasAudio and
// hasVideo booleans set (replaced if present), every other property kept
// in order. flv.js and mpegts.js read them to decide which tracks to wait
// for. The result is an ECMA array whatever the input used. Call it once
// per metadata change, not per packet: it decodes and re-encodes.
func SetMetaDataFlags(data []byte, hasAudio, hasVideo bool) ([]byte, error) {
	props, err := metaDataProps(data)
	if err != nil {
		return nil, err
	}
	out := make(amf0.ECMAArray, 0, len(props)+2)
	for _, p := range props {
		if p.Key != "hasAudio" && p.Key != "hasVideo" {
			out = append(out, p)
		}
	}
	out = append(out, amf0.Property{Key: "hasAudio", Value: hasAudio}, amf0.Property{Key: "hasVideo", Value: hasVideo})
	b, err := amf0.Append(make([]byte, 0, len(data)+32), "onMetaData", out)
	if err != nil {
		return nil, fmt.Errorf("flv: encode onMetaData: %w", err)
	}
	return b, nil
}

// E-RTMP v2 "Enhancing onMetaData": per-track properties of the tracks
// other than 0, keyed by track id ("1", "2", ...), each holding the
// properties in which the track differs from the top-level ones (or all
// of them).
const (
	videoTrackMap = "videoTrackIdInfoMap"
	audioTrackMap = "audioTrackIdInfoMap"
)

// TrackMetaData returns the onMetaData body of track n (n > 0) of a
// multitrack publish whose onMetaData is data: the top-level properties
// with those of videoTrackIdInfoMap[n] and audioTrackIdInfoMap[n] put over
// them, the two maps left out. ok is false when neither map describes
// track n: the top-level properties describe track 0 (its picture size,
// bit rate), which the track's stream must not claim. Call it once per
// metadata change and track, not per packet: it decodes and re-encodes.
func TrackMetaData(data []byte, n uint8) (b []byte, ok bool, err error) {
	props, err := metaDataProps(data)
	if err != nil {
		return nil, false, err
	}
	id := strconv.Itoa(int(n))
	var over []amf0.Property
	for _, p := range props {
		if p.Key != videoTrackMap && p.Key != audioTrackMap {
			continue
		}
		m, _ := propsOf(p.Value)
		if v, found := m.get(id); found {
			if track, isMap := propsOf(v); isMap {
				over = append(over, track...)
				ok = true
			}
		}
	}
	if !ok {
		return nil, false, nil
	}
	out := make(amf0.ECMAArray, 0, len(props)+len(over))
	for _, p := range props {
		if p.Key == videoTrackMap || p.Key == audioTrackMap || slices.ContainsFunc(over, func(q amf0.Property) bool { return q.Key == p.Key }) {
			continue
		}
		out = append(out, p)
	}
	out = append(out, over...)
	b, err = amf0.Append(make([]byte, 0, len(data)), "onMetaData", out)
	if err != nil {
		return nil, false, fmt.Errorf("flv: encode onMetaData of track %d: %w", n, err)
	}
	return b, true, nil
}

// amfProps are the properties of an AMF0 object or ECMA array.
type amfProps []amf0.Property

// propsOf returns v's properties, and whether v is an object or ECMA array.
func propsOf(v any) (amfProps, bool) {
	switch v := v.(type) {
	case amf0.Object:
		return amfProps(v), true
	case amf0.ECMAArray:
		return amfProps(v), true
	}
	return nil, false
}

func (ps amfProps) get(key string) (any, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}
