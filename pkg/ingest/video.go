package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/av1"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
)

// checkVideo checks a non-empty video tag body.
func (v *Validator) checkVideo(b []byte) error {
	if b[0]&0x80 == 0 {
		return v.checkLegacyVideo(b)
	}
	// E-RTMP v2 ExVideoTagHeader: IsExHeader, FrameType UB[3], PacketType UB[4].
	frameType := b[0] >> 4 & 0x07
	pos, pt, err := skipModEx("video", b, 1, b[0]&0x0F)
	if err != nil {
		return err
	}
	if frameType == frameCommand && pt != ptMetadata {
		return nil // a VideoCommand byte, no FourCC (flv drops these)
	}
	ts, pt, err := newTracks("video", b, pos, pt, ptVideoMultitrack)
	if err != nil {
		return err
	}
	switch pt {
	case ptSequenceStart, ptMPEG2TSSequenceStart, ptCodedFrames, ptCodedFramesX:
	case ptSequenceEnd, ptMetadata:
		return nil // no payload, or AMF colorInfo that no muxer reads
	default:
		return fmt.Errorf("video tag: packet type %d unknown", pt)
	}
	// Every track of a multitrack message shares the packet type. A header
	// message updates the state only once all its tracks passed, so an
	// invalid track leaves every track's last valid header in place.
	all := ts
	for {
		tr, ok, err := ts.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := v.checkVideoTrack(tr, pt, ts.multi); err != nil {
			return err
		}
	}
	if pt == ptSequenceStart || pt == ptMPEG2TSSequenceStart {
		for {
			tr, ok, _ := all.next()
			if !ok {
				break
			}
			v.commit(tr.id, videoCodec(tr.fourCC), pt, tr.data)
		}
	}
	return nil
}

// checkLegacyVideo checks an FLV v10.1 VideoTagHeader body (§E.4.3.1).
// Only AVC (7) and the codec-id-12 HEVC layout carry checkable payloads.
func (v *Validator) checkLegacyVideo(b []byte) error {
	if b[0]>>4&0x07 == frameCommand {
		return nil
	}
	var c av.Codec
	switch b[0] & 0x0F {
	case codecIDAVC:
		c = av.CodecH264
	case codecIDHEVC:
		c = av.CodecHEVC
	default:
		return nil // H.263, screen video, VP6: opaque
	}
	// AVCPacketType UI8, CompositionTime SI24, then the data.
	if len(b) < 5 {
		return fmt.Errorf("%s video tag: %d bytes (need at least 5)", c, len(b))
	}
	data := b[5:]
	switch b[1] {
	case 0:
		if err := checkVideoHeader(c, data); err != nil {
			return invalid(headerName(c), 0, false, err)
		}
		v.commit(0, c, ptSequenceStart, data)
	case 1:
		if err := checkFrame(c, data, v.lengthSize(0, c)); err != nil {
			return invalid(frameName(c), 0, false, err)
		}
	case 2: // end of sequence
	default:
		return fmt.Errorf("%s video tag: packet type %d unknown (want 0, 1 or 2)", c, b[1])
	}
	return nil
}

// checkVideoTrack checks one track of an E-RTMP message of packet type pt.
func (v *Validator) checkVideoTrack(tr track, pt uint8, multi bool) error {
	c := videoCodec(tr.fourCC)
	switch c {
	case av.CodecH264, av.CodecHEVC, av.CodecAV1:
	default:
		return nil // VP9, VP8, VVC: carried as is
	}
	data := tr.data
	switch pt {
	case ptSequenceStart:
		if err := checkVideoHeader(c, data); err != nil {
			return invalid(headerName(c), tr.id, multi, err)
		}
	case ptMPEG2TSSequenceStart:
		if err := checkMPEG2TSSequenceStart(c, data); err != nil {
			return invalid(c.String()+" mpeg-2 ts sequence start", tr.id, multi, err)
		}
	default: // CodedFrames, CodedFramesX
		// CodedFrames carries an SI24 composition time for the codecs with
		// reordering (E-RTMP v2 ExVideoTagBody); CodedFramesX implies 0.
		if pt == ptCodedFrames && c != av.CodecAV1 {
			if len(data) < 3 {
				return invalid(frameName(c), tr.id, multi,
					fmt.Errorf("%d bytes, too short for the composition time", len(data)))
			}
			data = data[3:]
		}
		if err := checkFrame(c, data, v.lengthSize(tr.id, c)); err != nil {
			return invalid(frameName(c), tr.id, multi, err)
		}
	}
	return nil
}

// commit records a valid sequence header as its track's last one. data is
// the record checked by checkVideoHeader (for AVC and HEVC).
func (v *Validator) commit(id uint8, c av.Codec, pt uint8, data []byte) {
	s := trackState{codec: c}
	if pt == ptSequenceStart {
		switch c {
		case av.CodecH264:
			s.lengthSize = data[4]&0x03 + 1 // lengthSizeMinusOne (§5.3.3.1)
		case av.CodecHEVC:
			s.lengthSize = data[21]&0x03 + 1 // lengthSizeMinusOne (§8.3.3.1)
		}
	}
	v.video[id] = s
}

func checkVideoHeader(c av.Codec, b []byte) error {
	switch c {
	case av.CodecH264:
		return checkAVCConfig(b)
	case av.CodecHEVC:
		return checkHEVCConfig(b)
	case av.CodecAV1:
		var dc av1.DecoderConfig
		return dc.Unmarshal(b)
	}
	return nil
}

// checkAVCConfig checks an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// §5.3.3.1). h264.DecoderConfig.Unmarshal checks the version, the length
// size, the counts against the bytes present and MaxParameterSets.
func checkAVCConfig(b []byte) error {
	var dc h264.DecoderConfig
	if err := dc.Unmarshal(b); err != nil {
		return err
	}
	if len(dc.SPS) == 0 || len(dc.PPS) == 0 {
		return fmt.Errorf("%d sps and %d pps (want at least 1 of each)", len(dc.SPS), len(dc.PPS))
	}
	for i, s := range dc.SPS {
		if err := checkParamSet("sps", i, s, h264.NALUSPS); err != nil {
			return err
		}
		// RFC 6381 codec strings and mp4 avcC boxes read profile_idc,
		// the constraint flags and level_idc from the SPS.
		if len(s) < 4 {
			return fmt.Errorf("sps %d is %d bytes (want at least 4)", i, len(s))
		}
	}
	for i, s := range dc.PPS {
		if err := checkParamSet("pps", i, s, h264.NALUPPS); err != nil {
			return err
		}
	}
	for i, s := range dc.SPSExt {
		if err := checkParamSet("sps extension", i, s, h264.NALUSPSExt); err != nil {
			return err
		}
	}
	return nil
}

func checkParamSet(what string, i int, s []byte, want h264.NALUType) error {
	if len(s) == 0 {
		return fmt.Errorf("%s %d has length 0", what, i)
	}
	if t := h264.TypeOf(s); t != want {
		return fmt.Errorf("%s %d has nal unit type %d (want %d)", what, i, t, want)
	}
	return nil
}

// checkHEVCConfig checks an HEVCDecoderConfigurationRecord (ISO/IEC
// 14496-15 §8.3.3.1). hevc.DecoderConfig.Unmarshal checks the version,
// the length size, the counts against the bytes present and the Max*
// bounds. A decoder needs a VPS, an SPS and a PPS before the first slice
// (H.265 §7.4.3: a slice refers to a PPS, which refers to an SPS, which
// refers to a VPS); FLV has no other out-of-band place for them.
func checkHEVCConfig(b []byte) error {
	var dc hevc.DecoderConfig
	if err := dc.Unmarshal(b); err != nil {
		return err
	}
	var vps, sps, pps int
	for i, a := range dc.Arrays {
		switch a.Type {
		case hevc.NALUVPS:
			vps += len(a.NALUs)
		case hevc.NALUSPS:
			sps += len(a.NALUs)
		case hevc.NALUPPS:
			pps += len(a.NALUs)
		case hevc.NALUPrefixSEI, hevc.NALUSuffixSEI:
		default:
			// §8.3.3.1.2: NAL_unit_type "is restricted to take one of the
			// values indicating a VPS, SPS, PPS, prefix SEI, or suffix SEI".
			return fmt.Errorf("array %d has nal unit type %d (want 32, 33, 34, 39 or 40)", i, a.Type)
		}
		for j, u := range a.NALUs {
			switch {
			case len(u) == 0:
				return fmt.Errorf("array %d (type %d) nalu %d has length 0", i, a.Type, j)
			case len(u) < 2:
				return fmt.Errorf("array %d (type %d) nalu %d is 1 byte, shorter than the 2-byte nal unit header", i, a.Type, j)
			case hevc.TypeOf(u) != a.Type:
				return fmt.Errorf("array %d (type %d) nalu %d has nal unit type %d", i, a.Type, j, hevc.TypeOf(u))
			}
		}
	}
	if vps == 0 || sps == 0 || pps == 0 {
		return fmt.Errorf("%d vps, %d sps and %d pps (want at least 1 of each)", vps, sps, pps)
	}
	return nil
}

// checkMPEG2TSSequenceStart checks an E-RTMP v2 MPEG2TSSequenceStart: E-RTMP
// defines it for AV1 only, carrying the AV1 video descriptor of the AV1
// MPEG-2 TS binding (descriptor_tag 0x80, descriptor_length, then marker 1
// and version 1 like an av1C record).
func checkMPEG2TSSequenceStart(c av.Codec, b []byte) error {
	if c != av.CodecAV1 {
		return errors.New("defined for av01 only (e-rtmp v2)")
	}
	switch {
	case len(b) < 2:
		return fmt.Errorf("descriptor truncated (%d bytes)", len(b))
	case b[0] != 0x80:
		return fmt.Errorf("descriptor tag 0x%02x (want 0x80)", b[0])
	case int(b[1]) > len(b)-2:
		return fmt.Errorf("descriptor length %d exceeds the %d bytes left", b[1], len(b)-2)
	case b[1] < 4:
		return fmt.Errorf("descriptor length %d (want at least 4)", b[1])
	case b[2] != 0x81:
		return fmt.Errorf("descriptor marker and version byte 0x%02x (want 0x81)", b[2])
	}
	return nil
}

// checkFrame checks the framing of one coded frame (the payload after any
// composition time).
func checkFrame(c av.Codec, b []byte, lengthSize int) error {
	switch c {
	case av.CodecH264:
		return checkNALUs(b, lengthSize, 1, h264.MaxNALUsPerAccessUnit)
	case av.CodecHEVC:
		return checkNALUs(b, lengthSize, 2, hevc.MaxNALUsPerAccessUnit)
	case av.CodecAV1:
		return checkOBUs(b)
	}
	return nil
}

// annexBHint explains a framing error in an access unit that starts with
// an Annex B start code: some encoders put byte streams in FLV.
func annexBHint(au []byte) string {
	if bytes.HasPrefix(au, []byte{0, 0, 1}) || bytes.HasPrefix(au, []byte{0, 0, 0, 1}) {
		return " (the frame starts with an annex b start code; flv carries length-prefixed nal units)"
	}
	return ""
}

// checkNALUs walks an access unit of lengthSize-byte big-endian lengths
// and NAL units (ISO/IEC 14496-15 §5.3.2, §8.3.2). Every length must fit
// in what is left, a non-empty unit must hold its header (header bytes:
// 1 for H.264, 2 for HEVC), and at most maxUnits lengths may be present.
//
// Zero-length units are accepted, as if absent: they carry nothing,
// pkg/codec's AVCC splitter and mediacommon's skip them, so no muxer ever
// sees one; rejecting them would drop frames that HLS can use.
func checkNALUs(au []byte, lengthSize, header, maxUnits int) error {
	for n, off := 0, 0; off < len(au); n++ {
		if n == maxUnits {
			return fmt.Errorf("nalu count exceeds maximum allowed (%d)", maxUnits)
		}
		if len(au)-off < lengthSize {
			return fmt.Errorf("%d trailing bytes at offset %d, shorter than the %d-byte nalu length%s", len(au)-off, off, lengthSize, annexBHint(au))
		}
		var l uint32
		switch lengthSize { // 1, 2 or 4: from a valid record, or the default
		case 4:
			l = binary.BigEndian.Uint32(au[off:])
		case 2:
			l = uint32(binary.BigEndian.Uint16(au[off:]))
		default:
			l = uint32(au[off])
		}
		at := off
		off += lengthSize
		if uint64(l) > uint64(len(au)-off) {
			return fmt.Errorf("nalu length %d at offset %d exceeds the %d bytes left%s", l, at, len(au)-off, annexBHint(au))
		}
		if l != 0 && int(l) < header {
			return fmt.Errorf("nalu %d at offset %d is %d byte, shorter than the %d-byte nal unit header", n, at, l, header)
		}
		off += int(l)
	}
	return nil
}

// checkOBUs walks a temporal unit of OBUs (AV1 §5.3, AV1-ISOBMFF §2.4):
// each header valid, each size within what is left. An OBU without a size
// field runs to the end (allowed for the last OBU of a sample).
func checkOBUs(b []byte) error {
	for i, off := 0, 0; off < len(b); i++ {
		var o av1.OBU
		if err := o.Unmarshal(b[off:]); err != nil {
			return invalid(fmt.Sprintf("obu %d at offset %d", i, off), 0, false, err)
		}
		off += o.Len
	}
	return nil
}
