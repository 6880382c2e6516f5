package httpflv

import (
	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
)

// Small hand-made packets for the unit tests of the gate and the drop
// policy. The streaming tests use pkg/internal/mediatest.

func metaPacket(props ...amf0.Property) *av.Packet {
	b, err := amf0.Append(nil, "onMetaData", amf0.ECMAArray(props))
	if err != nil {
		panic(err)
	}
	return &av.Packet{Kind: av.KindData, Data: b}
}

func videoSeq(dts int64) *av.Packet {
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, Header: true, Keyframe: true, DTS: dts,
		Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80}}
}

func videoKey(dts int64) *av.Packet {
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, Keyframe: true, DTS: dts,
		Data: []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88}}
}

func videoInter(dts int64) *av.Packet {
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecH264, DTS: dts,
		Data: []byte{0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x9a}}
}

// videoExMetadata is an E-RTMP v2 video tag with PacketType Metadata (4),
// FourCC hvc1.
func videoExMetadata(dts int64) *av.Packet {
	return &av.Packet{Kind: av.KindVideo, Codec: av.CodecHEVC, DTS: dts,
		Data: []byte{0x80 | 0x10 | 4, 'h', 'v', 'c', '1', 2, 0, 9, 'c', 'o', 'l', 'o', 'r', 'I', 'n', 'f', 'o'}}
}

func audioSeq(dts int64) *av.Packet {
	return &av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC, Header: true, DTS: dts, Data: []byte{0xaf, 0, 0x12, 0x10}}
}

func audioFrame(dts int64) *av.Packet {
	return &av.Packet{Kind: av.KindAudio, Codec: av.CodecAAC, DTS: dts, Data: []byte{0xaf, 1, 0x21, 0x10, 0x05}}
}

var (
	metaAV    = []amf0.Property{{Key: "videocodecid", Value: 7.0}, {Key: "audiocodecid", Value: 10.0}}
	metaV     = []amf0.Property{{Key: "videocodecid", Value: 7.0}, {Key: "width", Value: 320.0}}
	metaA     = []amf0.Property{{Key: "audiocodecid", Value: 10.0}}
	metaTitle = []amf0.Property{{Key: "title", Value: "x"}}
)
