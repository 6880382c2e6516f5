package api

import (
	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// serviceReader reports whether readers of protocol serve no viewer
// themselves, so they are not players: the HLS muxer (one reader for every
// HLS viewer, who are counted from their requests instead), the recorder
// and the thumbnailer. They stay visible in /clients.
func serviceReader(protocol string) bool {
	switch protocol {
	case access.ProtoHLS, access.ProtoRecord, access.ProtoThumbnail, access.ProtoTranscode:
		return true
	}
	return false
}

// Players returns st's players and their split by protocol: its readers
// that are players (RTMP, HTTP-FLV, WS-FLV, relays pushing it on) and its
// HLS viewers (Config.HLSViewers), never the HLS muxer, recorder or
// thumbnailer readers. byProtocol lists protocols with at least one
// player. Every count the API and the metrics report uses it.
func (a *API) Players(st *hub.StreamInfo) (total int, byProtocol map[string]int) {
	hls := 0
	if a.cfg.HLSViewers != nil {
		hls = a.cfg.HLSViewers(st.Key)
	}
	return players(st, hls)
}

// players counts st's player readers and adds hls viewers.
func players(st *hub.StreamInfo, hls int) (total int, byProtocol map[string]int) {
	byProtocol = make(map[string]int, len(st.Protocols)+1)
	for _, p := range st.Protocols {
		if p.Readers > 0 && !serviceReader(p.Protocol) {
			byProtocol[p.Protocol] = p.Readers
			total += p.Readers
		}
	}
	if hls > 0 {
		byProtocol[access.ProtoHLS] = hls
		total += hls
	}
	return total, byProtocol
}
