package api

import (
	"fmt"
	"math"
	"sync"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/aac"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/codec/hevc"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// mediaInfo caches what the sequence headers and onMetaData of each stream
// say (picture size, declared frame rate, audio format). Headers change once
// per publish session, so they are parsed when the header packet pointer
// changes, never per request.
type mediaInfo struct {
	mu      sync.Mutex
	streams map[string]*mediaEntry
}

type mediaEntry struct {
	vHdr, aHdr, meta *av.Packet // what video/audio were parsed from
	video            Video      // without Codec and MeasuredFPS
	audio            Audio      // without Codec
}

// describe returns the video and audio descriptions of st (nil for a track
// the stream has not shown).
func (m *mediaInfo) describe(st *hub.StreamInfo) (*Video, *Audio) {
	m.mu.Lock()
	if m.streams == nil {
		m.streams = make(map[string]*mediaEntry)
	}
	e := m.streams[st.Key]
	if e == nil || e.vHdr != st.VideoHeader || e.aHdr != st.AudioHeader || e.meta != st.MetaData {
		e = &mediaEntry{vHdr: st.VideoHeader, aHdr: st.AudioHeader, meta: st.MetaData}
		e.parse()
		m.streams[st.Key] = e
	}
	video, audio := e.video, e.audio
	m.mu.Unlock()

	var v *Video
	var a *Audio
	if st.HasVideo {
		video.Codec = st.VideoCodec.String()
		v = &video
	}
	if st.HasAudio {
		audio.Codec = st.AudioCodec.String()
		a = &audio
	}
	return v, a
}

// forget drops the entries of streams not in live (called by the sampler).
func (m *mediaInfo) forget(live map[string]bool) {
	m.mu.Lock()
	for k := range m.streams {
		if !live[k] {
			delete(m.streams, k)
		}
	}
	m.mu.Unlock()
}

// parse fills video and audio from the headers; metadata fills what the
// headers do not say. Malformed headers leave fields zero: the API reports
// what it can, the players will complain about the rest.
func (e *mediaEntry) parse() {
	if e.meta != nil {
		if md, err := flv.ParseMetaData(e.meta.Data); err == nil {
			// onMetaData is free-form numbers: keep only plausible ones.
			e.video.Width = bounded(md.Width, h264.MaxDimension)
			e.video.Height = bounded(md.Height, h264.MaxDimension)
			e.video.FPS = roundFPS(md.FrameRate)
			e.audio.SampleRate = bounded(md.AudioSampleRate, 768000)
			e.audio.Channels = bounded(md.AudioChannels, 64)
		}
	}
	if e.vHdr != nil {
		parseVideoHeader(e.vHdr, &e.video)
	}
	if e.aHdr != nil && e.aHdr.Codec == av.CodecAAC {
		var c aac.Config
		if err := c.Unmarshal(flv.AudioPayload(e.aHdr)); err == nil {
			e.audio.SampleRate = c.SampleRate
			if c.SBR && c.ExtensionSampleRate > 0 {
				e.audio.SampleRate = c.ExtensionSampleRate
			}
			if n := c.ChannelCount(); n > 0 {
				e.audio.Channels = n
			}
		}
	}
}

// parseVideoHeader reads the SPS of an AVC or HEVC decoder configuration
// record (ISO/IEC 14496-15 §5.3.3.1, §8.3.3.1).
func parseVideoHeader(p *av.Packet, v *Video) {
	payload := flv.VideoPayload(p)
	switch p.Codec {
	case av.CodecH264:
		var dc h264.DecoderConfig
		if dc.Unmarshal(payload) != nil || len(dc.SPS) == 0 {
			return
		}
		var sps h264.SPS
		if sps.Unmarshal(dc.SPS[0]) != nil {
			return
		}
		v.Width, v.Height = sps.Width(), sps.Height()
		if fps := sps.FrameRate(); fps > 0 {
			v.FPS = roundFPS(fps)
		}
		v.Profile = h264Profile(sps.ProfileIdc)
		v.Level = fmt.Sprintf("%d.%d", sps.LevelIdc/10, sps.LevelIdc%10)
	case av.CodecHEVC:
		var dc hevc.DecoderConfig
		if dc.Unmarshal(payload) != nil {
			return
		}
		if dc.AvgFrameRate > 0 {
			v.FPS = roundFPS(float64(dc.AvgFrameRate) / 256)
		}
		raw := dc.First(hevc.NALUSPS)
		var sps hevc.SPS
		if raw == nil || sps.Unmarshal(raw) != nil {
			return
		}
		v.Width, v.Height = sps.Width(), sps.Height()
		v.Profile = hevcProfile(sps.GeneralProfileIdc)
		// general_level_idc is 30 × the level number (H.265 §A.4).
		v.Level = fmt.Sprintf("%d.%d", sps.GeneralLevelIdc/30, sps.GeneralLevelIdc%30/3)
	}
}

// bounded returns v as an int if it is a whole number in [1, limit], else 0.
func bounded(v float64, limit int) int {
	if v >= 1 && v <= float64(limit) && v == math.Trunc(v) {
		return int(v)
	}
	return 0
}

// roundFPS keeps two decimals (29.97) and drops absurd values.
func roundFPS(f float64) float64 {
	if f <= 0 || f > 1000 || math.IsNaN(f) {
		return 0
	}
	return math.Round(f*100) / 100
}

// h264Profile names profile_idc (H.264 Annex A.2).
func h264Profile(idc uint8) string {
	switch idc {
	case 66:
		return "baseline"
	case 77:
		return "main"
	case 88:
		return "extended"
	case 100:
		return "high"
	case 110:
		return "high10"
	case 122:
		return "high422"
	case 244:
		return "high444"
	}
	return fmt.Sprintf("profile_idc %d", idc)
}

// hevcProfile names general_profile_idc (H.265 Annex A.3).
func hevcProfile(idc uint8) string {
	switch idc {
	case 1:
		return "main"
	case 2:
		return "main10"
	case 3:
		return "main-still-picture"
	case 4:
		return "rext"
	}
	return fmt.Sprintf("profile_idc %d", idc)
}
