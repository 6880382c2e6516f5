// Package mediatest generates synthetic media for tests: H.264 video with a
// keyframe every N frames, AAC-LC audio frames, sequence headers and
// onMetaData, as av.Packets whose Data are valid FLV tag bodies (FLV v10.1
// §E.4.2, §E.4.3) — the same bytes an RTMP publisher would send. The
// H.264 parameter sets and AudioSpecificConfig are well-formed; the frame
// payloads are filler, structurally valid (AVCC length-prefixed NAL units,
// raw AAC bytes) but not decodable.
//
// Packets carry wire timestamps in DTS (uint32 milliseconds, as ingest sets
// them before the hub rewrites them), starting at Config.StartTS.
package mediatest

import (
	"github.com/ripplemedia/ripple/pkg/av"
)

// AAC-LC at 44.1 kHz: 1024 samples per frame, ~43.07 frames per second.
const (
	AACSampleRate      = 44100
	AACSamplesPerFrame = 1024
)

// Config configures a Generator. Zero values mean the documented defaults.
type Config struct {
	NoVideo bool // audio-only stream
	NoAudio bool // video-only stream

	FPS      int // video frames per second; default 30
	GOP      int // a keyframe every GOP frames; default 30 (1 s at 30 fps)
	Width    int // default 320; coded in the SPS and onMetaData
	Height   int // default 240
	KeySize  int // keyframe NAL payload bytes; default 4000
	FrameSz  int // inter frame NAL payload bytes; default 800
	AudioSz  int // raw AAC frame bytes; default 200
	StartTS  uint32
	Encoder  string // onMetaData "encoder"; default "ripple-mediatest"
	Channels int    // 1 or 2; default 2
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.FPS, 30)
	def(&c.GOP, 30)
	def(&c.Width, 320)
	def(&c.Height, 240)
	def(&c.KeySize, 4000)
	def(&c.FrameSz, 800)
	def(&c.AudioSz, 200)
	def(&c.Channels, 2)
	if c.Channels > 2 {
		c.Channels = 2
	}
	if c.Encoder == "" {
		c.Encoder = "ripple-mediatest"
	}
	return c
}

// Generator produces an interleaved A/V packet sequence in DTS order.
// Not safe for concurrent use.
type Generator struct {
	cfg    Config
	vFrame int // next video frame number
	aFrame int // next audio frame number
}

// New returns a Generator.
func New(cfg Config) *Generator {
	return &Generator{cfg: cfg.withDefaults()}
}

// Config returns the configuration with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// VideoDTS returns the (unwrapped) time in ms of video frame n from the start.
func (g *Generator) VideoDTS(n int) int64 { return int64(n) * 1000 / int64(g.cfg.FPS) }

// AudioDTS returns the (unwrapped) time in ms of audio frame n from the start.
func AudioDTS(n int) int64 { return int64(n) * AACSamplesPerFrame * 1000 / AACSampleRate }

// Headers returns onMetaData, the video and the audio sequence header (those
// enabled), each a fresh packet at StartTS, in the order encoders send them.
func (g *Generator) Headers() []*av.Packet {
	out := []*av.Packet{g.Metadata()}
	if !g.cfg.NoVideo {
		out = append(out, g.VideoHeader())
	}
	if !g.cfg.NoAudio {
		out = append(out, g.AudioHeader())
	}
	return out
}

// Next returns the next media packet in DTS order (video first on ties).
func (g *Generator) Next() *av.Packet {
	switch {
	case g.cfg.NoAudio && g.cfg.NoVideo:
		return nil
	case g.cfg.NoAudio:
		return g.NextVideo()
	case g.cfg.NoVideo:
		return g.NextAudio()
	}
	if g.VideoDTS(g.vFrame) <= AudioDTS(g.aFrame) {
		return g.NextVideo()
	}
	return g.NextAudio()
}

// Packets returns the next n media packets.
func (g *Generator) Packets(n int) []*av.Packet {
	out := make([]*av.Packet, 0, n)
	for range n {
		out = append(out, g.Next())
	}
	return out
}

// NextVideo returns the next video frame; frame 0, GOP, 2·GOP… are keyframes.
func (g *Generator) NextVideo() *av.Packet {
	n := g.vFrame
	g.vFrame++
	key := n%g.cfg.GOP == 0
	return VideoFrame(g.cfg.StartTS+uint32(g.VideoDTS(n)), key, g.sizeFor(key), byte(n))
}

// NextAudio returns the next AAC frame.
func (g *Generator) NextAudio() *av.Packet {
	n := g.aFrame
	g.aFrame++
	return AudioFrame(g.cfg.StartTS+uint32(AudioDTS(n)), g.cfg.AudioSz, byte(n), g.cfg.Channels)
}

func (g *Generator) sizeFor(key bool) int {
	if key {
		return g.cfg.KeySize
	}
	return g.cfg.FrameSz
}

// VideoHeader returns the AVC sequence header for the configured size.
func (g *Generator) VideoHeader() *av.Packet {
	return VideoHeader(g.cfg.StartTS, g.cfg.Width, g.cfg.Height)
}

// AudioHeader returns the AAC sequence header (AudioSpecificConfig).
func (g *Generator) AudioHeader() *av.Packet {
	return AudioHeader(g.cfg.StartTS, g.cfg.Channels)
}

// Metadata returns an onMetaData script-data packet describing the stream.
func (g *Generator) Metadata() *av.Packet {
	c := g.cfg
	props := []prop{{"duration", 0.0}}
	if !c.NoVideo {
		props = append(props,
			prop{"width", float64(c.Width)}, prop{"height", float64(c.Height)},
			prop{"framerate", float64(c.FPS)}, prop{"videocodecid", 7.0})
	}
	if !c.NoAudio {
		props = append(props,
			prop{"audiosamplerate", float64(AACSampleRate)}, prop{"audiosamplesize", 16.0},
			prop{"stereo", c.Channels == 2}, prop{"audiocodecid", 10.0})
	}
	props = append(props, prop{"encoder", c.Encoder})
	return &av.Packet{Kind: av.KindData, DTS: int64(c.StartTS), Data: metadataBody(props)}
}
