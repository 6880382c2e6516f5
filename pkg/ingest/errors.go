package ingest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ripplemedia/ripple/pkg/av"
)

var (
	errEmptyVideo = errors.New("video tag empty")
	errEmptyAudio = errors.New("audio tag empty")
)

// headerName and frameName name what failed, for the error message.
func headerName(c av.Codec) string {
	switch c {
	case av.CodecH264:
		return "avc sequence header"
	case av.CodecHEVC:
		return "hevc sequence header"
	case av.CodecAV1:
		return "av1 sequence header"
	case av.CodecAAC:
		return "aac sequence header"
	}
	return c.String() + " sequence header"
}

func frameName(c av.Codec) string { return c.String() + " frame" }

// invalid prefixes a check failure with what was checked (and the track
// of a multitrack message). A codec package prefix ("h264: ") is dropped:
// the message names the codec already. Only called on failure.
func invalid(what string, id uint8, multi bool, err error) error {
	msg := err.Error()
	for _, p := range [...]string{"h264: ", "hevc: ", "av1: ", "aac: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if multi {
		return fmt.Errorf("%s (track %d): %s", what, id, msg)
	}
	return fmt.Errorf("%s: %s", what, msg)
}
