package ingest

import (
	"errors"
	"fmt"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/aac"
)

// checkAudio checks a non-empty audio tag body. Only AAC sequence headers
// carry a structure that a muxer parses; raw AAC frames and the other
// formats pass (flv checked their tag headers).
func checkAudio(b []byte) error {
	switch b[0] >> 4 {
	case soundFormatAAC:
		// AACPacketType UI8, then the data (FLV v10.1 §E.4.2.2).
		if len(b) < 2 {
			return errors.New("aac audio tag: 1 byte (need at least 2)")
		}
		switch b[1] {
		case 0:
			if err := checkASC(b[2:]); err != nil {
				return invalid(headerName(av.CodecAAC), 0, false, err)
			}
		case 1:
		default:
			return fmt.Errorf("aac audio tag: packet type %d unknown (want 0 or 1)", b[1])
		}
		return nil
	case soundFormatExHeader:
	default:
		return nil
	}
	// E-RTMP v2 ExAudioTagHeader: the low nibble is the AudioPacketType.
	pos, pt, err := skipModEx("audio", b, 1, b[0]&0x0F)
	if err != nil {
		return err
	}
	ts, pt, err := newTracks("audio", b, pos, pt, ptAudioMultitrack)
	if err != nil {
		return err
	}
	for {
		tr, ok, err := ts.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if pt == ptSequenceStart && tr.fourCC == fourCCAAC {
			if err := checkASC(tr.data); err != nil {
				return invalid(headerName(av.CodecAAC), tr.id, ts.multi, err)
			}
		}
	}
}

// checkASC checks an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1):
// aac.Config.Unmarshal rejects object type 0, reserved sampling frequency
// indices (13, 14) and an explicit frequency of 0. Channel configurations
// 8–10 and 15 are reserved (Table 1.19); 0 means a program config element
// defines the layout, which is valid.
func checkASC(b []byte) error {
	if len(b) == 0 {
		return errors.New("audio specific config empty")
	}
	var c aac.Config
	if err := c.Unmarshal(b); err != nil {
		return err
	}
	if c.ChannelConfig != 0 && c.ChannelCount() == 0 {
		return fmt.Errorf("channel configuration %d reserved", c.ChannelConfig)
	}
	return nil
}
