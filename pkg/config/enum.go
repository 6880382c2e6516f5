package config

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// The keys that take one of a fixed set of words are types of their own,
// decoded once from text (file, environment, flag) by decodeHook through
// UnmarshalText, so that a bad value is a config error naming its key and
// the rest of the server switches on typed constants, never on strings.
//
// Each type's zero value is the empty spelling, "not set": an app's
// publish_policy inherits hub.publish_policy when unset, and Validate
// rejects it for every other key, as it rejects an out-of-range value in a
// Config built in code.

// LogLevel is log.level.
type LogLevel uint8

// Log levels.
const (
	LogDebug LogLevel = iota + 1
	LogInfo
	LogWarn
	LogError
)

var logLevels = enum[LogLevel]{name: "LogLevel", words: []string{"", "debug", "info", "warn", "error"}}

func (l LogLevel) String() string { return logLevels.spell(l) }

// MarshalText implements encoding.TextMarshaler.
func (l LogLevel) MarshalText() ([]byte, error) { return logLevels.marshal(l) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *LogLevel) UnmarshalText(b []byte) error { return logLevels.unmarshal(b, l) }

// Slog returns the slog level of l (slog.LevelInfo if l is not set).
func (l LogLevel) Slog() slog.Level {
	switch l {
	case LogDebug:
		return slog.LevelDebug
	case LogWarn:
		return slog.LevelWarn
	case LogError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LogFormat is log.format.
type LogFormat uint8

// Log formats.
const (
	LogText LogFormat = iota + 1
	LogJSON
)

var logFormats = enum[LogFormat]{name: "LogFormat", words: []string{"", "text", "json"}}

func (f LogFormat) String() string { return logFormats.spell(f) }

// MarshalText implements encoding.TextMarshaler.
func (f LogFormat) MarshalText() ([]byte, error) { return logFormats.marshal(f) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *LogFormat) UnmarshalText(b []byte) error { return logFormats.unmarshal(b, f) }

// PublishPolicy is hub.publish_policy and apps.NAME.publish_policy: what a
// second publisher of a live stream gets.
type PublishPolicy uint8

// Publish policies.
const (
	PolicyReject PublishPolicy = iota + 1
	PolicyTakeover
)

var publishPolicies = enum[PublishPolicy]{name: "PublishPolicy", words: []string{"", "reject", "takeover"}}

func (p PublishPolicy) String() string { return publishPolicies.spell(p) }

// MarshalText implements encoding.TextMarshaler.
func (p PublishPolicy) MarshalText() ([]byte, error) { return publishPolicies.marshal(p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PublishPolicy) UnmarshalText(b []byte) error { return publishPolicies.unmarshal(b, p) }

// HLSVariant is hls.variant.
type HLSVariant uint8

// HLS variants.
const (
	HLSVariantMPEGTS HLSVariant = iota + 1
	HLSVariantFMP4
	HLSVariantLowLatency
)

var hlsVariants = enum[HLSVariant]{
	name:  "HLSVariant",
	words: []string{"", "mpegts", "fmp4", "low_latency"},
	alias: map[string]HLSVariant{"lowLatency": HLSVariantLowLatency}, // an earlier spelling, still accepted
}

func (v HLSVariant) String() string { return hlsVariants.spell(v) }

// MarshalText implements encoding.TextMarshaler.
func (v HLSVariant) MarshalText() ([]byte, error) { return hlsVariants.marshal(v) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *HLSVariant) UnmarshalText(b []byte) error { return hlsVariants.unmarshal(b, v) }

// HLSAuthScope is hls.auth_scope.
type HLSAuthScope uint8

// HLS auth scopes.
const (
	HLSAuthScopeAll HLSAuthScope = iota + 1
	HLSAuthScopeEntry
)

var hlsAuthScopes = enum[HLSAuthScope]{name: "HLSAuthScope", words: []string{"", "all", "entry"}}

func (s HLSAuthScope) String() string { return hlsAuthScopes.spell(s) }

// MarshalText implements encoding.TextMarshaler.
func (s HLSAuthScope) MarshalText() ([]byte, error) { return hlsAuthScopes.marshal(s) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *HLSAuthScope) UnmarshalText(b []byte) error { return hlsAuthScopes.unmarshal(b, s) }

// HookPolicy is auth.hooks.on_publish.policy and on_play.policy: what an
// unavailable hook means.
type HookPolicy uint8

// Hook failure policies.
const (
	HookFailClosed HookPolicy = iota + 1
	HookFailOpen
)

var hookPolicies = enum[HookPolicy]{name: "HookPolicy", words: []string{"", "fail_closed", "fail_open"}}

func (p HookPolicy) String() string { return hookPolicies.spell(p) }

// MarshalText implements encoding.TextMarshaler.
func (p HookPolicy) MarshalText() ([]byte, error) { return hookPolicies.marshal(p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *HookPolicy) UnmarshalText(b []byte) error { return hookPolicies.unmarshal(b, p) }

// EdgeSelection is apps.NAME.edge.selection; unset means SelectFailover.
type EdgeSelection uint8

// Origin selections.
const (
	SelectFailover EdgeSelection = iota + 1
	SelectHash
)

var edgeSelections = enum[EdgeSelection]{name: "EdgeSelection", words: []string{"", "failover", "hash"}}

func (s EdgeSelection) String() string { return edgeSelections.spell(s) }

// MarshalText implements encoding.TextMarshaler.
func (s EdgeSelection) MarshalText() ([]byte, error) { return edgeSelections.marshal(s) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *EdgeSelection) UnmarshalText(b []byte) error { return edgeSelections.unmarshal(b, s) }

// RecordFormat is record.format and apps.NAME.record.format.
type RecordFormat uint8

// Recording formats.
const (
	RecordFMP4 RecordFormat = iota + 1
	RecordFLV
)

var recordFormats = enum[RecordFormat]{name: "RecordFormat", words: []string{"", "fmp4", "flv"}}

func (f RecordFormat) String() string { return recordFormats.spell(f) }

// MarshalText implements encoding.TextMarshaler.
func (f RecordFormat) MarshalText() ([]byte, error) { return recordFormats.marshal(f) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *RecordFormat) UnmarshalText(b []byte) error { return recordFormats.unmarshal(b, f) }

// enum spells the values of one enumerated type: value v is words[v],
// words[0] is "" (not set); alias lists further accepted spellings.
type enum[T ~uint8] struct {
	name  string // the Go type, for String of an unknown value
	words []string
	alias map[string]T
}

// spell returns v's spelling, or TYPE(N) for a value with none.
func (e enum[T]) spell(v T) string {
	if int(v) < len(e.words) {
		return e.words[v]
	}
	return e.name + "(" + strconv.Itoa(int(v)) + ")"
}

func (e enum[T]) marshal(v T) ([]byte, error) {
	if int(v) >= len(e.words) {
		return nil, fmt.Errorf("config: %s is not a valid value", e.spell(v))
	}
	return []byte(e.words[v]), nil
}

// unmarshal sets *v from its spelling, case-sensitive like every key;
// "" is accepted as not set.
func (e enum[T]) unmarshal(b []byte, v *T) error {
	s := string(b)
	if i := slices.Index(e.words, s); i >= 0 {
		*v = T(i)
		return nil
	}
	if a, ok := e.alias[s]; ok {
		*v = a
		return nil
	}
	return e.notOneOf(s)
}

// check reports a value that is not set or has no spelling, naming key.
func (e enum[T]) check(key string, v T) error {
	if v == 0 || int(v) >= len(e.words) {
		return fmt.Errorf("config: %s: %w", key, e.notOneOf(e.spell(v)))
	}
	return nil
}

func (e enum[T]) notOneOf(s string) error {
	allowed := append(slices.Clone(e.words[1:]), slices.Sorted(maps.Keys(e.alias))...)
	return fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
}
