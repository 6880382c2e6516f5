package mediatest

import (
	"encoding/binary"
	"math"
)

// AMF0 markers (AMF0 spec §2.1).
const (
	amfNumber    = 0x00
	amfBoolean   = 0x01
	amfString    = 0x02
	amfECMAArray = 0x08
	amfObjectEnd = 0x09
)

type prop struct {
	key string
	val any // float64, bool or string
}

// metadataBody encodes the script-data body "onMetaData" + ECMA array, as
// FLV v10.1 §E.4.4.1 describes it (after ingest strips "@setDataFrame").
func metadataBody(props []prop) []byte {
	b := appendString(nil, "onMetaData")
	b = append(b, amfECMAArray)
	b = binary.BigEndian.AppendUint32(b, uint32(len(props)))
	for _, p := range props {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.key)))
		b = append(b, p.key...)
		switch v := p.val.(type) {
		case float64:
			b = append(b, amfNumber)
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		case bool:
			b = append(b, amfBoolean, 0)
			if v {
				b[len(b)-1] = 1
			}
		case string:
			b = appendString(b, v)
		}
	}
	return append(b, 0, 0, amfObjectEnd)
}

func appendString(b []byte, s string) []byte {
	b = append(b, amfString)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
