package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// StampUUID identifies Ripple's send-time SEI (user_data_unregistered,
// H.264 §D.2.6: a 16-byte uuid_iso_iec_11578 then free payload bytes).
// Any fixed value works; this one is random.
var StampUUID = [16]byte{
	0x52, 0x49, 0x50, 0x4c, 0x2d, 0xbe, 0x4e, 0x63,
	0x9a, 0x1d, 0x7c, 0x35, 0xe0, 0x44, 0x16, 0x0b,
}

// Stamp is what a publisher writes into each video access unit.
type Stamp struct {
	SendNs int64  // send time, Unix nanoseconds (same clock as the player)
	Seq    uint32 // video frame counter of the publisher, for lost frames
}

const (
	nalSEI           = 6
	nalAUD           = 9
	seiUserDataUnreg = 5
	// stampPayloadLen is the SEI payload: UUID, 8-byte send time, 4-byte
	// frame counter (the counter lets players count lost frames).
	stampPayloadLen = 16 + 8 + 4
	// maxStampNAL bounds an escaped stamp NAL: header, type, size,
	// payload, trailing bits, plus one emulation-prevention byte per two
	// payload bytes at worst.
	maxStampNAL = 1 + 2 + stampPayloadLen + 1 + stampPayloadLen/2 + 2
)

// ErrNotAVC is returned by InsertStamp for a video body that does not carry
// H.264 NAL units.
var ErrNotAVC = errors.New("bench: video body is not an H.264 coded frame")

// AppendStampNAL appends the SEI NAL unit for s (header byte, emulation
// prevented RBSP, H.264 §7.3.2.3 and §7.4.1.1) without a length prefix or
// start code.
func AppendStampNAL(dst []byte, s Stamp) []byte {
	var rbsp [2 + stampPayloadLen + 1]byte
	rbsp[0] = seiUserDataUnreg
	rbsp[1] = stampPayloadLen
	copy(rbsp[2:], StampUUID[:])
	binary.BigEndian.PutUint64(rbsp[18:], uint64(s.SendNs))
	binary.BigEndian.PutUint32(rbsp[26:], s.Seq)
	rbsp[len(rbsp)-1] = 0x80 // rbsp_trailing_bits
	dst = append(dst, nalSEI)
	zeros := 0
	for _, b := range rbsp {
		// §7.4.1.1: 0x000000..0x000003 must not occur inside a NAL unit.
		if zeros >= 2 && b <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// avcNALUOffset returns where the length-prefixed NAL units start in an FLV
// video tag body (FLV v10.1 §E.4.3.1 AVCVIDEOPACKET, E-RTMP v2 avc1 coded
// frames), or -1 if the body carries no H.264 NAL units.
func avcNALUOffset(body []byte) int {
	if len(body) < 5 {
		return -1
	}
	b0 := body[0]
	if b0&0x80 != 0 { // E-RTMP ex-header: FourCC follows
		if string(body[1:5]) != "avc1" {
			return -1
		}
		switch b0 & 0x0f {
		case 1: // CodedFrames: SI24 composition time
			if len(body) < 8 {
				return -1
			}
			return 8
		case 3: // CodedFramesX
			return 5
		}
		return -1
	}
	if b0&0x0f != 7 || body[1] != 1 { // codec 7 = AVC, packet type 1 = NALU
		return -1
	}
	return 5
}

// InsertStamp returns a new FLV video tag body: body with the stamp SEI
// inserted in front of the access unit's NAL units, after a leading access
// unit delimiter if there is one (H.264 §7.4.1.2.3: an AUD comes first, SEI
// before the first VCL NAL unit). NAL lengths are assumed 4 bytes, which is
// what every encoder Ripple meets writes (lengthSizeMinusOne = 3).
func InsertStamp(body []byte, s Stamp) ([]byte, error) {
	off := avcNALUOffset(body)
	if off < 0 {
		return nil, ErrNotAVC
	}
	at := off
	if len(body) >= off+5 && body[off+4]&0x1f == nalAUD {
		n := int(binary.BigEndian.Uint32(body[off:]))
		if n > len(body)-off-4 {
			return nil, fmt.Errorf("bench: AUD length %d exceeds body %d", n, len(body)-off-4)
		}
		at = off + 4 + n
	}
	out := make([]byte, 0, len(body)+4+maxStampNAL)
	out = append(out, body[:at]...)
	lenAt := len(out)
	out = append(out, 0, 0, 0, 0)
	out = AppendStampNAL(out, s)
	binary.BigEndian.PutUint32(out[lenAt:], uint32(len(out)-lenAt-4))
	return append(out, body[at:]...), nil
}

// FindStampFLV looks for the stamp in an FLV video tag body, or a prefix of
// one: it walks the length-prefixed NAL units in front of the first VCL NAL
// unit. It never allocates.
func FindStampFLV(body []byte) (Stamp, bool) {
	off := avcNALUOffset(body)
	if off < 0 {
		return Stamp{}, false
	}
	b := body[off:]
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b))
		typ := b[4] & 0x1f
		if typ >= 1 && typ <= 5 { // VCL: the SEI would have come before
			return Stamp{}, false
		}
		end := 4 + n
		if n < 1 || end > len(b) {
			end = len(b) // truncated prefix: look at what we have
		}
		if typ == nalSEI {
			if s, ok := parseStampNAL(b[5:end]); ok {
				return s, true
			}
		}
		if end == len(b) {
			break
		}
		b = b[end:]
	}
	return Stamp{}, false
}

// FindStampAnnexB looks for the stamp in Annex B byte stream data (H.264
// Annex B, as carried in MPEG-TS PES payloads), up to the first VCL NAL unit.
func FindStampAnnexB(b []byte) (Stamp, bool) {
	i := 0
	for {
		j := nextStartCode(b, i)
		if j < 0 || j >= len(b) {
			return Stamp{}, false
		}
		typ := b[j] & 0x1f
		if typ >= 1 && typ <= 5 {
			return Stamp{}, false
		}
		if typ == nalSEI {
			end := nextStartCode(b, j+1)
			if end < 0 {
				end = len(b)
			} else {
				end -= 3
			}
			if s, ok := parseStampNAL(b[j+1 : end]); ok {
				return s, true
			}
		}
		i = j + 1
	}
}

// nextStartCode returns the index just after the next 00 00 01 at or after
// i, or -1.
func nextStartCode(b []byte, i int) int {
	for ; i+3 <= len(b); i++ {
		if b[i+2] > 1 {
			i += 2 // b[i+2] cannot be part of a start code's zeros
			continue
		}
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			return i + 3
		}
	}
	return -1
}

// parseStampNAL parses the first SEI message of an SEI NAL unit's escaped
// RBSP (the bytes after the NAL header) and reports whether it is a stamp.
func parseStampNAL(esc []byte) (Stamp, bool) {
	var rbsp [2 + stampPayloadLen]byte
	n, zeros := 0, 0
	for _, c := range esc {
		if n == len(rbsp) {
			break
		}
		if zeros >= 2 && c == 3 { // emulation_prevention_three_byte
			zeros = 0
			continue
		}
		rbsp[n] = c
		n++
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if n < len(rbsp) || rbsp[0] != seiUserDataUnreg || rbsp[1] < stampPayloadLen ||
		[16]byte(rbsp[2:18]) != StampUUID {
		return Stamp{}, false
	}
	return Stamp{
		SendNs: int64(binary.BigEndian.Uint64(rbsp[18:])),
		Seq:    binary.BigEndian.Uint32(rbsp[26:]),
	}, true
}
